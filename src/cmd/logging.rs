//! Log output with `tracing`: human lines by default, JSON lines with `--log-format json`.
//!
//! Each pattern logs inside a span naming its role (`reqresp-server`) and, per connection, the peer
//! (`peer=172.18.0.3:40792`), so every line says who is speaking about whom. `RUST_LOG` overrides
//! `-v`/`-q` for fine control (e.g. `RUST_LOG=patterns::mqtt=trace`).

use tracing_subscriber::EnvFilter;

use super::GlobalArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `15:04:05.123  INFO reqresp-server{peer=127.0.0.1:5000}: message`
    Human,
    /// One JSON object per line (timestamp, level, fields, spans)
    Json,
}

pub fn init(args: &GlobalArgs) {
    init_with_default(args, "info")
}

/// Like [`init`], with another level when neither -v nor -q is given (a benchmark logs only warnings).
pub fn init_with_default(args: &GlobalArgs, default_level: &str) {
    let level = match (args.verbose, args.quiet) {
        (0, 0) => default_level,
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match args.log_format {
        LogFormat::Human => builder
            .with_timer(tracing_subscriber::fmt::time::ChronoLocal::new(
                "%H:%M:%S%.3f".into(),
            ))
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}
