//! What `/proc` tells about a server: open descriptors, resident memory, threads, descriptor limit and child processes.
//!
//! Read from files rather than asked of libc, so xtask needs no `unsafe`.

use std::fs;
use std::io;

/// The number of entries in `/proc/<pid>/fd`: the process's open descriptors.
pub fn descriptor_count(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The fields of `/proc/<pid>/status` the tasks report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// `VmRSS`, in KiB.
    pub rss_kib: Option<u64>,
    /// `VmHWM` (peak resident set), in KiB.
    pub peak_rss_kib: Option<u64>,
    /// `Threads`.
    pub threads: Option<u64>,
}

/// Reads `/proc/<pid>/status`.
pub fn status(pid: u32) -> io::Result<Status> {
    Ok(parse_status(&fs::read_to_string(format!(
        "/proc/{pid}/status"
    ))?))
}

/// Picks `VmRSS:`, `VmHWM:` and `Threads:` out of a status text.
pub fn parse_status(text: &str) -> Status {
    let mut status = Status::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let number = value
            .split_whitespace()
            .next()
            .and_then(|word| word.parse().ok());
        match name {
            "VmRSS" => status.rss_kib = number,
            "VmHWM" => status.peak_rss_kib = number,
            "Threads" => status.threads = number,
            _ => {}
        }
    }
    status
}

/// The soft limit on open files of `process` (a pid, or `self`), from `/proc/<process>/limits`; `None` when unlimited or unreadable.
pub fn open_files_soft_limit(process: &str) -> Option<u64> {
    parse_open_files_soft_limit(&fs::read_to_string(format!("/proc/{process}/limits")).ok()?)
}

/// The soft limit of the `Max open files` line: `Max open files  20000  20000  files`.
pub fn parse_open_files_soft_limit(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One process, as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// The command name, without its parentheses.
    pub name: String,
    /// The state letter (`R`, `S`, `Z` for a zombie, ...).
    pub state: char,
    pub parent: u32,
}

/// Reads one `/proc/<pid>/stat` line.
///
/// The name sits in parentheses and may itself hold spaces and parentheses, so the fields after it are found from the last `)`.
pub fn parse_stat(text: &str) -> Option<Process> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let name = text.get(open + 1..close)?.to_owned();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    Some(Process {
        pid,
        name,
        state,
        parent,
    })
}

/// Every process now running.
fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.bytes().all(|byte| byte.is_ascii_digit()))
        })
        // A process may end between the listing and the read; it is simply not there.
        .filter_map(|entry| fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|text| parse_stat(&text))
        .collect()
}

/// The children of `pid`, their children, and so on, zombies included.
pub fn descendants(pid: u32) -> Vec<Process> {
    descendants_in(processes(), pid)
}

/// The descendants of `root` among `all`, found breadth first.
pub fn descendants_in(all: Vec<Process>, root: u32) -> Vec<Process> {
    let mut found: Vec<Process> = Vec::new();
    let mut parents = vec![root];
    let mut rest = all;
    while let Some(parent) = parents.pop() {
        let (children, others): (Vec<Process>, Vec<Process>) = rest
            .into_iter()
            .partition(|process| process.parent == parent && process.pid != root);
        rest = others;
        parents.extend(children.iter().map(|child| child.pid));
        found.extend(children);
    }
    found
}

/// `12.3 MiB` from KiB.
pub fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_fields() {
        let text = "Name:\tsimplehttp\nState:\tS (sleeping)\nVmHWM:\t   10240 kB\nVmRSS:\t    8192 kB\nThreads:\t3\nSigQ:\t0/94000\n";
        assert_eq!(
            parse_status(text),
            Status {
                rss_kib: Some(8192),
                peak_rss_kib: Some(10240),
                threads: Some(3),
            }
        );
        assert_eq!(parse_status(""), Status::default());
        assert_eq!(parse_status("VmRSS:\tlots kB\n").rss_kib, None);
    }

    #[test]
    fn reads_the_soft_limit_on_open_files() {
        let text = "\
Limit                     Soft Limit           Hard Limit           Units
Max processes             unlimited            unlimited            processes
Max open files            1024                 20000                files
Max locked memory         8388608              8388608              bytes
";
        assert_eq!(parse_open_files_soft_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_soft_limit(unlimited), None);
        assert_eq!(parse_open_files_soft_limit("Max processes 5 5\n"), None);
    }

    #[test]
    fn reads_a_stat_line_with_an_awkward_name() {
        let line = "4242 (sh (cgi) x) Z 4000 4242 4000 0 -1 4194560 96 0 0 0 0 0 0 0 20 0 1 0";
        assert_eq!(
            parse_stat(line),
            Some(Process {
                pid: 4242,
                name: "sh (cgi) x".into(),
                state: 'Z',
                parent: 4000,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("12 (x)"), None);
    }

    #[test]
    fn finds_descendants_but_not_strangers() {
        let process = |pid, parent| Process {
            pid,
            name: format!("p{pid}"),
            state: 'S',
            parent,
        };
        let all = vec![
            process(1, 0),
            process(10, 1),
            process(11, 10),
            process(12, 11),
            process(13, 10),
            process(20, 1),
        ];
        let mut pids: Vec<u32> = descendants_in(all.clone(), 10)
            .iter()
            .map(|process| process.pid)
            .collect();
        pids.sort_unstable();
        assert_eq!(pids, [11, 12, 13]);
        assert!(descendants_in(all, 20).is_empty());
    }

    #[test]
    fn this_process_is_readable() {
        let me = std::process::id();
        assert!(descriptor_count(me).unwrap() >= 3);
        let status = status(me).unwrap();
        assert!(status.rss_kib.unwrap() > 0);
        assert!(status.threads.unwrap() >= 1);
        assert_eq!(mebibytes(1536), "1.5 MiB");
    }
}
