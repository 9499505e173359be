//! `sister check`: does a capture show what the worksheet asks?
//!
//! A student ends every step of the worksheet (LAB.md, "The worksheet a student follows") with a
//! capture and a written analysis of it. The same faults come back again and again: tcpdump started
//! after the client connected (no handshake, no CONNECT), stopped before the connections closed,
//! listened on the wrong interface (only ARP), wrote an empty file, the file is named after another
//! protocol than it holds, the first connection was refused because the server was not up yet. This
//! module names them before the capture is handed in.
//!
//! It reads only the [`Report`] of `sister analyze` (sans-I/O: no file is opened here), in four steps:
//! 1. [`detect`]: which of the lab's patterns the capture really holds, from the conversations'
//!    protocols, contents and ports (never from the file's name);
//! 2. `faults`: what is wrong with the capture itself (empty, wrong interface, misnamed) and what to
//!    know about it (`-i any` shows every packet twice);
//! 3. `patterns`: the worksheet's expected observations for that pattern, each passed or not, with one
//!    sentence saying what is missing and how to capture it right;
//! 4. [`expect`]: a lecturer's own expectations on top (`--expect FILE`, TOML).
//!
//! [`check`] gives one [`CaptureCheck`] per capture; [`text`] renders them for a terminal, and
//! [`class`] turns many into the lecturer's table (Markdown, CSV, JSON) with a summary. Every sentence
//! exists in English and Indonesian ([`Lang`], as the analyzer's renderers); protocol terms (SYN, FIN,
//! CONNECT, PUBLISH) stay as Wireshark names them.
//!
//! To add a check: write a function in `patterns.rs` that returns a [`Check`] built with
//! [`Check::pass`] or [`Check::fail`], cite the line of LAB.md it comes from, and add a test on a real
//! or a small synthetic capture in `tests.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::render::Lang;
use crate::report::Report;

/// The sentence in the report's language: `tr!(lang, "{n} packets", "{n} paket")`. Both texts are
/// format strings over the same arguments; only the one asked for is built.
macro_rules! tr {
    ($lang:expr, $en:literal, $id:literal $(,)?) => {
        match $lang {
            $crate::render::Lang::En => format!($en),
            $crate::render::Lang::Id => format!($id),
        }
    };
    ($lang:expr, $en:literal, $id:literal, $($arg:tt)+) => {
        match $lang {
            $crate::render::Lang::En => format!($en, $($arg)+),
            $crate::render::Lang::Id => format!($id, $($arg)+),
        }
    };
}

pub mod class;
pub mod detect;
pub mod expect;
mod faults;
mod patterns;
#[cfg(test)]
mod tests;
pub mod text;

pub use detect::{detect, Detection};
pub use expect::Expect;

/// The lab's patterns (LAB.md's table), as `sister check` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// MQTT publish/subscribe through a broker (1883/tcp).
    Mqtt,
    /// TCP request/response, the `Echo:` server (2222/tcp).
    Reqresp,
    /// One-way: data goes one way only (the course's one-way TCP on 3131, or datagrams nobody answers).
    Oneway,
    /// UDP request/reply datagrams (12345/udp).
    Udp,
    /// Upcall: `Upcall event: Processing <line>` (4141/tcp).
    Upcall,
    /// REST over HTTP: `GET /add?a=10&b=5` (5151/tcp).
    Rest,
    /// JSON-RPC 2.0 over HTTP POST (4000/tcp).
    Rpc,
    /// SOAP 1.1 with WSDL (8000/tcp).
    Soap,
    /// ZeroMQ REQ/REP (5555), PUB/SUB (12345), PUSH/PULL (9999).
    Zmq,
    /// ZooKeeper (2181/tcp).
    Zk,
    /// The Lamport-clock demo: JSON messages with timestamps (12345/tcp).
    Lamport,
    /// ZeroC Ice RPC (11000/tcp).
    Ice,
    /// CORBA over GIOP (naming service on 2809/tcp).
    Corba,
    /// None of the lab's patterns.
    None,
}

