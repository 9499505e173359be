//! Which pattern a capture really holds, from its report alone.
//!
//! Each conversation is given a pattern **by what it carries first, its port second**, as the
//! analyzer's dissectors are chosen (LAB.md: UDP text, ZeroMQ PUB/SUB and the Lamport demo all use
//! port 12345, and students move services to other ports):
//! - the dissector's protocol: MQTT, `echo` (`Echo:` replies), `upcall`, `Lamport`, JSON-RPC, SOAP,
//!   other HTTP (REST), ZMTP, Ice, GIOP (CORBA);
//! - UDP text: the UDP pattern, or one-way when no datagram ever came back;
//! - other TCP data: the course's port (2222 echo, 4141 upcall, 2181 ZooKeeper, ...), a ZooKeeper
//!   ConnectRequest, or one-way when nothing ever came back.
//!
//! The pattern with the most conversations wins (then the most messages). Traffic that cannot be the
//! lab's is left out before: conversations with an address outside the private, loopback and
//! link-local ranges (the lab runs on Docker bridges and loopback), and the host's own chatter on UDP
//! (DNS, DHCP, NTP, NetBIOS, SSDP, mDNS, LLMNR). A capture whose only connections were refused or
//! carried nothing gets the pattern of their port, so that its checks can say why.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Pattern;
use crate::report::{Conversation, Report, Transport};

/// The result of [`detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The pattern the capture holds ([`Pattern::None`] when none).
    pub pattern: Pattern,
    /// The pattern's conversations (indices into `report.conversations`, in capture order): those
    /// that carried its messages, and the TCP attempts without data (refused, unanswered, empty) to
    /// its ports.
    pub conversations: Vec<usize>,
    /// The other patterns seen too, with how many conversations each.
    pub others: Vec<(Pattern, usize)>,
    /// Conversations that carried data but belong to no pattern (not between lab addresses, the
    /// host's own UDP chatter, or unrecognised).
    pub unattributed: Vec<usize>,
}

impl Detection {
    /// The pattern's conversations.
    pub fn conversations<'a>(&'a self, report: &'a Report) -> impl Iterator<Item = &'a Conversation> + 'a {
        self.conversations
            .iter()
            .filter_map(move |&i| report.conversations.get(i))
    }
}

/// UDP ports of the host's own traffic, never the lab's: DNS, DHCP, NTP, NetBIOS, SSDP, DHCPv6,
/// mDNS, LLMNR.
const HOST_CHATTER_UDP: [u16; 11] = [53, 67, 68, 123, 137, 138, 546, 547, 1900, 5353, 5355];

/// Find the pattern of a capture.
pub fn detect(report: &Report) -> Detection {
    // Per pattern: conversations carrying it, and their messages.
    let mut found: BTreeMap<Pattern, (Vec<usize>, u64)> = BTreeMap::new();
    let mut attempts = Vec::new();
    let mut unattributed = Vec::new();
    for (i, c) in report.conversations.iter().enumerate() {
        if !is_lab_address(&c.server.addr) || !is_lab_address(&c.client.addr) {
            if carries_data(c) {
                unattributed.push(i);
            }
            continue;
        }
        if !carries_data(c) {
            if c.transport == Transport::Tcp {
                attempts.push(i);
            }
            continue;
        }
        match classify(c) {
            Some(p) => {
                let e = found.entry(p).or_default();
                e.0.push(i);
                e.1 += c.client_to_server.messages + c.server_to_client.messages;
            }
            None => unattributed.push(i),
        }
    }
    // The most conversations, then the most messages; on a tie the first in LAB.md's order.
    let mut winner: Option<(Pattern, usize, u64)> = None;
    for p in Pattern::ALL {
        if let Some((convs, msgs)) = found.get(&p) {
            let better = match winner {
                None => true,
                Some((_, n, m)) => (convs.len(), *msgs) > (n, m),
            };
            if better {
                winner = Some((p, convs.len(), *msgs));
            }
        }
    }
    let mut pattern = match winner {
        Some((p, _, _)) => p,
        // Nothing carried data: the port of an attempt says what the student tried to capture.
        None => attempts
            .iter()
            .find_map(|&i| course_pattern(report.conversations[i].server.port, Transport::Tcp))
            .unwrap_or(Pattern::None),
    };
    let mut conversations = found.get(&pattern).map(|e| e.0.clone()).unwrap_or_default();
    let others = found
        .iter()
        .filter(|(p, _)| **p != pattern)
        .map(|(p, e)| (*p, e.0.len()))
        .collect();
    // Datagrams that nobody ever answered are the one-way pattern over UDP, not UDP's request/reply.
    if pattern == Pattern::Udp
        && conversations
            .iter()
            .all(|&i| report.conversations[i].server_to_client.payload_bytes == 0)
    {
        pattern = Pattern::Oneway;
    }
    if pattern != Pattern::None {
        // Attempts to the pattern's ports belong to it: a refused first connection is part of its story.
        let mut ports: Vec<u16> = pattern.course_ports().to_vec();
        ports.extend(conversations.iter().map(|&i| report.conversations[i].server.port));
        let tcp = conversations.is_empty()
            || conversations
                .iter()
                .any(|&i| report.conversations[i].transport == Transport::Tcp);
        if tcp {
            conversations.extend(
                attempts
                    .iter()
                    .filter(|&&i| ports.contains(&report.conversations[i].server.port)),
            );
            // TLS to the same server port is the same pattern, encrypted: the lab's MQTT-over-TLS
            // step has a plaintext client refused by the TLS listener beside the TLS clients.
            conversations.extend(unattributed.iter().filter(|&&i| {
                let c = &report.conversations[i];
                c.protocol == "TLS" && ports.contains(&c.server.port)
            }));
            conversations.sort_unstable();
            conversations.dedup();
            unattributed.retain(|i| conversations.binary_search(i).is_err());
        }
    }
    Detection {
        pattern,
        conversations,
        others,
        unattributed,
    }
}

