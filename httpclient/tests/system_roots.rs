//! The default trust is the system's root certificates, here named by `SSL_CERT_FILE` as OpenSSL and Python read it;
//! a CA file adds to them or replaces them.
//!
//! One test alone in its binary: it sets an environment variable and the system's roots are read once per process.
#![cfg(feature = "tls")]

mod tls_support;

use httpclient::{Body, CertificateProblem, Error, HttpsConnection, TlsConfig};
use tls_support::{fetch_from, serve, Authority};

#[test]
fn the_system_roots_are_the_default_and_a_ca_file_adds_to_or_replaces_them() {
    let directory = tempfile::tempdir().unwrap();
    let system = Authority::new("System CA");
    let private = Authority::new("Private CA");
    // Before anything reads the system's roots, and with no other test in this process.
    std::env::set_var("SSL_CERT_FILE", system.pem_file(directory.path()));
    std::env::remove_var("SSL_CERT_DIR");
    let private_file = private.pem_file(directory.path());

    // Python's HTTPSConnection(host) with its default context: the system's roots.
    let (address, server) = serve(system.sign(&["localhost"], |_| {}));
    let mut conn = HttpsConnection::new(&address.to_string()).unwrap();
    conn.set_server_name("localhost");
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"hello");
    drop(conn);
    server.join().unwrap();
    let defaults = TlsConfig::new();
    assert_eq!(
        fetch_from(system.sign(&["localhost"], |_| {}), &defaults).unwrap(),
        b"hello"
    );
    let unknown = |result: Result<Vec<u8>, Error>| {
        matches!(
            result,
            Err(Error::Certificate {
                problem: CertificateProblem::UnknownIssuer,
                ..
            })
        )
    };
    assert!(unknown(fetch_from(
        private.sign(&["localhost"], |_| {}),
        &defaults
    )));

    // load_verify_locations(cafile) on a default context: both.
    let both = TlsConfig::new().add_ca_file(&private_file).unwrap();
    for authority in [&system, &private] {
        let identity = authority.sign(&["localhost"], |_| {});
        assert_eq!(fetch_from(identity, &both).unwrap(), b"hello");
    }

    // create_default_context(cafile=...), curl's --cacert: the file only.
    let only = TlsConfig::from_ca_file(&private_file).unwrap();
    assert_eq!(
        fetch_from(private.sign(&["localhost"], |_| {}), &only).unwrap(),
        b"hello"
    );
    assert!(unknown(fetch_from(
        system.sign(&["localhost"], |_| {}),
        &only
    )));
}
