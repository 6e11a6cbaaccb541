//! TLS and mutual TLS on the gRPC listeners, beside cleartext ones.

use std::time::{Duration, Instant};

use grpc_double::{FakeServer, ServerOptions, TlsOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::common::{UserServiceClient, bin, userservice::UserRequest};

fn options(tls: TlsOptions) -> ServerOptions {
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options.listen = vec!["127.0.0.1:0".into(), "h2c://127.0.0.1:0".into()];
    options.tls = Some(tls);
    options
}

async fn tls_channel(
    addr: std::net::SocketAddr,
    tls: ClientTlsConfig,
) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

async fn get_user(
    channel: Channel,
    metadata: &[(&'static str, &str)],
) -> Result<String, tonic::Status> {
    let mut request = tonic::Request::new(UserRequest {
        user_id: "9".into(),
    });
    for (k, v) in metadata {
        request.metadata_mut().insert(*k, v.parse().unwrap());
    }
    UserServiceClient::new(channel)
        .get_user(request)
        .await
        .map(|r| r.into_inner().name)
}

#[tokio::test]
async fn a_self_signed_tls_listener_serves_beside_a_cleartext_one() {
    let (tls, ca) = TlsOptions::self_signed().unwrap();
    let server = FakeServer::builder()
        .options(options(tls))
        .start()
        .await
        .unwrap();
    let (secure, plain) = (server.addrs()[0], server.addrs()[1]);
    assert_eq!(server.tls_addrs(), &[secure]);
    assert!(server.uri().starts_with("https://"));

    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca))
        .domain_name("localhost");
    let channel = tls_channel(secure, trust).await.unwrap();
    assert_eq!(get_user(channel, &[]).await.unwrap(), "Alice");

    let cleartext = Channel::from_shared(format!("http://{plain}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(get_user(cleartext, &[]).await.unwrap(), "Alice");

    // A cleartext client on the TLS port gets no gRPC answer.
    let wrong = Channel::from_shared(format!("http://{secure}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(wrong) = wrong {
        assert!(get_user(wrong, &[]).await.is_err());
    }
}

/// A CA, and a client certificate it signed with `CN=billing-service`.
fn client_pki() -> (String, Identity) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test client CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec!["billing-service".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "billing-service");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (
        ca.pem(),
        Identity::from_pem(cert.pem(), key.serialize_pem()),
    )
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_whose_subject_stubs_can_match() {
    let (tls, server_ca) = TlsOptions::self_signed().unwrap();
    let (client_ca, identity) = client_pki();
    let server = FakeServer::builder()
        .fixture_text(
            "mtls.yaml",
            "- method: userservice.UserService/GetUser\n  when: { metadata: { x-grpc-double-client-subject: { contains: CN=billing-service } } }\n  then: { message: { name: billing } }\n",
        )
        .options(options(tls.with_client_ca(client_ca)))
        .start()
        .await
        .unwrap();
    let secure = server.addrs()[0];
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&server_ca))
        .domain_name("localhost");

    let with_cert = tls_channel(secure, trust.clone().identity(identity))
        .await
        .unwrap();
    assert_eq!(get_user(with_cert, &[]).await.unwrap(), "billing");
    let journal = server.received_calls();
    assert!(
        journal[0]
            .metadata
            .iter()
            .any(|(k, v)| k == "x-grpc-double-client-subject" && v.contains("CN=billing-service")),
        "{:?}",
        journal[0].metadata
    );

    // Without a certificate the handshake fails.
    let refused = match tls_channel(secure, trust).await {
        Ok(channel) => get_user(channel, &[]).await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a client without a certificate is refused");

    // On cleartext, a client cannot claim a subject by sending the header itself.
    let plain = Channel::from_shared(format!("http://{}", server.addrs()[1]))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let spoofed = get_user(
        plain,
        &[("x-grpc-double-client-subject", "CN=billing-service")],
    )
    .await;
    assert_eq!(spoofed.unwrap_err().code(), tonic::Code::Unimplemented);
    server.verify_on_drop(false);
}

#[tokio::test]
async fn the_cli_writes_its_self_signed_certificate_and_the_ready_file_names_tls_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let (ready, ca) = (dir.path().join("ready.json"), dir.path().join("ca.pem"));
    let mut child = bin()
        .args([
            "serve",
            "-q",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "h2c://127.0.0.1:0",
            "--tls-self-signed",
        ])
        .arg(&ca)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let info: serde_json::Value = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            break serde_json::from_str(&text).unwrap();
        }
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(info["tls"], serde_json::json!([info["grpc"][0]]));
    let pem = std::fs::read_to_string(&ca).unwrap();
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pem))
        .domain_name("localhost");
    let addr = info["tls"][0].as_str().unwrap().parse().unwrap();
    assert_eq!(
        get_user(tls_channel(addr, trust).await.unwrap(), &[])
            .await
            .unwrap(),
        "Alice"
    );
    child.kill().unwrap();
    let _ = child.wait();
}
