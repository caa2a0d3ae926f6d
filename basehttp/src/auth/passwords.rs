//! The accounts an [`Authenticator`](crate::Authenticator) checks against: users with a password given outright,
//! the hashes of an htpasswd file (Basic), and the `user:realm:hash` lines of an htdigest file (Digest).
//!
//! Files are read by the caller (this crate never touches the filesystem) and parsed here from their text,
//! so a bad line is reported with its number before the server starts.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// A line of a password file that cannot be used, with its number (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFileError {
    /// The line's number, counted from 1.
    pub line: usize,
    /// What is wrong with it, and what was expected.
    pub message: String,
}

impl fmt::Display for PasswordFileError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for PasswordFileError {}

/// A password hash from an htpasswd file, in one of the forms Apache's `htpasswd` writes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PasswordHash {
    /// `$2y$`, `$2a$`, `$2b$` (`htpasswd -B`).
    Bcrypt(String),
    /// `$5$` (`htpasswd -2`).
    Sha256Crypt(String),
    /// `$6$` (`htpasswd -5`).
    Sha512Crypt(String),
    /// `{SHA}` and base64 of SHA-1 of the password (`htpasswd -s`).
    Sha1([u8; 20]),
    /// `$apr1$salt$hash`, Apache's MD5-crypt (`htpasswd -m`, its default).
    Apr1 { salt: String, hash: String },
}

impl PasswordHash {
    /// Reads the hash part of an htpasswd line; the error says which forms are known.
    pub(crate) fn parse(text: &str) -> Result<PasswordHash, String> {
        if let Some(encoded) = text.strip_prefix("{SHA}") {
            let digest = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| <[u8; 20]>::try_from(bytes).ok())
                .ok_or("a {SHA} hash must be base64 of 20 bytes")?;
            return Ok(PasswordHash::Sha1(digest));
        }
        if text.starts_with("$2y$") || text.starts_with("$2a$") || text.starts_with("$2b$") {
            text.parse::<bcrypt::HashParts>()
                .map_err(|error| format!("a malformed bcrypt hash: {error}"))?;
            return Ok(PasswordHash::Bcrypt(text.to_owned()));
        }
        if text.starts_with("$5$") || text.starts_with("$6$") {
            // Checking a wrong password against the hash tells whether it is well formed: a malformed hash is an error,
            // a well-formed one a mismatch.
            let check = if text.starts_with("$5$") {
                sha_crypt::sha256_check("", text)
            } else {
                sha_crypt::sha512_check("", text)
            };
            // sha-crypt 0.5 does not export its error type, so its variant is known by its Debug name.
            if let Err(error) = check {
                let error = format!("{error:?}");
                if error != "HashMismatch" {
                    return Err(format!("a malformed SHA-crypt hash ({error})"));
                }
            }
            return Ok(if text.starts_with("$5$") {
                PasswordHash::Sha256Crypt(text.to_owned())
            } else {
                PasswordHash::Sha512Crypt(text.to_owned())
            });
        }
        if let Some(rest) = text.strip_prefix("$apr1$") {
            let (salt, hash) = rest
                .split_once('$')
                .filter(|(salt, hash)| salt.len() <= 8 && hash.len() == 22)
                .ok_or("a malformed apr1 hash: expected $apr1$SALT$ and 22 characters")?;
            return Ok(PasswordHash::Apr1 {
                salt: salt.to_owned(),
                hash: hash.to_owned(),
            });
        }
        let kind = if text.len() == 13 && !text.starts_with('$') {
            "crypt(3) DES (htpasswd -d), which is not supported"
        } else if text.starts_with('$') {
            "an unknown $-hash"
        } else {
            "not a hash (a plain-text password?)"
        };
        Err(format!(
            "{kind}; expected bcrypt ($2y$), SHA-256-crypt ($5$), SHA-512-crypt ($6$), {{SHA}} or apr1 ($apr1$)"
        ))
    }

    /// Whether `password` hashes to this, compared in constant time.
    ///
    /// bcrypt and SHA-crypt take milliseconds of processor time by design; the caller decides where that runs.
    pub(crate) fn verify(&self, password: &str) -> bool {
        match self {
            PasswordHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            PasswordHash::Sha256Crypt(hash) => sha_crypt::sha256_check(password, hash).is_ok(),
            PasswordHash::Sha512Crypt(hash) => sha_crypt::sha512_check(password, hash).is_ok(),
            PasswordHash::Sha1(digest) => {
                let computed: [u8; 20] = Sha1::digest(password.as_bytes()).into();
                bool::from(computed.ct_eq(digest))
            }
            PasswordHash::Apr1 { salt, hash } => {
                let computed = apr1(password.as_bytes(), salt.as_bytes());
                bool::from(computed.as_bytes().ct_eq(hash.as_bytes()))
            }
        }
    }

    /// Whether checking costs enough processor time to tell the readiness loop before (bcrypt, SHA-crypt).
    pub(crate) fn is_slow(&self) -> bool {
        matches!(
            self,
            PasswordHash::Bcrypt(_) | PasswordHash::Sha256Crypt(_) | PasswordHash::Sha512Crypt(_)
        )
    }
}

