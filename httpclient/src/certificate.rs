//! What is wrong with a server certificate rustls refused, and what to do about it, in words a user can act on.
//!
//! rustls reports webpki's verdicts (`UnknownIssuer`, `CaUsedAsEndEntity`, ...); these messages say what each means
//! for the certificate in hand, with the names and dates it carries, and how such a certificate is usually fixed.

use std::fmt;

use rustls::pki_types::UnixTime;
use rustls::{CertificateError, InvalidMessage};

/// Why the server's certificate was refused, for [`Error::Certificate`](crate::Error::Certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// No chain leads from the certificate to a trusted root: it is self-signed, or signed by a CA that is not trusted,
    /// or the server did not send the intermediate certificates between it and a trusted root.
    UnknownIssuer,
    /// The certificate, or one in its chain, expired (or has a validity period that ends before it starts).
    Expired,
    /// The certificate, or one in its chain, is not valid yet.
    NotValidYet,
    /// The certificate does not name the host it was checked against.
    NameMismatch,
    /// The certificate is a CA certificate (basic constraints `CA:TRUE`) presented as the server's own, which is refused even when trusted.
    CaUsedAsEndEntity,
    /// Anything else rustls refuses: a bad signature, a wrong key usage, a malformed certificate, ...
    Other,
}

impl CertificateProblem {
    /// The problem rustls's `error` reports, if it is about the server's certificate.
    pub(crate) fn of(error: &rustls::Error) -> Option<CertificateProblem> {
        let rustls::Error::InvalidCertificate(error) = error else {
            return None;
        };
        Some(match error {
            CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertificateProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertificateProblem::NotValidYet
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertificateProblem::NameMismatch
            }
            // rustls passes on webpki's verdicts that it has no variant for inside `Other`.
            CertificateError::Other(other)
                if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                CertificateProblem::CaUsedAsEndEntity
            }
            _ => CertificateProblem::Other,
        })
    }
}

/// The message of [`Error::Certificate`](crate::Error::Certificate).
pub(crate) struct Described<'a> {
    pub(crate) server: &'a str,
    pub(crate) problem: CertificateProblem,
    pub(crate) error: &'a rustls::Error,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = self.server;
        write!(formatter, "certificate verify failed for {server}: ")?;
        let rustls::Error::InvalidCertificate(error) = self.error else {
            return write!(formatter, "{}", self.error);
        };
        match (self.problem, error) {
            (CertificateProblem::UnknownIssuer, _) => formatter.write_str(
                "its issuer is not trusted (unknown issuer): the certificate is self-signed, or signed by a CA that is not among \
                 the trusted roots, or the server did not send the intermediate certificates that lead to one; \
                 if you trust the CA that signed it, add that CA's certificate to the trusted roots",
            ),
            (_, CertificateError::ExpiredContext { time, not_after }) => write!(
                formatter,
                "the server's certificate, or one in its chain, expired on {} ({} ago); the server needs a new one \
                 (if that date has not passed, this machine's clock is wrong)",
                Utc(*not_after),
                Span(time.as_secs().saturating_sub(not_after.as_secs())),
            ),
            (CertificateProblem::Expired, _) => formatter.write_str(
                "the server's certificate, or one in its chain, has expired or has a validity period that ends before it starts; \
                 the server needs a new one",
            ),
            (_, CertificateError::NotValidYetContext { time, not_before }) => write!(
                formatter,
                "the server's certificate, or one in its chain, is not valid before {} ({} from now); \
                 check this machine's clock, or wait",
                Utc(*not_before),
                Span(not_before.as_secs().saturating_sub(time.as_secs())),
            ),
            (CertificateProblem::NotValidYet, _) => formatter.write_str(
                "the server's certificate, or one in its chain, is not valid yet; check this machine's clock",
            ),
            (_, CertificateError::NotValidForNameContext { presented, .. }) => {
                write!(formatter, "the certificate is not valid for {server}: ")?;
                match presented.as_slice() {
                    [] => formatter.write_str(
                        "it names no host in its subjectAltName extension (a common name, CN, is not used); \
                         the certificate needs a subjectAltName naming this host, such as DNS:localhost or IP:127.0.0.1",
                    ),
                    names => {
                        let names: Vec<String> = names.iter().map(|name| subject_alt_name(name)).collect();
                        write!(
                            formatter,
                            "it names only {}; connect by one of those names, or give the certificate a subjectAltName naming this host",
                            names.join(", ")
                        )
                    }
                }
            }
            (CertificateProblem::NameMismatch, _) => write!(
                formatter,
                "the certificate is not valid for {server}; connect by a name it has, or give it a subjectAltName naming this host"
            ),
            (CertificateProblem::CaUsedAsEndEntity, _) => formatter.write_str(
                "the server's certificate is a CA certificate (basic constraints CA:TRUE) used as a server certificate, \
                 which is refused even when that certificate is trusted; `openssl req -x509` makes such certificates by default: \
                 make the server's certificate with `-addext basicConstraints=critical,CA:FALSE`, or sign a server certificate \
                 with this CA and trust the CA",
            ),
            (_, error) => write!(formatter, "the certificate is invalid: {error}"),
        }
    }
}

