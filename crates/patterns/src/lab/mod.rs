//! What each pattern gives `sister lab`: a scenario that runs its server and client on loopback with
//! the worksheet's inputs, and checks that they behaved as the worksheet says.
//!
//! The contract, for every pattern:
//! ```ignore
//! /// In `patterns/src/<pattern>/mod.rs`:
//! pub async fn lab(checks: &lab::Checks) { ... }
//! ```
//! - Bind servers on `127.0.0.1:0` and hand the real address to the clients (no fixed ports: the lab
//!   must run next to anything else on the machine).
//! - The transcript the student reads is the scenario's `tracing` output: servers and clients already log
//!   every event inside a span named for their role (`reqresp-server`, `mqtt-sub`, ...), and the lab
//!   runner prints those lines per pattern, prefixed by the role. So log as you would for a student at a
//!   terminal, and the lab shows it.
//! - Record every expectation with [`Checks::expect`]; the lab exits non-zero if any failed, naming it.
//! - Stop everything you started before returning (trigger your shutdown, await your tasks).

pub mod docker;

use std::fmt::Display;
use std::sync::Mutex;

/// The expectations of one pattern's scenario, and which of them failed.
#[derive(Debug, Default)]
pub struct Checks {
    results: Mutex<Vec<(String, bool)>>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one expectation: `what` says, in the worksheet's words, what should have happened.
    pub fn expect(&self, ok: bool, what: impl Display) -> bool {
        let what = what.to_string();
        if ok {
            tracing::debug!(check = %what, "ok");
        } else {
            tracing::warn!(check = %what, "expectation failed");
        }
        self.lock().push((what, ok));
        ok
    }

    /// Record a failure that is not a comparison (a server that would not start, a timeout).
    pub fn fail(&self, what: impl Display) {
        self.expect(false, what);
    }

    /// Compare what happened with what should have, recording both when they differ.
    pub fn expect_eq<T: PartialEq + std::fmt::Debug>(&self, got: T, want: T, what: impl Display) -> bool {
        if got == want {
            self.expect(true, what)
        } else {
            self.expect(false, format!("{what}: got {got:?}, expected {want:?}"))
        }
    }

    /// Record that a server task (spawned by the scenario, then told to shut down) stopped cleanly.
    pub fn expect_stopped<E: Display>(
        &self,
        server: &str,
        joined: Result<Result<(), E>, tokio::task::JoinError>,
    ) {
        match joined {
            Ok(Ok(())) => {
                self.expect(true, format!("{server} stops on shutdown"));
            }
            Ok(Err(e)) => self.fail(format!("{server} failed: {e}")),
            Err(e) => self.fail(format!("{server} task: {e}")),
        }
    }

    /// Every expectation recorded so far, in order, with whether it held.
    pub fn results(&self) -> Vec<(String, bool)> {
        self.lock().clone()
    }

    /// The expectations that failed.
    pub fn failures(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(w, _)| w.clone())
            .collect()
    }

    /// True when at least one expectation was recorded and none failed.
    pub fn passed(&self) -> bool {
        let r = self.lock();
        !r.is_empty() && r.iter().all(|(_, ok)| *ok)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, bool)>> {
        // A panicking scenario must not hide the checks recorded before it.
        self.results.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_only_when_something_was_checked_and_nothing_failed() {
        let c = Checks::new();
        assert!(!c.passed(), "no checks is not a pass");
        c.expect(true, "a");
        assert!(c.passed());
        c.expect_eq(1, 2, "b");
        assert!(!c.passed());
        assert_eq!(c.failures(), vec!["b: got 1, expected 2".to_string()]);
    }
}
