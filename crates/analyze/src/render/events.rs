//! The capture as a sequence of arrows between hosts, in time order, with repeats folded: the model of
//! the sequence diagram (and of the Markdown's message table).
//!
//! From the report we take each conversation's messages, plus the TCP handshake at its start and the
//! teardown at its end (from its lifecycle: FIN, ACK from the side that closed first, RST, ...), so the
//! diagram shows how each connection opened and closed, as the worksheet asks.
//!
//! What to notice: a lab capture is mostly the same exchange over and over (a PUBLISH a second, and the
//! broker forwarding it). [`fold`] finds a block of arrows repeated back to back (a *period*: the
//! publisher's PUBLISH then the broker's forward is a period of 2; a whole REST call from SYN to FIN is
//! one of 10) and draws it once, followed by the same block marked "×41", so a 254 s capture of 2000
//! packets fits on a page and still shows its rhythm.

use crate::report::{Closing, Conversation, Direction, Opening, Report, Role, Side, Transport};

/// What an arrow shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SYN, SYN+ACK, ACK.
    Handshake,
    /// An application message.
    Data,
    /// FIN.
    Fin,
    /// RST.
    Reset,
}

/// One arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub t: f64,
    pub from: String,
    pub to: String,
    /// The full label (`PUBLISH sister/temp 'Suhu: 28°C'`, `SYN`, `FIN, ACK`).
    pub label: String,
    /// The label without what changes from one repetition to the next (payload, ids): what [`fold`]
    /// compares, and what a folded row shows (`PUBLISH sister/temp`).
    pub key: String,
    pub protocol: String,
    pub kind: Kind,
    pub conversation: u32,
    /// Who sent it: the conversation's client or server (which of its ports is the source).
    pub sender: Side,
    /// For an application message, its position in the conversation's `messages` (where its fields and
    /// bytes are); `None` for the TCP handshake and teardown, which are drawn from the lifecycle.
    pub message: Option<usize>,
}

/// An arrow as drawn: one event, or a folded run of the same arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub event: Event,
    /// 1 for a plain arrow; N > 1 when this row stands for N arrows.
    pub times: u64,
    /// The time of the last arrow it stands for.
    pub t_last: f64,
    /// The position of `event` in the list that was folded.
    pub index: usize,
    /// The length of the repeated block this row belongs to (1 for a plain arrow): a row with
    /// `times` N stands for the arrows at `index`, `index + period`, ... (N of them), and the block's
    /// `period` rows together stand for the `times * period` arrows from the first one's `index` on
    /// (what a viewer shows when the fold is opened).
    pub period: usize,
}

/// The repeat key of a label: cut at the first quote or body (payloads), call arguments become `(…)`,
/// `key=value` words and numbers (except a leading status code) are dropped.
pub fn repeat_key(label: &str) -> String {
    let cut = label.find(['\'', '"', '{', '<']).map_or(label, |i| &label[..i]);
    let mut words: Vec<String> = Vec::new();
    let mut in_args = false;
    for (i, w) in cut.split_whitespace().enumerate() {
        if in_args {
            in_args = !w.contains(')');
            continue;
        }
        if let Some(open) = w.find('(') {
            words.push(format!("{}(…)", &w[..open]));
            in_args = !w[open..].contains(')');
            continue;
        }
        // A request number (`Reply #2`) changes from one call to the next, like any number.
        let w_num = w.strip_prefix('#').filter(|n| !n.is_empty()).unwrap_or(w);
        let numeric = w_num.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',');
        if w.contains('=') || (numeric && i > 0) {
            continue;
        }
        words.push(w.to_string());
    }
    let k = words.join(" ");
    if k.is_empty() {
        // All payload (a text protocol): what stays the same once numbers are taken out.
        let digitless: String = label.chars().filter(|c| !c.is_ascii_digit()).collect();
        let mut k: String = digitless.chars().take(40).collect();
        if digitless.chars().count() > 40 {
            k.push('…');
        }
        k
    } else {
        k
    }
}