/// Apache's MD5-crypt (`$apr1$`): Poul-Henning Kamp's FreeBSD MD5-crypt with the magic string `$apr1$`,
/// as APR's `apr_md5_encode` computes it; returns the 22 characters after the salt.
///
/// No well-kept crate offers apr1: the ones with MD5-crypt know only the `$1$` magic. So it is written here on RustCrypto's
/// MD5, and checked against hashes made by Apache's `htpasswd` and `openssl passwd -apr1`.
pub(crate) fn apr1(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$apr1$";
    let salt = &salt[..salt.len().min(8)];
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut context = Md5::new()
        .chain_update(password)
        .chain_update(MAGIC)
        .chain_update(salt);
    let mut left = password.len();
    while left > 0 {
        let take = left.min(16);
        context.update(&alternate[..take]);
        left -= take;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            context.update([0u8]);
        } else {
            context.update(&password[..password.len().min(1)]);
        }
        bits >>= 1;
    }
    let mut digest = context.finalize();
    for round in 0..1000 {
        let mut context = Md5::new();
        if round & 1 == 1 {
            context.update(password);
        } else {
            context.update(digest);
        }
        if round % 3 != 0 {
            context.update(salt);
        }
        if round % 7 != 0 {
            context.update(password);
        }
        if round & 1 == 1 {
            context.update(digest);
        } else {
            context.update(password);
        }
        digest = context.finalize();
    }
    const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(22);
    let mut put = |value: u32, count: usize| {
        let mut value = value;
        for _ in 0..count {
            out.push(char::from(ITOA64[(value & 0x3f) as usize]));
            value >>= 6;
        }
    };
    let d = |index: usize| u32::from(digest[index]);
    put((d(0) << 16) | (d(6) << 8) | d(12), 4);
    put((d(1) << 16) | (d(7) << 8) | d(13), 4);
    put((d(2) << 16) | (d(8) << 8) | d(14), 4);
    put((d(3) << 16) | (d(9) << 8) | d(15), 4);
    put((d(4) << 16) | (d(10) << 8) | d(5), 4);
    put(d(11), 2);
    out
}

/// What proves one user: a password, an htpasswd hash, and the Digest hashes (HA1) of an htdigest file, by realm.
#[derive(Clone, Default)]
pub(crate) struct Account {
    /// Given outright (`--auth USER:PASSWORD`): answers Basic, and Digest in any realm and algorithm.
    pub(crate) password: Option<String>,
    /// From an htpasswd file: answers Basic.
    pub(crate) hash: Option<PasswordHash>,
    /// From an htdigest file: `MD5(user:realm:password)` by realm.
    pub(crate) md5: BTreeMap<String, [u8; 16]>,
    /// From an htdigest file (lighttpd's form): `SHA-256(user:realm:password)` by realm.
    pub(crate) sha256: BTreeMap<String, [u8; 32]>,
}

/// The users an [`Authenticator`](crate::Authenticator) accepts, with what proves each one.
///
/// ```
/// let mut users = basehttp::Users::new();
/// users.add_password("admin", "secret");
/// users.read_htpasswd("# Apache's htpasswd -s\nalice:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\n")?;
/// users.read_htdigest("bob:files:0e7ddf2f5fcd3a7d0c6bd1d8bc4a2d35\n")?;
/// assert_eq!(users.len(), 3);
/// # Ok::<(), basehttp::PasswordFileError>(())
/// ```
#[derive(Clone, Default)]
pub struct Users {
    pub(crate) accounts: BTreeMap<String, Account>,
}

