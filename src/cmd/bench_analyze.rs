//! `sister bench analyze`: how fast `sister analyze` reads a large capture, next to tshark, in one run.
//!
//! 1. Write a large capture of mixed lab traffic (MQTT publishers, REST clients, ZeroMQ REQ/REP) with
//!    sister's own pcap writer (`capture::synth`: real TCP conversations, consistent seq/ack, valid
//!    checksums), unless the file is already there.
//! 2. Time `sister analyze --format json FILE` (the median of five runs) and `tshark -r FILE -Y mqtt -T fields -e frame.number
//!    -e mqtt.msgtype -e mqtt.topic` on it, each under `/usr/bin/time -v` for the peak memory (maximum
//!    resident set size), output read and dropped
//!    (tshark's lines counted: the MQTT packets it dissected).
//! 3. Print both, the speed-ups (wall-clock and CPU time) and the memory ratio. The goal (issue 4): at
//!    least 50x tshark's speed, at most a fifth of its peak memory. Results: bench/RESULTS-analyze.md.
//!
//! With `--merge CAPTURE`, step 1 writes `--copies N` copies of a real capture instead, one after the
//! other, each copy's client ports moved so that it is new conversations (`capture::repeat`): real
//! traffic at a size worth timing. tshark then dissects every copy, and the line count it prints says so.
//!
//! A benchmark, not a test: it prints figures for a person; it fails only if a program fails.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister bench analyze                               1 GB capture in /tmp/sister-bench-analyze.pcap
  sister bench analyze --size 200M --file big.pcap   a smaller one
  sister bench analyze --merge lab.pcap --copies 300 a real capture, 300 times over
  bench/analyze.sh                                   the same, with a release build first")]
pub struct AnalyzeBench {
    /// The capture to analyze; written first if it does not exist [default:
    /// /tmp/sister-bench-analyze.pcap, or /tmp/sister-bench-merged.pcap with --merge]
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Instead of synthetic traffic, copies of this real capture (always written afresh)
    #[arg(long, value_name = "CAPTURE")]
    pub merge: Option<PathBuf>,
    /// How many copies of the --merge capture
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub copies: u32,
    /// How big a capture to write: bytes, or with a suffix K, M, G
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub size: u64,
    /// Write the capture again even if the file exists
    #[arg(long)]
    pub regenerate: bool,
    /// Only write the capture
    #[arg(long)]
    pub only_write: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1G, 200M, 5000000)"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("{s:?} is not a positive size"));
    }
    Ok((n * mult as f64) as u64)
}

/// What `/usr/bin/time -v` measured.
struct Measured {
    wall_s: f64,
    /// User + system CPU time: the fair figure on a machine other work is loading (wall time then
    /// measures the queue for the CPU as much as the program).
    cpu_s: f64,
    max_rss_kb: u64,
    /// Lines the program printed (for tshark -T fields: the MQTT packets it dissected).
    lines: usize,
}

/// Run `cmd` under `/usr/bin/time -v`, its stdout read into memory (to count its lines) and dropped.
fn measure(what: &str, program: &Path, args: &[&str]) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run /usr/bin/time (Debian package `time`)")?;
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            err.lines().take(5).collect::<Vec<_>>().join("\n")
        );
    }
    let field = |name: &str| -> Option<f64> {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    let max_rss_kb = field("Maximum resident set size (kbytes):")
        .context("no 'Maximum resident set size' in /usr/bin/time's output")? as u64;
    let cpu_s = field("User time (seconds):").unwrap_or(0.0) + field("System time (seconds):").unwrap_or(0.0);
    Ok(Measured {
        wall_s: wall,
        cpu_s: cpu_s.max(0.001),
        max_rss_kb,
        lines: out.stdout.iter().filter(|&&b| b == b'\n').count(),
    })
}

pub async fn run(a: AnalyzeBench) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || blocking(a))
        .await
        .context("bench thread")?
}

