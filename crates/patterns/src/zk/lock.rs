//! A distributed lock: kazoo's `Lock` recipe, znode for znode, and the course's balance demo.
//!
//! The recipe (ZooKeeper's "Locks" recipe; kazoo `kazoo/recipe/lock.py`):
//! 1. create the ephemeral sequential znode `<lock>/<uuid hex>__lock__<seq>` (data: an identifier);
//! 2. list the children; contenders are the names matching `__lock__(-?\d{10})$`;
//! 3. no contender with a lower sequence number: we hold the lock;
//! 4. otherwise watch the *predecessor* (the next lower number) and go back to 2 when it changes.
//!
//! Because sister names and orders its znodes exactly as kazoo does, a kazoo client and a sister
//! client queue in the same line and exclude each other. Release = delete our znode; a holder that
//! dies releases with its session (the znode is ephemeral), after the session timeout.
//!
//! The demo: `/balance` holds a decimal number (1000 to start). Client A takes `/balance_lock`, reads
//! the balance, holds the lock 20 s, writes balance + 500. Client B, started meanwhile, waits for the
//! lock, then writes balance - 300. With the lock the result is 1200; without it B would read 1000 while
//! A holds it and one update would be lost.

use std::time::Duration;

use tracing::{debug, info, info_span, warn, Instrument};
use zookeeper_client as zk;

use super::election::create_contender;
use super::state;
use super::{connect, ZkConfig, ZkError};
use crate::shutdown::Signal;

/// The course's lock and balance znodes, and its starting balance.
pub const LOCK_PATH: &str = "/balance_lock";
pub const BALANCE_PATH: &str = "/balance";
pub const START_BALANCE: i64 = 1000;

/// A held lock: our contender znode. Release it with [`HeldLock::release`]; if the process dies
/// instead, the session's end deletes it.
#[derive(Debug)]
pub struct HeldLock {
    pub dir: String,
    pub node: String,
}