/// True when the conversation carried application bytes either way.
pub fn carries_data(c: &Conversation) -> bool {
    c.client_to_server.payload_bytes + c.server_to_client.payload_bytes > 0
}

/// The pattern a conversation with data carries, if it is one of the lab's.
fn classify(c: &Conversation) -> Option<Pattern> {
    let port = c.server.port;
    let pattern = match c.protocol.as_str() {
        "MQTT" => Pattern::Mqtt,
        "echo" => Pattern::Reqresp,
        "upcall" => Pattern::Upcall,
        "Lamport" => Pattern::Lamport,
        "JSON-RPC" => Pattern::Rpc,
        "SOAP" => Pattern::Soap,
        // HTTP that is neither SOAP nor JSON-RPC, between lab addresses: the REST pattern.
        "HTTP" => Pattern::Rest,
        "ZMTP" => Pattern::Zmq,
        "Ice" => Pattern::Ice,
        "GIOP" => Pattern::Corba,
        // TLS hides its content: only the port can say which pattern it carries.
        "TLS" => {
            return course_pattern(port, Transport::Tcp).or(match port {
                8883 => Some(Pattern::Mqtt),
                _ => None,
            })
        }
        _ if c.transport == Transport::Udp => {
            if HOST_CHATTER_UDP.contains(&port) || HOST_CHATTER_UDP.contains(&c.client.port) {
                return None;
            }
            Pattern::Udp
        }
        // Plain TCP text or binary data: the course's port first (an echo server that never
        // answered is still the echo pattern), then what it looks like.
        _ => {
            if looks_like_zookeeper(c) {
                return Some(Pattern::Zk);
            }
            if let Some(p @ (Pattern::Reqresp | Pattern::Upcall | Pattern::Oneway | Pattern::Zk)) =
                course_pattern(port, Transport::Tcp)
            {
                return Some(p);
            }
            if c.server_to_client.payload_bytes == 0 {
                return Some(Pattern::Oneway);
            }
            return None;
        }
    };
    Some(pattern)
}

/// The pattern the course runs on `port` (LAB.md's table), when only one does.
pub fn course_pattern(port: u16, transport: Transport) -> Option<Pattern> {
    if transport == Transport::Udp {
        return (port == 12345).then_some(Pattern::Udp);
    }
    Pattern::ALL.into_iter().find(|p| {
        // 12345/tcp is ZeroMQ PUB/SUB and the Lamport demo: the port alone cannot tell.
        port != 12345 && !p.is_udp() && p.course_ports().contains(&port)
    })
}

/// A ZooKeeper session: the server's port, or the client's first message is a ConnectRequest (a
/// 4-byte length of 44 or 45, then protocol version 0: ZooKeeper's `ConnectRequest` Jute record).
/// The report shows a message's first bytes as hex (`00 00 00 2c ...`) when they are binary, and as
/// escaped text (`'\x00\x00\x00,...`) when they happen to be valid UTF-8, as a new session's
/// all-zero ConnectRequest is.
fn looks_like_zookeeper(c: &Conversation) -> bool {
    if c.server.port == 2181 {
        return true;
    }
    let first = c
        .messages
        .iter()
        .find(|m| m.direction == crate::report::Direction::ClientToServer);
    first.is_some_and(|m| {
        let starts = [
            "00 00 00 2c 00 00 00 00",
            "00 00 00 2d 00 00 00 00",
            "'\\x00\\x00\\x00,\\x00\\x00\\x00\\x00",
            "'\\x00\\x00\\x00-\\x00\\x00\\x00\\x00",
        ];
        matches!(m.len, 48 | 49)
            && matches!(m.protocol.as_str(), "data" | "text")
            && starts.iter().any(|s| m.summary.starts_with(s))
    })
}

/// True for the addresses the lab's containers and loopback use: private (RFC 1918, RFC 4193),
/// loopback and link-local. An address that does not parse is kept (better checked than dropped).
pub fn is_lab_address(addr: &str) -> bool {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_private() || a.is_loopback() || a.is_link_local(),
        Ok(IpAddr::V6(a)) => {
            let first = a.segments()[0];
            a.is_loopback() || (first & 0xffc0) == 0xfe80 || (first & 0xfe00) == 0xfc00
        }
        Err(_) => true,
    }
}
