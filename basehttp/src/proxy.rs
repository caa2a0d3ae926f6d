//! Clients behind a proxy: which peers are trusted to name the client ([`TrustedProxies`]), how they name it
//! (`X-Forwarded-For`, `Forwarded`), and the PROXY protocol header (v1 text, v2 binary) such a peer may send before anything else.
//!
//! A name is believed only from a trusted peer: anyone else's `X-Forwarded-For` is just a header, and anyone else's PROXY header
//! ends the connection. The header chain is read from the right, skipping trusted hops, so a client cannot push its own
//! address in front of what the last trusted proxy appended (nginx's `real_ip_recursive`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

pub use ipnet::IpNet;
use socketserver::{Address, Stream};

use crate::headers::Headers;

/// Which request header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default: what nginx, HAProxy and most load balancers append).
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client, for=proxy1`.
    Forwarded,
    /// Neither: only a PROXY protocol header names the client.
    None,
}

/// The peers trusted to say who the client is, by address block (`--trusted-proxy CIDR`), and the header they say it in.
///
/// Only one header is read: a proxy that appends to `X-Forwarded-For` passes a client's own `Forwarded` header through untouched,
/// so reading both would let the client choose its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

/// The longest PROXY protocol header accepted: a v1 line is at most 107 bytes, a v2 header 16 bytes and its addresses and
/// extensions (TLVs), bounded here so a proxy cannot make the server hold a large buffer before a request begins.
pub const MAX_PROXY_HEADER: usize = 16 + 1024;

const V1_PREFIX: &[u8] = b"PROXY ";
const V1_MAX: usize = 107;
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// What the first bytes of a connection say about a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// Too few bytes to tell: they begin like a header.
    Incomplete,
    /// No PROXY header: the bytes are the connection's own (an HTTP request, a TLS handshake).
    Absent,
    /// A whole header of `length` bytes; `source` is the client it names, `None` when it names none
    /// (v1 `UNKNOWN`, v2 `LOCAL` or a family other than TCP over IP), and the peer then stays the client.
    Complete {
        /// Bytes the header takes, to be read away before the connection's own bytes.
        length: usize,
        /// The client's address and port.
        source: Option<SocketAddr>,
    },
    /// A header that breaks the protocol's grammar, or is longer than [`MAX_PROXY_HEADER`].
    Invalid(&'static str),
}

impl TrustedProxies {
    /// Trusts the peers in `networks`, reading `X-Forwarded-For`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies {
            networks,
            header: ForwardedHeader::default(),
        }
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether no peer is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `address` lies in a trusted block (an IPv4 address seen on a dual-stack socket as `::ffff:a.b.c.d` counts as IPv4).
    pub fn trusts_ip(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// Whether the peer `address` is trusted; a Unix-domain peer never is.
    pub fn trusts(&self, address: &Address) -> bool {
        address.inet().is_some_and(|inet| self.trusts_ip(inet.ip()))
    }

    /// The client a trusted `peer`'s forwarding header names: the rightmost hop that is not trusted itself
    /// (or the leftmost, when every hop is), stopping at a hop that is not an address. `None` when the peer is not trusted
    /// or names no one.
    pub fn client_from_headers(&self, peer: &Address, headers: &Headers) -> Option<Address> {
        if self.networks.is_empty() || !self.trusts(peer) {
            return None;
        }
        let hops: Vec<Option<SocketAddr>> = match self.header {
            ForwardedHeader::XForwardedFor => headers
                .get_all("X-Forwarded-For")
                .flat_map(|value| value.split(','))
                .map(|hop| parse_hop(hop.trim()))
                .collect(),
            ForwardedHeader::Forwarded => headers
                .get_all("Forwarded")
                .flat_map(|value| value.split(','))
                .map(forwarded_for)
                .collect(),
            ForwardedHeader::None => return None,
        };
        let mut named = None;
        for hop in hops.iter().rev() {
            let Some(hop) = hop else {
                break;
            };
            named = Some(*hop);
            if !self.trusts_ip(hop.ip()) {
                break;
            }
        }
        named.map(|hop| Address::Inet(SocketAddr::new(canonical(hop.ip()), hop.port())))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One hop of a forwarding header: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`; port 0 when none is given.
fn parse_hop(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(address, 0));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<Ipv6Addr>()
        .ok()
        .map(|address| SocketAddr::new(IpAddr::V6(address), 0))
}

/// The `for=` of one `Forwarded` element (RFC 7239 section 4): `for=192.0.2.60;proto=http`, `For="[2001:db8::1]:4711"`.
fn forwarded_for(element: &str) -> Option<SocketAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value);
        parse_hop(value)
    })
}

