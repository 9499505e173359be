//! Processes and threads: who shares memory with whom, and what a data race loses.
//!
//! `sister procs` starts two real child processes, `eve` and `bob` (the sister binary again, with a
//! hidden flag). Each sleeps a random moment, then runs three threads that increment counters:
//! - the process's global counter (a `static`): the three threads of one process all see and add to
//!   the same one, so it ends at 3 × N; but eve's and bob's are different memory, each starting at 0,
//!   and the parent's stays 0: **threads share their process's memory, processes do not**;
//! - a counter incremented as `load` then `store` (two separate atomic steps, no `unsafe`): when two
//!   threads load the same value, both store value + 1 and one increment is lost: the **lost update**;
//! - the same with `fetch_add` (one atomic read-modify-write) and with a `Mutex`: nothing is lost.
//!
//! Rust will not compile a plain `count += 1` shared between threads (the data race is a type error),
//! so the race is shown with atomics: each load and store is atomic, their *pair* is not.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// The process's global counter: one per process, shared by all of its threads.
static PROCESS_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The value of this process's global counter.
pub fn process_counter() -> u64 {
    PROCESS_COUNTER.load(Relaxed)
}

/// What one process's threads counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Threads × increments: what every counter should reach.
    pub expected: u64,
    /// The process's global counter after its threads ran (`fetch_add`).
    pub process_counter: u64,
    /// The counter incremented with a separate load and store.
    pub racy: u64,
    /// The counter incremented with `fetch_add`.
    pub atomic: u64,
    /// The counter behind a `Mutex`.
    pub mutex: u64,
}

impl Counts {
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.racy)
    }
}

/// Run `threads` threads, each incrementing every counter `increments` times.
pub fn count_with_threads(threads: usize, increments: u64) -> Counts {
    let racy = AtomicU64::new(0);
    let atomic = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..increments {
                    PROCESS_COUNTER.fetch_add(1, Relaxed);
                    // The lost update: read, (let another thread run), write back what we read + 1.
                    let seen = racy.load(Relaxed);
                    std::hint::spin_loop();
                    racy.store(seen + 1, Relaxed);
                    // The fixes.
                    atomic.fetch_add(1, Relaxed);
                    *mutex.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                }
            });
        }
    });
    Counts {
        expected: threads as u64 * increments,
        process_counter: PROCESS_COUNTER.load(Relaxed),
        racy: racy.load(Relaxed),
        atomic: atomic.load(Relaxed),
        mutex: mutex.into_inner().unwrap_or_else(|p| p.into_inner()),
    }
}

/// The child's side: sleep a random moment (as the course's demo does), count, and print. The last
/// line is the machine-readable summary the parent reads.
pub fn worker(name: &str, threads: usize, increments: u64, max_sleep: Duration) -> Counts {
    let pid = std::process::id();
    let start = PROCESS_COUNTER.load(Relaxed);
    let ms = if max_sleep.is_zero() {
        0
    } else {
        rand::thread_rng().gen_range(0..=max_sleep.as_millis() as u64)
    };
    println!("{name} (pid {pid}): my counter starts at {start}; sleeping {ms} ms");
    std::thread::sleep(Duration::from_millis(ms));
    let c = count_with_threads(threads, increments);
    println!(
        "{name} (pid {pid}): {threads} threads x {increments} increments: process counter = {} (the threads share it)",
        c.process_counter
    );
    println!(
        "{name} (pid {pid}): lost update: load-then-store counter = {} of {} ({} increments lost{})",
        c.racy,
        c.expected,
        c.lost(),
        if c.lost() == 0 {
            "; none this time: the race needs two threads running at once, try more --increments"
        } else {
            ""
        }
    );
    println!(
        "{name} (pid {pid}): fixed: fetch_add counter = {}, Mutex counter = {}",
        c.atomic, c.mutex
    );
    println!(
        "RESULT name={name} pid={pid} expected={} process={} racy={} atomic={} mutex={}",
        c.expected, c.process_counter, c.racy, c.atomic, c.mutex
    );
    c
}

/// A child's result as the parent read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildReport {
    pub name: String,
    pub pid: u32,
    pub counts: Counts,
    /// Everything the child printed.
    pub lines: Vec<String>,
}

/// What the parent saw.
#[derive(Debug, Clone)]
pub struct ProcsReport {
    pub parent_pid: u32,
    /// The parent's own global counter after its children finished: 0, since they cannot touch it.
    pub parent_counter: u64,
    pub children: Vec<ChildReport>,
}

/// Parse a child's `RESULT ...` line.
pub fn parse_result(line: &str) -> Option<(String, u32, Counts)> {
    let rest = line.strip_prefix("RESULT ")?;
    let mut name = None;
    let (mut pid, mut e, mut p, mut r, mut a, mut m) = (None, None, None, None, None, None);
    for kv in rest.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        match k {
            "name" => name = Some(v.to_string()),
            "pid" => pid = v.parse().ok(),
            "expected" => e = v.parse().ok(),
            "process" => p = v.parse().ok(),
            "racy" => r = v.parse().ok(),
            "atomic" => a = v.parse().ok(),
            "mutex" => m = v.parse().ok(),
            _ => {}
        }
    }
    Some((
        name?,
        pid?,
        Counts {
            expected: e?,
            process_counter: p?,
            racy: r?,
            atomic: a?,
            mutex: m?,
        },
    ))
}

