//! Hostile and buggy clients: each limit holds, with a gRPC status or a clean refusal, and a
//! well-behaved client beside them keeps being served.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bytes::Bytes;
use grpc_double::{FakeServer, ServerOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

use crate::common::{
    self, UserServiceClient, bin, h2raw,
    userservice::{CreateRequest, UserRequest},
};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn quiet() -> ServerOptions {
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options
}

/// The binary, serving the bundled default, and what its ready file said.
struct Binary {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Binary {
    async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        let child = bin()
            .args(["serve", "-q", "--ready-file"])
            .arg(&ready)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let info: serde_json::Value = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                break serde_json::from_str(&text).unwrap();
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let addr = info["grpc"][0].as_str().unwrap().parse().unwrap();
        Binary {
            child,
            addr,
            _dir: dir,
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the exit (off the runtime), with its code and stderr.
    async fn exit(self) -> common::Run {
        let child = self.child;
        tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
            .into()
    }
}

async fn well_behaved(addr: SocketAddr) {
    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let user = client
        .get_user(UserRequest {
            user_id: "7".into(),
        })
        .await
        .expect("a well-behaved client is served")
        .into_inner();
    assert_eq!(user.user_id, "7");
}

/// A HEADERS frame opening a ListUsers call that never sends its message.
fn headers_frame(stream: u32) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    let mut literal = |index: &[u8], value: &[u8]| {
        block.extend_from_slice(index);
        block.push(u8::try_from(value.len()).unwrap());
        block.extend_from_slice(value);
    };
    literal(&[0x04], b"/userservice.UserService/ListUsers"); // :path
    literal(&[0x01], b"localhost"); // :authority
    literal(&[0x0f, 0x10], b"application/grpc"); // content-type
    literal(&[0x00, 0x02, b't', b'e'], b"trailers");
    let mut frame = Vec::with_capacity(9 + block.len());
    frame.extend_from_slice(&u32::try_from(block.len()).unwrap().to_be_bytes()[1..]);
    frame.push(0x1); // HEADERS
    frame.push(0x4); // END_HEADERS, not END_STREAM
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(&block);
    frame
}

#[tokio::test]
async fn a_flood_of_open_streams_is_refused_past_the_limit_and_memory_stays_flat() {
    let server = Binary::start(&["--listen", "127.0.0.1:0"]).await;
    let before = server.rss_kib();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    // Count the server's refusals (RST_STREAM REFUSED_STREAM) or its GOAWAY, reading frames.
    let reader = tokio::spawn(async move {
        let (mut refused, mut goaway) = (0usize, false);
        let mut head = [0u8; 9];
        while read.read_exact(&mut head).await.is_ok() {
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            if read.read_exact(&mut payload).await.is_err() {
                break;
            }
            match head[3] {
                0x3 if payload == [0, 0, 0, 7] => refused += 1,
                0x7 => goaway = true,
                _ => {}
            }
            if refused >= 1000 || goaway {
                break;
            }
        }
        (refused, goaway)
    });
    write.write_all(PREFACE).await.unwrap();
    write
        .write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0])
        .await
        .unwrap(); // SETTINGS
    let mut burst = Vec::new();
    for i in 0..20_000u32 {
        burst.extend_from_slice(&headers_frame(2 * i + 1));
    }
    let _ = write.write_all(&burst).await;
    let (refused, goaway) = reader.await.unwrap();
    assert!(refused > 0 || goaway, "streams past the limit are refused");
    well_behaved(server.addr).await;
    let after = server.rss_kib();
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    drop(write);
    server.signal("-KILL");
    let _ = server.exit().await;
}

#[tokio::test]
async fn a_client_stream_past_the_byte_limit_is_resource_exhausted() {
    let mut options = quiet();
    options.max_received_bytes = 4 << 20;
    let server = FakeServer::builder()
        .options(options)
        .start()
        .await
        .unwrap();
    let mut client = common::client(&server).await;
    let big = "x".repeat(1 << 20);
    let messages = (0..1000).map(move |_| CreateRequest {
        name: big.clone(),
        email: String::new(),
        age: 1,
    });
    let status = client
        .create_users(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("--max-received-bytes"),
        "{status:?}"
    );
    well_behaved(server.addrs()[0]).await;
}

