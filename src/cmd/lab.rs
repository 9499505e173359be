//! `sister lab`: the worksheet on loopback, every pattern, with a transcript and a verdict.
//!
//! Each pattern provides `patterns::<pattern>::lab(&Checks)` (see `crates/patterns/src/lab.rs`): it
//! starts its server on `127.0.0.1:0`, drives its clients with the worksheet's inputs and records what it
//! expected. This runner gives every scenario a `lab{pattern=...}` span, collects the `tracing` events
//! the servers and clients log inside their role spans (`reqresp-server`, `reqresp-client`, ...), and
//! prints them per pattern as a transcript, then the checks and a summary. Exit status 0 only if every
//! check of every pattern held.
//!
//! To add a pattern: one line in [`PATTERNS`].

use std::fmt::Write as _;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use patterns::lab::Checks;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use super::GlobalArgs;

type Scenario = for<'a> fn(&'a Checks) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One pattern of the lab.
pub struct Pattern {
    pub name: &'static str,
    pub title: &'static str,
    pub run: Scenario,
}

macro_rules! pattern {
    ($name:literal, $title:literal, $lab:path) => {
        Pattern {
            name: $name,
            title: $title,
            run: |checks| Box::pin($lab(checks)),
        }
    };
}

/// Every pattern `sister lab` runs, in this order. Add yours with one line.
pub const PATTERNS: &[Pattern] = &[
    pattern!(
        "mqtt",
        "MQTT publish/subscribe through a broker (course port 1883)",
        patterns::mqtt::lab
    ),
    pattern!(
        "mqtt-tls",
        "MQTT over TLS with a password (8883): what a capture still shows",
        patterns::mqtt::worksheet_tls::lab
    ),
    pattern!(
        "reqresp",
        "TCP request/response (course port 2222)",
        patterns::reqresp::lab
    ),
    pattern!("oneway", "one-way TCP (course port 3131)", patterns::oneway::lab),
    pattern!("udp", "UDP datagrams (course port 12345/udp)", patterns::udp::lab),
    pattern!(
        "upcall",
        "upcall: the server calls the client back (course port 4141)",
        patterns::upcall::lab
    ),
    pattern!(
        "lamport",
        "Lamport clocks: the bank exchange (course port 12345) and a 3-process run",
        patterns::lamport::lab
    ),
    pattern!(
        "procs",
        "processes and threads: shared memory and a lost update",
        patterns::procs::lab
    ),
    pattern!(
        "zk",
        "ZooKeeper election and lock (needs a server: SISTER_ZK or 127.0.0.1:2181)",
        patterns::zk::lab
    ),
    pattern!(
        "zmq",
        "ZeroMQ REQ/REP, PUB/SUB, PUSH/PULL (course ports 5555, 12345, 9999)",
        patterns::zmq::lab
    ),
    pattern!(
        "ice",
        "distributed objects with ZeroC Ice: two Printer objects (course port 11000)",
        patterns::ice::lab
    ),
    pattern!(
        "corba",
        "distributed objects with CORBA: Hello in a Naming Service (course port 2809)",
        patterns::corba::lab
    ),
    pattern!("rest", "REST over HTTP (course port 5151)", patterns::rest::lab),
    pattern!(
        "rpc",
        "JSON-RPC 2.0 over HTTP POST (course port 4000)",
        patterns::rpc::lab
    ),
    pattern!(
        "soap",
        "SOAP 1.1 with WSDL (course port 8000)",
        patterns::soap::lab
    ),
];