/// Errors of the parent.
#[derive(Debug, thiserror::Error)]
pub enum ProcsError {
    #[error("cannot start the child process {name}: {source}")]
    Spawn { name: String, source: std::io::Error },
    #[error("child {name} failed ({status}) or printed no result")]
    Child { name: String, status: String },
}

/// The parent: start `names` as child processes of `exe` (`exe <worker_args..> <name>`), let them run
/// at the same time, and collect what each printed. `echo` gets every child line as it arrives.
pub fn run_parent(
    exe: &Path,
    worker_args: &[String],
    names: &[&str],
    echo: &(dyn Fn(&str) + Sync),
) -> Result<ProcsReport, ProcsError> {
    let mut children = Vec::new();
    for &name in names {
        let mut cmd = Command::new(exe);
        cmd.args(worker_args)
            .arg(name)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().map_err(|source| ProcsError::Spawn {
            name: name.to_string(),
            source,
        })?;
        children.push((name.to_string(), child));
    }
    let mut reports = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = children
            .into_iter()
            .map(|(name, mut child)| {
                s.spawn(move || {
                    let mut lines = Vec::new();
                    if let Some(out) = child.stdout.take() {
                        for line in BufReader::new(out).lines().map_while(Result::ok) {
                            if !line.starts_with("RESULT ") {
                                echo(&line);
                            }
                            lines.push(line);
                        }
                    }
                    let status = child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|e| e.to_string());
                    match lines.iter().find_map(|l| parse_result(l)) {
                        Some((n, pid, counts)) if n == name => Ok(ChildReport {
                            name,
                            pid,
                            counts,
                            lines,
                        }),
                        _ => Err(ProcsError::Child { name, status }),
                    }
                })
            })
            .collect();
        for h in handles {
            reports.push(h.join().unwrap_or_else(|_| {
                Err(ProcsError::Child {
                    name: "?".into(),
                    status: "reader thread panicked".into(),
                })
            }));
        }
    });
    Ok(ProcsReport {
        parent_pid: std::process::id(),
        parent_counter: process_counter(),
        children: reports.into_iter().collect::<Result<Vec<_>, _>>()?,
    })
}

/// `sister lab`: eve and bob as child processes of this very binary.
pub async fn lab(checks: &crate::lab::Checks) {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return checks.fail(format!(
                "procs: cannot find the sister binary to start children: {e}"
            ))
        }
    };
    let args = vec![
        "procs".to_string(),
        "--increments".into(),
        "200000".into(),
        "--worker".into(),
    ];
    // The children's lines are logged inside a `procs` span, on the blocking thread too, so the lab's
    // transcript shows them.
    let span = tracing::info_span!("procs");
    let result = tokio::task::spawn_blocking(move || {
        span.in_scope(|| run_parent(&exe, &args, &["eve", "bob"], &|l: &str| tracing::info!("{l}")))
    })
    .await;
    let report = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return checks.fail(format!("procs: {e}")),
        Err(e) => return checks.fail(format!("procs: {e}")),
    };
    checks.expect_eq(
        report.children.len(),
        2,
        "procs: eve and bob ran as two processes",
    );
    checks.expect(
        report.children.iter().all(|c| c.pid != report.parent_pid)
            && report.children[0].pid != report.children[1].pid,
        "procs: each has its own process id",
    );
    checks.expect_eq(
        report.parent_counter,
        0,
        "procs: the parent's counter stays 0 (processes do not share memory)",
    );
    for c in &report.children {
        checks.expect_eq(
            c.counts.process_counter,
            c.counts.expected,
            format!(
                "procs: {}'s three threads all added to one counter (threads share memory)",
                c.name
            ),
        );
        checks.expect(
            c.counts.atomic == c.counts.expected && c.counts.mutex == c.counts.expected,
            format!("procs: {}'s fetch_add and Mutex counters lose nothing", c.name),
        );
        tracing::info!(
            "{}: load-then-store lost {} of {} increments",
            c.name,
            c.counts.lost(),
            c.counts.expected
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_never_lose_and_the_race_never_invents() {
        let c = count_with_threads(3, 20_000);
        assert_eq!(c.expected, 60_000);
        assert_eq!(c.atomic, 60_000);
        assert_eq!(c.mutex, 60_000);
        assert!(c.racy <= 60_000);
        assert!(c.process_counter >= 60_000, "other tests may have counted too");
    }

    #[test]
    fn parses_the_result_line() {
        let (n, pid, c) =
            parse_result("RESULT name=eve pid=12 expected=30 process=30 racy=21 atomic=30 mutex=30").unwrap();
        assert_eq!((n.as_str(), pid, c.lost()), ("eve", 12, 9));
        assert!(parse_result("RESULT name=eve").is_none());
        assert!(parse_result("eve: hello").is_none());
    }
}
