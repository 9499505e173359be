//! Building the [`Report`](super::Report) from what the packet pipeline gathered
//! ([`crate::analyzer`]'s conversations and host counters), once the capture has been read.
//!
//! Nothing here looks at packets: each function turns the analyzer's state into the report's types.
//! - [`build_conversation`]: a conversation with its lifecycle (how it opened and closed, in Zeek's
//!   terms and as a sentence), its messages, and the anomalies it shows;
//! - [`build_hosts`]: each host's roles and notes (broker, server, publisher...), from behaviour
//!   seen in the conversations, never from an address;
//! - [`build_activity`]: the activity lines (`42 PUBLISH to sister/temp from ...`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::dissect::Note;
use crate::flow::{di, Conv, DIRS};
use crate::report::{self, *};

fn ep(a: SocketAddr) -> Endpoint {
    Endpoint {
        addr: a.ip().to_string(),
        port: a.port(),
    }
}

/// The conversation's protocol from its messages (the most specific label seen).
fn conversation_protocol(msgs: &[crate::dissect::Msg]) -> String {
    const ORDER: [&str; 15] = [
        "TLS",
        "MQTT",
        "ZMTP",
        "Ice",
        "GIOP",
        "SOAP",
        "JSON-RPC",
        "HTTP",
        "Lamport",
        "upcall",
        "echo",
        "sister-frame",
        "JSON",
        "UDP text",
        "text",
    ];
    for p in ORDER {
        if msgs.iter().any(|m| m.protocol == p) {
            return p.to_string();
        }
    }
    if msgs.is_empty() {
        String::new()
    } else {
        "data".into()
    }
}

