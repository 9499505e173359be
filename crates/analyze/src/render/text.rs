//! The text report (`sister analyze FILE`, the default format): the findings in the order a student
//! writes them in the worksheet: capture, hosts, conversations (how each opened and closed), what the
//! applications said, anomalies, other traffic.

use std::fmt::Write;

use crate::report::*;

/// Messages shown per conversation in the text report (all of them are in `--format json`).
pub const MESSAGES_SHOWN: usize = 12;

fn dir_arrow(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "→",
        Direction::ServerToClient => "←",
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Broker => "broker",
        Role::Server => "server",
        Role::Client => "client",
        Role::Publisher => "publisher",
        Role::Subscriber => "subscriber",
        Role::Sender => "sender",
        Role::Receiver => "receiver",
    }
}

/// The anomaly's name as Wireshark's expert info says it, where it has one.
pub fn anomaly_name(k: AnomalyKind) -> &'static str {
    match k {
        AnomalyKind::Retransmission => "retransmission",
        AnomalyKind::OutOfOrder => "out-of-order",
        AnomalyKind::Overlap => "overlapping data",
        AnomalyKind::MissingSegment => "previous segment not captured",
        AnomalyKind::Reset => "connection reset",
        AnomalyKind::Refused => "connection refused",
        AnomalyKind::UnansweredSyn => "SYN unanswered",
        AnomalyKind::UnansweredRequest => "unanswered request",
        AnomalyKind::ZeroWindow => "zero window",
        AnomalyKind::TruncatedPacket => "packet cut by the snaplen",
        AnomalyKind::Malformed => "malformed",
    }
}

/// The names of the report's hosts (`hosts[].name`), to label addresses as `mqtt-sub (172.18.0.4)`.
struct Labels<'a>(std::collections::BTreeMap<&'a str, &'a str>);

impl<'a> Labels<'a> {
    fn new(r: &'a Report) -> Self {
        Labels(
            r.hosts
                .iter()
                .filter_map(|h| Some((h.addr.as_str(), h.name.as_deref()?)))
                .collect(),
        )
    }

    /// `mqtt-sub (172.18.0.4)`, or the address alone when it has no name.
    fn host(&self, addr: &str) -> String {
        match self.0.get(addr) {
            Some(name) => format!("{name} ({addr})"),
            None => addr.to_string(),
        }
    }

    /// `mqtt-sub (172.18.0.4:49285)`, or `172.18.0.4:49285`.
    fn endpoint(&self, e: &Endpoint) -> String {
        match self.0.get(e.addr.as_str()) {
            Some(name) => format!("{name} ({}:{})", e.addr, e.port),
            None => format!("{}:{}", e.addr, e.port),
        }
    }
}