/// The lifelines of a conversation's two sides: the hosts' addresses, except
/// - when both sides are the same host (a capture on `lo`): the server's lifeline is its `addr:port`,
///   so the arrows still go from one line to another;
/// - when `split_client` is set (one host runs several clients of the same server at once, e.g. the
///   MQTT publisher and subscriber in one container): the client's lifeline is its `addr:port`.
pub fn lifelines(c: &Conversation, split_client: bool) -> (String, String) {
    let with_port = |e: &crate::report::Endpoint| {
        if e.addr.contains(':') {
            format!("[{}]:{}", e.addr, e.port)
        } else {
            format!("{}:{}", e.addr, e.port)
        }
    };
    let client = if split_client {
        with_port(&c.client)
    } else {
        c.client.addr.clone()
    };
    let server = if c.client.addr == c.server.addr {
        with_port(&c.server)
    } else {
        c.server.addr.clone()
    };
    (client, server)
}

/// The conversations whose client gets a lifeline of its own: those of a host that talks to the same
/// server over two connections open at the same time.
pub fn split_clients(report: &Report) -> std::collections::HashSet<u32> {
    let mut split = std::collections::HashSet::new();
    let convs = &report.conversations;
    for (i, a) in convs.iter().enumerate() {
        for b in &convs[i + 1..] {
            if a.client.addr == b.client.addr
                && a.server == b.server
                && a.client.port != b.client.port
                && a.start <= b.end
                && b.start <= a.end
            {
                split.insert(a.id);
                split.insert(b.id);
            }
        }
    }
    split
}

/// The address part of a lifeline id (`127.0.0.1:1883` → `127.0.0.1`, `[::1]:80` → `::1`).
pub fn lifeline_addr(id: &str) -> &str {
    if let Some(rest) = id.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match id.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') && p.parse::<u16>().is_ok() => a,
        _ => id,
    }
}

fn ends(c: &Conversation, split: bool, side: Side) -> (String, String) {
    let (client, server) = lifelines(c, split);
    match side {
        Side::Client => (client, server),
        Side::Server => (server, client),
    }
}

