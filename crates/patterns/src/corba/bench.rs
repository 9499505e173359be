//! Load generator for CORBA: `sayHello` calls per second and their latency, against any server
//! holding a `HelloApp::Hello` (sister's, omniORB's C++ one), named by its IOR or corbaloc.
//!
//! Each simulated client opens its own connection, narrows once (`_is_a`), then calls `sayHello()`
//! twoway, waits for the reply, calls again (a closed loop) for the whole run. Used by
//! `sister bench corba` and `bench/corba.sh`.

use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use super::client::{expect_ok, Connection, CorbaError, ObjectRef};
use super::HELLO_TYPE_ID;
pub use crate::reqresp::bench::percentile;

/// One measurement run.
#[derive(Debug, Clone)]
pub struct Config {
    pub object: ObjectRef,
    pub clients: usize,
    pub duration: Duration,
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
pub async fn run(config: &Config) -> Result<Report, CorbaError> {
    let clients = config.clients.max(1);
    let object = &config.object;
    let target = object.describe();
    // Connect everyone and narrow first, so the run measures steady state only.
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn =
            Connection::connect(&object.addr, Duration::from_secs(2), Duration::from_secs(10)).await?;
        conn.version = object.version;
        let reply = expect_ok(
            conn.invoke(&object.key, "_is_a", |w| w.string(HELLO_TYPE_ID))
                .await?,
            &target,
            "_is_a",
        )?;
        if reply.body.reader().boolean("_is_a").ok() != Some(true) {
            return Err(CorbaError::WrongType {
                target,
                type_id: HELLO_TYPE_ID.into(),
            });
        }
        conns.push(conn);
    }
    let barrier = std::sync::Arc::new(Barrier::new(clients + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let barrier = barrier.clone();
        let (key, duration, target) = (object.key.clone(), config.duration, target.clone());
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(1 << 16);
            barrier.wait().await;
            let end = Instant::now() + duration;
            while Instant::now() < end {
                let t = Instant::now();
                let reply = conn.invoke(&key, "sayHello", |_| {}).await?;
                expect_ok(reply, &target, "sayHello")?;
                samples.push(t.elapsed());
            }
            conn.close().await;
            Ok::<_, CorbaError>(samples)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let samples = done.map_err(|e| CorbaError::Io {
            addr: object.addr.clone(),
            source: std::io::Error::other(e),
        })??;
        all.extend(samples);
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