impl fmt::Debug for Users {
    /// Names the users, never what proves them.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Users")
            .field("users", &self.accounts.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Users {
    /// No users.
    pub fn new() -> Self {
        Users::default()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Adds a user with a password given outright (the command's `--auth USER:PASSWORD`); it answers Basic and Digest.
    pub fn add_password(&mut self, user: &str, password: &str) {
        self.accounts.entry(user.to_owned()).or_default().password = Some(password.to_owned());
    }

    /// Reads the text of an htpasswd file: `user:hash` lines with the hashes Apache's `htpasswd` writes (bcrypt, `$5$` and `$6$`
    /// SHA-crypt, `{SHA}`, `$apr1$`); blank lines and lines starting with `#` are skipped, as Apache does. Returns how many users it read.
    ///
    /// # Errors
    ///
    /// The first line that is not `user:hash` with a known hash, with its number; nothing is added then.
    pub fn read_htpasswd(&mut self, text: &str) -> Result<usize, PasswordFileError> {
        let mut read = Vec::new();
        for (index, line) in lines(text) {
            let error = |message: String| PasswordFileError {
                line: index,
                message,
            };
            let (user, hash) = line
                .split_once(':')
                .filter(|(user, _)| !user.is_empty())
                .ok_or_else(|| error("expected user:hash".to_owned()))?;
            let hash = PasswordHash::parse(hash).map_err(error)?;
            read.push((user.to_owned(), hash));
        }
        let count = read.len();
        for (user, hash) in read {
            self.accounts.entry(user).or_default().hash = Some(hash);
        }
        Ok(count)
    }

    /// Reads the text of an htdigest file: `user:realm:hash` lines, the hash 32 hex digits of `MD5(user:realm:password)`
    /// as Apache's `htdigest` writes it, or 64 hex digits of `SHA-256(user:realm:password)` as lighttpd reads it
    /// (such a user can answer a SHA-256 challenge). Blank lines and `#` lines are skipped. Returns how many lines it read.
    ///
    /// # Errors
    ///
    /// The first line that is not `user:realm:hash` with 32 or 64 hex digits, with its number; nothing is added then.
    pub fn read_htdigest(&mut self, text: &str) -> Result<usize, PasswordFileError> {
        enum Ha1 {
            Md5([u8; 16]),
            Sha256([u8; 32]),
        }
        let mut read = Vec::new();
        for (index, line) in lines(text) {
            let error = |message: &str| PasswordFileError {
                line: index,
                message: message.to_owned(),
            };
            let mut fields = line.splitn(3, ':');
            let (Some(user), Some(realm), Some(hash)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(error("expected user:realm:hash"));
            };
            if user.is_empty() {
                return Err(error("expected user:realm:hash, with a user name"));
            }
            let ha1 = match hash.len() {
                32 => decode_hex(hash).map(Ha1::Md5),
                64 => decode_hex(hash).map(Ha1::Sha256),
                _ => None,
            }
            .ok_or_else(|| {
                error("expected 32 hex digits (MD5, as htdigest writes) or 64 (SHA-256) after user:realm:")
            })?;
            read.push((user.to_owned(), realm.to_owned(), ha1));
        }
        let count = read.len();
        for (user, realm, ha1) in read {
            let account = self.accounts.entry(user).or_default();
            match ha1 {
                Ha1::Md5(ha1) => account.md5.insert(realm, ha1),
                Ha1::Sha256(ha1) => {
                    account.sha256.insert(realm, ha1);
                    None
                }
            };
        }
        Ok(count)
    }

    /// The realms an htdigest file named, so a caller can tell an operator whose `--realm` matches none of them.
    pub fn digest_realms(&self) -> Vec<&str> {
        let mut realms: Vec<&str> = self
            .accounts
            .values()
            .flat_map(|account| account.md5.keys().chain(account.sha256.keys()))
            .map(String::as_str)
            .collect();
        realms.sort_unstable();
        realms.dedup();
        realms
    }
}

/// The lines that count, numbered from 1: without their line ending, blank and `#` lines left out.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
}

/// Hex digits of either case to `N` bytes.
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |byte: u8| char::from(byte).to_digit(16);
        out[index] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha256;

    // Written by Apache's htpasswd 2.4 (-B -C 5, -m, -s, -2, -5), each for the password "open sesame".
    const HTPASSWD: &str = "\
bcrypt-user:$2y$05$8n4tY1h6nvE4Flpv81el4e8KZ/1.zfyszcxyczxJUABasPkHPlicK
apr1-user:$apr1$vU488jL.$pCsoOamE0K31kXlpeF3/2.
sha-user:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=
sha256-user:$5$vlotbgU1yL.3G3hx$yFEaHnN28MmIvms.Z5L1Td/mD7IrYN3EDR3Czb5bun0
sha512-user:$6$Ra2IsTE97H402bnC$EGshXAEext7SH.Fz07g4wffVwZk7E1ABfgmU8un.VTwBROxRgCsQTValVMTNwBeKWCtuLwlyQkB9ertE5EUpy.
";

    #[test]
    fn every_hash_htpasswd_writes_is_checked() {
        let mut users = Users::new();
        assert_eq!(users.read_htpasswd(HTPASSWD), Ok(5));
        for (user, account) in &users.accounts {
            let hash = account.hash.as_ref().unwrap();
            assert!(hash.verify("open sesame"), "{user}");
            assert!(!hash.verify("open sesame!"), "{user}");
            assert!(!hash.verify(""), "{user}");
        }
    }

    #[test]
    fn apr1_matches_openssl() {
        // openssl passwd -apr1 -salt saltsalt 'open sesame'
        assert_eq!(apr1(b"open sesame", b"saltsalt"), "HIDXe7D36X22w1CH4M1cQ.");
        // htpasswd -m: a salt of 8 characters from its own alphabet.
        assert_eq!(apr1(b"open sesame", b"vU488jL."), "pCsoOamE0K31kXlpeF3/2.");
    }

    fn htpasswd_error(text: &str) -> PasswordFileError {
        Users::new().read_htpasswd(text).unwrap_err()
    }

    #[test]
    fn bad_htpasswd_lines_are_named() {
        let error = htpasswd_error("# comment\n\nalice:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\nbob\n");
        assert_eq!(error.line, 4);
        assert_eq!(error.to_string(), "line 4: expected user:hash");
        let error = htpasswd_error("des-user:xsHYZP9Np3uW6\n");
        assert!(error.message.contains("crypt(3) DES"), "{error}");
        assert!(htpasswd_error("u:plain").message.contains("plain-text"));
        assert!(htpasswd_error("u:$2y$05$short").message.contains("bcrypt"));
        assert!(htpasswd_error("u:$5$salt").message.contains("SHA-crypt"));
        assert!(htpasswd_error("u:$apr1$x").message.contains("apr1"));
        assert!(htpasswd_error("u:{SHA}abc").message.contains("{SHA}"));
        assert!(htpasswd_error(":{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=")
            .message
            .contains("user:hash"));
        assert!(htpasswd_error("u:$7$x").message.contains("unknown"));
    }

    #[test]
    fn htdigest_lines() {
        let mut users = Users::new();
        let md5 = format!("{:x}", Md5::digest(b"bob:files:open sesame"));
        let sha256 = format!("{:x}", Sha256::digest(b"carol:files:open sesame"));
        let text = format!(
            "bob:files:{md5}\r\ncarol:files:{sha256}\n# more\nbob:other:{}\n",
            md5.to_uppercase()
        );
        assert_eq!(users.read_htdigest(&text), Ok(3));
        assert_eq!(users.digest_realms(), ["files", "other"]);
        assert_eq!(users.accounts["bob"].md5.len(), 2);
        assert_eq!(users.accounts["carol"].sha256.len(), 1);
        for (text, line) in [
            ("bob:files\n", 1),
            ("\nbob:files:abc\n", 2),
            (":files:0e7ddf2f5fcd3a7d0c6bd1d8bc4a2d35", 1),
            ("bob:files:0e7ddf2f5fcd3a7d0c6bd1d8bc4a2d3g", 1),
        ] {
            let error = Users::new().read_htdigest(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}");
            assert!(error.message.starts_with("expected"), "{error}");
        }
    }

    #[test]
    fn debug_names_users_only() {
        let mut users = Users::new();
        users.add_password("admin", "secret");
        assert!(!format!("{users:?}").contains("secret"));
    }
}