#[tokio::test]
async fn a_reply_over_the_message_limit_is_resource_exhausted_not_sent() {
    let name = "y".repeat(5 << 20);
    let server = FakeServer::builder()
        .fixture_text(
            "big.yaml",
            format!("- method: userservice.UserService/GetUser\n  then: {{ message: {{ name: {name} }} }}\n"),
        )
        .options(quiet())
        .start()
        .await
        .unwrap();
    let mut client = common::client(&server)
        .await
        .max_decoding_message_size(64 << 20);
    let status = client.get_user(UserRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn protocol_mistakes_get_clear_answers() {
    let server = FakeServer::builder()
        .options(quiet())
        .start()
        .await
        .unwrap();
    let addr = server.addrs()[0];
    let mut conn = h2raw::connect(addr).await.unwrap();
    let path = "/userservice.UserService/GetUser";

    // Two messages on a unary call.
    let one = h2raw::frame(&[0x0a, 0x01, b'a']);
    let two = Bytes::from([one.clone(), one.clone()].concat());
    let reply = h2raw::call(&mut conn, path, two).await.unwrap();
    let status = reply
        .trailers
        .as_ref()
        .or(Some(&reply.headers))
        .and_then(|h| h.get("grpc-status"))
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(status.as_deref(), Some("13"), "INTERNAL: {reply:?}");

    // A content-type that is not gRPC.
    let reply = h2raw::call_as(&mut conn, path, "application/json", one.clone())
        .await
        .unwrap();
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    let body = String::from_utf8_lossy(&reply.body);
    assert!(body.contains("application/grpc"), "{body}");

    // A malformed grpc-timeout.
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("grpc-timeout", "soon")
        .body(())
        .unwrap();
    let mut send = conn.send.clone().ready().await.unwrap();
    let (response, mut stream) = send.send_request(request, false).unwrap();
    stream.send_data(one, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.headers().get("grpc-status").unwrap(), "13");

    // HTTP/1.1 on the gRPC port: a plain answer, not HTTP/2 bytes.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 505 "), "{answer}");
    assert!(answer.contains("HTTP/2"), "{answer}");

    well_behaved(addr).await;
}

#[tokio::test]
async fn the_415_is_an_http_status() {
    let server = FakeServer::builder()
        .options(quiet())
        .start()
        .await
        .unwrap();
    let conn = h2raw::connect(server.addrs()[0]).await.unwrap();
    let request = http::Request::builder()
        .method("POST")
        .uri("http://localhost/userservice.UserService/GetUser")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let mut send = conn.send.clone().ready().await.unwrap();
    let (response, _stream) = send.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 415);
}

/// Reads until the server closes the connection (or 30 s pass: then the test fails).
async fn closed_by_server(mut tcp: tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_handshake_timeout_and_an_idle_one_after_the_idle_timeout()
 {
    let mut options = quiet();
    options.handshake_timeout = Some(Duration::from_millis(200));
    options.idle_timeout = Some(Duration::from_millis(300));
    let server = FakeServer::builder()
        .options(options)
        .start()
        .await
        .unwrap();
    let addr = server.addrs()[0];
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_by_server(silent).await,
        "a connection that never speaks is closed"
    );

    // An HTTP/2 client (it answers the server's PINGs, as real ones do) that makes one call and
    // then stays idle: the server closes the connection.
    let mut idle = h2raw::connect(addr).await.unwrap();
    let reply = h2raw::call(
        &mut idle,
        "/userservice.UserService/GetUser",
        h2raw::frame(&[]),
    )
    .await
    .unwrap();
    assert!(reply.reset.is_none());
    let closed = tokio::time::timeout(Duration::from_secs(30), idle.task).await;
    assert!(closed.is_ok(), "an idle HTTP/2 connection is closed");
    well_behaved(addr).await;
}

#[tokio::test]
async fn a_bare_connection_does_not_hold_shutdown_and_a_second_signal_cuts_the_grace() {
    // A bare TCP connection, and a grace period far longer than the test.
    let server = Binary::start(&["--listen", "127.0.0.1:0", "--shutdown-grace", "1h"]).await;
    let _bare = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    server.signal("-TERM");
    let run = server.exit().await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    // A stream whose second message comes in an hour: the first signal waits for it, the
    // second cuts it, and the log says so.
    let dir = tempfile::tempdir().unwrap();
    let stubs = dir.path().join("slow.yaml");
    std::fs::write(
        &stubs,
        "- method: userservice.UserService/ListUsers\n  then:\n    stream:\n      - message: { name: first }\n      - message: { name: late }\n        delay: 1h\n",
    )
    .unwrap();
    let ready = dir.path().join("ready.json");
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--shutdown-grace",
            "1h",
            "--fixtures",
        ])
        .arg(&stubs)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log, line by line, from a thread.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            let info: serde_json::Value = serde_json::from_str(&text).unwrap();
            break info["grpc"][0].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut stream = client
        .list_users(crate::common::userservice::ListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().name, "first");
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        )
    };
    kill("-TERM");
    // Poll the log for the shutdown's start, so that the second signal is a second one.
    let mut log = String::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.recv())
            .await
            .expect("the shutdown is logged")
            .expect("the server is still running");
        log.push_str(&line);
        log.push('\n');
        if line.contains("shutting down") {
            break;
        }
    }
    kill("-TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    while let Ok(line) = lines.try_recv() {
        log.push_str(&line);
        log.push('\n');
    }
    // The thread may still be draining the pipe: poll until the cut is logged or it closed.
    while !log.contains("were cut") {
        match tokio::time::timeout(Duration::from_secs(30), lines.recv()).await {
            Ok(Some(line)) => {
                log.push_str(&line);
                log.push('\n');
            }
            _ => break,
        }
    }
    assert!(log.contains("second signal"), "{log}");
    assert!(log.contains("were cut"), "{log}");
    assert!(
        stream.message().await.is_err(),
        "the cut stream ends in an error"
    );
}