/// Render the whole report. Hosts with a name (`hosts[].name`) are shown as `mqtt-sub (172.18.0.4)`.
pub fn render(r: &Report) -> String {
    let labels = Labels::new(r);
    let mut o = String::new();
    let c = &r.capture;
    let _ = writeln!(o, "Capture: {}", c.files.join(", "));
    let _ = writeln!(
        o,
        "  {} packets ({}), {}, {:.3} s{}",
        c.packets,
        c.formats.join(", "),
        c.link_types.join(", "),
        c.duration,
        c.start_time
            .as_ref()
            .map(|s| format!(" from {s}"))
            .unwrap_or_default()
    );
    if c.duplicates > 0 {
        let _ = writeln!(
            o,
            "  {} duplicate frames left out (each packet was captured twice, on two interfaces)",
            c.duplicates
        );
    }
    if c.time_went_backwards > 0 {
        let _ = writeln!(
            o,
            "  timestamps went backwards {} time(s) (tolerated)",
            c.time_went_backwards
        );
    }
    for p in &r.problems {
        let _ = writeln!(o, "  problem: {p}");
    }

    let _ = writeln!(o, "\nHosts");
    for h in &r.hosts {
        let roles: Vec<&str> = h.roles.iter().map(|&r| role_name(r)).collect();
        let _ = writeln!(
            o,
            "  {:<16} {:<24} sent {} pkts / {} B, received {} pkts / {} B",
            labels.host(&h.addr),
            if roles.is_empty() {
                "-".to_string()
            } else {
                roles.join(", ")
            },
            h.packets_sent,
            h.bytes_sent,
            h.packets_received,
            h.bytes_received
        );
        for n in &h.notes {
            let _ = writeln!(o, "  {:<16} {n}", "");
        }
    }

    let _ = writeln!(o, "\nConversations");
    if r.conversations.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    for cv in &r.conversations {
        let t = match cv.transport {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        };
        let proto = if cv.protocol.is_empty() {
            "(no data)"
        } else {
            cv.protocol.as_str()
        };
        let _ = writeln!(
            o,
            "  #{} {t} {} → {}  {proto}  {:.3}–{:.3} s",
            cv.id,
            labels.endpoint(&cv.client),
            labels.endpoint(&cv.server),
            cv.start,
            cv.end
        );
        let d = |s: &DirectionStats| {
            format!(
                "{} pkts, {} B, payload {} B, {} msgs",
                s.packets, s.bytes, s.payload_bytes, s.messages
            )
        };
        let _ = writeln!(o, "      client→server {}", d(&cv.client_to_server));
        let _ = writeln!(o, "      server→client {}", d(&cv.server_to_client));
        if let Some(l) = &cv.lifecycle {
            let _ = writeln!(
                o,
                "      {}  [Zeek {} {}]",
                l.summary, l.zeek_state, l.zeek_history
            );
        }
        if let Some(tls) = &cv.tls {
            let _ = writeln!(o, "      {}", tls.summary);
        }
        for m in cv.messages.iter().take(MESSAGES_SHOWN) {
            let _ = writeln!(
                o,
                "      {:>9.3} {} {:<9} {}",
                m.t,
                dir_arrow(m.direction),
                m.protocol,
                m.summary
            );
        }
        let more = cv.messages.len().saturating_sub(MESSAGES_SHOWN) as u64 + cv.messages_omitted;
        if more > 0 {
            let _ = writeln!(
                o,
                "      … {more} more messages (--format json lists them, --follow {} shows the content)",
                cv.id
            );
        }
    }

    if !r.activity.is_empty() {
        let _ = writeln!(o, "\nActivity");
        for a in &r.activity {
            let _ = writeln!(o, "  {:<9} {}", a.protocol, a.summary);
        }
    }

    let _ = writeln!(o, "\nAnomalies");
    if r.anomalies.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    for a in &r.anomalies {
        let conv = a.conversation.map(|c| format!("#{c} ")).unwrap_or_default();
        let _ = writeln!(o, "  {:>9.3} {conv}{}: {}", a.t, anomaly_name(a.kind), a.detail);
    }

    if !r.other_traffic.is_empty() {
        let _ = writeln!(o, "\nOther traffic");
        for t in &r.other_traffic {
            let times = if t.count > 1 {
                format!(" (×{})", t.count)
            } else {
                String::new()
            };
            let _ = writeln!(o, "  {:>9.3} {:<7} {}{times}", t.t, t.protocol, t.summary);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(addr: &str, name: Option<&str>) -> Host {
        Host {
            addr: addr.into(),
            name: name.map(str::to_string),
            macs: vec![],
            roles: vec![Role::Client],
            notes: vec![],
            packets_sent: 1,
            packets_received: 1,
            bytes_sent: 60,
            bytes_received: 60,
        }
    }

    #[test]
    fn hosts_with_a_name_are_labelled() {
        let r = Report {
            format_version: FORMAT_VERSION,
            capture: CaptureSummary::default(),
            hosts: vec![host("172.18.0.2", Some("mqtt-broker")), host("172.18.0.4", None)],
            conversations: vec![],
            activity: vec![],
            anomalies: vec![],
            other_traffic: vec![],
            problems: vec![],
        };
        let text = render(&r);
        assert!(text.contains("\n  mqtt-broker (172.18.0.2) client "), "{text}");
        assert!(text.contains("\n  172.18.0.4       client "), "{text}");
        let labels = Labels::new(&r);
        let e = |addr: &str, port| Endpoint {
            addr: addr.into(),
            port,
        };
        assert_eq!(
            labels.endpoint(&e("172.18.0.2", 1883)),
            "mqtt-broker (172.18.0.2:1883)"
        );
        assert_eq!(labels.endpoint(&e("172.18.0.4", 49285)), "172.18.0.4:49285");
    }
}
