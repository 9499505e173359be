//! `sister lamport sim`: N processes running local, send and receive events on a seeded random
//! schedule, each applying Lamport's rules (and, alongside, vector clocks), with every event recorded.
//!
//! It is a simulation (one thread, a seeded schedule) on purpose: the same `--seed` gives the same run,
//! so a student can draw it by hand, compare with `--diagram`, change one thing and run it again.
//! Messages may overtake each other (a receiver picks any message waiting for it), as on a network
//! without FIFO channels; Lamport's clocks do not need FIFO.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::clock::{LamportClock, VectorClock};

/// How to run a simulation.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// Number of processes (at least 1).
    pub processes: usize,
    /// Events each process runs by its own choice (local or send or receive); messages still in
    /// flight at the end are then received, so a process may end with a few more.
    pub events: usize,
    /// Seed of the schedule.
    pub seed: u64,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EventKind {
    /// Something happened inside the process only.
    Local,
    /// The process sent message `msg` to process `to`.
    Send { to: usize, msg: usize },
    /// The process received message `msg` from process `from`.
    Receive { from: usize, msg: usize },
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Process (0-based; shown as P1, P2, ...).
    pub pid: usize,
    /// Position among this process's events (1-based).
    pub seq: usize,
    /// Position in the whole run (0-based): the order in which the simulation ran the events, which
    /// no process can observe.
    pub step: usize,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The Lamport clock of the event.
    pub lamport: u64,
    /// The vector clock of the event.
    pub vector: VectorClock,
}

/// One message: which event sent it and which received it (indices into [`Run::events`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: usize,
    pub from: usize,
    pub to: usize,
    /// The Lamport timestamp the message carried.
    pub timestamp: u64,
    pub send_event: usize,
    pub receive_event: usize,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub processes: usize,
    pub seed: u64,
    pub events: Vec<Event>,
    pub messages: Vec<Message>,
}

struct InFlight {
    id: usize,
    from: usize,
    timestamp: u64,
    vector: VectorClock,
    send_event: usize,
}

/// Run a simulation.
pub fn simulate(config: SimConfig) -> Run {
    let n = config.processes.max(1);
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut lamport = vec![LamportClock::new(); n];
    let mut vector: Vec<VectorClock> = (0..n).map(|_| VectorClock::new(n)).collect();
    let mut left = vec![config.events; n];
    let mut inbox: Vec<Vec<InFlight>> = (0..n).map(|_| Vec::new()).collect();
    let mut seq = vec![0usize; n];
    let mut events: Vec<Event> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    let mut next_msg = 0usize;

    let mut record = |pid: usize, kind: EventKind, l: u64, v: &VectorClock, events: &mut Vec<Event>| {
        seq[pid] += 1;
        events.push(Event {
            pid,
            seq: seq[pid],
            step: events.len(),
            kind,
            lamport: l,
            vector: v.clone(),
        });
        events.len() - 1
    };

    let receive = |pid: usize,
                   m: InFlight,
                   lamport: &mut [LamportClock],
                   vector: &mut [VectorClock]|
     -> (EventKind, u64, InFlight) {
        let l = lamport[pid].receive(m.timestamp);
        vector[pid].receive(pid, &m.vector);
        (
            EventKind::Receive {
                from: m.from,
                msg: m.id,
            },
            l,
            m,
        )
    };

    loop {
        let candidates: Vec<usize> = (0..n).filter(|&p| left[p] > 0).collect();
        if candidates.is_empty() {
            break;
        }
        let pid = candidates[rng.gen_range(0..candidates.len())];
        left[pid] -= 1;
        // The schedule: a random process with events left runs one, chosen by a roll in [0, 1):
        // below 0.45 and a message waiting for it, it receives one (any of them: channels are not
        // FIFO); below 0.75 otherwise, it sends to a random other process; else something local.
        // With one process there is no one to send to, so every event is local.
        let roll: f64 = rng.gen();
        if !inbox[pid].is_empty() && roll < 0.45 {
            let i = rng.gen_range(0..inbox[pid].len());
            let m = inbox[pid].swap_remove(i);
            let (kind, l, m) = receive(pid, m, &mut lamport, &mut vector);
            let at = record(pid, kind, l, &vector[pid], &mut events);
            finish_message(&mut messages, m, pid, at);
        } else if n > 1 && roll < 0.75 {
            let mut to = rng.gen_range(0..n - 1);
            if to >= pid {
                to += 1;
            }
            let l = lamport[pid].tick();
            vector[pid].tick(pid);
            let id = next_msg;
            next_msg += 1;
            let at = record(pid, EventKind::Send { to, msg: id }, l, &vector[pid], &mut events);
            inbox[to].push(InFlight {
                id,
                from: pid,
                timestamp: l,
                vector: vector[pid].clone(),
                send_event: at,
            });
        } else {
            let l = lamport[pid].tick();
            vector[pid].tick(pid);
            record(pid, EventKind::Local, l, &vector[pid], &mut events);
        }
    }
    // Deliver what is still in flight, so every message has both ends in the record.
    while let Some(pid) = (0..n).find(|&p| !inbox[p].is_empty()) {
        let m = inbox[pid].remove(0);
        let (kind, l, m) = receive(pid, m, &mut lamport, &mut vector);
        let at = record(pid, kind, l, &vector[pid], &mut events);
        finish_message(&mut messages, m, pid, at);
    }
    messages.sort_by_key(|m| m.id);
    Run {
        processes: n,
        seed: config.seed,
        events,
        messages,
    }
}

