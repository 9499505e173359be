//! Leader election, two ways.
//!
//! **The course's scheme** (`--recipe priority`, the default): every node creates the ephemeral znode
//! `/leader_election_priority/node_<id>`; the node with the highest id leads; every node re-checks every
//! 5 s and reports the leader, and the leader reports its duty. When the leader dies, its znode
//! disappears with its session, and at the next check the next-highest node leads.
//!
//! Two things sister adds, and why:
//! - besides polling, each node sets a *child watch*, so a leader steps down the moment a higher node
//!   joins instead of at its next check;
//! - a node that joins with the highest id waits one check interval before leading (`taking over`),
//!   giving the old leader time to see it and step down. Without that wait the course's scheme has a
//!   window (up to one check interval) in which two nodes both believe they lead.
//!
//! **The textbook recipe** (`--recipe sequential`; ZooKeeper's "Leader Election" recipe, and exactly
//! kazoo's `Election`, which is kazoo's `Lock`): every node creates an ephemeral *sequential* znode
//! `<path>/<uuid>__lock__<seq>`; the lowest sequence number leads; every other node watches only its
//! predecessor (the next lower number). When a node dies, exactly one node is woken: no herd effect and
//! no polling. A restarted node gets a new, higher number and queues at the back: leadership is never
//! taken from a live leader. The price: a follower learns of a new leader only when its own
//! predecessor goes (it prints the leader it saw then).

use std::fmt;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, info_span, warn, Instrument};
use zookeeper_client as zk;

use super::state::{self, PriorityRole};
use super::{connect, ensure_path, ZkConfig, ZkError};
use crate::shutdown::Signal;

/// The course's election path.
pub const PRIORITY_PATH: &str = "/leader_election_priority";
/// The default path of the sequential recipe (kazoo's `zk.Election("/leader_election", ...)`).
pub const SEQUENTIAL_PATH: &str = "/leader_election";

/// Which election recipe to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// The course's: highest id leads, re-checked every interval.
    Priority,
    /// Ephemeral sequential znodes, each watching its predecessor (kazoo's `Election`).
    Sequential,
}

/// One election node.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub zk: ZkConfig,
    pub id: u64,
    pub recipe: Recipe,
    /// The course's re-check period (5 s), also the leader's duty period and the hand-over wait.
    pub interval: Duration,
    /// The election's znode; `None` for the recipe's default.
    pub path: Option<String>,
}

impl ElectionConfig {
    pub fn path(&self) -> &str {
        match (&self.path, self.recipe) {
            (Some(p), _) => p,
            (None, Recipe::Priority) => PRIORITY_PATH,
            (None, Recipe::Sequential) => SEQUENTIAL_PATH,
        }
    }
}

/// What a node tells its user; the command prints each as `node <id>: <report>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// This node leads.
    Leader,
    /// This node has the highest id and will lead after the hand-over wait.
    TakingOver,
    /// Another node leads (`leader`, e.g. `node 3`); in the sequential recipe, this node watches
    /// `predecessor`.
    Following {
        leader: String,
        predecessor: Option<String>,
    },
    /// No node leads (no znode with an id).
    NoLeader,
    /// The leader's periodic duty (the course prints it every 5 s).
    Duty(u64),
    /// Contact with ZooKeeper is lost: the node cannot know whether it still leads, so it does not.
    Disconnected,
    /// The session ended; the node rejoins with a new one.
    SessionLost(String),
}

impl Report {
    /// Does this report say that the node leads now?
    pub fn leads(&self) -> bool {
        matches!(self, Report::Leader)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Leader => write!(f, "I am the leader"),
            Report::TakingOver => write!(
                f,
                "I have the highest id: taking over after one check interval (the old leader steps down first)"
            ),
            Report::Following { leader, predecessor: None } => write!(f, "following {leader}"),
            Report::Following { leader, predecessor: Some(p) } => {
                write!(f, "following {leader} (watching only my predecessor, {p})")
            }
            Report::NoLeader => write!(f, "no leader"),
            Report::Duty(n) => write!(f, "leader duty #{n}: coordinating the cluster"),
            Report::Disconnected => write!(f, "lost contact with ZooKeeper: not leading until it is back"),
            Report::SessionLost(why) => write!(f, "session lost ({why}); rejoining the election"),
        }
    }
}

