//! A served tree for the tests that start the real `cgihttp` binary: a `cgi-bin` of shell scripts, every directory open to
//! `nobody`, who runs them when the tests run as root.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::watch::Server;

pub struct Site {
    root: TempDir,
}

impl Site {
    /// A tree under /tmp (so `nobody` can reach it) named after `prefix`, with `cgi-bin/hello.sh`.
    pub fn new(prefix: &str) -> Site {
        let root = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("temporary directory: {error}"));
        let bin = root.path().join("cgi-bin");
        fs::create_dir(&bin).unwrap_or_else(|error| panic!("mkdir: {error}"));
        for path in [root.path(), bin.as_path()] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|error| panic!("chmod: {error}"));
        }
        let site = Site { root };
        site.script("hello.sh", "printf 'Content-Type: text/plain\\n\\nhello'");
        site
    }

    /// Adds `cgi-bin/<name>`, a shell script with `body`.
    pub fn script(&self, name: &str, body: &str) {
        let path = self.root.path().join("cgi-bin").join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n"))
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|error| panic!("chmod {name}: {error}"));
    }

    pub fn directory(&self) -> &Path {
        self.root.path()
    }

    /// Starts `cgihttp` over this tree, as HTTP/1.1, with `arguments` added.
    pub fn serve(&self, arguments: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cgihttp"));
        command
            .args(["0", "-b", "127.0.0.1", "-p", "HTTP/1.1"])
            .args(arguments)
            .arg("-d")
            .arg(self.directory());
        Server::start(command)
    }

    /// [`Site::serve`], then one script run, so the baseline counts whatever a first request opens for good.
    pub fn serve_warm(&self, arguments: &[&str]) -> (Server, usize) {
        let server = self.serve(arguments);
        let answer =
            server.exchange("GET /cgi-bin/hello.sh HTTP/1.1\nHost: x\nConnection: close\n\n");
        assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
        let baseline = server.baseline();
        (server, baseline)
    }
}
