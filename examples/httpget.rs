//! `httpget URL [-X METHOD] [-d DATA] [-H 'Name: value']... [--repeat N] [--cacert FILE] [-k] [-u USER:PASSWORD [--basic|--digest]]`:
//! a tiny curl on `httpclient::HttpConnection`.
//!
//! Sends the request N times on one connection (which reconnects by itself when the server closed it) and prints,
//! for each response, `STATUS REASON`, the headers as `Name: value` lines, a blank line, then the body bytes.
//! Exits 0 on any HTTP response, 1 with the error on stderr otherwise, 2 on a usage error.
//! `-d` without `-X` sends a POST, as curl does.
//!
//! HTTPS trusts the system's root certificates; `--cacert FILE` trusts the certificates of a PEM file instead
//! (a private CA, or a server's own self-signed certificate), and `-k` / `--insecure` skips verification, as with curl.
//!
//! `-u USER:PASSWORD` (or `http://user:password@host/`) answers the server's 401 with Basic or Digest, whichever it offers
//! (Digest first), sending the request once more; `--basic` sends Basic with the first request, as curl's `-u` does,
//! and `--digest` answers Digest only.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use httpclient::{
    Auth, AuthScheme, CertificateProblem, Config, Error, HttpConnection, TlsConfig, Url,
};

const USAGE: &str =
    "usage: httpget URL [-X METHOD] [-d DATA] [-H 'Name: value']... [--repeat N] [--cacert FILE] [-k|--insecure] [-u USER:PASSWORD [--basic|--digest]]";

/// The parsed command line.
struct Arguments {
    url: String,
    method: Option<String>,
    data: Option<String>,
    headers: Vec<(String, String)>,
    repeat: usize,
    /// curl's `--cacert`: trust this PEM file's certificates instead of the system's.
    cacert: Option<PathBuf>,
    /// curl's `-k` / `--insecure`: accept any certificate (it wins over `--cacert`, as in curl).
    insecure: bool,
    /// curl's `-u USER:PASSWORD`.
    user: Option<(String, String)>,
    /// Which challenges `-u` answers (`--basic`, `--digest`; whichever the server offers by default).
    scheme: AuthScheme,
}

fn parse_arguments(mut arguments: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let mut url = None;
    let mut parsed = Arguments {
        url: String::new(),
        method: None,
        data: None,
        headers: Vec::new(),
        repeat: 1,
        cacert: None,
        insecure: false,
        user: None,
        scheme: AuthScheme::Any,
    };
    while let Some(argument) = arguments.next() {
        let mut value = |flag: &str| {
            arguments
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match argument.as_str() {
            "-X" | "--request" => parsed.method = Some(value("-X")?),
            "-d" | "--data" => parsed.data = Some(value("-d")?),
            "-H" | "--header" => {
                let header = value("-H")?;
                let (name, value) = header
                    .split_once(':')
                    .ok_or_else(|| format!("header without a colon: {header:?}"))?;
                parsed
                    .headers
                    .push((name.to_string(), value.trim_start().to_string()));
            }
            "--repeat" => {
                let count = value("--repeat")?;
                parsed.repeat = count
                    .parse()
                    .ok()
                    .filter(|&count| count > 0)
                    .ok_or_else(|| format!("--repeat needs a positive number, not {count:?}"))?;
            }
            "--cacert" => parsed.cacert = Some(PathBuf::from(value("--cacert")?)),
            "-k" | "--insecure" => parsed.insecure = true,
            "-u" | "--user" => {
                let login = value("-u")?;
                let (user, password) = login.split_once(':').ok_or("-u needs USER:PASSWORD")?;
                parsed.user = Some((user.to_string(), password.to_string()));
            }
            "--basic" => parsed.scheme = AuthScheme::Basic,
            "--digest" => parsed.scheme = AuthScheme::Digest,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option {flag}"))
            }
            _ if url.is_none() => url = Some(argument),
            _ => return Err(format!("unexpected argument {argument:?}")),
        }
    }
    parsed.url = url.ok_or("no URL given")?;
    Ok(parsed)
}

/// Header values arrive decoded as ISO-8859-1; this gives back their bytes.
fn latin1_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|character| u32::from(character) as u8)
        .collect()
}

