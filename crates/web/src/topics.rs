//! The topic tree's model: every topic seen on the broker, its count, last and retained message,
//! and a bounded history. Plain data, no sockets: [`crate::feed`] records messages into it, the page
//! reads snapshots and batches of changes.
//!
//! What to notice:
//! - Topics are kept flat (`sister/temp` -> entry); the page builds the tree from the `/` levels
//!   (MQTT 3.1.1 §4.7.1: `/` separates levels, and an empty level is a level too: `a//b` has three).
//! - A retained message (MQTT 3.1.1 §3.3.1.3) is what a new subscriber gets first. The broker sends
//!   it with RETAIN set to a new subscription, so the tree fills with the retained values as soon as
//!   the feed subscribes; an empty retained payload deletes the retained value.
//! - Changes are remembered as a set of dirty topics and taken in batches ([`TopicTree::take_changes`]):
//!   a topic that got 50 messages since the last batch is sent once, with its count.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// Messages of history kept per topic unless told otherwise.
pub const DEFAULT_HISTORY: usize = 200;

/// At most this many bytes of a payload are kept for showing (the count and size stay exact).
pub const SHOWN_PAYLOAD: usize = 4096;

/// A message as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    /// Milliseconds since the Unix epoch, when sister received it.
    pub at_ms: i64,
    /// The payload as text: UTF-8 as it is, other bytes as `\xNN` (the first [`SHOWN_PAYLOAD`] bytes).
    pub text: String,
    /// The payload was not UTF-8 text.
    pub binary: bool,
    /// The payload's size in bytes.
    pub size: usize,
    pub qos: u8,
    pub retain: bool,
    /// The first number in the payload (`Suhu: 28°C` -> 28), for the plot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
}

impl Shown {
    pub fn new(payload: &[u8], qos: u8, retain: bool, at_ms: i64) -> Shown {
        let kept = &payload[..payload.len().min(SHOWN_PAYLOAD)];
        let (text, binary) = show_bytes(kept);
        let number = if binary { None } else { number_in(&text) };
        Shown {
            at_ms,
            text,
            binary,
            size: payload.len(),
            qos,
            retain,
            number,
        }
    }
}

/// One topic's summary, as the tree lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSummary {
    pub topic: String,
    /// Messages received on this topic since `sister web` started (retained ones included).
    pub count: u64,
    pub last: Shown,
    /// The broker's retained message for this topic, as far as sister has seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained: Option<Shown>,
}

/// A topic with its history, for the detail pane.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicDetail {
    #[serde(flatten)]
    pub summary: TopicSummary,
    /// Oldest first.
    pub history: Vec<Shown>,
}

/// The whole tree, for a page that just loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub topics: Vec<TopicSummary>,
    /// Every message received, in all. It only grows, so it also orders snapshots and batches: a
    /// batch with `messages` not above the snapshot's was already in the snapshot (the page drops it).
    pub messages: u64,
    /// Whether the RETAIN flag of live messages is the publisher's (MQTT 5.0 with Retain As
    /// Published) or cleared by the broker (3.1.1 §3.3.1.3: then `retained` is what the broker sent
    /// when the feed subscribed, and a retained value set later is not known as one).
    pub live_retain: bool,
    /// The QoS the feed subscribed with: messages arrive at the lower of theirs and this (MQTT 3.1.1
    /// §3.8.4), so the history's QoS is the publisher's only up to it.
    pub subscription_qos: u8,
}

/// A batch of changes since the last one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    pub topics: Vec<TopicSummary>,
    /// Every message received, in all (see [`Snapshot::messages`]).
    pub messages: u64,
}

/// What the page's publish form sends (`POST /api/publish`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PublishRequest {
    pub topic: String,
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub qos: u8,
    #[serde(default)]
    pub retain: bool,
}

