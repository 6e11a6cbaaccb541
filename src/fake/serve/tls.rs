//! TLS and mutual TLS on the gRPC listeners (rustls), and throwaway certificates for tests.

use std::{path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
    server::WebPkiClientVerifier,
};
use tokio_rustls::TlsAcceptor;

use crate::error::{ErrorKind, Result};

/// The header that carries a verified client certificate's subject (mTLS) into matching,
/// templates and the journal; a client-sent header of this name is removed first.
pub const CLIENT_SUBJECT_HEADER: &str = "x-grpc-double-client-subject";

/// The certificate the TLS listeners present, and the CA that client certificates must chain to
/// for mutual TLS.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsOptions {
    /// The certificate chain, PEM, leaf first.
    pub cert_chain: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Vec<u8>,
    /// Client certificates must chain to one of these (PEM); `None`: no client certificates.
    pub client_ca: Option<Vec<u8>>,
}

impl TlsOptions {
    /// Certificate, key and (for mTLS) client CA from PEM files.
    ///
    /// # Errors
    ///
    /// A file cannot be read.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read(path).map_err(|err| ErrorKind::Tls {
                what,
                detail: format!("cannot read {}: {err}", path.display()),
            })
        };
        Ok(Self {
            cert_chain: read(cert, "the certificate")?,
            key: read(key, "the private key")?,
            client_ca: client_ca.map(|p| read(p, "the client CA")).transpose()?,
        })
    }

    /// A throwaway self-signed certificate for `localhost`, `127.0.0.1` and `::1`; the PEM it
    /// returns is what a client trusts (pass it as the client's root certificate).
    ///
    /// # Errors
    ///
    /// The certificate cannot be generated.
    pub fn self_signed() -> Result<(Self, String)> {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let certified =
            rcgen::generate_simple_self_signed(names).map_err(|err| ErrorKind::Tls {
                what: "a self-signed certificate",
                detail: err.to_string(),
            })?;
        let pem = certified.cert.pem();
        Ok((
            Self {
                cert_chain: pem.clone().into_bytes(),
                key: certified.signing_key.serialize_pem().into_bytes(),
                client_ca: None,
            },
            pem,
        ))
    }

    /// Sets the CA that client certificates must chain to (mutual TLS).
    #[must_use]
    pub fn with_client_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(pem.into());
        self
    }
}

/// Builds the acceptor: HTTP/2 by ALPN, TLS 1.2 and 1.3, client certificates when asked.
pub(crate) fn acceptor(options: &TlsOptions) -> Result<TlsAcceptor> {
    let bad = |what: &'static str| {
        move |err: &dyn std::fmt::Display| ErrorKind::Tls {
            what,
            detail: err.to_string(),
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&options.cert_chain)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("the certificate")(&e))?;
    if certs.is_empty() {
        return Err(ErrorKind::Tls {
            what: "the certificate",
            detail: "no PEM `CERTIFICATE` block found".into(),
        }
        .into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(&options.key).map_err(|e| bad("the private key")(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("the TLS versions")(&e))?;
    let builder = match &options.client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| bad("the client CA")(&e))?;
                roots.add(cert).map_err(|e| bad("the client CA")(&e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad("the client CA")(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| bad("the certificate and key")(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A certificate's subject as `CN=…,O=…` (RFC 4514 order reversed as OpenSSL prints it: as
/// written). The certificate was verified before, so this only reads DER; anything unexpected
/// gives `None`.
pub(crate) fn subject(cert: &[u8]) -> Option<String> {
    let (_, cert, _) = der(cert)?; // Certificate ::= SEQUENCE
    let (_, mut tbs, _) = der(cert)?; // TBSCertificate ::= SEQUENCE
    let (mut tag, _) = skip(&mut tbs)?;
    if tag == 0xa0 {
        (tag, _) = skip(&mut tbs)?; // the serial number after the version
    }
    if tag != 0x02 {
        return None;
    }
    skip(&mut tbs)?; // signature algorithm
    skip(&mut tbs)?; // issuer
    skip(&mut tbs)?; // validity
    let (tag, mut name) = skip(&mut tbs)?;
    if tag != 0x30 {
        return None;
    }
    let mut parts = Vec::new();
    while !name.is_empty() {
        let (_, mut rdn, rest) = der(name)?; // RelativeDistinguishedName ::= SET
        name = rest;
        while !rdn.is_empty() {
            let (_, pair, rest) = der(rdn)?; // AttributeTypeAndValue ::= SEQUENCE
            rdn = rest;
            let (oid_tag, oid, value) = der(pair)?;
            let (_, value, _) = der(value)?;
            if oid_tag != 0x06 {
                return None;
            }
            let key = match oid {
                [0x55, 0x04, 0x03] => "CN".to_owned(),
                [0x55, 0x04, 0x06] => "C".to_owned(),
                [0x55, 0x04, 0x07] => "L".to_owned(),
                [0x55, 0x04, 0x08] => "ST".to_owned(),
                [0x55, 0x04, 0x0a] => "O".to_owned(),
                [0x55, 0x04, 0x0b] => "OU".to_owned(),
                other => other.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            };
            parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
        }
    }
    Some(parts.join(","))
}

/// Takes one DER element off the front of `input`: (tag, contents).
fn skip<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (tag, body, rest) = der(input)?;
    *input = rest;
    Some((tag, body))
}

/// One DER element: (tag, contents, what follows). Definite lengths only, bounds-checked.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "billing-service");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let subject = subject(cert.der()).unwrap();
        assert!(subject.contains("CN=billing-service"), "{subject}");
        assert!(subject.contains("O=Acme"), "{subject}");
    }

    #[test]
    fn garbage_is_no_subject_not_a_panic() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x05, 1, 2],
        ] {
            assert_eq!(subject(bytes), None);
        }
    }

    #[test]
    fn a_self_signed_certificate_makes_an_acceptor() {
        let (options, pem) = TlsOptions::self_signed().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        acceptor(&options).unwrap();
        let broken = TlsOptions {
            key: b"not a key".to_vec(),
            ..options
        };
        assert!(acceptor(&broken).is_err());
    }
}