/// How long one pattern's scenario may take before it counts as failed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
#[command(
    about = "Run the worksheet on loopback: every pattern's server and clients, a transcript, a verdict",
    after_help = "Examples:\n  sister lab\n  sister lab --only reqresp --only upcall\n  sister lab --web       # live at http://127.0.0.1:8088/ (captures too, as root)\n  sister lab -v          # debug lines too\n  sister lab --docker    # in containers, captured on the bridges (docker/build.sh first)\n\n\
Exit status 0 only if every pattern behaved as the worksheet says."
)]
pub struct LabArgs {
    /// Run only these patterns (repeat, or separate with commas)
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    only: Vec<String>,
    /// List the patterns and exit
    #[arg(long)]
    list: bool,
    /// Capture each pattern on `lo` (needs CAP_NET_RAW; skipped with a note otherwise) and write
    /// DIR/<pattern>.pcap with its report DIR/<pattern>.md and the sequence diagram DIR/<pattern>.svg
    #[arg(long, value_name = "DIR")]
    capture: Option<std::path::PathBuf>,
    /// Run the worksheet in containers instead (compose/<pattern>.yml on the image --image), capturing
    /// each pattern on its Docker bridge and analysing it (see crates/patterns/src/lab/docker.rs)
    #[arg(long)]
    docker: bool,
    /// With --docker: the image to run (built by docker/build.sh)
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "sister:latest",
        env = "SISTER_IMAGE",
        requires = "docker"
    )]
    image: String,
    /// With --docker: where the captures and reports go (--capture DIR says the same) [default: lab-docker]
    #[arg(long, value_name = "DIR", requires = "docker")]
    out: Option<std::path::PathBuf>,
    /// With --docker: go on with the next pattern after a failure
    #[arg(long, requires = "docker")]
    keep_going: bool,
    /// Show the run live in a browser page (`sister web`) at ADDR: each pattern's transcript and checks,
    /// its loopback capture as a flow diagram (capturing needs root or CAP_NET_RAW), its MQTT topics.
    /// The page stays up after the run until Ctrl+C
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8088", conflicts_with = "docker")]
    web: Option<String>,
}

/// `sister lab --web`: the page, served while the lab runs and after it.
struct WebView {
    feed: web::lab::LabFeed,
    url: String,
    /// Leaves the page's own traffic out of the loopback captures.
    filter: capture::filter::Filter,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl WebView {
    async fn start(bind: &str) -> anyhow::Result<WebView> {
        let app = web::App::new(web::WebOptions::default());
        let feed = web::lab::LabFeed::new(&app);
        let listener = patterns::net::bind_tcp(bind).await?;
        let addr = listener.local_addr()?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{host}:{}/#lab", addr.port());
        let filter = capture::filter::Filter::parse(&format!("not port {}", addr.port()))?;
        println!("sister lab: live at {url}");
        let server = tokio::spawn(web::serve(listener, app, patterns::shutdown::on_ctrl_c()));
        Ok(WebView {
            feed,
            url,
            filter,
            server,
        })
    }

    /// Until Ctrl+C (the server stops on it).
    async fn wait(self) {
        let _ = self.server.await;
    }
}

fn tempfile_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("sister-lab-").tempdir()?)
}

/// One transcript line.
struct Line {
    pattern: String,
    role: String,
    level: Level,
    context: String,
    text: String,
}

/// The tracing layer that turns events inside `lab{pattern=...}` spans into transcript lines.
#[derive(Clone, Default)]
struct Collector {
    lines: Arc<Mutex<Vec<Line>>>,
}

impl Collector {
    fn take(&self, pattern: &str) -> Vec<Line> {
        let mut all = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, rest): (Vec<Line>, Vec<Line>) = all.drain(..).partition(|l| l.pattern == pattern);
        *all = rest;
        mine
    }
}

/// A span's fields, as `key=value` text (and the lab's pattern name).
#[derive(Default)]
struct Fields {
    message: String,
    pairs: String,
    pattern: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "pattern" {
            self.pattern = Some(value.to_string());
        }
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            if !self.pairs.is_empty() {
                self.pairs.push(' ');
            }
            let _ = write!(self.pairs, "{}={value:?}", field.name());
        }
    }
}

impl<S> Layer<S> for Collector
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let spans: Vec<_> = scope.from_root().collect();
        let Some(root) = spans.first() else { return };
        if root.name() != "lab" {
            return;
        }
        let Some(pattern) = root.extensions().get::<Fields>().and_then(|f| f.pattern.clone()) else {
            return;
        };
        let role = spans.get(1).map(|s| s.name()).unwrap_or("lab").to_string();
        let context = spans
            .iter()
            .skip(1)
            .filter_map(|s| s.extensions().get::<Fields>().map(|f| f.pairs.clone()))
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = match (fields.message.is_empty(), fields.pairs.is_empty()) {
            (_, true) => fields.message,
            (true, false) => fields.pairs,
            (false, false) => format!("{}  ({})", fields.message, fields.pairs),
        };
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(Line {
            pattern,
            role,
            level: *event.metadata().level(),
            context,
            text,
        });
    }
}

