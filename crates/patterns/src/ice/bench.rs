//! Load generator for Ice: `printString` calls per second and their latency, against any Ice server
//! that holds the course's `SimplePrinter1` (sister's, the course's Python one, ZeroC's C++ one).
//!
//! Each simulated client opens its own connection, `checkedCast`s once, then calls
//! `printString(message)` twoway, waits for the reply, calls again (a closed loop) for the whole run.
//! Used by `sister bench ice` and `bench/ice.sh`.

use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use wire::ice::{Encapsulation, Identity, ENCODING_1_1};

use super::adapter::PRINTER_TYPE_ID;
use super::client::{expect_ok, Connection, IceError};
pub use crate::reqresp::bench::percentile;

/// One measurement run.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub clients: usize,
    pub duration: Duration,
    pub object: String,
    pub message: String,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub clients: usize,
    pub calls: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Run the benchmark.
pub async fn run(config: &Config) -> Result<Report, IceError> {
    let clients = config.clients.max(1);
    let identity = Identity::new(config.object.clone());
    let params = Encapsulation::build(ENCODING_1_1, |w| w.string(&config.message));
    // Connect everyone and checkedCast first, so the run measures steady state only.
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn =
            Connection::connect(&config.server, Duration::from_secs(2), Duration::from_secs(10)).await?;
        if !conn.is_a(&identity, PRINTER_TYPE_ID).await? {
            return Err(IceError::NotAPrinter(config.object.clone()));
        }
        conns.push(conn);
    }
    let barrier = std::sync::Arc::new(Barrier::new(clients + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let barrier = barrier.clone();
        let (identity, params, duration) = (identity.clone(), params.clone(), config.duration);
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(1 << 16);
            barrier.wait().await;
            let end = Instant::now() + duration;
            while Instant::now() < end {
                let t = Instant::now();
                let reply = conn.invoke(&identity, "printString", params.clone()).await?;
                expect_ok(&identity, "printString", reply)?;
                samples.push(t.elapsed());
            }
            let _ = conn.close().await;
            Ok::<_, IceError>(samples)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| IceError::Io(std::io::Error::other(e)))??);
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    Ok(Report {
        clients,
        calls: all.len() as u64,
        elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or_default(),
    })
}
