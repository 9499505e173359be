//! The subscription tree: which subscriptions match a topic, without looking at every subscription.
//!
//! A topic is split on `/` into *levels* (`sister/channel/gaming` has three). Filters are stored in a tree
//! keyed by level, so matching a topic walks at most one path per wildcard instead of testing every
//! filter. The rules (MQTT 3.1.1 §4.7, 5.0 §4.7):
//! - `+` matches exactly one level: `sister/+/gaming` matches `sister/channel/gaming`;
//! - `#` matches the parent level and any number of levels below it, and must be last:
//!   `sister/#` matches `sister`, `sister/temp` and `sister/channel/gaming`;
//! - a topic starting with `$` (such as `$SYS/broker/clients/connected`) is NOT matched by a filter whose
//!   first level is a wildcard (3.1.1 §4.7.2): `#` does not see the broker's statistics, `$SYS/#` does;
//! - levels may be empty: `a//b` has three levels, the middle one empty, and `a/+/b` matches it.
//!
//! Each node keeps the subscriptions that end there (`exact`) and those that end there with `/#`
//! (`hash`), so `sister/#` lives in the node of `sister`.

use std::collections::HashMap;

/// One subscription as the tree stores it: whose it is and the value the broker attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    /// The session that subscribed.
    pub sid: usize,
    /// The shared-subscription group, if any (`$share/<group>/filter`): several sessions may hold the
    /// same filter in a group, and each message goes to only one of them.
    pub group: Option<u32>,
    pub value: T,
}

#[derive(Debug)]
struct Node<T> {
    children: HashMap<Box<str>, Node<T>>,
    plus: Option<Box<Node<T>>>,
    exact: Vec<Entry<T>>,
    hash: Vec<Entry<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            exact: Vec::new(),
            hash: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.plus.is_none() && self.exact.is_empty() && self.hash.is_empty()
    }
}

/// The subscription tree; `T` is what the broker stores with each subscription (its options).
#[derive(Debug)]
pub struct Trie<T> {
    root: Node<T>,
    len: usize,
}

impl<T> Default for Trie<T> {
    fn default() -> Self {
        Trie {
            root: Node::default(),
            len: 0,
        }
    }
}

/// Split off the first level of `s`: `"a/b/c"` -> `("a", Some("b/c"))`, `"a"` -> `("a", None)`.
fn first_level(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

impl<T: Clone> Trie<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many subscriptions are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Store a subscription (the filter must be valid). A subscription with the same session and group
    /// on the same filter is replaced (MQTT 3.1.1 §3.8.4: a new SUBSCRIBE with an existing filter
    /// replaces it). Returns true if it replaced one.
    pub fn insert(&mut self, filter: &str, entry: Entry<T>) -> bool {
        let mut node = &mut self.root;
        let mut rest = Some(filter);
        let list = loop {
            let Some(s) = rest else { break &mut node.exact };
            let (level, next) = first_level(s);
            if level == "#" {
                break &mut node.hash;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Default::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
            rest = next;
        };
        if let Some(e) = list
            .iter_mut()
            .find(|e| e.sid == entry.sid && e.group == entry.group)
        {
            *e = entry;
            true
        } else {
            list.push(entry);
            self.len += 1;
            false
        }
    }

    /// Remove the subscription of `sid` (in `group`) on `filter`; true if there was one.
    pub fn remove(&mut self, filter: &str, sid: usize, group: Option<u32>) -> bool {
        let removed = remove_in(&mut self.root, Some(filter), sid, group);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Every subscription matching `topic` (a valid topic name, no wildcards), appended to `out`.
    pub fn matches(&self, topic: &str, out: &mut Vec<Entry<T>>) {
        let dollar = topic.starts_with('$');
        collect(&self.root, Some(topic), true, dollar, out);
    }
}

fn remove_in<T>(node: &mut Node<T>, rest: Option<&str>, sid: usize, group: Option<u32>) -> bool {
    let Some(s) = rest else {
        return remove_from(&mut node.exact, sid, group);
    };
    let (level, next) = first_level(s);
    if level == "#" {
        return remove_from(&mut node.hash, sid, group);
    }
    if level == "+" {
        let Some(child) = node.plus.as_mut() else {
            return false;
        };
        let removed = remove_in(child, next, sid, group);
        if child.is_empty() {
            node.plus = None;
        }
        removed
    } else {
        let Some(child) = node.children.get_mut(level) else {
            return false;
        };
        let removed = remove_in(child, next, sid, group);
        if child.is_empty() {
            // Prune the branch so a tree that saw many short-lived topics does not keep growing.
            node.children.remove(level);
        }
        removed
    }
}

fn remove_from<T>(list: &mut Vec<Entry<T>>, sid: usize, group: Option<u32>) -> bool {
    let before = list.len();
    list.retain(|e| !(e.sid == sid && e.group == group));
    list.len() != before
}

fn collect<T: Clone>(node: &Node<T>, rest: Option<&str>, first: bool, dollar: bool, out: &mut Vec<Entry<T>>) {
    // §4.7.2: a wildcard in the first level of a filter never matches a `$` topic.
    let wild_ok = !(first && dollar);
    if wild_ok {
        // `x/#` matches `x` itself and everything below it.
        out.extend_from_slice(&node.hash);
    }
    let Some(s) = rest else {
        out.extend_from_slice(&node.exact);
        return;
    };
    let (level, next) = first_level(s);
    if let Some(child) = node.children.get(level) {
        collect(child, next, false, dollar, out);
    }
    if wild_ok {
        if let Some(plus) = &node.plus {
            collect(plus, next, false, dollar, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(sid: usize) -> Entry<()> {
        Entry {
            sid,
            group: None,
            value: (),
        }
    }

    fn matched(t: &Trie<()>, topic: &str) -> Vec<usize> {
        let mut out = vec![];
        t.matches(topic, &mut out);
        let mut v: Vec<usize> = out.iter().map(|e| e.sid).collect();
        v.sort();
        v
    }

    #[test]
    fn wildcards_match_as_the_spec_says() {
        let mut t = Trie::new();
        t.insert("sister/temp", e(1));
        t.insert("sister/+", e(2));
        t.insert("sister/#", e(3));
        t.insert("#", e(4));
        t.insert("+/+/gaming", e(5));
        t.insert("sister/channel/kesehatan", e(6));
        assert_eq!(matched(&t, "sister/temp"), vec![1, 2, 3, 4]);
        assert_eq!(
            matched(&t, "sister"),
            vec![3, 4],
            "`sister/#` matches the parent level"
        );
        assert_eq!(matched(&t, "sister/channel/gaming"), vec![3, 4, 5]);
        assert_eq!(matched(&t, "other"), vec![4]);
        assert_eq!(matched(&t, "sister/"), vec![2, 3, 4], "an empty level is a level");
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        let mut t = Trie::new();
        t.insert("#", e(1));
        t.insert("+/broker/clients", e(2));
        t.insert("$SYS/#", e(3));
        t.insert("$SYS/+/clients", e(4));
        assert_eq!(matched(&t, "$SYS/broker/clients"), vec![3, 4]);
    }

    #[test]
    fn insert_replaces_and_remove_prunes() {
        let mut t = Trie::new();
        assert!(!t.insert("a/b", e(1)));
        assert!(t.insert("a/b", e(1)));
        assert_eq!(t.len(), 1);
        t.insert("a/+/c", e(2));
        assert!(t.remove("a/b", 1, None));
        assert!(!t.remove("a/b", 1, None));
        assert!(t.remove("a/+/c", 2, None));
        assert!(t.root.is_empty(), "empty branches are pruned");
        assert!(t.is_empty());
    }
}
