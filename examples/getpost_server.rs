//! The course exercise's GET/POST file server, as a few lines on top of basehttp instead of hand-built responses.
//!
//! - `GET` of a missing file → 404; of a file others may not read → 403; else 200 with the file and a type
//!   from its extension (html, css, js, mp3, png, jpg, jpeg; text/plain otherwise).
//! - `POST` → 200 with a form page.
//! - Any other method → 405 with `Allow: GET, POST`.
//! - Every response carries `Connection: close`; each connection gets its own thread.
//!
//! Usage: `getpost_server [PORT] [-d DIRECTORY] [-b ADDRESS]` (defaults: 9001, the current directory, localhost).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use basehttp::{
    serve_until_interrupted, serving_message, BaseHttpRequestHandler, HttpRequest,
    ThreadingHttpServer,
};

const FORM_PAGE: &str = "<html><head><title>Form</title></head><body>\
<h1>Thank you</h1><p>Your form was received.</p>\
<form method=\"post\" action=\"/\"><input name=\"text\"><input type=\"submit\"></form>\
</body></html>";

struct GetPostHandler {
    directory: PathBuf,
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html") => "text/html",
        Some("css") => "text/css",
        Some("js") => "application/javascript",
        Some("mp3") => "audio/mpeg",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "text/plain",
    }
}

fn respond(
    req: &mut HttpRequest<'_>,
    code: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    req.send_response(code, None)?;
    req.send_header("Content-Type", content_type)?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.send_header("Connection", "close")?;
    req.end_headers()?;
    req.wfile.write_all(body)
}

fn method_not_allowed(req: &mut HttpRequest<'_>) -> io::Result<()> {
    let body = b"<html><body><h1>405 Method Not Allowed</h1></body></html>";
    req.send_response(405, None)?;
    req.send_header("Allow", "GET, POST")?;
    req.send_header("Content-Type", "text/html")?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.send_header("Connection", "close")?;
    req.end_headers()?;
    if req.command != "HEAD" {
        req.wfile.write_all(body)?;
    }
    Ok(())
}

impl GetPostHandler {
    /// Maps the URL path to a file under the directory; `None` for anything trying to leave it.
    fn file_for(&self, url_path: &str) -> Option<PathBuf> {
        let path = url_path.split(['?', '#']).next().unwrap_or("/");
        let relative = Path::new(path.trim_start_matches('/'));
        if relative
            .components()
            .any(|component| !matches!(component, Component::Normal(_)))
        {
            return None;
        }
        let mut file = self.directory.join(relative);
        if path.ends_with('/') || relative.as_os_str().is_empty() {
            file.push("index.html");
        }
        Some(file)
    }
}

impl BaseHttpRequestHandler for GetPostHandler {
    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let Some(file) = self.file_for(&req.path) else {
            return req.send_error(404, Some("File not found"));
        };
        let Ok(metadata) = fs::metadata(&file) else {
            return req.send_error(404, Some("File not found"));
        };
        if !metadata.is_file() {
            return req.send_error(404, Some("File not found"));
        }
        if metadata.permissions().mode() & 0o004 == 0 {
            return req.send_error(403, Some("Forbidden"));
        }
        match fs::read(&file) {
            Ok(body) => respond(req, 200, content_type(&file), &body),
            Err(_) => req.send_error(403, Some("Forbidden")),
        }
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        respond(req, 200, "text/html", FORM_PAGE.as_bytes())
    }

    fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }

    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }

    fn do_delete(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }

    fn do_options(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }

    fn do_patch(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }

    fn do_method(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        method_not_allowed(req)
    }
}

fn main() -> ExitCode {
    let mut port: u16 = 9001;
    let mut directory = PathBuf::from(".");
    let mut bind = "127.0.0.1".to_owned();
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let parsed = match word.as_str() {
            "-d" | "--directory" => words.next().map(|value| directory = PathBuf::from(value)),
            "-b" | "--bind" => words.next().map(|value| bind = value),
            other => other.parse().ok().map(|value| port = value),
        };
        if parsed.is_none() {
            eprintln!("usage: getpost_server [PORT] [-d DIRECTORY] [-b ADDRESS]");
            return ExitCode::from(2);
        }
    }
    let server = match ThreadingHttpServer::new((bind.as_str(), port), GetPostHandler { directory })
    {
        Ok(server) => server,
        Err(error) => {
            eprintln!("getpost_server: cannot listen on {bind}:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "{}", serving_message(server.server_address()));
    let _ = stdout.flush();
    match serve_until_interrupted(&server, Duration::from_millis(500)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("getpost_server: {error}");
            ExitCode::FAILURE
        }
    }
}
