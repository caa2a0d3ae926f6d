//! What an HTTPS client trusts (a CA file, nothing checked) and what it says when it refuses a certificate,
//! against rustls servers on 127.0.0.1:0 with certificates made by rcgen and by the `openssl` command as users make them.
#![cfg(feature = "tls")]

mod tls_support;

use std::error::Error as _;
use std::io::{Read, Write};
use std::net::TcpListener;

use httpclient::rustls::{self, CertificateError};
use httpclient::{CertificateProblem, Error, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tls_support::{
    fetch, fetch_from, openssl_self_signed, self_signed, serve, Authority, Identity,
};

/// The certificate error of `result`, checked for what every certificate error has: its kind, the predicates,
/// rustls's error as `source()`, and the words of its message.
fn refused(result: Result<Vec<u8>, Error>, problem: CertificateProblem, words: &[&str]) -> Error {
    let error = result.expect_err("the certificate should be refused");
    let Error::Certificate {
        problem: found,
        ref source,
        ..
    } = error
    else {
        panic!("a certificate error expected, got {error:?}");
    };
    assert_eq!(found, problem, "{error}");
    assert!(matches!(source, rustls::Error::InvalidCertificate(_)));
    let source = error.source().expect("source()");
    assert!(source.downcast_ref::<rustls::Error>().is_some(), "{source}");
    assert!(
        error.is_certificate() && error.is_tls() && error.is_connect(),
        "{error}"
    );
    assert!(!error.is_timeout(), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("certificate verify failed for "),
        "{message}"
    );
    for word in words {
        assert!(message.contains(word), "{message:?} lacks {word:?}");
    }
    error
}

// ---------------------------------------------------------------------------------------------------------------
// Trust.

// Python: ssl.create_default_context(cafile=...) with a server certificate signed by a private CA.
#[test]
fn a_ca_file_trusts_the_servers_its_ca_signed() {
    let directory = tempfile::tempdir().unwrap();
    let authority = Authority::new("Private CA");
    let tls = TlsConfig::from_ca_file(authority.pem_file(directory.path())).unwrap();
    let identity = authority.sign(&["localhost"], |_| {});
    assert_eq!(fetch_from(identity, &tls).unwrap(), b"hello");
}

// A server's own self-signed certificate (not a CA) can be trusted as it is, as with Python's cafile.
#[test]
fn a_ca_file_can_hold_the_servers_own_self_signed_certificate() {
    let directory = tempfile::tempdir().unwrap();
    let (identity, pem) = self_signed(&["localhost"], directory.path(), |_| {});
    let tls = TlsConfig::from_ca_file(pem).unwrap();
    assert_eq!(fetch_from(identity, &tls).unwrap(), b"hello");
}

// A bundle of several CAs, with other PEM blocks in between, trusts each of them.
#[test]
fn a_ca_bundle_trusts_each_of_its_cas() {
    let directory = tempfile::tempdir().unwrap();
    let first = Authority::new("First CA");
    let second = Authority::new("Second CA");
    let bundle = directory.path().join("bundle.pem");
    let key = KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(
        &bundle,
        format!(
            "{}{key}{}",
            first.certificate.pem(),
            second.certificate.pem()
        ),
    )
    .unwrap();
    let tls = TlsConfig::from_ca_file(&bundle).unwrap();
    for authority in [&first, &second] {
        let identity = authority.sign(&["localhost"], |_| {});
        assert_eq!(fetch_from(identity, &tls).unwrap(), b"hello");
    }
}

// A CA file replaces the system's roots (Python's cafile, curl's --cacert): another CA's server is refused.
#[test]
fn a_ca_file_trusts_only_its_own_cas() {
    let directory = tempfile::tempdir().unwrap();
    let trusted = Authority::new("Trusted CA");
    let other = Authority::new("Other CA");
    let tls = TlsConfig::from_ca_file(trusted.pem_file(directory.path())).unwrap();
    let identity = other.sign(&["localhost"], |_| {});
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::UnknownIssuer,
        &["unknown issuer"],
    );
}

// Python: context.check_hostname = False; context.verify_mode = ssl.CERT_NONE. Everything verification refuses passes.
#[test]
fn danger_accept_invalid_certs_accepts_what_verification_refuses() {
    let directory = tempfile::tempdir().unwrap();
    let insecure = TlsConfig::danger_accept_invalid_certs();
    assert!(insecure.accepts_invalid_certs());
    assert!(!TlsConfig::new().accepts_invalid_certs());
    // Self-signed as a CA, for another name, expired: three reasons to refuse it.
    let (identity, pem) = self_signed(&["example.com"], directory.path(), |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    });
    let der = identity.chain[0].clone();
    let again = Identity {
        chain: identity.chain.clone(),
        key: identity.key.clone_key(),
    };
    assert_eq!(fetch_from(identity, &insecure).unwrap(), b"hello");
    // The same server is refused once verification is on, even with its certificate trusted.
    let trusting = TlsConfig::from_ca_file(pem).unwrap();
    assert!(fetch_from(again, &trusting).unwrap_err().is_certificate());
    let trusting = TlsConfig::new().add_ca_certificate(der);
    let (identity, _) = self_signed(&["localhost"], directory.path(), |_| {});
    assert!(fetch_from(identity, &trusting)
        .unwrap_err()
        .is_certificate());
}