/// Sends the request and reads the response head; with credentials, answers a 401 once.
fn exchange<'c>(
    conn: &'c mut HttpConnection,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
    auth: Option<&mut Auth>,
) -> Result<httpclient::HttpResponse<'c>, Error> {
    if let Some(auth) = auth {
        return conn.request_with_auth(method, target, body, headers, auth);
    }
    conn.request(method, target, body, headers)?;
    conn.getresponse()
}

/// What the command line trusts for HTTPS.
fn tls_config(arguments: &Arguments) -> Result<TlsConfig, Error> {
    match (&arguments.cacert, arguments.insecure) {
        (_, true) => Ok(TlsConfig::danger_accept_invalid_certs()),
        (Some(file), false) => TlsConfig::from_ca_file(file),
        (None, false) => Ok(TlsConfig::new()),
    }
}

/// What this command's flags can do about a refused certificate, when they can do something.
fn certificate_hint(problem: CertificateProblem, arguments: &Arguments) -> Option<String> {
    const INSECURE: &str = "-k (--insecure) skips verification, which lets anyone on the path pretend to be the server";
    let trusted = match &arguments.cacert {
        Some(file) => format!("only the certificates in {} (--cacert)", file.display()),
        None => "the system's root certificates".to_string(),
    };
    match problem {
        CertificateProblem::UnknownIssuer => Some(format!(
            "trusted now: {trusted}; name the CA that signed the server's certificate, or the server's own self-signed \
             certificate, with --cacert FILE; for a test server, {INSECURE}"
        )),
        CertificateProblem::CaUsedAsEndEntity => Some(format!(
            "--cacert cannot make this certificate acceptable; for a test server, {INSECURE}"
        )),
        _ => None,
    }
}

/// Prints the status line, the headers, a blank line and the body.
fn print_response(
    out: &mut impl Write,
    mut response: httpclient::HttpResponse<'_>,
) -> Result<(), Error> {
    writeln!(out, "{} {}", response.status, response.reason)?;
    for (name, value) in response.getheaders() {
        out.write_all(&latin1_bytes(name))?;
        out.write_all(b": ")?;
        out.write_all(&latin1_bytes(value))?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")?;
    let copied = io::copy(&mut response, out);
    out.flush()?;
    copied.map_err(Error::from)?;
    Ok(())
}

fn run(arguments: &Arguments) -> Result<(), Error> {
    let (url, url_auth) = Auth::from_url(&arguments.url)?;
    let url = Url::parse(&url)?;
    let mut auth = match &arguments.user {
        Some((user, password)) => Some(Auth::new(user, password, arguments.scheme)),
        None => url_auth.map(|auth| auth.with_scheme(arguments.scheme)),
    };
    let mut conn: HttpConnection = if url.scheme == "https" {
        url.connection_with_context(Config::default(), &tls_config(arguments)?)?
    } else {
        url.connection(Config::default())?
    };
    let method = match (&arguments.method, &arguments.data) {
        (Some(method), _) => method.as_str(),
        (None, Some(_)) => "POST",
        (None, None) => "GET",
    };
    let body = arguments.data.as_deref().map(str::as_bytes);
    let headers: Vec<(&str, &str)> = arguments
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for _ in 0..arguments.repeat {
        let reused = conn.sock().is_some();
        let retry = match exchange(
            &mut conn,
            method,
            &url.target,
            body,
            &headers,
            auth.as_mut(),
        ) {
            Ok(response) => {
                print_response(&mut out, response)?;
                false
            }
            // A kept-alive connection the server dropped just as we used it: once more on a fresh one.
            Err(error) if reused && error.is_disconnect() => true,
            Err(error) => return Err(error),
        };
        if retry {
            conn.close();
            print_response(
                &mut out,
                exchange(
                    &mut conn,
                    method,
                    &url.target,
                    body,
                    &headers,
                    auth.as_mut(),
                )?,
            )?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let arguments = match parse_arguments(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("httpget: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("httpget: {error}");
            if let Error::Certificate { problem, .. } = &error {
                if let Some(hint) = certificate_hint(*problem, &arguments) {
                    eprintln!("httpget: {hint}");
                }
            }
            ExitCode::FAILURE
        }
    }
}