/// One conversation of the report, from what the analyzer gathered: its counters, its lifecycle and
/// the anomalies it shows (pushed onto `anomalies`), its messages (moved out of `c`: the conversation
/// is done with them).
pub(crate) fn build_conversation(c: &mut Conv, anomalies: &mut Vec<Anomaly>) -> Conversation {
    let id = c.id;
    let stats = |i: usize| DirectionStats {
        packets: c.dirs[i].packets,
        bytes: c.dirs[i].bytes,
        payload_bytes: c.dirs[i].payload_bytes,
        messages: c.messages.per_direction[i],
    };
    let lifecycle = if c.udp {
        None
    } else {
        let (opened, closed, first_fin_by, reset_by, zeek_state) = c.lifecycle();
        let summary = lifecycle_sentence(opened, closed, first_fin_by, reset_by, c);
        let who = |s: Option<Side>| match s {
            Some(Side::Client) => format!("client {}", c.client),
            Some(Side::Server) => format!("server {}", c.server),
            None => "?".into(),
        };
        match opened {
            Opening::Refused => anomalies.push(Anomaly {
                kind: AnomalyKind::Refused,
                conversation: Some(id),
                t: c.dirs[1].rst.unwrap_or(c.first),
                count: 1,
                detail: format!(
                    "connection from {} to {} refused (RST answered the SYN: nothing listened on port {})",
                    c.client,
                    c.server,
                    c.server.port()
                ),
            }),
            Opening::Unanswered => anomalies.push(Anomaly {
                kind: AnomalyKind::UnansweredSyn,
                conversation: Some(id),
                t: c.first,
                count: c.dirs[0].packets,
                detail: format!("SYN from {} to {} never answered", c.client, c.server),
            }),
            _ => {}
        }
        if closed == Closing::Reset {
            let t = match reset_by {
                Some(Side::Client) => c.dirs[0].rst,
                _ => c.dirs[1].rst,
            };
            anomalies.push(Anomaly {
                kind: AnomalyKind::Reset,
                conversation: Some(id),
                t: t.unwrap_or(c.last),
                count: 1,
                detail: format!("connection reset (RST) by {}", who(reset_by)),
            });
        }
        Some(Lifecycle {
            opened,
            closed,
            first_fin_by,
            reset_by,
            zeek_state,
            zeek_history: c.zeek_history(),
            protocol_opened_by: c.messages.opened_by.map(protocol_step),
            protocol_closed_by: c.messages.closed_by.map(protocol_step),
            summary,
        })
    };
    for dir in DIRS {
        let d = &c.dirs[di(dir)];
        let (from, to) = match dir {
            Direction::ClientToServer => (c.client, c.server),
            Direction::ServerToClient => (c.server, c.client),
        };
        let st = &d.reasm.stats;
        let mut push = |kind, t: Option<f64>, count: u64, what: &str| {
            if count > 0 {
                anomalies.push(Anomaly {
                    kind,
                    conversation: Some(id),
                    t: t.unwrap_or(c.first),
                    count,
                    detail: format!("{count} {what} {from} → {to}"),
                });
            }
        };
        push(
            AnomalyKind::Retransmission,
            d.first_retrans,
            st.retransmissions,
            "retransmitted segment(s)",
        );
        push(
            AnomalyKind::OutOfOrder,
            d.first_ooo,
            st.out_of_order,
            "out-of-order segment(s)",
        );
        push(
            AnomalyKind::Overlap,
            d.first_overlap,
            st.overlaps,
            "overlapping segment(s)",
        );
        if st.missing_segments > 0 {
            push(
                AnomalyKind::MissingSegment,
                None,
                st.missing_segments,
                &format!("hole(s), {} bytes never captured,", st.missing_bytes),
            );
        }
        push(
            AnomalyKind::ZeroWindow,
            d.first_zero_window,
            d.zero_windows,
            "zero-window announcement(s) from",
        );
        if let Some(e) = &d.stream_error {
            anomalies.push(Anomaly {
                kind: AnomalyKind::Malformed,
                conversation: Some(id),
                t: c.first,
                count: 1,
                detail: format!("stream file not written: {e}"),
            });
        }
    }
    for n in &c.notes {
        match n {
            Note::Unanswered { t, what } => anomalies.push(Anomaly {
                kind: AnomalyKind::UnansweredRequest,
                conversation: Some(id),
                t: *t,
                count: 1,
                detail: format!("{what} got no response"),
            }),
            Note::Malformed { t, what } => anomalies.push(Anomaly {
                kind: AnomalyKind::Malformed,
                conversation: Some(id),
                t: *t,
                count: 1,
                detail: what.clone(),
            }),
        }
    }
    for m in &c.messages.kept {
        if m.summary.starts_with("malformed") {
            anomalies.push(Anomaly {
                kind: AnomalyKind::Malformed,
                conversation: Some(id),
                t: m.t,
                count: 1,
                detail: format!("{}: {}", m.protocol, m.summary),
            });
        }
    }
    let tls = c.messages.tls.take();
    // A TLS connection is TLS even when none of its messages was kept in full.
    let protocol = if tls.is_some() {
        crate::dissect::tls::PROTOCOL.to_string()
    } else {
        conversation_protocol(&c.messages.kept)
    };
    // In an echo or upcall conversation the client's lines are that service's requests.
    let request_label = |m: &crate::dissect::Msg| {
        if m.protocol == "text"
            && m.direction == Direction::ClientToServer
            && matches!(protocol.as_str(), "echo" | "upcall")
        {
            protocol.clone()
        } else {
            m.protocol.to_string()
        }
    };
    // Moved, not copied, into the report: the conversation is done with them.
    let messages: Vec<Message> = std::mem::take(&mut c.messages.kept)
        .into_iter()
        .map(|m| Message {
            t: m.t,
            direction: m.direction,
            protocol: request_label(&m),
            summary: m.summary,
            fields: m.fields,
            offset: m.offset,
            len: m.len,
        })
        .collect();
    Conversation {
        id,
        transport: if c.udp {
            report::Transport::Udp
        } else {
            report::Transport::Tcp
        },
        client: ep(c.client),
        server: ep(c.server),
        protocol,
        start: c.first,
        end: c.last,
        start_time: report::iso8601(c.first_ns),
        client_to_server: stats(0),
        server_to_client: stats(1),
        lifecycle,
        messages,
        messages_omitted: c.messages.omitted,
        tls,
    }
}