fn finish_message(messages: &mut Vec<Message>, m: InFlight, to: usize, receive_event: usize) {
    messages.push(Message {
        id: m.id,
        from: m.from,
        to,
        timestamp: m.timestamp,
        send_event: m.send_event,
        receive_event,
    });
}

impl Run {
    /// Messages that break the clock condition (a send's clock not below its receive's). Always empty
    /// for a run made by [`simulate`]; the tests check recorded runs with it.
    pub fn clock_condition_violations(&self) -> Vec<&Message> {
        self.messages
            .iter()
            .filter(
                |m| match (self.events.get(m.send_event), self.events.get(m.receive_event)) {
                    (Some(s), Some(r)) => s.lamport >= r.lamport,
                    _ => true,
                },
            )
            .collect()
    }

    /// Lamport's total order: events by (clock, process id). Ties in the clock are broken by the
    /// process id, which is arbitrary but the same for everyone, so every process can compute it.
    pub fn total_order(&self) -> Vec<&Event> {
        let mut v: Vec<&Event> = self.events.iter().collect();
        v.sort_by_key(|e| (e.lamport, e.pid));
        v
    }

    /// Pairs `(a, b)` where `a` happened before `b` (by vector clocks) but the total order puts `b`
    /// first: must be empty, as the clock condition promises.
    pub fn causality_violations(&self) -> Vec<(&Event, &Event)> {
        let mut bad = Vec::new();
        for a in &self.events {
            for b in &self.events {
                if a.vector.happened_before(&b.vector) && (a.lamport, a.pid) >= (b.lamport, b.pid) {
                    bad.push((a, b));
                }
            }
        }
        bad
    }

    /// Pairs of concurrent events (neither happened before the other) whose Lamport clocks still
    /// differ: Lamport's clock orders them, but nothing in the run does.
    pub fn concurrent_pairs(&self) -> Vec<(&Event, &Event)> {
        let mut pairs = Vec::new();
        for (i, a) in self.events.iter().enumerate() {
            for b in &self.events[i + 1..] {
                if a.vector.causal_cmp(&b.vector).is_none() {
                    pairs.push((a, b));
                }
            }
        }
        pairs
    }

    /// Check a run: clock condition for every message, total order consistent with causality.
    pub fn check(&self) -> Result<(), String> {
        if let Some(m) = self.clock_condition_violations().first() {
            return Err(format!("clock condition broken by message m{}", m.id));
        }
        if let Some((a, b)) = self.causality_violations().first() {
            return Err(format!(
                "{a} happened before {b}, but the total order puts it after"
            ));
        }
        Ok(())
    }
}

impl Event {
    /// `P2.3` (process 2, its third event): the name used in logs and the diagram.
    pub fn name(&self) -> String {
        format!("P{}.{}", self.pid + 1, self.seq)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            EventKind::Local => "local".to_string(),
            EventKind::Send { to, msg } => format!("send m{msg} to P{}", to + 1),
            EventKind::Receive { from, msg } => format!("receive m{msg} from P{}", from + 1),
        };
        write!(f, "{} {what} (L={})", self.name(), self.lamport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let c = SimConfig {
            processes: 3,
            events: 8,
            seed: 7,
        };
        assert_eq!(simulate(c), simulate(c));
        assert_ne!(simulate(c), simulate(SimConfig { seed: 8, ..c }));
    }

    #[test]
    fn clock_condition_and_causality_hold_on_many_runs() {
        for seed in 0..50 {
            for processes in 1..5 {
                let run = simulate(SimConfig {
                    processes,
                    events: 12,
                    seed,
                });
                assert!(run.check().is_ok(), "seed {seed}: {:?}", run.check());
                for m in &run.messages {
                    assert!(run.events[m.send_event].lamport < run.events[m.receive_event].lamport);
                    assert_eq!(run.events[m.send_event].lamport, m.timestamp);
                }
            }
        }
    }

    #[test]
    fn every_message_is_received_and_every_process_runs_its_events() {
        let run = simulate(SimConfig {
            processes: 4,
            events: 10,
            seed: 3,
        });
        let sends = run
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Send { .. }))
            .count();
        let receives = run
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Receive { .. }))
            .count();
        assert_eq!(sends, receives);
        assert_eq!(sends, run.messages.len());
        for p in 0..4 {
            assert!(run.events.iter().filter(|e| e.pid == p).count() >= 10);
        }
    }

    #[test]
    fn a_tampered_record_is_caught() {
        let mut run = simulate(SimConfig {
            processes: 3,
            events: 10,
            seed: 1,
        });
        let m = run.messages[0].clone();
        run.events[m.receive_event].lamport = m.timestamp; // as if the receiver forgot the "+1"
        assert!(!run.clock_condition_violations().is_empty());
        assert!(run.check().is_err());
    }

    #[test]
    fn concurrency_is_visible_only_with_vector_clocks() {
        let run = simulate(SimConfig {
            processes: 3,
            events: 10,
            seed: 5,
        });
        // Some events are concurrent; Lamport's clocks still give them an order.
        assert!(!run.concurrent_pairs().is_empty());
    }
}
