//! `sister`: the distributed-systems lab as one binary.
//!
//! This file only parses the command line and hands over to `cmd`; each pattern's command is a thin
//! layer in `src/cmd/<pattern>.rs` over the library crates (`crates/patterns`, `crates/wire`, ...).
//! Errors are `anyhow` here and only here: they are printed as one clear message (with its causes),
//! never as a panic or a backtrace, and the exit code is 1 (2 for bad flags, from clap).

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // mosquitto's `-h HOST`, `-q QOS`, `-v` after `mqtt pub|sub` (see src/cmd/mqtt.rs).
    let cli = cmd::Cli::parse_from(cmd::mqtt::mosquitto_flags(std::env::args_os()));
    match &cli.command {
        // The lab collects the log events itself and prints them as per-pattern transcripts.
        cmd::Command::Lab(_) => {}
        // A benchmark's server would log every request: only warnings unless -v.
        cmd::Command::Bench(_) => cmd::logging::init_with_default(&cli.global, "warn"),
        _ => cmd::logging::init(&cli.global),
    }
    // The MQTT broker chooses its own number of threads (`--threads`, see src/cmd/mqtt_broker.rs): one
    // means tokio's current-thread runtime, which runs woken tasks in the order they were woken.
    let broker_threads = match &cli.command {
        cmd::Command::Mqtt(mqtt) => match mqtt.as_ref() {
            cmd::mqtt::MqttCommand::Broker(broker) => Some(usize::from(broker.threads)),
            _ => None,
        },
        _ => None,
    };
    let mut runtime = match broker_threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // A client may still have a read of the terminal pending (tokio reads stdin on a blocking thread,
    // which nothing can cancel): leave it behind instead of waiting for a line that will never come.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            // Many errors already include their cause in their message ("cannot connect to ...:
            // Connection refused"); print a cause only when it adds something.
            let mut shown = e.to_string();
            eprintln!("error: {shown}");
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !shown.contains(&cause) {
                    eprintln!("  caused by: {cause}");
                    shown = cause;
                }
            }
            ExitCode::FAILURE
        }
    }
}