/// Reads what the first bytes of a connection say about a PROXY protocol header (v1 or v2).
///
/// Never panics, whatever the bytes.
pub fn parse_proxy_header(bytes: &[u8]) -> ProxyHeader {
    let v1 = bytes.len().min(V1_PREFIX.len());
    let v2 = bytes.len().min(V2_SIGNATURE.len());
    if bytes[..v1] == V1_PREFIX[..v1] {
        if bytes.len() < V1_PREFIX.len() {
            return ProxyHeader::Incomplete;
        }
        return parse_v1(bytes);
    }
    if bytes[..v2] == V2_SIGNATURE[..v2] {
        if bytes.len() < 16 {
            return ProxyHeader::Incomplete;
        }
        return parse_v2(bytes);
    }
    ProxyHeader::Absent
}

fn parse_v1(bytes: &[u8]) -> ProxyHeader {
    let window = &bytes[..bytes.len().min(V1_MAX)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        return if bytes.len() >= V1_MAX {
            ProxyHeader::Invalid("PROXY v1 line longer than 107 bytes")
        } else {
            ProxyHeader::Incomplete
        };
    };
    let length = end + 2;
    let Ok(line) = std::str::from_utf8(&bytes[V1_PREFIX.len()..end]) else {
        return ProxyHeader::Invalid("PROXY v1 line is not text");
    };
    let words: Vec<&str> = line.split(' ').collect();
    match words[..] {
        ["UNKNOWN", ..] => ProxyHeader::Complete {
            length,
            source: None,
        },
        [family @ ("TCP4" | "TCP6"), source, destination, source_port, destination_port] => {
            let v4 = family == "TCP4";
            let address = |text: &str| -> Option<IpAddr> {
                if v4 {
                    text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
                } else {
                    text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
                }
            };
            // Ports are 0 to 65535 without leading zeros or signs, as the specification writes them.
            let port = |text: &str| -> Option<u16> {
                let plain = !text.is_empty()
                    && text.bytes().all(|byte| byte.is_ascii_digit())
                    && (text == "0" || !text.starts_with('0'));
                plain.then(|| text.parse().ok()).flatten()
            };
            match (
                address(source),
                address(destination),
                port(source_port),
                port(destination_port),
            ) {
                (Some(source), Some(_), Some(source_port), Some(_)) => ProxyHeader::Complete {
                    length,
                    source: Some(SocketAddr::new(source, source_port)),
                },
                _ => ProxyHeader::Invalid("PROXY v1 line with a malformed address or port"),
            }
        }
        _ => ProxyHeader::Invalid("PROXY v1 line of an unknown shape"),
    }
}

fn parse_v2(bytes: &[u8]) -> ProxyHeader {
    let version_command = bytes[12];
    if version_command >> 4 != 2 {
        return ProxyHeader::Invalid("PROXY v2 header of another version");
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return ProxyHeader::Invalid("PROXY v2 header with an unknown command"),
    };
    let family = bytes[13];
    let declared = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let length = 16 + declared;
    if length > MAX_PROXY_HEADER {
        return ProxyHeader::Invalid("PROXY v2 header longer than the server accepts");
    }
    if bytes.len() < length {
        return ProxyHeader::Incomplete;
    }
    let body = &bytes[16..length];
    if local {
        return ProxyHeader::Complete {
            length,
            source: None,
        };
    }
    let source = match family {
        // TCP over IPv4: source, destination, source port, destination port.
        0x11 => {
            let Some(body) = body.get(..12) else {
                return ProxyHeader::Invalid("PROXY v2 IPv4 addresses cut short");
            };
            let address = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            Some(SocketAddr::new(
                IpAddr::V4(address),
                u16::from_be_bytes([body[8], body[9]]),
            ))
        }
        0x21 => {
            let Some(body) = body.get(..36) else {
                return ProxyHeader::Invalid("PROXY v2 IPv6 addresses cut short");
            };
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&body[..16]);
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(octets)),
                u16::from_be_bytes([body[32], body[33]]),
            ))
        }
        // UNSPEC, UDP or Unix-domain: nothing the server can use as a client address.
        _ => None,
    };
    ProxyHeader::Complete { length, source }
}

/// What reading a connection's preface found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Preface {
    /// No header, or a trusted one naming this client (or none: the peer stays the client).
    Client(Option<SocketAddr>),
    /// Nothing whole yet; wait for more bytes.
    Wait,
    /// End the connection: the reason is logged.
    Refuse(String),
}

