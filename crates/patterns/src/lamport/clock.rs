//! Logical clocks without any I/O: Lamport's scalar clock and the vector clock.
//!
//! Lamport, "Time, Clocks, and the Ordering of Events in a Distributed System" (CACM 21(7), 1978):
//! - IR1: a process increments its clock between any two successive events (here: before each local or
//!   send event, and as part of each receive);
//! - IR2: a message carries the sender's clock `Tm`; the receiver sets its clock to
//!   `max(own, Tm) + 1`, which the course writes as "clock = max(own, received) + 1".
//!
//! Together these give the *clock condition*: if `a → b` (a happened before b) then `C(a) < C(b)`.
//! The converse does not hold: `C(a) < C(b)` does not mean `a → b`. Vector clocks (Fidge, Mattern 1988)
//! do characterise causality: `a → b` iff `V(a) < V(b)`, and two events are concurrent iff neither
//! vector is below the other. That is what `sister lamport sim --vector` shows.

use std::cmp::Ordering;
use std::fmt;

/// A Lamport clock: one counter per process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LamportClock {
    time: u64,
}

impl LamportClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// A local or send event (IR1): advance by one and return the event's timestamp.
    pub fn tick(&mut self) -> u64 {
        self.time = self.time.saturating_add(1);
        self.time
    }

    /// A receive event (IR2): `max(own, received) + 1`; returns the event's timestamp.
    pub fn receive(&mut self, received: u64) -> u64 {
        self.time = self.time.max(received).saturating_add(1);
        self.time
    }
}

/// A vector clock for `n` processes: entry `i` counts the events of process `i` that this process has
/// heard of (its own included).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct VectorClock(pub Vec<u64>);

impl VectorClock {
    pub fn new(n: usize) -> Self {
        VectorClock(vec![0; n])
    }

    /// A local or send event of process `me`.
    pub fn tick(&mut self, me: usize) {
        if let Some(c) = self.0.get_mut(me) {
            *c += 1;
        }
    }

    /// A receive event of process `me` of a message stamped `other`: element-wise max, then tick.
    pub fn receive(&mut self, me: usize, other: &VectorClock) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = (*mine).max(*theirs);
        }
        self.tick(me);
    }

    /// `Less` if self happened before `other`, `Greater` if after, `Equal` if the same event, `None`
    /// if they are concurrent (`a ∥ b`): the partial order of causality.
    pub fn causal_cmp(&self, other: &VectorClock) -> Option<Ordering> {
        let (mut le, mut ge) = (true, true);
        for (a, b) in self.0.iter().zip(&other.0) {
            le &= a <= b;
            ge &= a >= b;
        }
        match (le, ge) {
            (true, true) => Some(Ordering::Equal),
            (true, false) => Some(Ordering::Less),
            (false, true) => Some(Ordering::Greater),
            (false, false) => None,
        }
    }

    /// True if the event stamped `self` happened before the one stamped `other`.
    pub fn happened_before(&self, other: &VectorClock) -> bool {
        self.causal_cmp(other) == Some(Ordering::Less)
    }

    /// True if neither event could have influenced the other.
    pub fn concurrent_with(&self, other: &VectorClock) -> bool {
        self.causal_cmp(other).is_none()
    }
}

impl fmt::Display for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{c}")?;
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_courses_exchange() {
        // A: add 100 and send (1). B: receive (max(0,1)+1 = 2), subtract 50 and send (3).
        // A: receive (max(1,3)+1 = 4). The timestamps in the student capture are 1 and 3.
        let (mut a, mut b) = (LamportClock::new(), LamportClock::new());
        let sent = a.tick();
        assert_eq!(sent, 1);
        assert_eq!(b.receive(sent), 2);
        let reply = b.tick();
        assert_eq!(reply, 3);
        assert_eq!(a.receive(reply), 4);
    }

    #[test]
    fn receive_never_moves_a_clock_back() {
        let mut c = LamportClock::new();
        for _ in 0..10 {
            c.tick();
        }
        assert_eq!(c.receive(3), 11);
    }

    #[test]
    fn vector_clocks_tell_concurrency() {
        let (mut p0, mut p1) = (VectorClock::new(2), VectorClock::new(2));
        p0.tick(0); // a: [1,0]
        let a = p0.clone();
        p1.tick(1); // b: [0,1], concurrent with a
        let b = p1.clone();
        assert!(a.concurrent_with(&b));
        p1.receive(1, &a); // c: [1,2], after both
        assert!(a.happened_before(&p1));
        assert!(b.happened_before(&p1));
        assert_eq!(p1.to_string(), "[1,2]");
        assert_eq!(a.causal_cmp(&a), Some(Ordering::Equal));
    }
}
