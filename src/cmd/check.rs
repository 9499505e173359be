//! `sister check`: does a capture show what the worksheet asks? And `--class DIR`, the lecturer's
//! table of a whole class's captures.
//!
//! Flags, files and the exit status live here; every decision is `analyze::check`'s, on the report
//! `analyze::analyze_files` makes of each file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use analyze::check::{self, CaptureCheck, Expect};
use analyze::render::Lang;
use anyhow::Context;
use clap::{Args, ValueEnum};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Each capture's checks as text (the default for CAPTURE...)
    Text,
    /// `{"captures": [{"file", "pattern", "checks": [{"name", "passed", "detail"}]}]}` (with --class
    /// also "summary")
    Json,
    /// The class table and its summary as Markdown (the default for --class)
    Md,
    /// The class table as CSV, one row per capture
    Csv,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister check mqtt.pcap                        does it show what the worksheet asks?
  sister check --lang id mqtt.pcap soap.pcap    in Indonesian, two captures
  sister check --format json rest.pcap          the same as JSON, for scripts
  sister check --expect step2.toml mqtt.pcap    with a lecturer's expectations on top
  sister check --class handed-in/               the class table (Markdown) and its summary
  sister check --class handed-in/ --format csv > class.csv

The pattern is found from what the capture holds (mqtt, reqresp, oneway, udp, upcall, rest, rpc,
soap, zmq, zk, lamport, ice, corba, or none), never from the file's name; then each of the
worksheet's observations for it (LAB.md) is passed or not, with what is missing and how to capture
it right. Faults named: empty or unreadable file, only ARP / nothing on the lab's ports (wrong
interface), capture started mid-stream, stopped before the close, first connection refused (server
not up yet), file named after another protocol than it holds. `tcpdump -i any` duplicates are noted.

An --expect file (TOML; every key optional, unknown keys are an error):
  pattern = \"mqtt\"             the pattern the capture must hold
  port = 1883                  the server's port, instead of the course's
  topic = \"sister/channel/*\"   a topic published to (MQTT's + and # work; * is any text)
  topics = [\"a/b\", \"a/c\"]      several topics
  soap_result = -500           a result a SOAP response must carry
  min_messages = 10            at least this many messages in the pattern's conversations

--class DIR checks every .pcap, .pcapng and .cap file in DIR and its folders (and any other file
that starts like a capture).

Exit status: 0 when every check of every capture passed, 1 when one failed, 2 for bad usage (a bad
flag, an unreadable or invalid --expect file, a --class DIR without captures).")]
pub struct CheckArgs {
    /// Capture files (pcap or pcapng), each checked on its own
    #[arg(
        value_name = "CAPTURE",
        required_unless_present = "class",
        conflicts_with = "class"
    )]
    pub files: Vec<PathBuf>,
    /// Check every capture in DIR (and its folders) and write the class table and its summary
    #[arg(long, value_name = "DIR")]
    pub class: Option<PathBuf>,
    /// Output format (default: text for CAPTURE..., md for --class)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A lecturer's expectations on top of the worksheet's (TOML; see below)
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Language: en (English) or id (Bahasa Indonesia); protocol terms stay as Wireshark names them
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub lang: Lang,
}

/// The exit status of a usage error (as clap's own).
const USAGE: u8 = 2;

/// Messages kept per conversation and in all while checking: more than `sister analyze` keeps, so
/// that a long lab capture's last DISCONNECT is still among them (a lab capture is small).
const MAX_MESSAGES: usize = 10_000;
const MAX_MESSAGES_TOTAL: usize = 100_000;

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let expect = match &args.expect {
        Some(path) => match read_expect(path) {
            Ok(e) => Some(e),
            Err(e) => return Ok(usage(&format!("{e:#}"))),
        },
        None => None,
    };
    let (files, title) = match &args.class {
        Some(dir) => {
            if !dir.is_dir() {
                return Ok(usage(&format!("{} is not a folder", dir.display())));
            }
            let files = captures_in(dir).with_context(|| format!("cannot list {}", dir.display()))?;
            if files.is_empty() {
                return Ok(usage(&format!(
                    "no capture files (.pcap, .pcapng, .cap) in {}",
                    dir.display()
                )));
            }
            let shown: Vec<(PathBuf, String)> = files
                .into_iter()
                .map(|f| {
                    let name = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
                    (f, name)
                })
                .collect();
            (shown, dir.display().to_string())
        }
        None => {
            let shown = args
                .files
                .iter()
                .map(|f| (f.clone(), f.display().to_string()))
                .collect();
            (shown, String::new())
        }
    };
    let options = analyze::Options {
        max_messages: MAX_MESSAGES,
        max_messages_total: MAX_MESSAGES_TOTAL,
        ..analyze::Options::default()
    };
    let captures: Vec<CaptureCheck> = files
        .iter()
        .map(|(path, name)| match analyze::analyze_files(&[path], &options) {
            Ok(analysis) => check::check(&analysis.report, name, expect.as_ref(), args.lang),
            Err(e) => check::unreadable(name, &e, args.lang),
        })
        .collect();
    let default = if args.class.is_some() {
        Format::Md
    } else {
        Format::Text
    };
    let out = match args.format.unwrap_or(default) {
        Format::Text => check::text::render(&captures, args.lang),
        Format::Json if args.class.is_some() => check::class::json(&captures),
        Format::Json => check::to_json(&captures),
        Format::Md => {
            let title = if title.is_empty() {
                args.lang
                    .pick("the files given", "file yang diberikan")
                    .to_string()
            } else {
                title
            };
            check::class::markdown(&captures, &title, args.lang)
        }
        Format::Csv => check::class::csv(&captures, args.lang),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(if captures.iter().all(CaptureCheck::all_passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Print a usage error and give the exit status clap gives its own.
fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE)
}

fn read_expect(path: &Path) -> anyhow::Result<Expect> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Expect::parse(&text).with_context(|| format!("{} is not a valid --expect file", path.display()))
}

/// Folders deeper than this are not searched (a symbolic link loop ends here).
const MAX_DEPTH: usize = 8;

/// The capture files in `dir` and its folders, sorted by path: by extension, or by their first
/// bytes (a pcap or pcapng magic number). Hidden files and folders are skipped.
fn captures_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, 0, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DEPTH {
                walk(&path, depth + 1, found)?;
            }
        } else if path.is_file() && is_capture(&path) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_capture(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "pcap" | "pcapng" | "cap") {
        return true;
    }
    // pcap (both byte orders, micro- and nanoseconds) and pcapng's Section Header Block.
    const MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| MAGICS.contains(&magic))
}