/// The lifecycle's one sentence, the TCP events and the protocol's own opening and closing messages
/// in the order they happened.
fn lifecycle_sentence(
    opened: Opening,
    closed: Closing,
    first_fin: Option<Side>,
    reset_by: Option<Side>,
    c: &Conv,
) -> String {
    let side = |s: Side| match s {
        Side::Client => "the client",
        Side::Server => "the server",
    };
    let open = match opened {
        Opening::Handshake => "opened with the three-way handshake (SYN, SYN+ACK, ACK)",
        Opening::HandshakeIncomplete => "handshake seen only in part",
        Opening::Refused => "refused: the server answered the SYN with RST (no process listening)",
        Opening::Unanswered => "SYN never answered",
        Opening::MidStream => "already open when the capture started (no handshake seen)",
        Opening::NotApplicable => "",
    };
    // The application's own opening and closing messages (Ice: ValidateConnection, CloseConnection).
    let step = |s: Option<crate::dissect::Step>| {
        s.map(|s| {
            let by = match s.direction {
                Direction::ClientToServer => Side::Client,
                Direction::ServerToClient => Side::Server,
            };
            format!("{} from {}", s.message, side(by))
        })
    };
    let (app_open, app_close) = (step(c.messages.opened_by), step(c.messages.closed_by));
    let close = match closed {
        Closing::Fin => {
            let first = first_fin.unwrap_or(Side::Client);
            let second = if first == Side::Client {
                Side::Server
            } else {
                Side::Client
            };
            match &app_close {
                Some(app) => format!(
                    "closed by {app}, then FIN from {}, then from {}",
                    side(first),
                    side(second)
                ),
                None => format!("closed by FIN from {}, then from {}", side(first), side(second)),
            }
        }
        Closing::HalfClosed => format!(
            "{} sent FIN, the other side had not closed by the end of the capture",
            side(first_fin.unwrap_or(Side::Client))
        ),
        Closing::Reset => {
            let mut s = format!("reset (RST) by {}", side(reset_by.unwrap_or(Side::Client)));
            if let Some(f) = first_fin {
                let fin_t = c.dirs[if f == Side::Client { 0 } else { 1 }].fin;
                let rst_t = c.dirs[if reset_by == Some(Side::Client) { 0 } else { 1 }].rst;
                if fin_t < rst_t {
                    s = format!("FIN from {}, then {s}", side(f));
                } else {
                    s.push_str(&format!(", then FIN from {}", side(f)));
                }
            }
            s
        }
        Closing::Refused => String::new(),
        Closing::StillOpen => "still open when the capture ended".into(),
        Closing::NotApplicable => String::new(),
    };
    let open = match app_open {
        Some(app) if open.is_empty() => app,
        Some(app) => format!("{open}, then {app}"),
        None => open.to_string(),
    };
    let close = match app_close {
        Some(app) if closed != Closing::Fin => {
            if close.is_empty() {
                app
            } else {
                format!("{app}, then {close}")
            }
        }
        _ => close,
    };
    if close.is_empty() {
        open
    } else {
        format!("{open}; {close}")
    }
}

fn protocol_step(s: crate::dissect::Step) -> report::ProtocolStep {
    report::ProtocolStep {
        message: s.message.to_string(),
        by: match s.direction {
            Direction::ClientToServer => Side::Client,
            Direction::ServerToClient => Side::Server,
        },
        t: s.t,
    }
}

