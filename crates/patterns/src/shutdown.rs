//! Graceful shutdown as a value every task can hold.
//!
//! Pressing Ctrl+C (or `docker stop`, which sends SIGTERM) flips one [`Trigger`]; every [`Signal`] cloned
//! from it wakes up. A server stops accepting, tells its connections, gives them a grace period to
//! finish, and exits 0. This is mini-redis's `Shutdown`, on a `tokio::sync::watch` channel.

use tokio::sync::watch;

/// The sending side: call [`Trigger::trigger`] once to start the shutdown.
#[derive(Debug, Clone)]
pub struct Trigger(watch::Sender<bool>);

/// The receiving side, cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Signal(watch::Receiver<bool>);

/// A new trigger and its first signal.
pub fn channel() -> (Trigger, Signal) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Signal(rx))
}

impl Trigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }

    /// Another signal watching this trigger.
    pub fn subscribe(&self) -> Signal {
        Signal(self.0.subscribe())
    }
}

impl Signal {
    /// A signal that never fires (for code run without a shutdown, such as one-shot clients).
    pub fn never() -> Signal {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive forever so `changed()` never reports a closed channel.
        std::mem::forget(tx);
        Signal(rx)
    }

    /// Has the shutdown started?
    pub fn is_shutdown(&self) -> bool {
        *self.0.borrow()
    }

    /// Wait until the shutdown starts (returns at once if it already has).
    pub async fn recv(&mut self) {
        // An error means every Trigger was dropped: treat that as a shutdown too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Wait for Ctrl+C or SIGTERM, whichever comes first.
pub async fn ctrl_c_or_sigterm() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A trigger that fires on Ctrl+C or SIGTERM, for the binary's `main`.
pub fn on_ctrl_c() -> Signal {
    let (trigger, signal) = channel();
    tokio::spawn(async move {
        ctrl_c_or_sigterm().await;
        tracing::info!("shutdown requested (Ctrl+C or SIGTERM)");
        trigger.trigger();
    });
    signal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_signal_wakes() {
        let (trigger, mut a) = channel();
        let mut b = trigger.subscribe();
        assert!(!a.is_shutdown());
        trigger.trigger();
        a.recv().await;
        b.recv().await;
        assert!(b.is_shutdown());
    }
}