/// Run one election node until `shutdown`: connect (retrying), join, follow or lead, and after a
/// lost session join again. Every change is sent on `reports`.
pub async fn run(config: ElectionConfig, reports: UnboundedSender<Report>, mut shutdown: Signal) {
    let span = info_span!("zk-election", node = config.id);
    async move {
        loop {
            let Some(client) = connect(&config.zk, &mut shutdown).await else {
                return;
            };
            let result = match config.recipe {
                Recipe::Priority => priority_session(&client, &config, &reports, &mut shutdown).await,
                Recipe::Sequential => sequential_session(&client, &config, &reports, &mut shutdown).await,
            };
            match result {
                Ok(()) | Err(ZkError::Shutdown) => {
                    info!("leaving the election");
                    return;
                }
                Err(e) => {
                    warn!("{e}");
                    let _ = reports.send(Report::SessionLost(e.to_string()));
                    drop(client);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                        _ = shutdown.recv() => return,
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Create the ephemeral znode `path`. If it exists already and belongs to *another* session (this
/// id's previous process, killed, whose session has not expired yet), wait for it to go.
async fn create_own_ephemeral(
    client: &zk::Client,
    path: &str,
    data: &[u8],
    shutdown: &mut Signal,
) -> Result<(), ZkError> {
    let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let mut warned = false;
    loop {
        match client.create(path, data, &opts).await {
            Ok(_) => return Ok(()),
            Err(zk::Error::NodeExists) => match client.check_stat(path).await? {
                Some(stat) if stat.ephemeral_owner == client.session_id().0 => return Ok(()),
                Some(stat) => {
                    if !warned {
                        warn!(
                            "{path} exists, owned by session {:#x}: another node with this id is running, or an earlier process with this id died and its session has not expired yet; waiting for the znode to go",
                            stat.ephemeral_owner
                        );
                        warned = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = shutdown.recv() => return Err(ZkError::Shutdown),
                    }
                }
                None => continue,
            },
            Err(e) => return Err(e.into()),
        }
    }
}

/// Wait for the session to come back after a disconnection; `Err` if it ended.
async fn wait_reconnected(state: &mut zk::StateWatcher, shutdown: &mut Signal) -> Result<(), ZkError> {
    loop {
        tokio::select! {
            s = state.changed() => match s {
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {
                    info!("reconnected to ZooKeeper within the session");
                    return Ok(());
                }
                zk::SessionState::Disconnected => {}
                other => return Err(session_end(other)),
            },
            _ = shutdown.recv() => return Err(ZkError::Shutdown),
        }
    }
}

fn session_end(state: zk::SessionState) -> ZkError {
    match state {
        zk::SessionState::Expired => ZkError::SessionExpired,
        other => ZkError::Other(format!("ZooKeeper session {other:?}")),
    }
}

async fn priority_session(
    client: &zk::Client,
    config: &ElectionConfig,
    reports: &UnboundedSender<Report>,
    shutdown: &mut Signal,
) -> Result<(), ZkError> {
    let dir = config.path();
    ensure_path(client, dir).await?;
    let me = format!("{dir}/{}", state::priority_node_name(config.id));
    let mut session_state = client.state_watcher();
    create_own_ephemeral(client, &me, config.id.to_string().as_bytes(), shutdown).await?;
    info!("joined: created ephemeral {me}");
    let joined = Instant::now();
    let mut last: Option<PriorityRole> = None;
    let mut duty = 0u64;
    let mut next_duty = Instant::now();
    loop {
        let (children, _, watcher) = client.get_and_watch_children(dir).await?;
        let was_leader = last == Some(PriorityRole::Leader);
        let role = state::priority_role(
            &children,
            config.id,
            joined.elapsed().as_millis(),
            config.interval.as_millis(),
            was_leader,
        );
        debug!(?children, ?role, "checked the election");
        if !children
            .iter()
            .any(|c| state::priority_node_id(c) == Some(config.id))
        {
            return Err(ZkError::Other(format!("our znode {me} was deleted; rejoining")));
        }
        if last != Some(role) {
            let report = match role {
                PriorityRole::Leader => Report::Leader,
                PriorityRole::TakingOver => Report::TakingOver,
                PriorityRole::Follower { leader } => Report::Following {
                    leader: format!("node {leader}"),
                    predecessor: None,
                },
                PriorityRole::NoLeader => Report::NoLeader,
            };
            if was_leader {
                info!("stepping down: {report}");
            }
            info!("{report}");
            let _ = reports.send(report);
            last = Some(role);
            if role == PriorityRole::Leader {
                next_duty = Instant::now();
            }
        }
        let now = Instant::now();
        if role == PriorityRole::Leader && now >= next_duty {
            duty += 1;
            info!("{}", Report::Duty(duty));
            let _ = reports.send(Report::Duty(duty));
            next_duty = now + config.interval;
        }
        let wake = match role {
            PriorityRole::Leader => next_duty,
            PriorityRole::TakingOver => joined + config.interval,
            _ => now + config.interval,
        };
        tokio::select! {
            event = watcher.changed() => debug!(?event, "children changed"),
            _ = tokio::time::sleep_until(wake.into()) => {}
            s = session_state.changed() => match s {
                zk::SessionState::Disconnected => {
                    let _ = reports.send(Report::Disconnected);
                    warn!("{}", Report::Disconnected);
                    last = None;
                    wait_reconnected(&mut session_state, shutdown).await?;
                }
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {}
                other => return Err(session_end(other)),
            },
            _ = shutdown.recv() => return Ok(()),
        }
    }
}

/// A random 32-hex-digit prefix, as kazoo's `uuid.uuid4().hex`: it lets a contender find its own
/// znode again if the reply to its `create` was lost.
pub fn contender_prefix() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.push_str(state::LOCK_MARKER);
    s
}

/// Create our contender znode `<dir>/<prefix><seq>` (kazoo's layout); returns its name (no dir).
pub async fn create_contender(client: &zk::Client, dir: &str, identifier: &str) -> Result<String, ZkError> {
    ensure_path(client, dir).await?;
    let prefix = contender_prefix();
    let opts = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    match client
        .create(&format!("{dir}/{prefix}"), identifier.as_bytes(), &opts)
        .await
    {
        Ok((_, seq)) => Ok(format!("{prefix}{seq}")),
        // The create may have succeeded without our hearing it (the Curator/kazoo trick): look for
        // our prefix before giving up.
        Err(zk::Error::ConnectionLoss) => {
            let children = client.list_children(dir).await?;
            children
                .into_iter()
                .find(|c| c.starts_with(&prefix))
                .ok_or(ZkError::Zk(zk::Error::ConnectionLoss))
        }
        Err(e) => Err(e.into()),
    }
}

/// The identifier a contender wrote in its znode (kazoo's `identifier`), or the name if it has none.
async fn contender_label(client: &zk::Client, dir: &str, child: &str) -> String {
    match client.get_data(&format!("{dir}/{child}")).await {
        Ok((data, _)) if !data.is_empty() => String::from_utf8_lossy(&data).into_owned(),
        _ => child.to_string(),
    }
}

async fn sequential_session(
    client: &zk::Client,
    config: &ElectionConfig,
    reports: &UnboundedSender<Report>,
    shutdown: &mut Signal,
) -> Result<(), ZkError> {
    let dir = config.path();
    let mut session_state = client.state_watcher();
    let me = create_contender(client, dir, &format!("node {}", config.id)).await?;
    info!("joined: created ephemeral sequential {dir}/{me}");
    let mut last: Option<Report> = None;
    loop {
        let children = client.list_children(dir).await?;
        let pred = state::predecessor(&children, &me).map_err(|e| ZkError::Other(e.to_string()))?;
        match pred {
            None => {
                if last != Some(Report::Leader) {
                    info!("{}", Report::Leader);
                    let _ = reports.send(Report::Leader);
                    last = Some(Report::Leader);
                }
                // Lead until our own znode goes or the session does; the duty timer is not a poll of
                // ZooKeeper.
                let (stat, own) = client.check_and_watch_stat(&format!("{dir}/{me}")).await?;
                if stat.is_none() {
                    return Err(ZkError::Other(format!("our znode {me} was deleted; rejoining")));
                }
                let mut own = Box::pin(own.changed());
                let mut duty = 0u64;
                let mut tick = tokio::time::interval(config.interval);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            duty += 1;
                            info!("{}", Report::Duty(duty));
                            let _ = reports.send(Report::Duty(duty));
                        }
                        event = &mut own => {
                            debug!(?event, "our own znode changed");
                            break;
                        }
                        s = session_state.changed() => match s {
                            zk::SessionState::Disconnected => {
                                let _ = reports.send(Report::Disconnected);
                                warn!("{}", Report::Disconnected);
                                last = None;
                                wait_reconnected(&mut session_state, shutdown).await?;
                                break;
                            }
                            zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {}
                            other => return Err(session_end(other)),
                        },
                        _ = shutdown.recv() => return Ok(()),
                    }
                }
            }
            Some(p) => {
                let (stat, watcher) = client.check_and_watch_stat(&format!("{dir}/{p}")).await?;
                if stat.is_none() {
                    continue; // our predecessor went between the listing and the watch
                }
                let leader = match state::first_contender(&children) {
                    Some(l) => contender_label(client, dir, &l).await,
                    None => "nobody".to_string(),
                };
                let report = Report::Following {
                    leader,
                    predecessor: Some(contender_label(client, dir, &p).await),
                };
                if last.as_ref() != Some(&report) {
                    info!("{report}");
                    let _ = reports.send(report.clone());
                    last = Some(report);
                }
                tokio::select! {
                    event = watcher.changed() => debug!(?event, "predecessor changed"),
                    s = session_state.changed() => match s {
                        zk::SessionState::Disconnected => {
                            let _ = reports.send(Report::Disconnected);
                            last = None;
                            wait_reconnected(&mut session_state, shutdown).await?;
                        }
                        zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {}
                        other => return Err(session_end(other)),
                    },
                    _ = shutdown.recv() => return Ok(()),
                }
            }
        }
    }
}

/// One node of the lab's election, run as a task in this process.
struct LabNode {
    id: u64,
    stop: crate::shutdown::Trigger,
    reports: tokio::sync::mpsc::UnboundedReceiver<Report>,
    task: Option<tokio::task::JoinHandle<()>>,
    last: Option<Report>,
}

impl LabNode {
    async fn stop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.last = None;
    }
}

/// Who believes they lead, after reading every node's reports.
fn lab_leaders(nodes: &mut [LabNode]) -> Vec<u64> {
    for n in nodes.iter_mut() {
        while let Ok(r) = n.reports.try_recv() {
            if !matches!(r, Report::Duty(_)) {
                n.last = Some(r);
            }
        }
    }
    nodes
        .iter()
        .filter(|n| n.task.is_some() && n.last.as_ref().is_some_and(Report::leads))
        .map(|n| n.id)
        .collect()
}

async fn lab_wait_for(nodes: &mut [LabNode], want: u64, timeout: Duration) -> (Vec<u64>, Duration) {
    let start = Instant::now();
    let mut seen = lab_leaders(nodes);
    while seen != [want] && start.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = lab_leaders(nodes);
    }
    (seen, start.elapsed())
}

