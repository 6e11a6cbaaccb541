//! A raw HTTP/2 client, for what gRPC clients hide: GOAWAY, refused connections, resets and
//! trailers-only responses.

use bytes::{BufMut as _, Bytes, BytesMut};
use tokio::{net::TcpStream, task::JoinHandle};

/// A client connection and the task that drives it (it ends when the server closes it).
pub struct Conn {
    pub send: h2::client::SendRequest<Bytes>,
    pub task: JoinHandle<Result<(), h2::Error>>,
}

/// Opens an HTTP/2 connection to `addr`.
pub async fn connect(addr: std::net::SocketAddr) -> Result<Conn, Box<dyn std::error::Error>> {
    let tcp = TcpStream::connect(addr).await?;
    let (send, connection) = h2::client::handshake(tcp).await?;
    let task = tokio::spawn(connection);
    Ok(Conn { send, task })
}

/// A gRPC message frame: flag, length, bytes.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(u32::try_from(message.len()).expect("a small message"));
    out.put_slice(message);
    out.freeze()
}

/// What one call got: the response headers, the body bytes, the trailers (none for a
/// trailers-only response) or the reset code.
#[derive(Debug)]
pub struct Reply {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<http::HeaderMap>,
    pub reset: Option<h2::Reason>,
}

/// Sends one gRPC request with `body` (already framed) on `conn` and reads everything back.
pub async fn call(conn: &mut Conn, path: &str, body: Bytes) -> Result<Reply, h2::Error> {
    call_as(conn, path, "application/grpc", body).await
}

/// As [`call`], with another `content-type`.
pub async fn call_as(
    conn: &mut Conn,
    path: &str,
    content_type: &str,
    body: Bytes,
) -> Result<Reply, h2::Error> {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .body(())
        .expect("a request");
    let mut send = conn.send.clone().ready().await?;
    let (response, mut stream) = send.send_request(request, false)?;
    stream.send_data(body, true)?;
    let response = response.await?;
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    let mut reset = None;
    loop {
        match body.data().await {
            Some(Ok(chunk)) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Some(Err(err)) => {
                reset = err.reason();
                break;
            }
            None => break,
        }
    }
    let trailers = if reset.is_some() {
        None
    } else {
        body.trailers().await.ok().flatten()
    };
    Ok(Reply {
        headers: parts.headers,
        body: bytes,
        trailers,
        reset,
    })
}