impl Pattern {
    /// Every pattern, in the order of LAB.md's table (and `none` last).
    pub const ALL: [Pattern; 14] = [
        Pattern::Mqtt,
        Pattern::Reqresp,
        Pattern::Udp,
        Pattern::Oneway,
        Pattern::Upcall,
        Pattern::Rest,
        Pattern::Rpc,
        Pattern::Soap,
        Pattern::Zmq,
        Pattern::Zk,
        Pattern::Lamport,
        Pattern::Ice,
        Pattern::Corba,
        Pattern::None,
    ];

    /// The name `sister check` prints and `--expect`'s `pattern` takes: `mqtt`, `reqresp`...
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Mqtt => "mqtt",
            Pattern::Reqresp => "reqresp",
            Pattern::Oneway => "oneway",
            Pattern::Udp => "udp",
            Pattern::Upcall => "upcall",
            Pattern::Rest => "rest",
            Pattern::Rpc => "rpc",
            Pattern::Soap => "soap",
            Pattern::Zmq => "zmq",
            Pattern::Zk => "zk",
            Pattern::Lamport => "lamport",
            Pattern::Ice => "ice",
            Pattern::Corba => "corba",
            Pattern::None => "none",
        }
    }

    /// What the pattern is, in a few words.
    pub fn title(self, lang: Lang) -> &'static str {
        match self {
            Pattern::Mqtt => "MQTT publish/subscribe",
            Pattern::Reqresp => lang.pick("TCP request/response (echo)", "TCP request/response (echo)"),
            Pattern::Oneway => lang.pick("one-way messages", "pesan satu arah (one-way)"),
            Pattern::Udp => lang.pick("UDP request/reply", "UDP request/reply"),
            Pattern::Upcall => "upcall",
            Pattern::Rest => "REST (HTTP GET)",
            Pattern::Rpc => "JSON-RPC 2.0 (HTTP POST)",
            Pattern::Soap => "SOAP 1.1 + WSDL",
            Pattern::Zmq => "ZeroMQ (ZMTP)",
            Pattern::Zk => "ZooKeeper",
            Pattern::Lamport => lang.pick("Lamport clocks", "jam Lamport"),
            Pattern::Ice => "ZeroC Ice RPC",
            Pattern::Corba => "CORBA (GIOP)",
            Pattern::None => lang.pick("no lab pattern", "bukan pola lab"),
        }
    }

    /// The course's ports for the pattern (LAB.md's table): the server's, or the broker's.
    pub fn course_ports(self) -> &'static [u16] {
        match self {
            // 8883: MQTT over TLS (IANA's secure-mqtt), the port of `sister lab`'s TLS step.
            Pattern::Mqtt => &[1883, 8883],
            Pattern::Reqresp => &[2222],
            Pattern::Oneway => &[3131],
            Pattern::Udp => &[12345],
            Pattern::Upcall => &[4141],
            // The REST server is published on the host as 8080 (LAB.md's table).
            Pattern::Rest => &[5151, 8080],
            Pattern::Rpc => &[4000],
            Pattern::Soap => &[8000],
            Pattern::Zmq => &[5555, 12345, 9999],
            Pattern::Zk => &[2181],
            Pattern::Lamport => &[12345],
            Pattern::Ice => &[11000],
            Pattern::Corba => &[2809],
            Pattern::None => &[],
        }
    }

    /// True when the course runs the pattern over UDP (only `udp`; `oneway` may be seen over UDP too).
    pub fn is_udp(self) -> bool {
        self == Pattern::Udp
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Pattern, String> {
        let s = s.trim().to_ascii_lowercase();
        Pattern::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
            format!("unknown pattern {s:?}: use one of {}", names.join(", "))
        })
    }
}