impl HeldLock {
    pub async fn release(self, client: &zk::Client) -> Result<(), ZkError> {
        match client.delete(&format!("{}/{}", self.dir, self.node), None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Acquire the lock at `dir` (blocking until our turn), kazoo-compatible.
pub async fn acquire(
    client: &zk::Client,
    dir: &str,
    identifier: &str,
    shutdown: &mut Signal,
) -> Result<HeldLock, ZkError> {
    let node = create_contender(client, dir, identifier).await?;
    debug!("queued as {dir}/{node}");
    let mut session_state = client.state_watcher();
    loop {
        let children = client.list_children(dir).await?;
        let pred = state::predecessor(&children, &node).map_err(|e| ZkError::Other(e.to_string()))?;
        let Some(pred) = pred else {
            return Ok(HeldLock {
                dir: dir.to_string(),
                node,
            });
        };
        let (stat, watcher) = client.check_and_watch_stat(&format!("{dir}/{pred}")).await?;
        if stat.is_none() {
            continue;
        }
        let holder = state::first_contender(&children).unwrap_or_default();
        let label = match client.get_data(&format!("{dir}/{holder}")).await {
            Ok((d, _)) if !d.is_empty() => String::from_utf8_lossy(&d).into_owned(),
            _ => holder.clone(),
        };
        info!("waiting for the lock {dir}: held by {label}; watching only my predecessor {pred}");
        tokio::select! {
            event = watcher.changed() => debug!(?event, "predecessor changed"),
            s = session_state.changed() => match s {
                zk::SessionState::Disconnected | zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {}
                zk::SessionState::Expired => return Err(ZkError::SessionExpired),
                other => return Err(ZkError::Other(format!("ZooKeeper session {other:?}"))),
            },
            _ = shutdown.recv() => {
                let _ = client.delete(&format!("{dir}/{node}"), None).await;
                return Err(ZkError::Shutdown);
            }
        }
    }
}

/// Which of the course's two clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    A,
    B,
}

/// One run of the balance demo.
#[derive(Debug, Clone)]
pub struct LockDemoConfig {
    pub zk: ZkConfig,
    pub role: Role,
    /// How long to hold the lock between reading and writing (A: 20 s, B: 0).
    pub hold: Duration,
    /// What to add (A: +500, B: -300).
    pub amount: i64,
    pub lock_path: String,
    pub balance_path: String,
    /// Set the balance to 1000 before starting (otherwise only created if missing).
    pub reset: bool,
}

impl LockDemoConfig {
    pub fn course(role: Role, zk: ZkConfig) -> Self {
        let (hold, amount) = match role {
            Role::A => (Duration::from_secs(20), 500),
            Role::B => (Duration::ZERO, -300),
        };
        LockDemoConfig {
            zk,
            role,
            hold,
            amount,
            lock_path: LOCK_PATH.into(),
            balance_path: BALANCE_PATH.into(),
            reset: false,
        }
    }
}

/// What the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockDemoResult {
    pub read: i64,
    pub written: i64,
}

fn parse_balance(data: &[u8], path: &str) -> Result<i64, ZkError> {
    let text = String::from_utf8_lossy(data);
    text.trim().parse().map_err(|_| {
        ZkError::Other(format!(
            "{path} holds {text:?}, not a number; reset it with --reset"
        ))
    })
}

/// The course's lock client: connect (retrying), take the lock, read, hold, write, release.
/// Progress goes to `say` (the command prints it).
pub async fn run_demo(
    config: LockDemoConfig,
    say: impl Fn(String),
    mut shutdown: Signal,
) -> Result<LockDemoResult, ZkError> {
    let name = match config.role {
        Role::A => "client A",
        Role::B => "client B",
    };
    let span = info_span!("zk-lock", client = name);
    async move {
        loop {
            let Some(client) = connect(&config.zk, &mut shutdown).await else {
                return Err(ZkError::Shutdown);
            };
            match demo_session(&client, &config, name, &say, &mut shutdown).await {
                Err(e) if e.ends_session() => {
                    warn!("{e}");
                    say(format!("{name}: {e}"));
                }
                other => return other,
            }
        }
    }
    .instrument(span)
    .await
}

async fn demo_session(
    client: &zk::Client,
    config: &LockDemoConfig,
    name: &str,
    say: &impl Fn(String),
    shutdown: &mut Signal,
) -> Result<LockDemoResult, ZkError> {
    let bal = &config.balance_path;
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    // Like kazoo's `create(..., makepath=True)`: the balance's parents are created if missing.
    if let Some((parent, _)) = bal.rsplit_once('/') {
        if !parent.is_empty() {
            super::ensure_path(client, parent).await?;
        }
    }
    if config.reset {
        match client
            .set_data(bal, START_BALANCE.to_string().as_bytes(), None)
            .await
        {
            Ok(_) => {}
            Err(zk::Error::NoNode) => {
                let _ = client
                    .create(bal, START_BALANCE.to_string().as_bytes(), &opts)
                    .await;
            }
            Err(e) => return Err(e.into()),
        }
        say(format!("{name}: {bal} reset to {START_BALANCE}"));
    } else {
        match client
            .create(bal, START_BALANCE.to_string().as_bytes(), &opts)
            .await
        {
            Ok(_) => say(format!("{name}: created {bal} = {START_BALANCE}")),
            Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    say(format!("{name}: waiting for the lock {}", config.lock_path));
    let held = acquire(client, &config.lock_path, name, shutdown).await?;
    say(format!(
        "{name}: acquired the lock {} ({}/{})",
        config.lock_path, held.dir, held.node
    ));
    let (data, stat) = client.get_data(bal).await?;
    let read = parse_balance(&data, bal)?;
    say(format!("{name}: read balance {read}"));
    if !config.hold.is_zero() {
        say(format!("{name}: holding the lock for {:?}", config.hold));
        let mut session_state = client.state_watcher();
        let until = tokio::time::Instant::now() + config.hold;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                s = session_state.changed() => match s {
                    // Our znode went with the session: someone else may hold the lock now. Writing
                    // would be a lost update; start over instead.
                    zk::SessionState::Expired => {
                        say(format!("{name}: session expired while holding the lock: the lock is lost, nothing written"));
                        return Err(ZkError::SessionExpired);
                    }
                    zk::SessionState::Closed | zk::SessionState::AuthFailed => {
                        return Err(ZkError::Other(format!("ZooKeeper session {s:?} while holding the lock; nothing written")));
                    }
                    _ => {}
                },
                _ = shutdown.recv() => {
                    let _ = held.release(client).await;
                    return Err(ZkError::Shutdown);
                }
            }
        }
    }
    let written = read + config.amount;
    // The version check is a second safety net: if someone wrote without the lock, this fails.
    match client.set_data(bal, written.to_string().as_bytes(), Some(stat.version)).await {
        Ok(_) => {}
        Err(zk::Error::BadVersion) => {
            return Err(ZkError::Other(format!(
                "{bal} changed while we held the lock (someone wrote without it, or our session was lost): nothing written"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    say(format!(
        "{name}: wrote balance {written} ({read} {:+})",
        config.amount
    ));
    // From here on the work is done: a failed release must not make us start over (and add twice);
    // the lock goes with our session anyway.
    match held.release(client).await {
        Ok(()) => say(format!("{name}: released the lock")),
        Err(e) => say(format!(
            "{name}: could not delete the lock znode ({e}); it goes when this session ends"
        )),
    }
    Ok(LockDemoResult { read, written })
}

/// `sister lab`'s lock demo: A holds 2 s and adds 500, B (started meanwhile) subtracts 300: 1200.
pub async fn lab(checks: &crate::lab::Checks, zk: &ZkConfig) {
    let base = format!("/sister-lab-{}", std::process::id());
    let mk = |role| LockDemoConfig {
        lock_path: format!("{base}{LOCK_PATH}"),
        balance_path: format!("{base}{BALANCE_PATH}"),
        hold: if role == Role::A {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        },
        reset: role == Role::A,
        ..LockDemoConfig::course(role, zk.clone())
    };
    let say = |s: String| info!("{s}");
    let a = tokio::spawn(run_demo(mk(Role::A), say, Signal::never()).in_current_span());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let b = run_demo(mk(Role::B), say, Signal::never()).await;
    let a = a.await;
    match (a, b) {
        (Ok(Ok(a)), Ok(b)) => {
            checks.expect_eq(
                (a.read, a.written),
                (1000, 1500),
                "zk lock: A reads 1000 and writes 1500",
            );
            checks.expect_eq(
                (b.read, b.written),
                (1500, 1200),
                "zk lock: B waits for A, reads 1500, writes 1200",
            );
        }
        (a, b) => checks.fail(format!("zk lock: the demo failed: A {a:?}, B {b:?}")),
    }
    // Tidy up the lab's private znodes.
    if let Ok(Ok(client)) =
        tokio::time::timeout(Duration::from_secs(5), zk::Client::connect(&zk.server)).await
    {
        for p in [
            format!("{base}{LOCK_PATH}"),
            format!("{base}{BALANCE_PATH}"),
            format!("{base}{}", super::election::PRIORITY_PATH),
            base.clone(),
        ] {
            let _ = client.delete(&p, None).await;
        }
    }
}