// ---------------------------------------------------------------------------------------------------------------
// Certificate errors: what is wrong, and what to do.

#[test]
fn an_unknown_issuer_says_the_certificate_is_not_trusted_and_why() {
    let directory = tempfile::tempdir().unwrap();
    let trusted = Authority::new("Trusted CA");
    let tls = TlsConfig::from_ca_file(trusted.pem_file(directory.path())).unwrap();
    let (identity, _) = self_signed(&["localhost"], directory.path(), |_| {});
    let error = refused(
        fetch_from(identity, &tls),
        CertificateProblem::UnknownIssuer,
        &[
            "for localhost",
            "its issuer is not trusted (unknown issuer)",
            "self-signed",
            "intermediate certificates",
            "add that CA's certificate to the trusted roots",
        ],
    );
    let Error::Certificate { source, .. } = error else {
        unreachable!()
    };
    assert_eq!(
        source,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
}

#[test]
fn an_expired_certificate_says_when_it_expired() {
    let directory = tempfile::tempdir().unwrap();
    let authority = Authority::new("Private CA");
    let tls = TlsConfig::from_ca_file(authority.pem_file(directory.path())).unwrap();
    let identity = authority.sign(&["localhost"], |params| {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    });
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::Expired,
        &[
            "expired on 2020-01-01 00:00:00 UTC",
            "days ago",
            "the server needs a new one",
            "clock",
        ],
    );
}

#[test]
fn a_certificate_not_valid_yet_says_from_when() {
    let directory = tempfile::tempdir().unwrap();
    let authority = Authority::new("Private CA");
    let tls = TlsConfig::from_ca_file(authority.pem_file(directory.path())).unwrap();
    let identity = authority.sign(&["localhost"], |params| {
        params.not_before = rcgen::date_time_ymd(2090, 1, 1);
        params.not_after = rcgen::date_time_ymd(2091, 1, 1);
    });
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::NotValidYet,
        &[
            "not valid before 2090-01-01 00:00:00 UTC",
            "days from now",
            "clock",
        ],
    );
}

#[test]
fn a_name_mismatch_says_which_names_the_certificate_has() {
    let directory = tempfile::tempdir().unwrap();
    let authority = Authority::new("Private CA");
    let tls = TlsConfig::from_ca_file(authority.pem_file(directory.path())).unwrap();
    let identity = authority.sign(&["example.com", "www.example.com"], |_| {});
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::NameMismatch,
        &[
            "not valid for localhost",
            "it names only DNS:example.com, DNS:www.example.com",
            "connect by one of those names",
        ],
    );
    // Addressed by its IP address, a server whose certificate names only `localhost`.
    let identity = authority.sign(&["localhost"], |_| {});
    let (address, server) = serve(identity);
    let result = fetch(address, None, &tls);
    server.join().unwrap();
    refused(
        result,
        CertificateProblem::NameMismatch,
        &["for 127.0.0.1", "it names only DNS:localhost"],
    );
}

// Python's test_httplib: HTTPSTest.test_local_bad_hostname, with a certificate that names no host at all.
#[test]
fn a_certificate_naming_no_host_says_the_common_name_is_not_used() {
    let directory = tempfile::tempdir().unwrap();
    let authority = Authority::new("Private CA");
    let tls = TlsConfig::from_ca_file(authority.pem_file(directory.path())).unwrap();
    let identity = authority.sign(&[], |params| {
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
    });
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::NameMismatch,
        &[
            "names no host in its subjectAltName",
            "CN, is not used",
            "DNS:localhost",
        ],
    );
}

// rustls refuses a CA certificate as a server's certificate even when it is trusted; the message must not send the
// user to trust it (which cannot help) but to make a certificate that works.
#[test]
fn a_ca_certificate_used_as_the_servers_says_how_to_make_one_that_works() {
    let directory = tempfile::tempdir().unwrap();
    let words = [
        "is a CA certificate (basic constraints CA:TRUE) used as a server certificate",
        "refused even when that certificate is trusted",
        "`openssl req -x509` makes such certificates by default",
        "-addext basicConstraints=critical,CA:FALSE",
    ];
    let as_ca = |params: &mut CertificateParams| {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    };
    // Trusted, and not trusted: the verdict is the same.
    let (identity, pem) = self_signed(&["localhost"], directory.path(), as_ca);
    let tls = TlsConfig::from_ca_file(&pem).unwrap();
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::CaUsedAsEndEntity,
        &words,
    );
    let (identity, _) = self_signed(&["localhost"], directory.path(), as_ca);
    let other = Authority::new("Other CA");
    let tls = TlsConfig::from_ca_file(other.pem_file(directory.path())).unwrap();
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::CaUsedAsEndEntity,
        &words,
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Certificates made by `openssl req -x509`, as users make them.