fn other(s: Side) -> Side {
    match s {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// Every arrow of the report, in time order (handshakes before the messages at the same instant,
/// teardowns after).
pub fn events(report: &Report) -> Vec<Event> {
    // (t, phase, sequence) keeps a stable, sensible order among equal times.
    let mut all: Vec<(f64, u8, usize, Event)> = Vec::new();
    fn push(all: &mut Vec<(f64, u8, usize, Event)>, phase: u8, e: Event) {
        let seq = all.len();
        all.push((e.t, phase, seq, e));
    }
    let split = split_clients(report);
    for c in &report.conversations {
        let split = split.contains(&c.id);
        let mk = |t: f64, side: Side, label: &str, kind: Kind| {
            let (from, to) = ends(c, split, side);
            Event {
                t,
                from,
                to,
                label: label.to_string(),
                key: label.to_string(),
                protocol: "TCP".to_string(),
                kind,
                conversation: c.id,
                sender: side,
                message: None,
            }
        };
        let life = match (&c.transport, &c.lifecycle) {
            (Transport::Tcp, Some(l)) => Some(l),
            _ => None,
        };
        if let Some(l) = life {
            match l.opened {
                Opening::Handshake => {
                    push(&mut all, 0, mk(c.start, Side::Client, "SYN", Kind::Handshake));
                    push(
                        &mut all,
                        0,
                        mk(c.start, Side::Server, "SYN, ACK", Kind::Handshake),
                    );
                    push(&mut all, 0, mk(c.start, Side::Client, "ACK", Kind::Handshake));
                }
                Opening::HandshakeIncomplete => {
                    push(&mut all, 0, mk(c.start, Side::Client, "SYN", Kind::Handshake));
                    push(
                        &mut all,
                        0,
                        mk(c.start, Side::Server, "SYN, ACK", Kind::Handshake),
                    );
                }
                Opening::Refused => {
                    push(&mut all, 0, mk(c.start, Side::Client, "SYN", Kind::Handshake));
                    push(&mut all, 0, mk(c.end, Side::Server, "RST, ACK", Kind::Reset));
                }
                Opening::Unanswered => {
                    push(&mut all, 0, mk(c.start, Side::Client, "SYN", Kind::Handshake));
                }
                Opening::MidStream | Opening::NotApplicable => {}
            }
        }
        for (index, m) in c.messages.iter().enumerate() {
            let side = match m.direction {
                Direction::ClientToServer => Side::Client,
                Direction::ServerToClient => Side::Server,
            };
            let (from, to) = ends(c, split, side);
            push(
                &mut all,
                1,
                Event {
                    t: m.t,
                    from,
                    to,
                    key: repeat_key(&m.summary),
                    label: m.summary.clone(),
                    protocol: m.protocol.clone(),
                    kind: Kind::Data,
                    conversation: c.id,
                    sender: side,
                    message: Some(index),
                },
            );
        }
        if let Some(l) = life {
            let fin = |all: &mut Vec<(f64, u8, usize, Event)>, s: Side| {
                push(all, 2, mk(c.end, s, "FIN, ACK", Kind::Fin));
            };
            match l.closed {
                Closing::Fin => {
                    let first = l.first_fin_by.unwrap_or(Side::Client);
                    fin(&mut all, first);
                    fin(&mut all, other(first));
                }
                Closing::HalfClosed => fin(&mut all, l.first_fin_by.unwrap_or(Side::Client)),
                Closing::Reset => {
                    if let Some(first) = l.first_fin_by {
                        fin(&mut all, first);
                    }
                    let by = l.reset_by.unwrap_or(Side::Client);
                    push(&mut all, 2, mk(c.end, by, "RST, ACK", Kind::Reset));
                }
                Closing::Refused | Closing::StillOpen | Closing::NotApplicable => {}
            }
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    all.into_iter().map(|(_, _, _, e)| e).collect()
}

/// The roles to print under a lifeline: its host's roles, narrowed to the side(s) this lifeline plays
/// (a host that is client and server shows only "server" on its `addr:port` server lifeline), and for a
/// host that both publishes and subscribes, to what this lifeline did (sent PUBLISH / SUBSCRIBE).
pub fn lifeline_roles(report: &Report, events: &[Event], id: &str) -> Vec<Role> {
    let addr = lifeline_addr(id);
    let Some(host) = report.hosts.iter().find(|h| h.addr == addr) else {
        return Vec::new();
    };
    let split = split_clients(report);
    let client_side = events
        .iter()
        .any(|e| e.from == id && is_client_event(report, &split, e));
    let server_side = events
        .iter()
        .any(|e| e.from == id && !is_client_event(report, &split, e));
    let both_mqtt = host.roles.contains(&Role::Publisher) && host.roles.contains(&Role::Subscriber);
    let sent = |word: &str| events.iter().any(|e| e.from == id && e.key.starts_with(word));
    host.roles
        .iter()
        .copied()
        .filter(|r| match r {
            Role::Server | Role::Broker | Role::Receiver => server_side || !client_side,
            Role::Client | Role::Sender => client_side || !server_side,
            Role::Publisher => (client_side || !server_side) && (!both_mqtt || id == addr || sent("PUBLISH")),
            Role::Subscriber => {
                (client_side || !server_side) && (!both_mqtt || id == addr || sent("SUBSCRIBE"))
            }
        })
        .collect()
}

fn is_client_event(report: &Report, split: &std::collections::HashSet<u32>, e: &Event) -> bool {
    report
        .conversations
        .iter()
        .find(|c| c.id == e.conversation)
        .is_some_and(|c| lifelines(c, split.contains(&c.id)).0 == e.from)
}

fn same(a: &Event, b: &Event) -> bool {
    a.from == b.from && a.to == b.to && a.key == b.key && a.kind == b.kind
}

/// The longest block of arrows [`fold`] looks for (a whole short HTTP connection is about 10).
const MAX_PERIOD: usize = 12;
/// A block must repeat at least this many times back to back to be folded.
const MIN_REPEATS: usize = 3;

/// Fold repeated blocks: the first occurrence stays as it is, the others become one row per arrow of the
/// block, marked with how many arrows it stands for.
pub fn fold(events: &[Event]) -> Vec<Row> {
    fold_limited(events, usize::MAX).0
}

/// [`fold`], stopping once `max_rows` rows are made; also returns how many arrows were left out.
/// (A diagram shows a few hundred rows; folding a million arrows to throw most away would be waste.)
pub fn fold_limited(events: &[Event], max_rows: usize) -> (Vec<Row>, usize) {
    let mut rows = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if rows.len() >= max_rows {
            return (rows, events.len() - i);
        }
        // The period p and repeat count k covering the most arrows from i.
        let mut best: Option<(usize, usize)> = None;
        for p in 1..=MAX_PERIOD.min(events.len() - i) {
            let mut k = 1;
            while i + (k + 1) * p <= events.len()
                && (0..p).all(|j| same(&events[i + j], &events[i + k * p + j]))
            {
                k += 1;
            }
            if k >= MIN_REPEATS && best.is_none_or(|(bp, bk)| p * k > bp * bk) {
                best = Some((p, k));
            }
        }
        match best {
            Some((p, k)) => {
                for (j, e) in events[i..i + p].iter().enumerate() {
                    rows.push(Row {
                        event: e.clone(),
                        times: 1,
                        t_last: e.t,
                        index: i + j,
                        period: 1,
                    });
                }
                for j in 0..p {
                    let first = &events[i + p + j];
                    let last = &events[i + (k - 1) * p + j];
                    rows.push(Row {
                        event: first.clone(),
                        times: (k - 1) as u64,
                        t_last: last.t,
                        index: i + p + j,
                        period: p,
                    });
                }
                i += k * p;
            }
            None => {
                rows.push(Row {
                    event: events[i].clone(),
                    times: 1,
                    t_last: events[i].t,
                    index: i,
                    period: 1,
                });
                i += 1;
            }
        }
    }
    (rows, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: f64, from: &str, to: &str, label: &str) -> Event {
        Event {
            t,
            from: from.into(),
            to: to.into(),
            label: label.into(),
            key: repeat_key(label),
            protocol: "MQTT".into(),
            kind: Kind::Data,
            conversation: 1,
            sender: Side::Client,
            message: None,
        }
    }

    #[test]
    fn repeat_keys_drop_payloads_and_ids() {
        assert_eq!(
            repeat_key("PUBLISH sister/temp 'Suhu: 28°C'"),
            "PUBLISH sister/temp"
        );
        assert_eq!(repeat_key("POST / call add(10, 2) id=1"), "POST / call add(…)");
        assert_eq!(repeat_key("200 OK result 12"), "200 OK result");
        assert_eq!(repeat_key("SUBACK id=1 [0]"), "SUBACK [0]");
        assert_eq!(repeat_key("'hai'"), "'hai'");
        assert_eq!(repeat_key("'Pesan UDP ke-3'"), "'Pesan UDP ke-'");
        assert_eq!(repeat_key("200 OK {\"result\":15}"), "200 OK");
        assert_eq!(
            repeat_key("Request #2 SimplePrinter1.printString(\"Hello World from printer1!\")"),
            "Request SimplePrinter1.printString(…)"
        );
        assert_eq!(repeat_key("Reply #2 ok"), "Reply ok");
    }

    #[test]
    fn a_publish_and_its_forward_fold_as_a_period_of_two() {
        let mut evs = vec![ev(0.0, "pub", "broker", "CONNECT")];
        for i in 0..10 {
            evs.push(ev(
                1.0 + i as f64,
                "pub",
                "broker",
                &format!("PUBLISH sister/temp 'Suhu: {i}°C'"),
            ));
            evs.push(ev(
                1.1 + i as f64,
                "broker",
                "sub",
                &format!("PUBLISH sister/temp 'Suhu: {i}°C'"),
            ));
        }
        evs.push(ev(20.0, "pub", "broker", "DISCONNECT"));
        let rows = fold(&evs);
        let shown: Vec<(u64, &str)> = rows.iter().map(|r| (r.times, r.event.from.as_str())).collect();
        assert_eq!(
            shown,
            [
                (1, "pub"),
                (1, "pub"),
                (1, "broker"),
                (9, "pub"),
                (9, "broker"),
                (1, "pub")
            ]
        );
        assert_eq!(rows[3].t_last, 10.0);
        assert_eq!(rows[3].event.key, "PUBLISH sister/temp");
        // The folded block (rows 3 and 4) stands for the 18 arrows from event 3 on, two at a time.
        assert_eq!((rows[3].index, rows[3].period), (3, 2));
        assert_eq!((rows[4].index, rows[4].period), (4, 2));
        assert_eq!((rows[5].index, rows[5].period), (21, 1));
    }

    #[test]
    fn folding_stops_at_the_row_limit() {
        let evs: Vec<Event> = (0..100)
            .map(|i| ev(i as f64, "a", "b", &format!("GET /{i}")))
            .collect();
        let (rows, left) = fold_limited(&evs, 10);
        assert_eq!((rows.len(), left), (10, 90));
    }

    #[test]
    fn short_runs_are_left_alone() {
        let evs = vec![
            ev(0.0, "a", "b", "x"),
            ev(1.0, "a", "b", "x"),
            ev(2.0, "b", "a", "y"),
        ];
        assert_eq!(fold(&evs).len(), 3);
        assert!(fold(&[]).is_empty());
    }
}