/// Looks at the bytes waiting on `stream` without taking them, and reads away a PROXY header when a trusted `peer` sent one.
///
/// An untrusted peer's header is refused, so it can neither name a client nor reach the HTTP parser.
pub(crate) fn read_preface(
    stream: &Stream,
    peer: &Address,
    proxies: &TrustedProxies,
) -> io::Result<Preface> {
    let mut buffer = [0u8; MAX_PROXY_HEADER];
    let count = loop {
        match stream.peek_nonblocking(&mut buffer) {
            Ok(count) => break count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(Preface::Wait),
            Err(error) => return Err(error),
        }
    };
    if count == 0 {
        // The peer closed: the connection's own reading sees the end.
        return Ok(Preface::Client(None));
    }
    match parse_proxy_header(&buffer[..count]) {
        ProxyHeader::Absent => Ok(Preface::Client(None)),
        ProxyHeader::Incomplete if count < buffer.len() => Ok(Preface::Wait),
        ProxyHeader::Incomplete => Ok(Preface::Refuse("PROXY header too long".to_owned())),
        _ if !proxies.trusts(peer) => {
            crate::metrics::record_proxy_refusal();
            Ok(Preface::Refuse(
                "PROXY protocol header from a peer that is not a trusted proxy; connection refused"
                    .to_owned(),
            ))
        }
        ProxyHeader::Invalid(reason) => {
            Ok(Preface::Refuse(format!("{reason}; connection refused")))
        }
        ProxyHeader::Complete { length, source } => {
            let mut header = [0u8; MAX_PROXY_HEADER];
            // The header is in the socket's buffer already (peek saw it), so this read takes exactly it without waiting.
            let mut taken = 0;
            while taken < length {
                match stream.read_nonblocking(&mut header[taken..length]) {
                    Ok(0) => return Ok(Preface::Refuse("PROXY header cut short".to_owned())),
                    Ok(count) => taken += count,
                    Err(error) => return Err(error),
                }
            }
            Ok(Preface::Client(source))
        }
    }
}