/// The hosts of the report: `hosts` are what the packets tell of each (address, MACs, counters), in
/// address order; their roles and notes come from the conversations, which say who listened, who
/// connected, who published.
pub(crate) fn build_hosts(hosts: impl Iterator<Item = Host>, convs: &[Conversation]) -> Vec<Host> {
    let mut roles: BTreeMap<String, BTreeSet<Role>> = BTreeMap::new();
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Servers: endpoints that accepted (handshake / data answered) — grouped per (server, protocol).
    let mut served: BTreeMap<(String, u16, String), BTreeSet<String>> = BTreeMap::new();
    // UDP services that only received: (receiver, port, protocol) -> senders.
    let mut unanswered: BTreeMap<(String, u16, String), BTreeSet<String>> = BTreeMap::new();
    // Ice servers: (address, port) -> the identities called, in order of first call.
    let mut ice_objects: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
    // CORBA servers: (address, port) -> the objects (keys, as shown) called, in order of first call;
    // and the names bound in a naming service there (name → what it refers to).
    let mut corba_objects: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
    let mut corba_bound: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
    // What the IORs seen anywhere in the capture say of an object, by (port, key): its type and
    // the name it was bound under, so that a binary key reads as what it is.
    let mut corba_iors: BTreeMap<(u16, String), (String, Option<String>)> = BTreeMap::new();
    for m in convs.iter().flat_map(|c| &c.messages) {
        let f = |k: &str| m.fields.get(k);
        if m.protocol != "GIOP" {
            continue;
        }
        let (Some(port), Some(key)) = (f("ior_port").and_then(|p| p.parse().ok()), f("ior_key")) else {
            continue;
        };
        let entry = corba_iors
            .entry((port, key.clone()))
            .or_insert_with(|| (f("ior_type").cloned().unwrap_or_default(), None));
        if let Some(name) = f("name").filter(|_| f("bound_to").is_some()) {
            entry.1.get_or_insert_with(|| name.clone());
        }
    }
    for c in convs {
        let accepted = match &c.lifecycle {
            Some(l) => !matches!(l.opened, Opening::Refused | Opening::Unanswered),
            None => c.server_to_client.packets > 0,
        };
        if c.transport == report::Transport::Udp && c.server_to_client.packets == 0 {
            roles
                .entry(c.client.addr.clone())
                .or_default()
                .insert(Role::Sender);
            roles
                .entry(c.server.addr.clone())
                .or_default()
                .insert(Role::Receiver);
            unanswered
                .entry((c.server.addr.clone(), c.server.port, c.protocol.clone()))
                .or_default()
                .insert(c.client.addr.clone());
            continue;
        }
        roles
            .entry(c.client.addr.clone())
            .or_default()
            .insert(Role::Client);
        if accepted {
            served
                .entry((c.server.addr.clone(), c.server.port, c.protocol.clone()))
                .or_default()
                .insert(c.client.addr.clone());
        }
        // ZeroMQ: the socket types each side announced in READY.
        for m in c.messages.iter().filter(|m| m.protocol == "ZMTP") {
            let (Some("READY"), Some(sock)) = (
                m.fields.get("type").map(String::as_str),
                m.fields.get("socket_type"),
            ) else {
                continue;
            };
            let (addr, peer) = match m.direction {
                Direction::ClientToServer => (&c.client, &c.server),
                Direction::ServerToClient => (&c.server, &c.client),
            };
            let role = match sock.as_str() {
                "PUB" | "XPUB" | "PUSH" => Some(Role::Publisher),
                "SUB" | "XSUB" | "PULL" => Some(Role::Subscriber),
                _ => None,
            };
            if let Some(r) = role {
                roles.entry(addr.addr.clone()).or_default().insert(r);
            }
            let how = if addr == &c.server {
                format!("listening on port {}", addr.port)
            } else {
                "connecting".into()
            };
            notes
                .entry(addr.addr.clone())
                .or_default()
                .push(format!("ZeroMQ {sock} socket ({how}), peer {}", peer.addr));
        }
        // Ice: the objects (identities) the clients called on the server's adapter.
        let objects = ice_objects
            .entry((c.server.addr.clone(), c.server.port))
            .or_default();
        for m in &c.messages {
            let request = matches!(
                m.fields.get("type").map(String::as_str),
                Some("Request" | "BatchRequest")
            );
            if m.protocol != "Ice" || !request || m.direction != Direction::ClientToServer {
                continue;
            }
            for id in m.fields.get("identity").into_iter().flat_map(|i| i.split(", ")) {
                if !objects.iter().any(|o| o == id) {
                    objects.push(id.to_string());
                }
            }
        }
        // CORBA: the objects (keys) the clients called on the server's port, the names bound.
        for m in &c.messages {
            let f = |k: &str| m.fields.get(k).map(String::as_str);
            let call = f("type") == Some("Request") || f("reassembled_type") == Some("Request");
            if m.protocol != "GIOP" || !call || m.direction != Direction::ClientToServer {
                continue;
            }
            let Some(object) = f("object") else { continue };
            let mut shown = object.to_string();
            if object == "NameService" {
                shown.push_str(" (the naming service)");
            } else if let Some((ty, name)) =
                f("object_key").and_then(|k| corba_iors.get(&(c.server.port, k.to_string())))
            {
                let about = match (ty.as_str(), name.as_deref()) {
                    ("", None) => String::new(),
                    ("", Some(name)) => format!(" (bound as {name})"),
                    (ty, None) => format!(" ({ty})"),
                    (ty, Some(name)) => format!(" ({ty}, bound as {name})"),
                };
                shown.push_str(&about);
            }
            let objects = corba_objects
                .entry((c.server.addr.clone(), c.server.port))
                .or_default();
            if !objects.contains(&shown) {
                objects.push(shown);
            }
            if let (Some(name), Some(to)) = (f("name"), f("bound_to")) {
                let bound = corba_bound
                    .entry((c.server.addr.clone(), c.server.port))
                    .or_default();
                let b = format!("{name} → {to}");
                if !bound.contains(&b) {
                    bound.push(b);
                }
            }
        }
        // MQTT: who published, who subscribed.
        for m in &c.messages {
            if m.protocol != "MQTT" {
                continue;
            }
            let kind = m.fields.get("type").map(String::as_str).unwrap_or("");
            match (m.direction, kind) {
                (Direction::ClientToServer, "PUBLISH") => {
                    roles
                        .entry(c.client.addr.clone())
                        .or_default()
                        .insert(Role::Publisher);
                }
                (Direction::ClientToServer, "SUBSCRIBE") | (Direction::ServerToClient, "PUBLISH") => {
                    roles
                        .entry(c.client.addr.clone())
                        .or_default()
                        .insert(Role::Subscriber);
                }
                _ => {}
            }
        }
    }
    for ((addr, port, proto), clients) in &served {
        let r = roles.entry(addr.clone()).or_default();
        let proto_text = if proto.is_empty() {
            "TCP".to_string()
        } else {
            proto.clone()
        };
        if proto == "MQTT" {
            r.insert(Role::Broker);
            notes.entry(addr.clone()).or_default().push(format!(
                "MQTT broker on port {port} for {} client host(s): {}",
                clients.len(),
                clients.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        } else {
            r.insert(Role::Server);
            // TLS does not say what it carries; the port may (8883: MQTT).
            let suggests = match crate::dissect::tls::port_suggests(*port) {
                Some(inner) if proto == crate::dissect::tls::PROTOCOL => {
                    format!(" (the port suggests {inner} over TLS)")
                }
                _ => String::new(),
            };
            notes.entry(addr.clone()).or_default().push(format!(
                "{proto_text} server on port {port}{suggests} for {}",
                clients.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for ((addr, port), objects) in &ice_objects {
        if !objects.is_empty() {
            notes.entry(addr.clone()).or_default().push(format!(
                "Ice objects called on port {port}: {}",
                objects.join(", ")
            ));
        }
    }
    for ((addr, port), objects) in &corba_objects {
        notes.entry(addr.clone()).or_default().push(format!(
            "CORBA objects called on port {port}: {}",
            objects.join(", ")
        ));
    }
    for ((addr, port), bound) in &corba_bound {
        notes.entry(addr.clone()).or_default().push(format!(
            "names bound in the naming service on port {port}: {}",
            bound.join(", ")
        ));
    }
    for ((addr, port, proto), senders) in &unanswered {
        notes.entry(addr.clone()).or_default().push(format!(
            "received {} datagrams on UDP port {port} from {}, never answered",
            if proto.is_empty() { "empty" } else { proto.as_str() },
            senders.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    hosts
        .map(|mut h| {
            h.roles = roles
                .get(&h.addr)
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default();
            h.notes = notes.get(&h.addr).cloned().unwrap_or_default();
            h
        })
        .collect()
}

/// The activity lines: messages counted per (protocol, activity key) over all conversations, with
/// who sent them to whom. `reports` are `convs` as built by [`build_conversation`] (same order).
pub(crate) fn build_activity(convs: &[Conv], reports: &[Conversation]) -> Vec<Activity> {
    // (protocol, key) -> (count, senders, receivers, first conversation)
    #[derive(Default)]
    struct G {
        count: u64,
        from: BTreeSet<String>,
        to: BTreeSet<String>,
        forwarded_to: BTreeSet<String>,
        forwarded: u64,
        order: u32,
    }
    let mut groups: BTreeMap<(String, String), G> = BTreeMap::new();
    for (c, report) in convs.iter().zip(reports) {
        let counts =
            c.messages.activity.iter().flat_map(|(&(protocol, dir), keys)| {
                keys.iter().map(move |(key, n)| (protocol, key, dir, n))
            });
        for (protocol, key, dir, n) in counts {
            // The client's lines in an echo/upcall conversation are its requests.
            let (protocol, key) =
                if protocol == "text" && dir == 0 && matches!(report.protocol.as_str(), "echo" | "upcall") {
                    (report.protocol.as_str(), "request")
                } else {
                    (protocol, key.as_str())
                };
            let (from, to) = if dir == 0 {
                (c.client, c.server)
            } else {
                (c.server, c.client)
            };
            let g = groups
                .entry((protocol.to_string(), key.to_string()))
                .or_insert_with(|| G {
                    order: c.id,
                    ..G::default()
                });
            // MQTT: a PUBLISH from the broker is a forward to a subscriber, counted with the original.
            if protocol == "MQTT" && dir == 1 && key.starts_with("PUBLISH") {
                g.forwarded_to.insert(to.ip().to_string());
                g.forwarded += n;
                continue;
            }
            g.count += n;
            g.from.insert(from.ip().to_string());
            // The service's port says something; a client's ephemeral port does not.
            g.to.insert(if dir == 0 {
                to.to_string()
            } else {
                to.ip().to_string()
            });
        }
    }
    let mut out: Vec<(u32, Activity)> = groups
        .into_iter()
        .filter(|(_, g)| g.count > 0 || !g.forwarded_to.is_empty())
        .map(|((protocol, key), g)| {
            let join = |s: &BTreeSet<String>| {
                let mut v: Vec<String> = s.iter().take(6).cloned().collect();
                if s.len() > 6 {
                    v.truncate(5);
                    v.push(format!("{} more", s.len() - 5));
                }
                v.join(", ")
            };
            let mut summary = if protocol == "MQTT" && key.starts_with("PUBLISH") {
                // The broker is in the conversation list; what matters is who published and who got it.
                format!(
                    "{} {key} from {} (broker {})",
                    g.count,
                    join(&g.from),
                    join(&g.to)
                )
            } else {
                format!("{} {key} from {} to {}", g.count, join(&g.from), join(&g.to))
            };
            if !g.forwarded_to.is_empty() {
                summary.push_str(&format!(
                    ", forwarded {} times to {}",
                    g.forwarded,
                    join(&g.forwarded_to)
                ));
            }
            (
                g.order,
                Activity {
                    protocol,
                    count: g.count,
                    summary,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.count.cmp(&a.1.count)));
    out.into_iter().map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Hints, Msg, Session, Step};

    const CLIENT: &str = "172.18.0.3:40000";
    const SERVER: &str = "172.18.0.2:1883";

    /// A TCP conversation between two endpoints, with nothing seen yet.
    fn conv(id: u32, client: &str, server: &str) -> Conv {
        let (client, server): (SocketAddr, SocketAddr) = (client.parse().unwrap(), server.parse().unwrap());
        let hints = Hints {
            server_port: server.port(),
            udp: false,
            mid_stream: false,
        };
        Conv::new(id, false, client, server, 0.0, 0, Session::new(hints))
    }

    fn mqtt(direction: Direction, kind: &str) -> Msg {
        Msg {
            t: 0.5,
            direction,
            protocol: "MQTT",
            summary: kind.to_string(),
            fields: [("type".to_string(), kind.to_string())].into(),
            offset: 0,
            len: 2,
        }
    }

    fn host(addr: &str) -> Host {
        Host {
            addr: addr.to_string(),
            name: None,
            macs: vec!["02:42:ac:12:00:02".into()],
            roles: Vec::new(),
            notes: Vec::new(),
            packets_sent: 3,
            packets_received: 4,
            bytes_sent: 300,
            bytes_received: 400,
        }
    }

    #[test]
    fn the_most_specific_protocol_names_the_conversation() {
        let msg = |protocol| Msg {
            protocol,
            ..mqtt(Direction::ClientToServer, "x")
        };
        assert_eq!(
            conversation_protocol(&[msg("text"), msg("HTTP"), msg("JSON-RPC")]),
            "JSON-RPC"
        );
        assert_eq!(conversation_protocol(&[msg("something new")]), "data");
        assert_eq!(conversation_protocol(&[]), "");
    }

    #[test]
    fn a_graceful_close_after_the_protocols_own_closing_message() {
        let mut c = conv(1, CLIENT, SERVER);
        c.dirs[0].syn = Some(0.0);
        c.dirs[1].synack = Some(0.001);
        c.dirs[0].ack_after_synack = true;
        c.dirs[0].fin = Some(1.0);
        c.dirs[1].fin = Some(1.1);
        c.messages.closed_by = Some(Step {
            t: 0.9,
            direction: Direction::ClientToServer,
            message: "CloseConnection",
        });
        let mut anomalies = Vec::new();
        let r = build_conversation(&mut c, &mut anomalies);
        let l = r.lifecycle.unwrap();
        assert_eq!(
            l.summary,
            "opened with the three-way handshake (SYN, SYN+ACK, ACK); closed by CloseConnection \
             from the client, then FIN from the client, then from the server"
        );
        assert_eq!(l.protocol_closed_by.map(|s| s.by), Some(Side::Client));
        assert!(anomalies.is_empty(), "{anomalies:?}");
    }

    #[test]
    fn a_refused_connection_is_an_anomaly() {
        let mut c = conv(7, CLIENT, SERVER);
        c.dirs[0].syn = Some(0.0);
        c.dirs[1].rst = Some(0.002);
        let mut anomalies = Vec::new();
        let r = build_conversation(&mut c, &mut anomalies);
        let l = r.lifecycle.unwrap();
        assert_eq!((l.opened, l.closed), (Opening::Refused, Closing::Refused));
        assert_eq!(
            l.summary,
            "refused: the server answered the SYN with RST (no process listening)"
        );
        assert_eq!(anomalies.len(), 1);
        assert_eq!(
            (anomalies[0].kind, anomalies[0].conversation, anomalies[0].t),
            (AnomalyKind::Refused, Some(7), 0.002)
        );
    }

    #[test]
    fn hosts_get_their_roles_from_the_conversations_and_keep_their_counters() {
        let mut c = conv(1, CLIENT, SERVER);
        c.messages.push(mqtt(Direction::ClientToServer, "CONNECT"));
        c.messages.push(mqtt(Direction::ClientToServer, "PUBLISH"));
        // (No handshake seen: a connection already open, which the server did accept.)
        let report = build_conversation(&mut c, &mut Vec::new());
        assert_eq!(report.protocol, "MQTT");
        let hosts = build_hosts([host("172.18.0.2"), host("172.18.0.3")].into_iter(), &[report]);
        assert_eq!(hosts[0].roles, [Role::Broker]);
        assert_eq!(
            hosts[0].notes,
            ["MQTT broker on port 1883 for 1 client host(s): 172.18.0.3"]
        );
        assert_eq!(hosts[1].roles, [Role::Client, Role::Publisher]);
        // What the packets told is left as it was.
        for h in &hosts {
            assert_eq!((h.macs.len(), h.packets_sent, h.bytes_received), (1, 3, 400));
        }
    }

    #[test]
    fn a_broker_forwarding_a_publish_is_counted_with_the_original() {
        let publisher = "172.18.0.3:40000";
        let subscriber = "172.18.0.4:40001";
        let mut convs = [conv(1, publisher, SERVER), conv(2, subscriber, SERVER)];
        let key = || -> BTreeMap<String, u64> { [("PUBLISH to sister/temp".to_string(), 3)].into() };
        convs[0].messages.activity.insert(("MQTT", 0), key());
        convs[1].messages.activity.insert(("MQTT", 1), key());
        let reports: Vec<Conversation> = convs
            .iter_mut()
            .map(|c| build_conversation(c, &mut Vec::new()))
            .collect();
        let activity = build_activity(&convs, &reports);
        assert_eq!(activity.len(), 1, "{activity:?}");
        assert_eq!(activity[0].count, 3);
        assert_eq!(
            activity[0].summary,
            "3 PUBLISH to sister/temp from 172.18.0.3 (broker 172.18.0.2:1883), forwarded 3 times \
             to 172.18.0.4"
        );
    }
}
