//! gRPC on the wire: length-prefixed frames, and one raw HTTP/2 call that sends exactly the bytes
//! h2load sends and keeps everything that comes back (data, `grpc-status`, details).
//!
//! The checks use this rather than a tonic client because h2load replays a body file: what must
//! be right is the answer to *those* bytes, and h2load itself only counts HTTP statuses (a gRPC
//! error is a 200 to it).

use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;

/// One gRPC message frame: uncompressed flag, big-endian length, the encoded message.
pub fn frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Several messages framed back to back, as a stream's body.
pub fn frames<M: prost::Message>(messages: &[M]) -> Vec<u8> {
    messages.iter().flat_map(frame).collect()
}

/// What came back from one call.
#[derive(Debug, Default)]
pub struct Reply {
    pub http_status: u16,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
    pub grpc_status: Option<i32>,
    pub grpc_message: Option<String>,
    /// `grpc-status-details-bin`, base64-decoded.
    pub details: Option<Vec<u8>>,
}

/// POSTs `body` to `path` with the headers the h2load runs use, over a fresh connection.
pub async fn call(addr: SocketAddr, path: &str, body: &[u8]) -> Result<Reply, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .map_err(|e| format!("HTTP/2 handshake with {addr}: {e}"))?;
    let connection = tokio::spawn(connection);
    let reply = exchange(client, addr, path, body).await;
    // Every handle and stream is gone now: the connection closes instead of outliving the check.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), connection).await;
    reply
}

async fn exchange(
    client: h2::client::SendRequest<Bytes>,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
) -> Result<Reply, String> {
    let mut client = client.ready().await.map_err(|e| e.to_string())?;
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .map_err(|e| e.to_string())?;
    let (response, mut send) = client
        .send_request(request, false)
        .map_err(|e| format!("send {path}: {e}"))?;
    send.send_data(Bytes::copy_from_slice(body), true)
        .map_err(|e| format!("send the body of {path}: {e}"))?;
    let response = response.await.map_err(|e| format!("{path}: {e}"))?;
    let (parts, mut stream) = response.into_parts();
    let mut reply = Reply {
        http_status: parts.status.as_u16(),
        content_type: header(&parts.headers, "content-type"),
        ..Reply::default()
    };
    // A trailers-only response (an immediate error) carries the status in the headers.
    read_status(&parts.headers, &mut reply)?;
    while let Some(chunk) = stream.data().await {
        let chunk = chunk.map_err(|e| format!("read the body of {path}: {e}"))?;
        let _ = stream.flow_control().release_capacity(chunk.len());
        reply.data.extend_from_slice(&chunk);
    }
    if let Some(trailers) = stream
        .trailers()
        .await
        .map_err(|e| format!("read the trailers of {path}: {e}"))?
    {
        read_status(&trailers, &mut reply)?;
    }
    Ok(reply)
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `grpc-message` is percent-encoded; servers may or may not encode spaces (both are valid).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_status(headers: &http::HeaderMap, reply: &mut Reply) -> Result<(), String> {
    if let Some(status) = header(headers, "grpc-status") {
        reply.grpc_status = Some(
            status
                .parse()
                .map_err(|_| format!("grpc-status `{status}` is not a number"))?,
        );
        reply.grpc_message = header(headers, "grpc-message").map(|m| percent_decode(&m));
    }
    if let Some(details) = header(headers, "grpc-status-details-bin") {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        reply.details = Some(
            engine
                .decode(details)
                .map_err(|e| format!("grpc-status-details-bin is not base64: {e}"))?,
        );
    }
    Ok(())
}
