//! The scenarios, as a table: a later issue adds a row here and, if it needs one, a `Server`.

/// Whose server a row measures; the table compares every row with `Ours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ours,
    Python,
    Nginx,
    /// Ours without the feature the scenario measures, so "ours ÷ this" is what the feature costs.
    Baseline,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Ours => "ours",
            Role::Python => "python",
            Role::Nginx => "nginx",
            Role::Baseline => "baseline",
        }
    }
}

/// A server program the harness knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    /// The `echo_http` example on basehttp, speaking HTTP/1.1.
    EchoHttp,
    /// A generated `ThreadingHTTPServer` script answering the same page as `echo_http`.
    PythonHello,
    /// The `simplehttp` command serving the generated tree.
    SimpleHttp,
    /// `python3 -m http.server` serving the generated tree.
    PythonFiles,
    /// The `cgihttp` command serving the generated tree and its `cgi-bin`.
    CgiHttp,
    /// `python3 -m http.server --cgi`.
    PythonCgi,
    /// nginx, one worker, serving the generated tree.
    Nginx,
    /// The `simplehttp` command serving the generated tree over TLS (`--tls-cert`, `--tls-key`).
    SimpleHttps,
    /// nginx, one worker, serving the generated tree over TLS 1.3 with the same certificate.
    NginxHttps,
    /// The `simplehttp` command with `--auth` (Basic checked on every request).
    SimpleHttpAuth,
    /// The `simplehttp` command with `--compress`.
    SimpleHttpCompress,
    /// The `simplehttp` command with `--precompressed`.
    SimpleHttpPrecompressed,
    /// nginx as [`Server::Nginx`]; its `/gzip/` location has `gzip on` (the same process and configuration, named apart for the table).
    NginxGzip,
    /// nginx as [`Server::Nginx`]; its `/gzip-static/` location has `gzip_static on`.
    NginxGzipStatic,
}

impl Server {
    /// The workspace target (a binary, or else an example) that is this server, for ours.
    pub fn program(self) -> Option<&'static str> {
        match self {
            Server::EchoHttp => Some("echo_http"),
            Server::SimpleHttp
            | Server::SimpleHttps
            | Server::SimpleHttpCompress
            | Server::SimpleHttpPrecompressed
            | Server::SimpleHttpAuth => Some("simplehttp"),
            Server::CgiHttp => Some("cgihttp"),
            Server::PythonHello
            | Server::PythonFiles
            | Server::PythonCgi
            | Server::Nginx
            | Server::NginxHttps
            | Server::NginxGzip
            | Server::NginxGzipStatic => None,
        }
    }

    /// Whether the server speaks TLS, so clients use `https://`.
    pub fn tls(self) -> bool {
        matches!(self, Server::SimpleHttps | Server::NginxHttps)
    }

    /// The URL scheme clients use.
    pub fn scheme(self) -> &'static str {
        if self.tls() {
            "https"
        } else {
            "http"
        }
    }

    /// How the server shows up in the table.
    pub fn describe(self) -> &'static str {
        match self {
            Server::EchoHttp => "echo_http (basehttp, HTTP/1.1)",
            Server::PythonHello => "ThreadingHTTPServer (HTTP/1.1)",
            Server::SimpleHttp => "simplehttp",
            Server::PythonFiles => "http.server (HTTP/1.0)",
            Server::CgiHttp => "cgihttp",
            Server::PythonCgi => "http.server --cgi (HTTP/1.0)",
            Server::Nginx => "nginx (1 worker)",
            Server::SimpleHttps => "simplehttp --tls-cert (rustls)",
            Server::NginxHttps => "nginx (1 worker, TLS 1.3)",
            Server::SimpleHttpCompress => "simplehttp --compress",
            Server::SimpleHttpPrecompressed => "simplehttp --precompressed",
            Server::NginxGzip => "nginx (1 worker, gzip on)",
            Server::NginxGzipStatic => "nginx (1 worker, gzip_static on)",
            Server::SimpleHttpAuth => "simplehttp --auth (Basic)",
        }
    }

    /// The arguments the server takes beyond the common ones.
    pub fn extra_arguments(self) -> &'static [&'static str] {
        match self {
            Server::SimpleHttpAuth => &["--auth", AUTH_USER_PASSWORD],
            _ => &[],
        }
    }
}

/// The login of [`Server::SimpleHttpAuth`], and the Basic header of its scenario (base64 of `bench:bench`).
const AUTH_USER_PASSWORD: &str = "bench:bench";
const AUTH_HEADER: &str = "Authorization: Basic YmVuY2g6YmVuY2g=";

/// One server of a scenario and the path wrk asks it for.
#[derive(Debug)]
pub struct Target {
    pub role: Role,
    pub server: Server,
    pub path: &'static str,
}

/// How a scenario loads the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// wrk keeps `connections` busy on the target's path; requests/s, MB/s and p99 are read from its report.
    Wrk,
    /// `connections` clients ask for `held_path` and never read, so the server's sends fill up and stay full;
    /// meanwhile fresh GETs of the target's path are timed on new connections, and the server's threads and RSS read.
    SlowClients { held_path: &'static str },
}

