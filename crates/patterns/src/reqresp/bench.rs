//! Load generator for request/response: round trips per second and latency percentiles.
//!
//! Each simulated client opens its own connection and does request, wait for reply, request... for the
//! whole run (a closed loop, as a person or the course's client would, only faster). Latency is measured
//! per round trip; throughput is all round trips over the run time. Used by `sister bench reqresp`, both
//! against sister's server and against the course's Python `server.py` (which serves one client only).

use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use wire::frame::Mode;

use crate::framing::{ClientConn, ClientError, Framing};

/// One measurement run.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub clients: usize,
    pub duration: Duration,
    pub framing: Framing,
    pub message: Vec<u8>,
    /// How long the first reply may take before the server is declared unresponsive.
    pub first_reply_timeout: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub clients: usize,
    pub mode: Mode,
    pub round_trips: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The `p`-quantile (0..=1) of sorted samples (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Run the benchmark.
pub async fn run(config: &Config) -> Result<Report, ClientError> {
    let clients = config.clients.max(1);
    // Connect everyone and do one warm-up round trip first, so the run measures steady state only.
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn = ClientConn::connect(&config.server, Duration::from_secs(2), config.framing).await?;
        match tokio::time::timeout(config.first_reply_timeout, conn.request(&config.message)).await {
            Ok(reply) => {
                reply?.ok_or(ClientError::ServerClosed)?;
            }
            Err(_) => {
                return Err(ClientError::NoReply(format!(
                    "client {} of {clients} got no reply within {:?}: the server serves fewer clients at \
                     once (the course's server.py serves exactly one)",
                    conns.len() + 1,
                    config.first_reply_timeout
                )))
            }
        }
        conns.push(conn);
    }
    let mode = conns.first().map(|c| c.mode()).unwrap_or(Mode::Framed);
    let barrier = std::sync::Arc::new(Barrier::new(clients + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let barrier = barrier.clone();
        let message = config.message.clone();
        let duration = config.duration;
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(1 << 16);
            barrier.wait().await;
            let end = Instant::now() + duration;
            while Instant::now() < end {
                let t = Instant::now();
                conn.request(&message).await?.ok_or(ClientError::ServerClosed)?;
                samples.push(t.elapsed());
            }
            let _ = conn.finish().await;
            Ok::<_, ClientError>(samples)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let samples = done.map_err(|e| ClientError::Io(std::io::Error::other(e)))??;
        all.extend(samples);
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    Ok(Report {
        clients,
        mode,
        round_trips: all.len() as u64,
        elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&s, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(percentile(&s[..1], 0.99), Duration::from_millis(1));
    }
}
