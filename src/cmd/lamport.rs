//! `sister lamport server|client|sim`: thin layer over `patterns::lamport`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::lamport::{diagram, exchange, sim};

#[derive(Debug, Subcommand)]
pub enum Lamport {
    /// Process A: adds $100 to 1000 and sends it; then receives B's answer
    #[command(
        after_help = "Example:\n  sister lamport server                 listens on 0.0.0.0:12345\n  \
sister lamport server --bind 127.0.0.1:12345"
    )]
    Server(ServerArgs),
    /// Process B: receives A's message, subtracts $50, answers
    #[command(after_help = "Example:\n  sister lamport client --server 127.0.0.1:12345\n\n\
Prints `process B: balance 1050, clock 3` against the course's process A.")]
    Client(ClientArgs),
    /// N processes on a seeded random schedule, every event with its Lamport (and vector) clock
    #[command(after_help = "Examples:\n  sister lamport sim --processes 3 --seed 1\n  \
sister lamport sim --processes 3 --seed 1 --vector --diagram run.svg\n  \
sister lamport sim --processes 4 --seed 7 --events 10 --record run.json")]
    Sim(SimArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on
    #[arg(long, default_value = "0.0.0.0:12345")]
    pub bind: String,
    /// The balance each exchange starts from
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub balance: i64,
    /// What process A adds
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    pub amount: i64,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Process A's HOST:PORT
    #[arg(long, env = "SISTER_SERVER", default_value = "lamport-server:12345")]
    pub server: String,
    /// What process B subtracts
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub amount: i64,
    /// Keep retrying the connection for this many seconds (while the server starts)
    #[arg(long, default_value_t = 0.0)]
    pub wait: f64,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Number of processes
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=26))]
    pub processes: u16,
    /// Seed of the random schedule (same seed, same run)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Events each process chooses to run (messages still in flight are received after)
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub events: u16,
    /// Show vector clocks too, and which events are concurrent
    #[arg(long)]
    pub vector: bool,
    /// Write the space-time diagram (SVG) here
    #[arg(long)]
    pub diagram: Option<PathBuf>,
    /// Write the recorded run (JSON: events with clocks, messages) here
    #[arg(long)]
    pub record: Option<PathBuf>,
}

pub async fn run(cmd: Lamport) -> anyhow::Result<ExitCode> {
    match cmd {
        Lamport::Server(a) => {
            let listener = patterns::net::bind_tcp(&a.bind).await?;
            let config = exchange::ServerConfig {
                balance: a.balance,
                amount: a.amount,
            };
            exchange::run_server(listener, config, patterns::shutdown::on_ctrl_c()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Lamport::Client(a) => {
            let config = exchange::ClientConfig {
                amount: a.amount,
                wait: Duration::from_secs_f64(a.wait.clamp(0.0, 86_400.0)),
            };
            let x = exchange::run_client(&a.server, config).await?;
            println!("process B: balance {}, clock {}", x.balance, x.clock);
            Ok(ExitCode::SUCCESS)
        }
        Lamport::Sim(a) => {
            let run = sim::simulate(sim::SimConfig {
                processes: a.processes as usize,
                events: a.events as usize,
                seed: a.seed,
            });
            print_run(&run, a.vector);
            if let Some(path) = &a.diagram {
                std::fs::write(path, diagram::svg(&run, a.vector))
                    .with_context(|| format!("cannot write the diagram to {}", path.display()))?;
                println!("space-time diagram written to {}", path.display());
            }
            if let Some(path) = &a.record {
                let json = serde_json::to_string_pretty(&run)?;
                std::fs::write(path, json)
                    .with_context(|| format!("cannot write the record to {}", path.display()))?;
                println!("run recorded in {}", path.display());
            }
            match run.check() {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => anyhow::bail!("the run breaks Lamport's rules: {e}"),
            }
        }
    }
}

fn print_run(run: &sim::Run, vector: bool) {
    println!(
        "{} processes, seed {}: events in the order they ran",
        run.processes, run.seed
    );
    for e in &run.events {
        if vector {
            println!("  {:<40} V={}", e.to_string(), e.vector);
        } else {
            println!("  {e}");
        }
    }
    let order: Vec<String> = run
        .total_order()
        .iter()
        .map(|e| format!("{}({})", e.name(), e.lamport))
        .collect();
    println!("total order by (clock, process): {}", order.join(" < "));
    let bad = run.clock_condition_violations();
    println!(
        "clock condition: {} of {} messages have send clock < receive clock",
        run.messages.len() - bad.len(),
        run.messages.len()
    );
    if vector {
        let pairs = run.concurrent_pairs();
        println!(
            "concurrent pairs (neither happened before the other; Lamport's clocks still order them): {}",
            pairs.len()
        );
        for (a, b) in pairs.iter().take(8) {
            println!("  {}(L={}) || {}(L={})", a.name(), a.lamport, b.name(), b.lamport);
        }
        if pairs.len() > 8 {
            println!("  ... and {} more", pairs.len() - 8);
        }
        let bad = run.causality_violations();
        println!(
            "total order vs causality (vector clocks): {}",
            if bad.is_empty() {
                "consistent: every cause comes before its effect".to_string()
            } else {
                format!("{} violations", bad.len())
            }
        );
    }
}
