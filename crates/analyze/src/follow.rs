//! `--follow CONV`: one conversation's content, as Wireshark's "Follow TCP Stream" shows it: both
//! directions interleaved in the order they were captured, client bytes marked `>` and server bytes `<`,
//! with a line where the dissector found a message boundary.

use std::fmt::Write;

use crate::flow::FollowChunk;
use crate::report::{Conversation, Direction};

/// Render; with `color`, client text is red and server text blue (Wireshark's colours).
pub fn render(conv: &Conversation, chunks: &[FollowChunk], color: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Follow #{}: {}:{} (client, >) ↔ {}:{} (server, <), {}",
        conv.id,
        conv.client.addr,
        conv.client.port,
        conv.server.addr,
        conv.server.port,
        if conv.protocol.is_empty() {
            "no data"
        } else {
            &conv.protocol
        }
    );
    let mut boundaries: Vec<_> = conv.messages.iter().collect();
    boundaries.sort_by_key(|m| m.offset);
    for c in chunks {
        let (mark, paint, reset) = match (c.direction, color) {
            (Direction::ClientToServer, true) => (">", "\x1b[31m", "\x1b[0m"),
            (Direction::ServerToClient, true) => ("<", "\x1b[34m", "\x1b[0m"),
            (Direction::ClientToServer, false) => (">", "", ""),
            (Direction::ServerToClient, false) => ("<", "", ""),
        };
        if c.gap > 0 {
            let _ = writeln!(o, "{mark} [{} bytes missing from the capture]", c.gap);
            continue;
        }
        let end = c.offset + c.data.len() as u64;
        for m in conv
            .messages
            .iter()
            .filter(|m| m.direction == c.direction && m.offset >= c.offset && m.offset < end)
        {
            let _ = writeln!(
                o,
                "{mark} ── {} {} ({} bytes at {})",
                m.protocol, m.summary, m.len, m.offset
            );
        }
        let text = wire::escape::show(&c.data).replace("\\n", "\\n\n");
        for line in text.lines() {
            let _ = writeln!(o, "{mark} {paint}{line}{reset}");
        }
        let _ = c.t;
    }
    let _ = writeln!(
        o,
        "client→server {} bytes, server→client {} bytes",
        conv.client_to_server.payload_bytes, conv.server_to_client.payload_bytes
    );
    o
}