fn blocking(a: AnalyzeBench) -> anyhow::Result<ExitCode> {
    let file = a.file.clone().unwrap_or_else(|| {
        PathBuf::from(if a.merge.is_some() {
            "/tmp/sister-bench-merged.pcap"
        } else {
            "/tmp/sister-bench-analyze.pcap"
        })
    });
    if let Some(real) = &a.merge {
        println!(
            "writing {} ({} copies of {}) ...",
            file.display(),
            a.copies,
            real.display()
        );
        let start = Instant::now();
        let out =
            std::fs::File::create(&file).with_context(|| format!("cannot create {}", file.display()))?;
        let w =
            capture::repeat::write_copies(real, std::io::BufWriter::with_capacity(1 << 20, out), a.copies)
                .with_context(|| format!("cannot copy {} into {}", real.display(), file.display()))?;
        println!(
            "  {} packets ({} per copy, {} with a moved client port{}) in {:.1} s",
            w.packets,
            w.packets_per_copy,
            w.ports_moved,
            if w.skipped > 0 {
                format!(", {} left out for another link type", w.skipped)
            } else {
                String::new()
            },
            start.elapsed().as_secs_f64()
        );
    } else if a.regenerate || !file.exists() {
        println!(
            "writing {} ({} MB of MQTT/HTTP/ZMTP traffic) ...",
            file.display(),
            a.size >> 20
        );
        let start = Instant::now();
        let out =
            std::fs::File::create(&file).with_context(|| format!("cannot create {}", file.display()))?;
        let w = capture::synth::write_mixed(std::io::BufWriter::with_capacity(1 << 20, out), a.size, 16, 1)
            .with_context(|| format!("cannot write {}", file.display()))?;
        println!(
            "  {} packets, {} conversations, {} MQTT PUBLISH, {} HTTP requests, {} ZMTP messages in {:.1} s",
            w.packets,
            w.conversations,
            w.mqtt_publish,
            w.http_requests,
            w.zmtp_messages,
            start.elapsed().as_secs_f64()
        );
    }
    if a.only_write {
        return Ok(ExitCode::SUCCESS);
    }
    let size = std::fs::metadata(&file)?.len();
    let mb = size as f64 / (1 << 20) as f64;
    let file = file.display().to_string();
    let sister = std::env::current_exe().context("cannot find the sister binary")?;
    if cfg!(debug_assertions) {
        println!(
            "note: this sister is a debug build; use a release build for figures (bench/analyze.sh does)"
        );
    }
    println!("capture: {file}, {mb:.0} MB");

    // sister's run is short (a fraction of a second on a real capture merged 300 times), so one run
    // is at the mercy of whatever else the machine does in that moment: take the median of five.
    let mut runs = (0..5)
        .map(|_| {
            measure(
                "sister analyze",
                &sister,
                &["analyze", "--format", "json", "--no-docker", &file],
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    runs.sort_by(|a, b| a.cpu_s.total_cmp(&b.cpu_s));
    let ours = runs.swap_remove(2);
    let show = |name: &str, m: &Measured| {
        println!(
            "  {name:<30} wall {:>7.2} s  cpu {:>7.2} s  {:>8.1} MB/s of cpu  peak memory {:>7.1} MB",
            m.wall_s,
            m.cpu_s,
            mb / m.cpu_s,
            m.max_rss_kb as f64 / 1024.0
        )
    };
    show("sister analyze --format json", &ours);
    println!("  (sister: the median of 5 runs by CPU time; tshark: one run)");
    let tshark = which("tshark").context("tshark is not installed (Debian package tshark)")?;
    let theirs = measure(
        "tshark",
        &tshark,
        &[
            "-n",
            "-r",
            &file,
            "-Y",
            "mqtt",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "mqtt.msgtype",
            "-e",
            "mqtt.topic",
        ],
    )?;
    show("tshark -Y mqtt -T fields", &theirs);
    println!("  tshark dissected {} MQTT packets", theirs.lines);
    let speedup_wall = theirs.wall_s / ours.wall_s;
    let speedup = theirs.cpu_s / ours.cpu_s;
    let goal = |x: f64| if x >= 50.0 { "met" } else { "NOT met" };
    println!(
        "on wall-clock time sister is {speedup_wall:.1}x tshark's speed (goal ≥ 50x: {}; load on this machine: {})",
        goal(speedup_wall),
        load()
    );
    let memory = ours.max_rss_kb as f64 / theirs.max_rss_kb.max(1) as f64;
    println!(
        "on CPU time sister is {speedup:.1}x tshark's speed (goal ≥ 50x: {}), with {:.1}% of its peak memory (goal ≤ 20%: {})",
        goal(speedup),
        memory * 100.0,
        if memory <= 0.2 { "met" } else { "NOT met" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The 1-minute load average, to read the wall-clock figures by.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("200m").unwrap(), 200 << 20);
        assert_eq!(parse_size("1.5K").unwrap(), 1536);
        assert_eq!(parse_size("5000").unwrap(), 5000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1M").is_err());
    }
}
