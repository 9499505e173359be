//! Election and lock decisions without any I/O: given the children of a znode, who leads, and whose
//! turn it is. Everything here is a pure function of a list of names, so it is tested offline; the
//! ZooKeeper code around it only lists children, creates, deletes and watches.

/// The name under `/leader_election_priority` of the course's node `id`: `node_<id>`.
pub fn priority_node_name(id: u64) -> String {
    format!("node_{id}")
}

/// The node id in a child of `/leader_election_priority`: the digits at the end of its name
/// (`node_3` → 3). Other names (written by some other program) are ignored.
pub fn priority_node_id(child: &str) -> Option<u64> {
    let digits = child.len() - child.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    child[child.len() - digits..].parse().ok()
}

/// The course's rule: the child with the highest node id leads. `None` when no child has an id.
pub fn priority_leader<S: AsRef<str>>(children: &[S]) -> Option<u64> {
    children.iter().filter_map(|c| priority_node_id(c.as_ref())).max()
}

/// The marker between a contender's UUID and its sequence number in kazoo's `Lock` (and so
/// `Election`): children are named `<32 hex digits>__lock__<10-digit sequence>`.
pub const LOCK_MARKER: &str = "__lock__";

/// The sequence number of a lock contender, as kazoo's regex `(?:__lock__)(-?\d{10})$` reads it.
/// Names that do not match are not contenders (kazoo ignores them too).
pub fn contender_sequence(child: &str) -> Option<i64> {
    let (_uuid, seq) = child.rsplit_once(LOCK_MARKER)?;
    let digits = seq.strip_prefix('-').unwrap_or(seq);
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok()
}

/// Why a contender cannot tell its turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// Our own znode is not among the children: it was deleted (our session expired), so we must
    /// create a new one. kazoo raises `ForceRetryError` here.
    #[error("our znode {0} is gone (session expired?); a new one must be created")]
    NotAContender(String),
}

/// The recipe of kazoo's `Lock._get_predecessor` (and the ZooKeeper recipes page, "Locks"): the
/// contender with the largest sequence number below ours. `Ok(None)` means no one is ahead: we hold the
/// lock, or lead the election. Only the predecessor is watched, so a release wakes exactly one waiter
/// (no herd effect).
pub fn predecessor<S: AsRef<str>>(children: &[S], me: &str) -> Result<Option<String>, TurnError> {
    let Some(my_seq) = children
        .iter()
        .find(|c| c.as_ref() == me)
        .and_then(|c| contender_sequence(c.as_ref()))
    else {
        return Err(TurnError::NotAContender(me.to_string()));
    };
    Ok(children
        .iter()
        .filter_map(|c| contender_sequence(c.as_ref()).map(|s| (s, c.as_ref())))
        .filter(|(s, _)| *s < my_seq)
        .max_by_key(|(s, _)| *s)
        .map(|(_, c)| c.to_string()))
}

/// The contender with the smallest sequence number: the lock holder, or the elected leader.
pub fn first_contender<S: AsRef<str>>(children: &[S]) -> Option<String> {
    children
        .iter()
        .filter_map(|c| contender_sequence(c.as_ref()).map(|s| (s, c.as_ref())))
        .min_by_key(|(s, _)| *s)
        .map(|(_, c)| c.to_string())
}

/// Where a node of the course's (priority) election stands, given what it last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorityRole {
    /// Our id is the highest and we have taken over.
    Leader,
    /// Our id is the highest, but we joined less than one check interval ago: a lower node that led
    /// until now may not have seen us yet. We wait, so that two nodes never both think they lead.
    TakingOver,
    /// Someone else has the highest id.
    Follower { leader: u64 },
    /// No child has an id (not even ours: our znode is gone).
    NoLeader,
}

/// The course's decision, plus the hand-over wait that keeps two leaders from overlapping when a
/// higher node joins: `joined_for_ms` is how long our znode has existed, `handover_ms` one check
/// interval.
pub fn priority_role<S: AsRef<str>>(
    children: &[S],
    me: u64,
    joined_for_ms: u128,
    handover_ms: u128,
    was_leader: bool,
) -> PriorityRole {
    match priority_leader(children) {
        None => PriorityRole::NoLeader,
        Some(l) if l == me => {
            let mine_present = children.iter().any(|c| priority_node_id(c.as_ref()) == Some(me));
            if !mine_present {
                PriorityRole::NoLeader
            } else if was_leader || joined_for_ms >= handover_ms {
                PriorityRole::Leader
            } else {
                PriorityRole::TakingOver
            }
        }
        Some(l) => PriorityRole::Follower { leader: l },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_id_leads() {
        assert_eq!(priority_leader(&["node_1", "node_3", "node_2"]), Some(3));
        assert_eq!(
            priority_leader(&["node_10", "node_9"]),
            Some(10),
            "numbers, not strings"
        );
        assert_eq!(priority_leader(&["junk", "node_2"]), Some(2));
        assert_eq!(priority_leader::<&str>(&[]), None);
        assert_eq!(priority_node_id(&priority_node_name(42)), Some(42));
    }

    #[test]
    fn a_joining_higher_node_waits_one_interval_before_taking_over() {
        let c = ["node_2", "node_3"];
        assert_eq!(priority_role(&c, 3, 100, 5000, false), PriorityRole::TakingOver);
        assert_eq!(priority_role(&c, 3, 5000, 5000, false), PriorityRole::Leader);
        assert_eq!(priority_role(&c, 3, 0, 5000, true), PriorityRole::Leader);
        assert_eq!(
            priority_role(&c, 2, 0, 5000, true),
            PriorityRole::Follower { leader: 3 }
        );
        assert_eq!(priority_role::<&str>(&[], 2, 0, 0, true), PriorityRole::NoLeader);
    }

    const A: &str = "4ae1b0b1f3b94f6c9b4a7d1d2b0f8c11__lock__0000000003";
    const B: &str = "0b9b1f0e6c4d4e0f8e5a0c1d2e3f4a5b__lock__0000000001";
    const C: &str = "ffffffffffffffffffffffffffffffff__lock__0000000007";

    #[test]
    fn reads_kazoo_contender_names() {
        assert_eq!(contender_sequence(A), Some(3));
        assert_eq!(contender_sequence("x__lock__-0000000001"), Some(-1));
        assert_eq!(
            contender_sequence("x__lock__123"),
            None,
            "kazoo wants exactly 10 digits"
        );
        assert_eq!(
            contender_sequence("x__rlock__0000000001"),
            None,
            "a read lock is not an exclusive contender"
        );
        assert_eq!(contender_sequence("node_3"), None);
    }

    #[test]
    fn each_contender_waits_for_the_next_lower_sequence() {
        let children = [C, A, B, "not-a-contender"];
        assert_eq!(predecessor(&children, B), Ok(None), "lowest holds the lock");
        assert_eq!(predecessor(&children, A), Ok(Some(B.to_string())));
        assert_eq!(
            predecessor(&children, C),
            Ok(Some(A.to_string())),
            "only the predecessor, not the holder"
        );
        assert_eq!(
            predecessor(&children[1..], "gone__lock__0000000000"),
            Err(TurnError::NotAContender("gone__lock__0000000000".into()))
        );
        assert_eq!(first_contender(&children), Some(B.to_string()));
    }
}