#[tokio::test]
async fn a_bind_beyond_loopback_warns() {
    let server = Binary::start(&["--listen", "0.0.0.0:0"]).await;
    server.signal("-TERM");
    let run = server.exit().await;
    assert!(
        run.stderr.contains("listening beyond this machine"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn clients_that_never_read_a_templated_stream_hold_a_bounded_buffer_not_the_stream() {
    // 500 messages of 16 KiB each, rendered from a template: 8 MB per call if rendered whole.
    let dir = tempfile::tempdir().unwrap();
    let stubs = dir.path().join("big-stream.yaml");
    let filler = "z".repeat(16 << 10);
    std::fs::write(
        &stubs,
        format!(
            "- method: userservice.UserService/ListUsers\n  then:\n    stream:\n      - for_each: 500\n        message: {{ user_id: \"{{{{ index }}}}\", name: {filler} }}\n- method: userservice.UserService/GetUser\n  then: {{ message: {{ user_id: \"7\" }} }}\n"
        ),
    )
    .unwrap();
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--fixtures",
        stubs.to_str().unwrap(),
    ])
    .await;
    let before = server.rss_kib();
    let conn = h2raw::connect(server.addr).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..100 {
        let request = http::Request::builder()
            .method("POST")
            .uri("http://localhost/userservice.UserService/ListUsers")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let mut send = conn.send.clone().ready().await.unwrap();
        let (response, mut stream) = send.send_request(request, false).unwrap();
        stream.send_data(h2raw::frame(&[]), true).unwrap();
        held.push(response.await.unwrap()); // headers only; the bodies are never read
    }
    // Let the server fill whatever it buffers: poll RSS until it stops growing.
    let mut last = server.rss_kib();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = server.rss_kib();
        if now == last {
            break;
        }
        last = now;
    }
    let grown_mib = last.saturating_sub(before) / 1024;
    // Rendered whole, 100 streams would hold 800 MB.
    assert!(
        grown_mib < 200,
        "100 unread streams grew RSS by {grown_mib} MiB"
    );
    well_behaved(server.addr).await;
    drop(held);
    conn.task.abort();
    server.signal("-KILL");
    let _ = server.exit().await;
}
