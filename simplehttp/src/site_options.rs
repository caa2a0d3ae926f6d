//! The command-line flags of [`Site`]: authentication (`--auth`, `--auth-file`, `--auth-digest-file`, `--realm`),
//! `--error-page`, `--header` and `--cors`, flattened into both commands' [`CommandLine`](crate::CommandLine).

use std::fs;
use std::path::{Path, PathBuf};

use basehttp::{Authenticator, Users};

use crate::site::{Cors, ErrorPage, Site};

/// The realm when neither `--realm` nor a one-realm htdigest file names one.
pub const DEFAULT_REALM: &str = "Restricted";

/// Authentication, error pages and headers, as flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct SiteOptions {
    /// let in USER with PASSWORD (Basic, and Digest with MD5 and SHA-256); repeatable; other local users can read it in ps, so prefer --auth-file on a shared machine
    #[arg(long = "auth", value_name = "USER:PASSWORD", value_parser = parse_user_password)]
    pub auth: Vec<(String, String)>,

    /// let in the users of an htpasswd file (Basic; bcrypt, SHA-256-crypt, SHA-512-crypt, {SHA} and apr1 hashes, as Apache's htpasswd writes them)
    #[arg(long = "auth-file", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    /// let in the users of an htdigest file (Digest; user:realm:hash, the hash MD5 as Apache's htdigest writes it, or 64 hex digits of SHA-256 as lighttpd reads it)
    #[arg(long = "auth-digest-file", value_name = "FILE")]
    pub auth_digest_file: Option<PathBuf>,

    /// the authentication realm (default: the realm of the htdigest file when it has one, else Restricted)
    #[arg(long = "realm", value_name = "NAME", value_parser = parse_realm)]
    pub realm: Option<String>,

    /// send FILE as the page of error CODE (400 to 599), its type guessed from its name; repeatable
    #[arg(long = "error-page", value_name = "CODE=FILE", value_parser = parse_error_page)]
    pub error_page: Vec<(u16, PathBuf)>,

    /// send this header on every response, redirects and errors included; repeatable
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub header: Vec<(String, String)>,

    /// let pages from ORIGIN (default: any origin) read the answers: preflight OPTIONS answered, Access-Control-Allow-Origin sent; repeatable
    #[arg(long = "cors", value_name = "ORIGIN", num_args = 0..=1, default_missing_value = "*", value_parser = parse_origin)]
    pub cors: Vec<String>,
}

fn parse_user_password(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !text.chars().any(char::is_control) => {
            Ok((user.to_owned(), password.to_owned()))
        }
        _ => Err("expected USER:PASSWORD, a user name, a colon and the password".to_owned()),
    }
}

fn parse_realm(text: &str) -> Result<String, String> {
    // The realm goes out in a header, which carries ISO-8859-1 only.
    if text.is_empty()
        || text
            .chars()
            .any(|character| character.is_control() || u32::from(character) > 0xff)
    {
        return Err("expected a realm name in ISO-8859-1 without control characters".to_owned());
    }
    Ok(text.to_owned())
}

fn parse_error_page(text: &str) -> Result<(u16, PathBuf), String> {
    let expected = || "expected CODE=FILE, CODE an error status from 400 to 599".to_owned();
    let (code, file) = text.split_once('=').ok_or_else(expected)?;
    let code = code
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|code| (400..=599).contains(code))
        .ok_or_else(expected)?;
    if file.is_empty() {
        return Err(expected());
    }
    Ok((code, PathBuf::from(file)))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let expected = || {
        "expected \"Name: value\", a header name (letters, digits, !#$%&'*+-.^_`|~) and a value without control characters"
            .to_owned()
    };
    let (name, value) = text.split_once(':').ok_or_else(expected)?;
    let is_tchar = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
    let value = value.trim_matches([' ', '\t']);
    if name.is_empty()
        || !name.bytes().all(is_tchar)
        || value
            .chars()
            .any(|character| character.is_control() && character != '\t')
        || value.chars().any(|character| u32::from(character) > 0xff)
    {
        return Err(expected());
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_origin(text: &str) -> Result<String, String> {
    if text == "*" {
        return Ok(text.to_owned());
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-.:[]".contains(&byte)) =>
        {
            Ok(text.to_owned())
        }
        _ => Err(
            "expected * or an origin such as https://example.com or http://localhost:3000"
                .to_owned(),
        ),
    }
}

/// Reads a password file as text, its errors naming the flag and the file.
fn read_file(flag: &str, path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("{flag} {}: {error}", path.display()))
}