/// A subjectAltName entry as `openssl x509 -text` shows it and `-addext subjectAltName=` takes it (`DNS:localhost`, `IP:127.0.0.1`),
/// from webpki's debug form (`DnsName("localhost")`, `IpAddress(127.0.0.1)`); other forms pass unchanged.
fn subject_alt_name(presented: &str) -> String {
    let inside = |prefix: &str, suffix: &str| presented.strip_prefix(prefix)?.strip_suffix(suffix);
    if let Some(name) = inside("DnsName(\"", "\")") {
        format!("DNS:{name}")
    } else if let Some(address) = inside("IpAddress(", ")") {
        format!("IP:{address}")
    } else if let Some(uri) = inside("UniformResourceIdentifier(\"", "\")") {
        format!("URI:{uri}")
    } else {
        presented.to_owned()
    }
}

/// A hint added to a handshake error whose likely cause is plain HTTP on the port.
pub(crate) fn handshake_hint(error: &rustls::Error) -> &'static str {
    // A plain HTTP server answers the ClientHello with text such as `HTTP/1.1 400`, which rustls reads as a record of content type `H`.
    match error {
        rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType) => {
            " (the server does not speak TLS on this port; plain http:// may be what it serves)"
        }
        _ => "",
    }
}

/// A Unix time as `2024-01-31 23:59:59 UTC`.
struct Utc(UnixTime);

impl fmt::Display for Utc {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        let (year, month, day) = civil_from_days(seconds / 86_400);
        let time = seconds % 86_400;
        write!(
            formatter,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
            time / 3600,
            time / 60 % 60,
            time % 60
        )
    }
}

/// A span of seconds in the largest unit that fits: `3 days`, `5 hours`, `40 seconds`.
struct Span(u64);

impl fmt::Display for Span {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, unit) = match self.0 {
            seconds if seconds >= 2 * 86_400 => (seconds / 86_400, "days"),
            seconds if seconds >= 2 * 3600 => (seconds / 3600, "hours"),
            seconds if seconds >= 2 * 60 => (seconds / 60, "minutes"),
            seconds => (seconds, "seconds"),
        };
        write!(formatter, "{count} {unit}")
    }
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_gregorian() {
        let check = |seconds: u64, expected: &str| {
            let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
            assert_eq!(Utc(time).to_string(), expected);
        };
        check(0, "1970-01-01 00:00:00 UTC");
        check(951_782_400, "2000-02-29 00:00:00 UTC");
        check(1_709_251_199, "2024-02-29 23:59:59 UTC");
        check(4_102_444_800, "2100-01-01 00:00:00 UTC");
        check(253_402_300_799, "9999-12-31 23:59:59 UTC");
    }

    #[test]
    fn subject_alt_names_read_as_openssl_writes_them() {
        assert_eq!(subject_alt_name("DnsName(\"localhost\")"), "DNS:localhost");
        assert_eq!(subject_alt_name("IpAddress(127.0.0.1)"), "IP:127.0.0.1");
        assert_eq!(subject_alt_name("IpAddress(::1)"), "IP:::1");
        assert_eq!(
            subject_alt_name("UniformResourceIdentifier(\"https://a/\")"),
            "URI:https://a/"
        );
        assert_eq!(subject_alt_name("Unsupported(0x01)"), "Unsupported(0x01)");
    }

    #[test]
    fn spans_use_the_largest_unit_that_fits() {
        assert_eq!(Span(40).to_string(), "40 seconds");
        assert_eq!(Span(3 * 60).to_string(), "3 minutes");
        assert_eq!(Span(5 * 3600 + 7).to_string(), "5 hours");
        assert_eq!(Span(400 * 86_400).to_string(), "400 days");
    }
}