/// `sister lab`'s election: three nodes of the course's scheme on a private path; the highest leads;
/// when it leaves, the next-highest takes over.
pub async fn lab(checks: &crate::lab::Checks, zk: &ZkConfig) {
    let path = format!("/sister-lab-{}{}", std::process::id(), PRIORITY_PATH);
    let interval = Duration::from_millis(500);
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let (stop, signal) = crate::shutdown::channel();
        let (tx, reports) = tokio::sync::mpsc::unbounded_channel();
        let config = ElectionConfig {
            zk: zk.clone(),
            id,
            recipe: Recipe::Priority,
            interval,
            path: Some(path.clone()),
        };
        let task = Some(tokio::spawn(run(config, tx, signal).in_current_span()));
        nodes.push(LabNode {
            id,
            stop,
            reports,
            task,
            last: None,
        });
    }
    let (seen, _) = lab_wait_for(&mut nodes, 3, Duration::from_secs(15)).await;
    checks.expect_eq(
        seen,
        vec![3],
        "zk election: of nodes 1, 2, 3 the highest id (3) leads, alone",
    );
    // Node 3 leaves (its session closes, its ephemeral znode goes).
    nodes[2].stop().await;
    let (seen, took) = lab_wait_for(&mut nodes, 2, Duration::from_secs(15)).await;
    checks.expect_eq(
        seen,
        vec![2],
        "zk election: when node 3 leaves, node 2 takes over",
    );
    info!("failover to node 2 took {took:?}");
    for n in nodes.iter_mut() {
        n.stop().await;
    }
}
