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
    /// A sequence diagram: hosts as lifelines, messages as arrows, time down the page
    Svg,
    /// The findings as a Markdown section for the worksheet report, with the diagram
    Md,
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
    /// With --format svg or md: write the report to FILE instead of stdout (for md the diagram goes next
    /// to it, FILE with the extension .svg; without -o the Markdown holds the diagram inline)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Language of the svg/md findings: en (English) or id (Bahasa Indonesia); protocol terms stay as
    /// Wireshark names them
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub lang: analyze::render::Lang,
    /// Names for the hosts, one `IP NAME` per line (as /etc/hosts): reports say `mqtt-sub (172.18.0.4)`
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// Do not ask Docker for the names of the containers behind the capture's addresses
    #[arg(long)]
    pub no_docker: bool,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if args.output.is_some() && !matches!(args.format, Format::Svg | Format::Md) {
        bail!("-o/--output is for --format svg or md; redirect text and JSON with `> FILE`");
    }
    let options = analyze::Options {
        stream_dir: args.streams.clone(),
        follow: args.follow.clone(),
        ..analyze::Options::default()
    };
    let mut analysis = with_progress_bar(&args.files, |progress| {
        analyze::analyze_files_with_progress(&args.files, &options, progress)
    })
    .context("cannot analyze the capture")?;
    let names = if args.follow.is_none() {
        host_names(&args, &analysis.report)?
    } else {
        analyze::render::Names::new()
    };
    // The text and JSON reports name the hosts through the report (`hosts[].name`).
    names.name_hosts(&mut analysis.report);
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
            Format::Text => stdout.write_all(analyze::render::text::render(&analysis.report).as_bytes())?,
            Format::Svg | Format::Md => {
                let opts = analyze::render::Options {
                    lang: args.lang,
                    names,
                    title: None,
                };
                let out = render(&analysis.report, &opts, args.format, args.output.as_deref())?;
                if args.output.is_none() {
                    stdout.write_all(out.as_bytes())?;
                }
            }
            Format::Json => {
                // stdout is line-buffered: a write per JSON line would cost more than the analysis.
                let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut stdout);
                serde_json::to_writer_pretty(&mut out, &analysis.report)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
    }
    let code = if analysis.unusable {
        for p in &analysis.report.problems {
            eprintln!("error: {p}");
        }
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    // The report is printed and the process is about to exit, which gives its memory back at once:
    // freeing its many small strings one by one first was 5% of the time on a large capture.
    std::mem::forget(analysis);
    Ok(code)
}

/// The names of the hosts: Docker's container names of the capture's addresses (when docker answers
/// and `--no-docker` is not given; see `Names::of_containers`), then the `--names` file, which wins.
fn host_names(
    args: &AnalyzeArgs,
    report: &analyze::report::Report,
) -> anyhow::Result<analyze::render::Names> {
    let mut names = analyze::render::Names::new();
    if !args.no_docker {
        if let Ok(nets) = capture::docker::networks() {
            names = analyze::render::Names::of_containers(report, &nets);
        }
    }
    if let Some(path) = &args.names {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file = analyze::render::Names::parse(&text).with_context(|| format!("in {}", path.display()))?;
        names.extend(file);
    }
    Ok(names)
}

/// Render SVG or Markdown; with `output`, write the file(s) and return what was written.
fn render(
    report: &analyze::report::Report,
    opts: &analyze::render::Options,
    format: Format,
    output: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    use analyze::render::{markdown, svg};
    let diagram = svg::render(report, opts);
    let text = match (format, output) {
        (Format::Svg, _) => diagram,
        (_, None) => markdown::render(report, opts, &markdown::Diagram::Inline(diagram)),
        (_, Some(path)) => {
            let svg_path = path.with_extension("svg");
            std::fs::write(&svg_path, &diagram)
                .with_context(|| format!("cannot write {}", svg_path.display()))?;
            let link = svg_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            markdown::render(report, opts, &markdown::Diagram::Link(link))
        }
    };
    if let Some(path) = output {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(text)
}

/// Files over this size get a progress bar (when stderr is a terminal).
const PROGRESS_BAR_OVER: u64 = 50 << 20;

/// Run `analyze` with a progress bar on stderr when the files are large and stderr is a terminal.
fn with_progress_bar<T>(files: &[PathBuf], analyze: impl FnOnce(&mut dyn FnMut(usize, u64)) -> T) -> T {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let total: u64 = sizes.iter().sum();
    if total <= PROGRESS_BAR_OVER || !std::io::stderr().is_terminal() {
        return analyze(&mut |_, _| {});
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let before: Vec<u64> = sizes
        .iter()
        .scan(0u64, |acc, s| {
            let start = *acc;
            *acc += s;
            Some(start)
        })
        .collect();
    let result = analyze(&mut |index, offset| {
        bar.set_position(before.get(index).copied().unwrap_or(0) + offset);
    });
    bar.finish_and_clear();
    result
}