impl SiteOptions {
    /// Whether any authentication flag is given.
    pub fn authenticates(&self) -> bool {
        !self.auth.is_empty() || self.auth_file.is_some() || self.auth_digest_file.is_some()
    }

    /// `handler` wrapped as these flags ask, the files read now: a missing, unreadable or malformed file is an error
    /// naming the flag, the file and the line, so the server does not start.
    ///
    /// # Errors
    ///
    /// One line saying what is wrong.
    pub fn site<H>(&self, handler: H) -> Result<Site<H>, String> {
        let mut site = Site::new(handler);
        site.authenticator = self.authenticator()?;
        site.headers.clone_from(&self.header);
        if !self.cors.is_empty() {
            site.cors = Some(if self.cors.iter().any(|origin| origin == "*") {
                Cors::AnyOrigin
            } else {
                Cors::Origins(self.cors.clone())
            });
        }
        for (code, path) in &self.error_page {
            let body = fs::read(path)
                .map_err(|error| format!("--error-page {code}={}: {error}", path.display()))?;
            let content_type = crate::guess_type(path).into_owned();
            site.error_pages
                .insert(*code, ErrorPage { content_type, body });
        }
        Ok(site)
    }

    fn authenticator(&self) -> Result<Option<Authenticator>, String> {
        if !self.authenticates() {
            if self.realm.is_some() {
                return Err("--realm needs --auth, --auth-file or --auth-digest-file".to_owned());
            }
            return Ok(None);
        }
        let mut users = Users::new();
        for (user, password) in &self.auth {
            users.add_password(user, password);
        }
        if let Some(path) = &self.auth_file {
            let text = read_file("--auth-file", path)?;
            let count = users
                .read_htpasswd(&text)
                .map_err(|error| format!("--auth-file {}: {error}", path.display()))?;
            if count == 0 {
                return Err(format!("--auth-file {}: no users", path.display()));
            }
        }
        let mut digest_realms = Vec::new();
        if let Some(path) = &self.auth_digest_file {
            let text = read_file("--auth-digest-file", path)?;
            let mut digest_users = Users::new();
            let count = digest_users
                .read_htdigest(&text)
                .map_err(|error| format!("--auth-digest-file {}: {error}", path.display()))?;
            if count == 0 {
                return Err(format!("--auth-digest-file {}: no users", path.display()));
            }
            digest_realms = digest_users
                .digest_realms()
                .into_iter()
                .map(str::to_owned)
                .collect();
            users
                .read_htdigest(&text)
                .map_err(|error| format!("--auth-digest-file {}: {error}", path.display()))?;
        }
        let realm = match (&self.realm, digest_realms.as_slice()) {
            (Some(realm), _) => realm.clone(),
            (None, [only]) => only.clone(),
            (None, _) => DEFAULT_REALM.to_owned(),
        };
        if let Some(path) = &self.auth_digest_file {
            if !digest_realms.contains(&realm) {
                return Err(format!(
                    "--auth-digest-file {}: no line for the realm {realm:?} (its realms: {}); give --realm",
                    path.display(),
                    digest_realms.join(", ")
                ));
            }
        }
        Authenticator::new(&realm, users)
            .map(Some)
            .map_err(|error| format!("authentication: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_say_what_is_expected() {
        assert_eq!(
            parse_header("X-Frame-Options:  DENY "),
            Ok(("X-Frame-Options".into(), "DENY".into()))
        );
        assert_eq!(
            parse_header("X-Empty:"),
            Ok(("X-Empty".into(), String::new()))
        );
        for bad in ["no colon", ": v", "Bad Name: v", "X: a\r\nb", "X: \u{0100}"] {
            assert!(
                parse_header(bad)
                    .unwrap_err()
                    .starts_with("expected \"Name: value\""),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_error_page("404=x.html"),
            Ok((404, PathBuf::from("x.html")))
        );
        for bad in ["404", "200=x", "600=x", "x=y", "404="] {
            assert!(
                parse_error_page(bad).unwrap_err().contains("400 to 599"),
                "{bad}"
            );
        }
        assert_eq!(parse_user_password("a:b:c"), Ok(("a".into(), "b:c".into())));
        for bad in ["ab", ":b", "a\n:b"] {
            assert!(parse_user_password(bad)
                .unwrap_err()
                .starts_with("expected USER:PASSWORD"));
        }
        for good in [
            "*",
            "https://example.com",
            "http://localhost:3000",
            "http://[::1]:8000",
        ] {
            assert_eq!(parse_origin(good).as_deref(), Ok(good));
        }
        for bad in ["example.com", "https://", "https://a/b", "ftp://a"] {
            assert!(parse_origin(bad)
                .unwrap_err()
                .starts_with("expected * or an origin"));
        }
        assert!(parse_realm("").is_err());
        assert!(parse_realm("a\tb").is_err());
        assert!(parse_realm("\u{65e5}\u{672c}").is_err());
        assert_eq!(
            parse_realm("R\u{e9}sum\u{e9}"),
            Ok("R\u{e9}sum\u{e9}".to_owned())
        );
    }

    #[test]
    fn files_are_read_at_start_and_named_in_errors() {
        let directory = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = directory.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let bad = write(
            "bad.htpasswd",
            "alice:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\nbob:plain\n",
        );
        let options = SiteOptions {
            auth_file: Some(bad.clone()),
            ..SiteOptions::default()
        };
        let error = options.site(()).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "--auth-file {}: line 2: not a hash",
                bad.display()
            )),
            "{error}"
        );
        let missing = directory.path().join("missing");
        let options = SiteOptions {
            auth_digest_file: Some(missing.clone()),
            ..SiteOptions::default()
        };
        let error = options.site(()).unwrap_err();
        assert!(
            error.starts_with(&format!("--auth-digest-file {}: ", missing.display())),
            "{error}"
        );
        let digest = write(
            "users.htdigest",
            "bob:files:0e7ddf2f5fcd3a7d0c6bd1d8bc4a2d35\n",
        );
        let options = SiteOptions {
            auth_digest_file: Some(digest.clone()),
            ..SiteOptions::default()
        };
        let site = options.site(()).unwrap();
        assert_eq!(site.authenticator.unwrap().realm(), "files");
        let options = SiteOptions {
            auth_digest_file: Some(digest),
            realm: Some("other".into()),
            ..SiteOptions::default()
        };
        assert!(options
            .site(())
            .unwrap_err()
            .contains("no line for the realm \"other\" (its realms: files)"));
        let options = SiteOptions {
            error_page: vec![(404, missing.clone())],
            ..SiteOptions::default()
        };
        assert!(options
            .site(())
            .unwrap_err()
            .starts_with("--error-page 404="));
        let page = write("404.html", "<h1>gone</h1>");
        let options = SiteOptions {
            error_page: vec![(404, page)],
            cors: vec!["https://a.example".into()],
            realm: Some("x".into()),
            ..SiteOptions::default()
        };
        assert_eq!(
            options.site(()).unwrap_err(),
            "--realm needs --auth, --auth-file or --auth-digest-file"
        );
    }
}