/// [`read_preface`] on a connection served by its own thread: waits for the header's bytes, at most `timeout`.
pub(crate) fn read_preface_blocking(
    stream: &Stream,
    peer: &Address,
    proxies: &TrustedProxies,
    timeout: Option<Duration>,
) -> io::Result<Preface> {
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    loop {
        match read_preface(stream, peer, proxies)? {
            Preface::Wait => {}
            done => return Ok(done),
        }
        let left = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Preface::Refuse(
                        "PROXY header not received within the head timeout".to_owned(),
                    ));
                }
                Some(left)
            }
            None => None,
        };
        if !stream.wait_readable(left)? {
            return Ok(Preface::Refuse(
                "PROXY header not received within the head timeout".to_owned(),
            ));
        }
        // Something arrived; a peek that sees the same incomplete bytes waits again.
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn peer(text: &str) -> Address {
        Address::Inet(text.parse().unwrap())
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in pairs {
            headers.append(name, value);
        }
        headers
    }

    #[test]
    fn v1_headers() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse_proxy_header(line),
            ProxyHeader::Complete {
                length: 45,
                source: Some("192.0.2.7:56324".parse().unwrap())
            }
        );
        assert_eq!(
            parse_proxy_header(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"),
            ProxyHeader::Complete {
                length: 40,
                source: Some("[2001:db8::1]:1".parse().unwrap())
            }
        );
        assert_eq!(
            parse_proxy_header(b"PROXY UNKNOWN\r\n"),
            ProxyHeader::Complete {
                length: 15,
                source: None
            }
        );
        for partial in [&b"P"[..], b"PROX", b"PROXY ", b"PROXY TCP4 1.2.3.4"] {
            assert_eq!(parse_proxy_header(partial), ProxyHeader::Incomplete);
        }
        for absent in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PUT",
            b"\x16\x03\x01",
            b"PROXZ",
        ] {
            assert_eq!(parse_proxy_header(absent), ProxyHeader::Absent);
        }
        for bad in [
            &b"PROXY TCP4 192.0.2.7 198.51.100.1 056324 443\r\n"[..],
            b"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 198.51.100.1 70000 443\r\n",
            b"PROXY TCP4 192.0.2.7  198.51.100.1 1 443\r\n",
            b"PROXY UDP4 192.0.2.7 198.51.100.1 1 443\r\n",
            &[b'P', b'R', b'O', b'X', b'Y', b' ', 0xff, b'\r', b'\n'],
        ] {
            assert!(
                matches!(parse_proxy_header(bad), ProxyHeader::Invalid(_)),
                "{bad:?}"
            );
        }
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(200, b'1');
        assert!(matches!(parse_proxy_header(&long), ProxyHeader::Invalid(_)));
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(body);
        header
    }

    #[test]
    fn v2_headers() {
        let mut body = vec![192, 0, 2, 7, 198, 51, 100, 1];
        body.extend_from_slice(&56324u16.to_be_bytes());
        body.extend_from_slice(&443u16.to_be_bytes());
        // A TLV after the addresses is skipped with them.
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]);
        let mut bytes = v2(1, 0x11, &body);
        let whole = bytes.len();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse_proxy_header(&bytes),
            ProxyHeader::Complete {
                length: whole,
                source: Some("192.0.2.7:56324".parse().unwrap())
            }
        );
        assert_eq!(parse_proxy_header(&bytes[..20]), ProxyHeader::Incomplete);
        assert_eq!(parse_proxy_header(&bytes[..5]), ProxyHeader::Incomplete);
        let mut six = vec![0u8; 36];
        six[15] = 1;
        six[32..34].copy_from_slice(&8080u16.to_be_bytes());
        assert_eq!(
            parse_proxy_header(&v2(1, 0x21, &six)),
            ProxyHeader::Complete {
                length: 52,
                source: Some("[::1]:8080".parse().unwrap())
            }
        );
        assert_eq!(
            parse_proxy_header(&v2(0, 0x00, &[])),
            ProxyHeader::Complete {
                length: 16,
                source: None
            }
        );
        assert!(matches!(
            parse_proxy_header(&v2(1, 0x11, &[1, 2, 3])),
            ProxyHeader::Invalid(_)
        ));
        assert!(matches!(
            parse_proxy_header(&v2(5, 0x11, &body)),
            ProxyHeader::Invalid(_)
        ));
        let mut huge = v2(1, 0x11, &body);
        huge[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(parse_proxy_header(&huge), ProxyHeader::Invalid(_)));
    }

    #[test]
    fn parsing_never_panics_on_any_prefix() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 64) as usize;
            let mut bytes: Vec<u8> = if state % 3 == 0 {
                V2_SIGNATURE.to_vec()
            } else {
                b"PROXY ".to_vec()
            };
            let mut seed = state;
            for _ in 0..length {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                bytes.push((seed >> 56) as u8);
            }
            let _ = parse_proxy_header(&bytes);
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let proxies = TrustedProxies::new(vec![net("10.0.0.0/8"), net("::1/128")]);
        let sent = headers(&[("X-Forwarded-For", "203.0.113.9")]);
        assert_eq!(
            proxies.client_from_headers(&peer("10.1.2.3:40000"), &sent),
            Some(peer("203.0.113.9:0"))
        );
        assert_eq!(
            proxies.client_from_headers(&peer("192.0.2.1:40000"), &sent),
            None
        );
        assert_eq!(
            proxies.client_from_headers(&peer("[::ffff:10.1.2.3]:1"), &sent),
            Some(peer("203.0.113.9:0"))
        );
        assert_eq!(
            proxies.client_from_headers(&peer("[::1]:1"), &headers(&[])),
            None
        );
        assert!(!TrustedProxies::default().trusts(&peer("10.0.0.1:1")));
    }

    #[test]
    fn the_chain_is_read_from_the_right() {
        let proxies = TrustedProxies::new(vec![net("10.0.0.0/8")]);
        let from = peer("10.0.0.1:1");
        // The client put 1.1.1.1 first; the trusted proxy appended what it saw.
        let sent = headers(&[
            ("X-Forwarded-For", "1.1.1.1, 198.51.100.4"),
            ("X-Forwarded-For", "10.0.0.9"),
        ]);
        assert_eq!(
            proxies.client_from_headers(&from, &sent),
            Some(peer("198.51.100.4:0"))
        );
        let all_trusted = headers(&[("X-Forwarded-For", "10.0.0.7, 10.0.0.8")]);
        assert_eq!(
            proxies.client_from_headers(&from, &all_trusted),
            Some(peer("10.0.0.7:0"))
        );
        let garbage = headers(&[("X-Forwarded-For", "1.1.1.1, nonsense, 10.0.0.8")]);
        assert_eq!(
            proxies.client_from_headers(&from, &garbage),
            Some(peer("10.0.0.8:0"))
        );
        assert_eq!(
            proxies.client_from_headers(&from, &headers(&[("X-Forwarded-For", "junk")])),
            None
        );
    }

    #[test]
    fn forwarded_header_by_rfc_7239() {
        let proxies =
            TrustedProxies::new(vec![net("10.0.0.0/8")]).with_header(ForwardedHeader::Forwarded);
        let from = peer("10.0.0.1:1");
        let sent = headers(&[(
            "Forwarded",
            "for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            proxies.client_from_headers(&from, &sent),
            Some(peer("[2001:db8:cafe::17]:4711"))
        );
        // The other header is not read: the proxy appends to one, and a client may send the other.
        let other = headers(&[("X-Forwarded-For", "192.0.2.1")]);
        assert_eq!(proxies.client_from_headers(&from, &other), None);
        let none = TrustedProxies::new(vec![net("10.0.0.0/8")]).with_header(ForwardedHeader::None);
        assert_eq!(none.client_from_headers(&from, &other), None);
    }
}