/// ANSI colours, only on a terminal and without NO_COLOR.
struct Paint(bool);

impl Paint {
    fn detect() -> Paint {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Paint(std::io::stdout().is_terminal() && !no_color)
    }

    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn role(&self, role: &str, width: usize) -> String {
        let code = if role.ends_with("server") || role.ends_with("broker") {
            "36" // cyan
        } else if role == "lab" {
            "35" // magenta
        } else {
            "33" // yellow: clients, publishers, subscribers
        };
        self.wrap(code, &format!("{role:>width$}"))
    }
}

pub async fn run(args: LabArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if args.docker {
        let known = patterns::lab::docker::pattern_names();
        if let Some(bad) = args.only.iter().find(|o| !known.contains(&o.as_str())) {
            anyhow::bail!("--docker knows the patterns {}, not {bad:?}", known.join(", "));
        }
        // One flag for both modes: `--capture DIR` says where the captures go, in containers too.
        let out = match (args.capture, args.out) {
            (Some(dir), Some(out)) if dir != out => anyhow::bail!(
                "--capture {} and --out {} both say where the captures go: give one",
                dir.display(),
                out.display()
            ),
            (Some(dir), _) | (None, Some(dir)) => dir,
            (None, None) => std::path::PathBuf::from("lab-docker"),
        };
        let all_passed = patterns::lab::docker::run(patterns::lab::docker::DockerLab {
            image: args.image,
            out,
            only: args.only,
            keep_going: args.keep_going,
        })
        .await?;
        return Ok(if all_passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if args.list {
        for p in PATTERNS {
            println!("{:<10} {}", p.name, p.title);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let unknown: Vec<&String> = args
        .only
        .iter()
        .filter(|o| !PATTERNS.iter().any(|p| p.name == o.as_str()))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = PATTERNS.iter().map(|p| p.name).collect();
        anyhow::bail!(
            "unknown pattern {:?}; the lab knows: {}",
            unknown,
            known.join(", ")
        );
    }
    let selected: Vec<&Pattern> = PATTERNS
        .iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.name))
        .collect();

    let level = match (global.verbose, global.quiet) {
        (0, 0) => LevelFilter::INFO,
        (1, _) => LevelFilter::DEBUG,
        (v, _) if v >= 2 => LevelFilter::TRACE,
        _ => LevelFilter::WARN,
    };
    let collector = Collector::default();
    tracing_subscriber::registry()
        .with(collector.clone().with_filter(level))
        .try_init()
        .ok();

    let web = match &args.web {
        Some(bind) => Some(WebView::start(bind).await?),
        None => None,
    };
    // With the page and no --capture, each pattern is still captured (for its flow diagram), into a
    // temporary directory.
    let web_captures = match (&web, &args.capture) {
        (Some(_), None) => Some(tempfile_dir()?),
        _ => None,
    };
    let capture_dir = args
        .capture
        .clone()
        .or_else(|| web_captures.as_ref().map(|d| d.path().to_path_buf()));
    let paint = Paint::detect();
    let mut summary = Vec::new();
    let started = Instant::now();
    for pattern in &selected {
        println!(
            "\n{}",
            paint.wrap("1", &format!("== {}: {} ==", pattern.name, pattern.title))
        );
        let checks = Arc::new(Checks::new());
        if let Some(w) = &web {
            w.feed.begin(pattern.name, pattern.title);
        }
        let recording = match &capture_dir {
            Some(dir) => match super::lab_capture::Recording::start(
                dir,
                pattern.name,
                web.as_ref().map(|w| w.filter.clone()).unwrap_or_default(),
            ) {
                Ok(r) => Some(r),
                Err(e) => {
                    println!("  (no capture: {e})");
                    None
                }
            },
            None => None,
        };
        let span = tracing::info_span!("lab", pattern = pattern.name);
        let t0 = Instant::now();
        let task = tokio::spawn({
            let checks = checks.clone();
            let run = pattern.run;
            async move { run(&checks).await }.instrument(span)
        });
        let abort = task.abort_handle();
        match tokio::time::timeout(SCENARIO_TIMEOUT, task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => checks.fail(format!("the scenario crashed: {e}")),
            Err(_) => {
                abort.abort();
                checks.fail(format!("the scenario did not finish within {SCENARIO_TIMEOUT:?}"));
            }
        }
        let took = t0.elapsed();
        let pcap = recording.as_ref().map(|r| r.pcap().to_path_buf());
        let captured = match recording {
            Some(r) => Some(r.stop().await),
            None => None,
        };
        let lines = collector.take(pattern.name);
        let width = lines.iter().map(|l| l.role.len()).max().unwrap_or(0);
        for l in &lines {
            let text = match l.level {
                Level::ERROR => paint.wrap("31", &l.text),
                Level::WARN => paint.wrap("33", &l.text),
                _ => l.text.clone(),
            };
            let context = if l.context.is_empty() {
                String::new()
            } else {
                format!("{} ", paint.wrap("2", &l.context))
            };
            println!("  {} | {context}{text}", paint.role(&l.role, width));
        }
        println!();
        for (what, ok) in checks.results() {
            let mark = if ok {
                paint.wrap("32", "ok  ")
            } else {
                paint.wrap("31", "FAIL")
            };
            println!("  {mark} {what}");
        }
        let captured_ok = matches!(captured, Some(Ok(_)));
        if let Some(captured) = captured {
            match captured {
                Ok(note) => println!("  {note}"),
                Err(e) => println!("  (capture failed: {e:#})"),
            }
        }
        if let Some(w) = &web {
            let transcript = lines
                .iter()
                .map(|l| {
                    format!(
                        "{:<width$} | {}{}",
                        l.role,
                        if l.context.is_empty() {
                            String::new()
                        } else {
                            format!("{} ", l.context)
                        },
                        l.text
                    )
                })
                .collect();
            let loaded = match (pcap, captured_ok) {
                (Some(p), true) => tokio::task::spawn_blocking(move || {
                    web::capture::analyze_paths(&[p], &web::capture::Naming::default())
                })
                .await
                .ok()
                .and_then(Result::ok),
                _ => None,
            };
            w.feed
                .end(transcript, checks.results(), took.as_secs_f64(), loaded);
        }
        summary.push((pattern.name, checks.passed(), checks.failures(), took));
    }

    println!("\n{}", paint.wrap("1", "== summary =="));
    let mut all_passed = true;
    for (name, passed, failures, took) in &summary {
        if *passed {
            println!("  {} {name:<10} ({took:.1?})", paint.wrap("32", "PASS"));
        } else {
            all_passed = false;
            let why = if failures.is_empty() {
                "no check was recorded".to_string()
            } else {
                failures.join("; ")
            };
            println!("  {} {name:<10} {why}", paint.wrap("31", "FAIL"));
        }
    }
    let passed = summary.iter().filter(|s| s.1).count();
    println!(
        "\n{passed} of {} patterns behaved as the worksheet says ({:.1?}).",
        summary.len(),
        started.elapsed()
    );
    if let Some(w) = web {
        println!("The page stays at {} until Ctrl+C.", w.url);
        w.wait().await;
        drop(web_captures);
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_filed_by_pattern_and_role() {
        let collector = Collector::default();
        let subscriber = tracing_subscriber::registry().with(collector.clone());
        tracing::subscriber::with_default(subscriber, || {
            let lab = tracing::info_span!("lab", pattern = "demo");
            let _in_lab = lab.enter();
            let server = tracing::info_span!("demo-server");
            let _in_server = server.enter();
            let conn = tracing::info_span!("conn", peer = "127.0.0.1:5000");
            let _in_conn = conn.enter();
            tracing::info!(bytes = 5, "received \"hello\"");
        });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(collector.clone()), || {
            tracing::info!("outside any lab span: not collected");
        });
        let lines = collector.take("demo");
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(
            (l.role.as_str(), l.context.as_str(), l.text.as_str()),
            (
                "demo-server",
                "peer=127.0.0.1:5000",
                "received \"hello\"  (bytes=5)"
            )
        );
        assert!(collector.take("demo").is_empty());
    }

    #[test]
    fn pattern_names_are_unique() {
        let mut seen = std::collections::HashMap::new();
        for p in PATTERNS {
            assert!(seen.insert(p.name, ()).is_none(), "{} twice", p.name);
        }
    }
}
