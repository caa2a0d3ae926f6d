//! Certificates made by rcgen and by the `openssl` command, a rustls server on 127.0.0.1:0 presenting them, and a client fetching from it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use httpclient::rustls;
use httpclient::rustls::pki_types::pem::PemObject;
use httpclient::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use httpclient::{Body, Config, Error, HttpsConnection, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A certificate chain and its key, as a server presents them.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// A CA made by rcgen, which signs server certificates.
pub struct Authority {
    name: String,
    pub certificate: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params.self_signed(&key).unwrap();
        Authority {
            name: name.to_owned(),
            certificate,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, shaped by `adjust`, signed by this CA.
    pub fn sign(&self, names: &[&str], adjust: impl FnOnce(&mut CertificateParams)) -> Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        adjust(&mut params);
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Identity {
            chain: vec![certificate.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// The CA's certificate in a PEM file under `directory`, named after the CA.
    pub fn pem_file(&self, directory: &Path) -> PathBuf {
        let path = directory.join(format!("{}.pem", self.name.replace(' ', "-")));
        std::fs::write(&path, self.certificate.pem()).unwrap();
        path
    }
}

/// A self-signed certificate for `names` made by rcgen, shaped by `adjust`; its PEM file under `directory`.
pub fn self_signed(
    names: &[&str],
    directory: &Path,
    adjust: impl FnOnce(&mut CertificateParams),
) -> (Identity, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    adjust(&mut params);
    let certificate = params.self_signed(&key).unwrap();
    let path = directory.join("self-signed.pem");
    std::fs::write(&path, certificate.pem()).unwrap();
    let identity = Identity {
        chain: vec![certificate.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    };
    (identity, path)
}

/// A self-signed certificate made by `openssl req -x509` for `/CN=localhost` with `extra` arguments, as users make them;
/// the identity and the certificate's PEM file.
pub fn openssl_self_signed(directory: &Path, extra: &[&str]) -> (Identity, PathBuf) {
    let certificate = directory.join("openssl-cert.pem");
    let key = directory.join("openssl-key.pem");
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .args(extra)
        .output()
        .expect("the openssl command, which these tests use to make certificates as users do");
    assert!(output.status.success(), "openssl: {output:?}");
    let identity = Identity {
        chain: CertificateDer::pem_file_iter(&certificate)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
        key: PrivateKeyDer::from_pem_file(&key).unwrap(),
    };
    (identity, certificate)
}

/// A TLS server presenting `identity` to one connection, answering one request with `hello`; it returns the request's bytes.
pub fn serve(identity: Identity) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let connection = rustls::ServerConnection::new(config).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        let mut received = Vec::new();
        let mut buffer = [0; 4096];
        // A client that refuses the certificate ends the handshake with an alert: the read fails and the server is done.
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return received,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        stream.conn.send_close_notify();
        let _ = stream.flush();
        received
    });
    (address, handle)
}

/// GET / from the server at `address` with `tls`, checking its certificate as `name` (the address itself when `None`).
pub fn fetch(address: SocketAddr, name: Option<&str>, tls: &TlsConfig) -> Result<Vec<u8>, Error> {
    let mut conn = HttpsConnection::with_context(&address.to_string(), Config::default(), tls)?;
    if let Some(name) = name {
        conn.set_server_name(name);
    }
    conn.request("GET", "/", Body::Empty, &[])?;
    let mut response = conn.getresponse()?;
    response.read(None)
}

/// Serves `identity` and fetches from it as `localhost` with `tls`; when the client fails, no byte of the request reached the server.
pub fn fetch_from(identity: Identity, tls: &TlsConfig) -> Result<Vec<u8>, Error> {
    let (address, server) = serve(identity);
    let result = fetch(address, Some("localhost"), tls);
    let received = server.join().unwrap();
    if let Err(error) = &result {
        assert!(
            received.is_empty(),
            "{error}: yet the server got {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    result
}