/// A load scenario: every target is measured at every connection count, interleaved.
#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub load: Load,
    pub connections: &'static [u32],
    pub targets: &'static [Target],
    /// A header every request of the scenario sends (wrk's `-H`, and the probe's).
    pub header: Option<&'static str>,
    /// A header the probe's answer must have (`Content-Encoding: gzip`), so a server that answers otherwise is reported, not timed.
    pub expect: Option<&'static str>,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "hello",
        summary: "GET of an 81-byte greeting page",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::EchoHttp,
                path: "/",
            },
            Target {
                role: Role::Python,
                server: Server::PythonHello,
                path: "/",
            },
            Target {
                role: Role::Nginx,
                server: Server::Nginx,
                path: "/hello.html",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "small-file",
        summary: "GET of a 100-byte file",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttp,
                path: "/small.txt",
            },
            Target {
                role: Role::Python,
                server: Server::PythonFiles,
                path: "/small.txt",
            },
            Target {
                role: Role::Nginx,
                server: Server::Nginx,
                path: "/small.txt",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "small-file-auth",
        summary: "GET of the 100-byte file with Basic credentials checked (--auth), against simplehttp without",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttpAuth,
                path: "/small.txt",
            },
            Target {
                role: Role::Baseline,
                server: Server::SimpleHttp,
                path: "/small.txt",
            },
        ],
        // Both get the credentials (the baseline ignores them), so the requests are the same bytes.
        header: Some(AUTH_HEADER),
        expect: None,
    },
    Scenario {
        name: "large-file",
        summary: "GET of a 1 MiB file",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttp,
                path: "/large.bin",
            },
            Target {
                role: Role::Python,
                server: Server::PythonFiles,
                path: "/large.bin",
            },
            Target {
                role: Role::Nginx,
                server: Server::Nginx,
                path: "/large.bin",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "listing",
        summary: "directory listing of 1000 entries",
        load: Load::Wrk,
        connections: &[10],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttp,
                path: "/listing/",
            },
            Target {
                role: Role::Python,
                server: Server::PythonFiles,
                path: "/listing/",
            },
            Target {
                role: Role::Nginx,
                server: Server::Nginx,
                path: "/listing/",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "cgi",
        summary: "a trivial shell CGI script",
        load: Load::Wrk,
        connections: &[10],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::CgiHttp,
                path: "/cgi-bin/hello.sh",
            },
            Target {
                role: Role::Python,
                server: Server::PythonCgi,
                path: "/cgi-bin/hello.sh",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "https-small-file",
        summary: "GET of the 100-byte file over HTTPS (TLS 1.3, keep-alive), nginx with the same certificate",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttps,
                path: "/small.txt",
            },
            Target {
                role: Role::Nginx,
                server: Server::NginxHttps,
                path: "/small.txt",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "slow-clients",
        summary: "300 clients hold an 8 MiB download without reading; fresh GETs of the 100-byte file timed meanwhile",
        load: Load::SlowClients {
            held_path: "/slow.bin",
        },
        connections: &[300],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttp,
                path: "/small.txt",
            },
            Target {
                role: Role::Nginx,
                server: Server::Nginx,
                path: "/small.txt",
            },
        ],
        header: None,
        expect: None,
    },
    Scenario {
        name: "compressed-text",
        summary: "GET of a 100 KiB text file with Accept-Encoding: gzip, compressed on the fly (nginx `gzip on`)",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttpCompress,
                path: "/gzip/text.txt",
            },
            Target {
                role: Role::Nginx,
                server: Server::NginxGzip,
                path: "/gzip/text.txt",
            },
        ],
        header: Some("Accept-Encoding: gzip"),
        expect: Some("Content-Encoding: gzip"),
    },
    Scenario {
        name: "compressed-text-static",
        summary: "the 100 KiB text file with Accept-Encoding: gzip, from its .gz sibling (nginx `gzip_static on`)",
        load: Load::Wrk,
        connections: &[1, 10, 100],
        targets: &[
            Target {
                role: Role::Ours,
                server: Server::SimpleHttpPrecompressed,
                path: "/gzip-static/text.txt",
            },
            Target {
                role: Role::Nginx,
                server: Server::NginxGzipStatic,
                path: "/gzip-static/text.txt",
            },
        ],
        header: Some("Accept-Encoding: gzip"),
        expect: Some("Content-Encoding: gzip"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_named_once_and_compares_with_ours() {
        for (index, scenario) in SCENARIOS.iter().enumerate() {
            assert!(
                SCENARIOS[..index]
                    .iter()
                    .all(|other| other.name != scenario.name),
                "{} twice",
                scenario.name
            );
            assert_eq!(scenario.targets[0].role, Role::Ours, "{}", scenario.name);
            assert!(!scenario.connections.is_empty(), "{}", scenario.name);
        }
    }
}
