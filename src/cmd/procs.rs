//! `sister procs`: processes versus threads, and a lost update; thin layer over `patterns::procs`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use patterns::procs;

#[derive(Debug, Args)]
pub struct ProcsArgs {
    /// Threads in each process
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
    /// Increments per thread
    #[arg(long, default_value_t = 1_000_000)]
    pub increments: u64,
    /// Each process first sleeps a random time up to this many milliseconds
    #[arg(long, default_value_t = 500)]
    pub max_sleep_ms: u64,
    /// (internal) run as the child process NAME
    #[arg(long, hide = true)]
    pub worker: Option<String>,
}

pub fn run(a: ProcsArgs) -> anyhow::Result<ExitCode> {
    let max_sleep = Duration::from_millis(a.max_sleep_ms.min(60_000));
    if let Some(name) = a.worker {
        procs::worker(&name, a.threads as usize, a.increments, max_sleep);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the sister binary to start eve and bob")?;
    let pid = std::process::id();
    println!(
        "parent (pid {pid}): my counter is {}; starting eve and bob as child processes",
        procs::process_counter()
    );
    let worker_args = vec![
        "procs".to_string(),
        "--threads".into(),
        a.threads.to_string(),
        "--increments".into(),
        a.increments.to_string(),
        "--max-sleep-ms".into(),
        a.max_sleep_ms.to_string(),
        "--worker".into(),
    ];
    let report = procs::run_parent(&exe, &worker_args, &["eve", "bob"], &|l: &str| println!("{l}"))?;
    println!(
        "parent (pid {pid}): my counter is still {} although eve and bob counted to {}: processes do not share memory",
        report.parent_counter,
        report.children.iter().map(|c| c.counts.process_counter.to_string()).collect::<Vec<_>>().join(" and ")
    );
    for c in &report.children {
        println!(
            "summary {} (pid {}): threads shared one counter ({} of {}); load-then-store lost {}; fetch_add {} and Mutex {} lost nothing",
            c.name, c.pid, c.counts.process_counter, c.counts.expected, c.counts.lost(), c.counts.atomic, c.counts.mutex
        );
    }
    Ok(ExitCode::SUCCESS)
}
