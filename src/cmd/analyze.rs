//! `sister analyze`: the findings of a capture (hosts, conversations, messages, anomalies).
//!
//! Flags become an `analyze::Options`; the library reads and dissects; this file picks the output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The findings as text (default)
    Text,
    /// The report as JSON (stable fields; schema in docs/analyze-report.schema.json)
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister analyze mqtt.pcap                      the findings as text
  sister analyze --format json rest.pcap        the same as JSON (schema: docs/analyze-report.schema.json)
  sister analyze --follow 3 soap.pcap           conversation #3's content, both directions
  sister analyze --follow 172.18.0.3:40792-172.18.0.2:2222 reqresp.pcap
  sister analyze --streams flows/ zmq.pcap      each direction's bytes in a file (tcpflow's names)

Reads pcap (both byte orders, micro/nanoseconds) and pcapng; Ethernet, Linux cooked (tcpdump -i any),
raw IP and BSD loopback frames. Exit code 1 when a file cannot be read at all; a file cut short still
gets a report of what it holds, with the problem named.")]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng), read in order as one capture
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show one conversation's content (its #id or CLIENT:PORT-SERVER:PORT), like Wireshark's Follow TCP Stream
    #[arg(long, value_name = "CONV")]
    pub follow: Option<String>,
    /// Write each direction's reassembled bytes to files in DIR, named as tcpflow names them
    #[arg(long, value_name = "DIR")]
    pub streams: Option<PathBuf>,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let options = analyze::Options {
        stream_dir: args.streams.clone(),
        follow: args.follow.clone(),
        ..analyze::Options::default()
    };
    let analysis = analyze::analyze_files(&args.files, &options).context("cannot analyze the capture")?;
    let mut stdout = std::io::stdout().lock();
    if let Some(sel) = &args.follow {
        let Some((conv, chunks)) = &analysis.followed else {
            bail!(
                "no conversation {sel} in the capture; `sister analyze {}` lists them (#id or CLIENT:PORT-SERVER:PORT)",
                args.files.first().map(|f| f.display().to_string()).unwrap_or_default()
            );
        };
        let color = std::io::stdout().is_terminal();
        stdout.write_all(analyze::follow::render(conv, chunks, color).as_bytes())?;
    } else {
        match args.format {
            Format::Text => stdout.write_all(analyze::text::render(&analysis.report).as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut stdout, &analysis.report)?;
                stdout.write_all(b"\n")?;
            }
        }
    }
    if analysis.unusable {
        for p in &analysis.report.problems {
            eprintln!("error: {p}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