impl PublishRequest {
    /// Whether the broker could take this message: a topic name (no wildcards, not empty, at most
    /// 65,535 bytes: MQTT 3.1.1 §4.7) and a QoS that exists. The error is the sentence the page shows.
    pub fn check(&self) -> Result<(), String> {
        if let Err(e) = wire::mqtt::topic::validate_name(&self.topic) {
            return Err(format!("topic {:?}: {e}", self.topic));
        }
        if self.qos > 2 {
            return Err(format!(
                "QoS {} does not exist: 0, 1 or 2 (MQTT 3.1.1 §4.3)",
                self.qos
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Entry {
    count: u64,
    retained: Option<Shown>,
    history: VecDeque<Shown>,
}

/// Every topic seen.
#[derive(Debug)]
pub struct TopicTree {
    topics: BTreeMap<String, Entry>,
    dirty: BTreeSet<String>,
    messages: u64,
    history: usize,
    live_retain: bool,
    subscription_qos: u8,
}

impl TopicTree {
    pub fn new(history: usize) -> TopicTree {
        TopicTree {
            topics: BTreeMap::new(),
            dirty: BTreeSet::new(),
            messages: 0,
            history: history.max(1),
            live_retain: false,
            subscription_qos: 0,
        }
    }

    /// How the feed subscribed: at `qos` ([`Snapshot::subscription_qos`]), and whether live
    /// messages carry the publisher's RETAIN flag ([`Snapshot::live_retain`]).
    pub fn set_subscription(&mut self, qos: u8, live_retain: bool) {
        self.subscription_qos = qos;
        self.live_retain = live_retain;
    }

    /// A message arrived on `topic`.
    pub fn record(&mut self, topic: &str, message: Shown) {
        self.messages += 1;
        let history = self.history;
        let entry = self.topics.entry(topic.to_string()).or_insert_with(|| Entry {
            count: 0,
            retained: None,
            history: VecDeque::new(),
        });
        entry.count += 1;
        if message.retain {
            // §3.3.1.3: a retained message with an empty payload removes the retained message.
            entry.retained = (message.size > 0).then(|| message.clone());
        }
        if entry.history.len() == history {
            entry.history.pop_front();
        }
        entry.history.push_back(message);
        if !self.dirty.contains(topic) {
            self.dirty.insert(topic.to_string());
        }
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }

    fn summary(topic: &str, e: &Entry) -> Option<TopicSummary> {
        Some(TopicSummary {
            topic: topic.to_string(),
            count: e.count,
            last: e.history.back()?.clone(),
            retained: e.retained.clone(),
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            topics: self
                .topics
                .iter()
                .filter_map(|(t, e)| Self::summary(t, e))
                .collect(),
            messages: self.messages,
            live_retain: self.live_retain,
            subscription_qos: self.subscription_qos,
        }
    }

    pub fn detail(&self, topic: &str) -> Option<TopicDetail> {
        let e = self.topics.get(topic)?;
        Some(TopicDetail {
            summary: Self::summary(topic, e)?,
            history: e.history.iter().cloned().collect(),
        })
    }

    /// The topics changed since the last call (None when nothing changed).
    pub fn take_changes(&mut self) -> Option<Changes> {
        if self.dirty.is_empty() {
            return None;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let topics = dirty
            .iter()
            .filter_map(|t| Self::summary(t, self.topics.get(t)?))
            .collect();
        Some(Changes {
            topics,
            messages: self.messages,
        })
    }
}

/// Bytes as text: valid UTF-8 as it is (control characters other than tab and newline escaped),
/// anything else byte by byte with `\xNN` for what is not printable ASCII. Returns whether the
/// bytes were binary (not UTF-8 text).
pub fn show_bytes(b: &[u8]) -> (String, bool) {
    fn escape_into(out: &mut String, c: char) {
        use std::fmt::Write;
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    let mut out = String::with_capacity(b.len());
    match std::str::from_utf8(b) {
        Ok(s) => {
            let control = s
                .chars()
                .any(|c| c.is_control() && c != '\t' && c != '\n' && c != '\r');
            for c in s.chars() {
                escape_into(&mut out, c);
            }
            (out, control)
        }
        Err(_) => {
            use std::fmt::Write;
            for &byte in b {
                if (0x20..0x7f).contains(&byte) {
                    out.push(byte as char);
                } else {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            (out, true)
        }
    }
}

/// The first number written in `text`: `Suhu: 28°C` -> 28, `{"t": -3.5}` -> -3.5, `28,5` -> 28.5
/// (a decimal comma, as Indonesian writes it). None when there is none.
pub fn number_in(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let start = b.iter().position(u8::is_ascii_digit)?;
    let negative = start > 0 && b[start - 1] == b'-';
    let mut end = start;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    let mut number: String = text[start..end].to_string();
    if end + 1 < b.len() && (b[end] == b'.' || b[end] == b',') && b[end + 1].is_ascii_digit() {
        let frac_start = end + 1;
        let mut frac_end = frac_start;
        while frac_end < b.len() && b[frac_end].is_ascii_digit() {
            frac_end += 1;
        }
        number.push('.');
        number.push_str(&text[frac_start..frac_end]);
    }
    // 400 digits parse as infinity, which JSON cannot carry and a plot cannot draw.
    let n: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_the_course_payloads() {
        assert_eq!(number_in("Suhu: 28°C"), Some(28.0));
        assert_eq!(number_in("{\"t\": -3.5}"), Some(-3.5));
        assert_eq!(number_in("suhu 28,5 derajat"), Some(28.5));
        assert_eq!(number_in("Hello from publisher"), None);
        assert_eq!(number_in("v2"), Some(2.0));
    }

    #[test]
    fn binary_payloads_are_escaped_not_debug_printed() {
        assert_eq!(show_bytes(b"hi"), ("hi".into(), false));
        assert_eq!(show_bytes(b"\x00\x15A\xff"), ("\\x00\\x15A\\xff".into(), true));
        assert_eq!(show_bytes("28°C".as_bytes()), ("28°C".into(), false));
    }

    #[test]
    fn counts_retained_and_bounded_history() {
        let mut t = TopicTree::new(3);
        for i in 0..5 {
            t.record(
                "sister/temp",
                Shown::new(format!("Suhu: {i}").as_bytes(), 0, false, i),
            );
        }
        t.record("sister/status", Shown::new(b"online", 1, true, 9));
        let d = t.detail("sister/temp").unwrap();
        assert_eq!(d.summary.count, 5);
        assert_eq!(d.history.len(), 3);
        assert_eq!(d.history[0].number, Some(2.0));
        assert_eq!(
            t.detail("sister/status").unwrap().summary.retained.unwrap().text,
            "online"
        );
        // An empty retained payload clears the retained value (§3.3.1.3).
        t.record("sister/status", Shown::new(b"", 1, true, 10));
        assert!(t.detail("sister/status").unwrap().summary.retained.is_none());
        let c = t.take_changes().unwrap();
        assert_eq!(c.topics.len(), 2);
        assert_eq!(c.messages, 7);
        assert!(t.take_changes().is_none());
    }

    #[test]
    fn snapshot_and_batches_are_ordered_by_the_message_count() {
        let mut t = TopicTree::new(10);
        t.record("a/b", Shown::new(b"1", 0, true, 1));
        let snap = t.snapshot();
        assert_eq!(snap.messages, 1);
        assert!(!snap.live_retain);
        // The batch taken after the snapshot repeats a/b: its count is not above the snapshot's.
        let c = t.take_changes().unwrap();
        assert_eq!(c.messages, snap.messages);
        t.record("a/c", Shown::new(b"2", 0, false, 2));
        let c = t.take_changes().unwrap();
        assert!(c.messages > snap.messages);
        assert_eq!(c.topics[0].topic, "a/c");
        t.set_subscription(2, true);
        assert!(t.snapshot().live_retain);
        assert_eq!(t.snapshot().subscription_qos, 2);
    }

    #[test]
    fn odd_topic_names_are_kept_as_they_are() {
        // §4.7.1: "/a" has an empty first level and "a//b" an empty middle one; the tree keeps the
        // names whole and the page splits them.
        let mut t = TopicTree::new(2);
        for name in ["/a", "a//b", "a/", "ü/温度"] {
            t.record(name, Shown::new(b"x", 0, false, 0));
        }
        let names: Vec<_> = t.snapshot().topics.into_iter().map(|s| s.topic).collect();
        assert_eq!(names, ["/a", "a/", "a//b", "ü/温度"]);
    }

    #[test]
    fn a_page_request_is_checked_before_it_is_sent() {
        let ok = PublishRequest {
            topic: "sister/temp".into(),
            payload: String::new(),
            qos: 2,
            retain: false,
        };
        assert!(ok.check().is_ok());
        let wild = PublishRequest {
            topic: "sister/#".into(),
            ..ok.clone()
        };
        assert!(wild.check().unwrap_err().contains("sister/#"));
        let empty = PublishRequest {
            topic: String::new(),
            ..ok.clone()
        };
        assert!(empty.check().is_err());
        let qos3 = PublishRequest { qos: 3, ..ok };
        assert!(qos3.check().unwrap_err().contains("QoS 3"));
    }

    #[test]
    fn binary_payloads_have_no_number_and_long_ones_are_cut() {
        let s = Shown::new(b"\xff28", 0, false, 0);
        assert!(s.binary);
        assert_eq!(s.number, None);
        let long = vec![b'7'; SHOWN_PAYLOAD * 2];
        let s = Shown::new(&long, 0, false, 0);
        assert_eq!(s.size, SHOWN_PAYLOAD * 2);
        assert_eq!(s.text.len(), SHOWN_PAYLOAD);
        assert_eq!(s.number, None, "a 4096-digit number is not finite");
    }
}