// `openssl req -x509` marks its certificate CA:TRUE unless told otherwise, even with a subjectAltName:
// the real-world failure, with the message that tells what to change.
#[test]
fn openssl_req_x509_with_its_defaults_is_refused_with_the_fix() {
    let directory = tempfile::tempdir().unwrap();
    let (identity, pem) = openssl_self_signed(
        directory.path(),
        &["-addext", "subjectAltName=DNS:localhost"],
    );
    let tls = TlsConfig::from_ca_file(&pem).unwrap();
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::CaUsedAsEndEntity,
        &[
            "openssl req -x509",
            "-addext basicConstraints=critical,CA:FALSE",
        ],
    );
}

// The fix the message gives works: the same command with `-addext basicConstraints=critical,CA:FALSE`.
#[test]
fn openssl_req_x509_with_ca_false_and_a_subject_alt_name_is_trusted() {
    let directory = tempfile::tempdir().unwrap();
    let (identity, pem) = openssl_self_signed(
        directory.path(),
        &[
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let tls = TlsConfig::from_ca_file(&pem).unwrap();
    assert_eq!(fetch_from(identity, &tls).unwrap(), b"hello");
}

// Without a subjectAltName the name in /CN=localhost is not looked at; the message says so.
#[test]
fn openssl_req_x509_without_a_subject_alt_name_names_no_host() {
    let directory = tempfile::tempdir().unwrap();
    let (identity, pem) = openssl_self_signed(
        directory.path(),
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    let tls = TlsConfig::from_ca_file(&pem).unwrap();
    refused(
        fetch_from(identity, &tls),
        CertificateProblem::NameMismatch,
        &["names no host in its subjectAltName", "CN, is not used"],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// CA files that cannot be used, and handshakes that fail for other reasons.

#[test]
fn a_ca_file_that_cannot_be_used_says_why() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("missing.pem");
    let error = TlsConfig::from_ca_file(&missing).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::CaFile { .. }), "{error:?}");
    assert!(
        message.starts_with(&format!("cannot load CA file {}: ", missing.display())),
        "{message}"
    );
    // The operating system's words are kept, and the io::Error is the source.
    assert!(message.contains("No such file or directory"), "{message}");
    let source = error.source().unwrap();
    assert_eq!(
        source.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );

    let no_certificate = directory.path().join("key-only.pem");
    std::fs::write(
        &no_certificate,
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let message = TlsConfig::from_ca_file(&no_certificate)
        .unwrap_err()
        .to_string();
    assert!(message.contains("no certificate in it"), "{message}");

    let broken = directory.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let error = TlsConfig::from_ca_file(&broken).unwrap_err();
    assert!(matches!(error, Error::CaFile { .. }), "{error:?}");

    let not_x509 = directory.path().join("not-x509.pem");
    std::fs::write(
        &not_x509,
        "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let message = TlsConfig::from_ca_file(&not_x509).unwrap_err().to_string();
    assert!(
        message.contains("certificate 1 is not a usable X.509 certificate"),
        "{message}"
    );
}

// https:// to a port that speaks plain HTTP: the handshake fails, and the message says what is likely.
// (No certificate is checked, so the test needs no root certificates on the machine.)
#[test]
fn a_plain_http_server_on_the_port_is_named_as_the_likely_cause() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut hello = [0; 512];
        let _ = socket.read(&mut hello);
        let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let error = fetch(
        address,
        Some("localhost"),
        &TlsConfig::danger_accept_invalid_certs(),
    )
    .unwrap_err();
    server.join().unwrap();
    assert!(matches!(error, Error::Handshake { .. }), "{error:?}");
    assert!(error.is_tls() && error.is_connect() && !error.is_certificate());
    assert!(error.source().is_some());
    let message = error.to_string();
    assert!(
        message.starts_with("tls handshake with localhost failed: "),
        "{message}"
    );
    assert!(
        message.contains("does not speak TLS on this port"),
        "{message}"
    );
}

// A server that closes the connection during the handshake: nothing was sent, so it is a connect error naming the address.
#[test]
fn a_server_closing_during_the_handshake_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut hello = [0; 512];
        let _ = socket.read(&mut hello);
    });
    let error = fetch(
        address,
        Some("localhost"),
        &TlsConfig::danger_accept_invalid_certs(),
    )
    .unwrap_err();
    server.join().unwrap();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_connect() && !error.is_tls(), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot connect to localhost:{}: ", address.port())),
        "{message}"
    );
}
