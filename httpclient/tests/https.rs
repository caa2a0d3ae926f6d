//! HTTPS against a local rustls server whose certificate is generated in the test, mirroring test_httplib's HTTPSTest.
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use httpclient::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use httpclient::rustls::{self, RootCertStore};
use httpclient::{Body, CertificateProblem, Config, Error, HttpsConnection};

struct Certificate {
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

fn certificate() -> Certificate {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    Certificate {
        der: generated.cert.der().clone(),
        key: generated.signing_key.serialize_der(),
    }
}

/// A TLS server answering `replies` requests on one connection, each with a 5-byte body.
fn tls_server(certificate: &Certificate, replies: usize) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificate.key.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let connection = rustls::ServerConnection::new(config).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        let mut received = Vec::new();
        for _ in 0..replies {
            let start = received.len();
            let mut buffer = [0; 4096];
            while !received[start..]
                .windows(4)
                .any(|window| window == b"\r\n\r\n")
            {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => return received,
                    Ok(read) => received.extend_from_slice(&buffer[..read]),
                }
            }
            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            if stream
                .write_all(reply)
                .and_then(|()| stream.flush())
                .is_err()
            {
                return received;
            }
        }
        stream.conn.send_close_notify();
        let _ = stream.flush();
        received
    });
    (address, handle)
}

fn trusting(certificate: &Certificate) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(certificate.der.clone()).unwrap();
    Arc::new(httpclient::client_config(roots).unwrap())
}

// Mirrors test_httplib: HTTPSTest.test_local_good_hostname (with keep-alive over TLS and ALPN).
#[test]
fn test_local_good_hostname() {
    let certificate = certificate();
    let (address, server) = tls_server(&certificate, 2);
    let mut conn = HttpsConnection::with_tls_config(
        &address.to_string(),
        Config::default(),
        trusting(&certificate),
    )
    .unwrap();
    conn.set_server_name("localhost");
    for _ in 0..2 {
        conn.request("GET", "/", Body::Empty, &[]).unwrap();
        let mut response = conn.getresponse().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.read(None).unwrap(), b"hello");
    }
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(conn);
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert_eq!(
        received.matches("GET / HTTP/1.1\r\n").count(),
        2,
        "both requests on one TLS connection"
    );
}

// Mirrors test_httplib: HTTPSTest.test_local_bad_hostname
#[test]
fn test_local_bad_hostname() {
    let certificate = certificate();
    let (address, server) = tls_server(&certificate, 1);
    // Verified as 127.0.0.1, which the certificate does not name.
    let mut conn = HttpsConnection::with_tls_config(
        &address.to_string(),
        Config::default(),
        trusting(&certificate),
    )
    .unwrap();
    let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Certificate {
                problem: CertificateProblem::NameMismatch,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().starts_with(
            "certificate verify failed for 127.0.0.1: the certificate is not valid for 127.0.0.1: it names only DNS:localhost"
        ),
        "{error}"
    );
    drop(conn);
    assert!(server.join().unwrap().is_empty(), "nothing sent");
}

// Mirrors test_httplib: HTTPSTest.test_local_unknown_cert
#[test]
fn test_local_unknown_cert() {
    let certificate = certificate();
    let (address, server) = tls_server(&certificate, 1);
    // The default configuration trusts the system's root certificates, not this self-signed certificate.
    let mut conn = HttpsConnection::new(&address.to_string()).unwrap();
    conn.set_server_name("localhost");
    let error = conn.request("GET", "/", Body::Empty, &[]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Certificate {
                problem: CertificateProblem::UnknownIssuer,
                ..
            }
        ),
        "{error}"
    );
    drop(conn);
    assert!(server.join().unwrap().is_empty(), "nothing sent");
}

// Mirrors test_httplib: HTTPSTest.test_host_port (the default port is 443).
#[test]
fn test_host_port() {
    let conn = HttpsConnection::new("www.python.org").unwrap();
    assert_eq!(conn.port(), 443);
    let conn = HttpsConnection::new("[fe80::207:e9ff:fe9b]:8000").unwrap();
    assert_eq!((conn.host(), conn.port()), ("fe80::207:e9ff:fe9b", 8000));
}

// Mirrors test_httplib: TunnelTests with HTTPSConnection: TLS to the tunnel's host through a CONNECT proxy,
// verified against the tunnel host's name, not the proxy's.
#[test]
fn test_https_through_tunnel() {
    let certificate = certificate();
    let (tls_address, server) = tls_server(&certificate, 1);
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_address = proxy.local_addr().unwrap();
    let relay = std::thread::spawn(move || {
        let (mut client, _) = proxy.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte).unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let mut upstream = std::net::TcpStream::connect(tls_address).unwrap();
        let mut client_reader = client.try_clone().unwrap();
        let mut upstream_writer = upstream.try_clone().unwrap();
        let forward = std::thread::spawn(move || {
            let _ = std::io::copy(&mut client_reader, &mut upstream_writer);
        });
        let _ = std::io::copy(&mut upstream, &mut client);
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = forward.join();
        String::from_utf8(head).unwrap()
    });
    let mut conn = HttpsConnection::with_tls_config(
        &proxy_address.to_string(),
        Config::default(),
        trusting(&certificate),
    )
    .unwrap();
    conn.set_tunnel("localhost", Some(tls_address.port()), &[])
        .unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"hello");
    drop(conn);
    let received = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        received.contains(&format!("Host: localhost:{}\r\n", tls_address.port())),
        "{received}"
    );
    let connect = relay.join().unwrap();
    let expected = format!(
        "CONNECT localhost:{0} HTTP/1.1\r\nHost: localhost:{0}\r\n\r\n",
        tls_address.port()
    );
    assert_eq!(connect, expected);
}
