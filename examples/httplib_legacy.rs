//! The Python 1.5/2 `httplib` seed program: fetch a page with the legacy `HTTP` class and print it.
//!
//! ```python
//! import httplib
//! host = httplib.HTTP("www.example.com")
//! host.putrequest("GET", "/default.html")
//! host.putheader("Accept", "text/html")
//! host.endheaders()
//! errcode, errmsg, headers = host.getreply()
//! if errcode != 200:
//!     raise RuntimeError
//! htmlpage = host.getfile().read()
//! ```
//!
//! Usage: `httplib_legacy http://HOST[:PORT]/PATH`. Prints the page; exits 1 on a non-200 reply or an error.

use std::io::{Read, Write};
use std::process::ExitCode;

fn fetch(url: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let url = httpclient::Url::parse(url)?;
    if url.scheme != "http" {
        return Err("the legacy HTTP class speaks plain http only".into());
    }
    let mut host = httpclient::Http::new(&url.netloc)?;
    host.putrequest("GET", &url.target)?;
    host.putheader("Accept", "text/html")?;
    host.endheaders()?;
    let (errcode, errmsg, _headers) = host.getreply()?;
    if errcode != 200 {
        return Err(format!("{errcode} {errmsg}").into());
    }
    let mut htmlpage = Vec::new();
    if let Some(file) = host.getfile() {
        file.read_to_end(&mut htmlpage)?;
    }
    Ok(htmlpage)
}

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: httplib_legacy http://HOST[:PORT]/PATH");
        return ExitCode::from(2);
    };
    match fetch(&url) {
        Ok(page) => {
            let mut stdout = std::io::stdout();
            if stdout
                .write_all(&page)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("httplib_legacy: {error}");
            ExitCode::FAILURE
        }
    }
}