/// One expected observation, passed or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// A stable name, the same in every language (`handshake`, `connect`, `expect-topic`): what a
    /// script tests for.
    pub name: &'static str,
    /// What is expected, in a few words of the report's language ("CONNECT and CONNACK").
    pub title: String,
    pub passed: bool,
    /// One sentence: what the capture shows, or what is missing and how to capture it right.
    pub detail: String,
    /// When failed: the fault in a few words, for the class table ("capture started mid-stream").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, title: String, detail: String) -> Check {
        Check {
            name,
            title,
            passed: true,
            detail,
            fault: None,
        }
    }

    pub fn fail(name: &'static str, title: String, fault: String, detail: String) -> Check {
        Check {
            name,
            title,
            passed: false,
            detail,
            fault: Some(fault),
        }
    }
}

/// Something worth knowing about a capture that is not a fault (`-i any`'s duplicates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// A stable name (`cooked-duplicates`, `other-patterns`).
    pub name: &'static str,
    /// In a few words, for the class table.
    pub short: String,
    /// One or two sentences.
    pub detail: String,
}

/// What `sister check` found in one capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureCheck {
    /// The file, as it was named on the command line (or relative to `--class DIR`).
    pub file: String,
    /// The pattern the capture really holds.
    pub pattern: Pattern,
    /// The pattern in a few words of the report's language.
    pub pattern_title: String,
    /// The checks, in the order a capture tells its story (file, port, opening, messages, closing).
    pub checks: Vec<Check>,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub notes: Vec<Note>,
}

impl CaptureCheck {
    fn new(file: &str, pattern: Pattern, checks: Vec<Check>, notes: Vec<Note>, lang: Lang) -> Self {
        CaptureCheck {
            file: file.to_string(),
            pattern,
            pattern_title: pattern.title(lang).to_string(),
            checks_passed: checks.iter().filter(|c| c.passed).count(),
            checks_total: checks.len(),
            checks,
            notes,
        }
    }

    /// True when every check passed.
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The faults of the failed checks, in a few words each, in order and without repeats.
    pub fn faults(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in self.checks.iter().filter_map(|c| c.fault.as_deref()) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }
}

/// Check one capture's report against the worksheet (and `expect`, a lecturer's expectations).
/// `file` is the name shown, and the one compared with the pattern found (`mqtt.pcap` should hold
/// MQTT).
pub fn check(report: &Report, file: &str, expect: Option<&Expect>, lang: Lang) -> CaptureCheck {
    let readable = faults::readable(report, lang);
    if report.capture.packets == 0 {
        // Nothing else can be said about a capture without packets.
        return CaptureCheck::new(file, Pattern::None, vec![readable], Vec::new(), lang);
    }
    let detection = detect::detect(report);
    let mut checks = vec![readable, faults::lab_traffic(report, &detection, file, lang)];
    checks.extend(faults::file_name(file, report, &detection, lang));
    let expect_port = expect.and_then(|e| e.port);
    checks.extend(patterns::checks(report, &detection, expect_port, lang));
    if let Some(e) = expect {
        checks.extend(e.checks(report, &detection, lang));
    }
    let notes = faults::notes(report, &detection, lang);
    CaptureCheck::new(file, detection.pattern, checks, notes, lang)
}

/// The check of a file `sister analyze` could not read at all (empty, not a capture, missing).
pub fn unreadable(file: &str, error: &crate::Error, lang: Lang) -> CaptureCheck {
    CaptureCheck::new(
        file,
        Pattern::None,
        vec![faults::unreadable(error, lang)],
        Vec::new(),
        lang,
    )
}

/// What `sister check --format json` writes: `{"captures": [{"file", "pattern", "checks": [{"name",
/// "passed", "detail", ...}], ...}]}`. Fields are only ever added.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct JsonReport<'a> {
    pub captures: &'a [CaptureCheck],
}

/// `captures` as `sister check --format json` writes them (pretty, with a final newline).
pub fn to_json(captures: &[CaptureCheck]) -> String {
    let mut s = serde_json::to_string_pretty(&JsonReport { captures }).unwrap_or_default();
    s.push('\n');
    s
}
