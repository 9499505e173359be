//! `sister analyze --format md`: the findings as a Markdown section a student pastes into the
//! worksheet report, with the sequence diagram beside it.
//!
//! It answers the worksheet's questions in its order: which hosts talked (with their names and roles),
//! on which ports, what each message carried, how each connection opened and closed, and what was odd.
//! `--lang id` writes it in Indonesian; protocol terms stay as Wireshark shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::events::{self, lifeline_addr, Kind};
use super::Options;
use crate::report::{Conversation, Endpoint, Report, Transport};

/// Where the diagram goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagram {
    /// No diagram.
    None,
    /// A link to an SVG file written next to the Markdown (`![…](mqtt.svg)`).
    Link(String),
    /// The SVG itself, inline (GitHub and most Markdown viewers show inline SVG inside HTML blocks).
    Inline(String),
}

/// At most this many rows in the message table; the rest is counted.
const MAX_MESSAGE_ROWS: usize = 60;

/// Escape text for a Markdown table cell (pipes, newlines) and keep it short.
fn cell(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    if t.chars().count() > 90 {
        t = t.chars().take(89).collect::<String>() + "…";
    }
    t
}

/// Inline code with backticks that survive any content.
fn code(s: &str) -> String {
    let s = cell(s);
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn host(opts: &Options, id: &str) -> String {
    let addr = lifeline_addr(id);
    match opts.names.name(addr) {
        Some(n) if id != addr => format!("{n} ({id})"),
        Some(_) => opts.names.label(addr),
        None => id.to_string(),
    }
}

fn endpoint(opts: &Options, e: &Endpoint) -> String {
    let addr = if e.addr.contains(':') {
        format!("[{}]", e.addr)
    } else {
        e.addr.clone()
    };
    match opts.names.name(&e.addr) {
        Some(n) => format!("{n} ({addr}:{})", e.port),
        None => format!("{addr}:{}", e.port),
    }
}

fn conv_line(opts: &Options, c: &Conversation) -> String {
    format!("{} → {}", endpoint(opts, &c.client), endpoint(opts, &c.server))
}

/// Render the report as a Markdown section.
pub fn render(report: &Report, opts: &Options, diagram: &Diagram) -> String {
    let l = opts.lang;
    let mut s = String::new();
    let title = opts.title.clone().unwrap_or_else(|| super::file_names(report));
    let _ = writeln!(
        s,
        "## {} {}\n",
        l.pick("Capture analysis:", "Analisis capture:"),
        title
    );

    // Summary.
    let cap = &report.capture;
    let _ = write!(
        s,
        "{} {} {} {:.1} s ({}), {} {}, {} {}",
        l.pick("**Summary.**", "**Ringkasan.**"),
        cap.packets,
        l.pick("packets in", "paket dalam"),
        cap.duration,
        cap.link_types.join(", "),
        report.hosts.len(),
        l.pick("hosts", "host"),
        report.conversations.len(),
        l.pick("conversations", "percakapan"),
    );
    if let Some(start) = &cap.start_time {
        let _ = write!(s, "; {} {start}", l.pick("first packet at", "paket pertama pada"));
    }
    s.push_str(".\n");
    if cap.duplicates > 0 {
        let _ = writeln!(
            s,
            "{} {} {}\n",
            cap.duplicates,
            l.pick(
                "packets were second copies of the same packet (a capture with `-i any` sees each packet on the container's interface and on the bridge);",
                "paket adalah salinan kedua dari paket yang sama (capture dengan `-i any` melihat setiap paket di interface container dan di bridge);"
            ),
            l.pick("they are counted once here (Wireshark shows them as retransmissions).", "di sini dihitung sekali (Wireshark menampilkannya sebagai retransmission).")
        );
    } else {
        s.push('\n');
    }

    match diagram {
        Diagram::None => {}
        Diagram::Link(path) => {
            let _ = writeln!(s, "![{}]({path})\n", l.pick("Sequence diagram", "Diagram urutan"));
        }
        Diagram::Inline(svg) => {
            // An HTML block: a blank line before and after, no blank line inside.
            let body: String = svg
                .lines()
                .filter(|x| !x.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(s, "<div>\n{body}\n</div>\n");
        }
    }

    // Hosts.
    let _ = writeln!(s, "### {}\n", l.pick("Hosts", "Host"));
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} |\n|---|---|---|---|",
        l.pick("Host", "Host"),
        l.pick("Role", "Peran"),
        l.pick("Packets sent / received", "Paket dikirim / diterima"),
        l.pick("MAC", "MAC")
    );
    for h in &report.hosts {
        let roles: Vec<&str> = h.roles.iter().map(|r| l.role(*r)).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} / {} | {} |",
            cell(&opts.names.label(&h.addr)),
            if roles.is_empty() {
                "-".to_string()
            } else {
                roles.join(", ")
            },
            h.packets_sent,
            h.packets_received,
            if h.macs.is_empty() {
                "-".to_string()
            } else {
                h.macs.join(", ")
            }
        );
    }
    s.push('\n');

    // Conversations.
    let _ = writeln!(s, "### {}\n", l.pick("Conversations", "Percakapan"));
    if report.conversations.is_empty() {
        let _ = writeln!(
            s,
            "{}\n",
            l.pick(
                "No TCP or UDP conversation.",
                "Tidak ada percakapan TCP atau UDP."
            )
        );
    } else {
        let _ = writeln!(
            s,
            "| # | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|",
            l.pick("Client → Server", "Klien → Server"),
            l.pick("Protocol", "Protokol"),
            l.pick("Time (s)", "Waktu (s)"),
            l.pick("Messages → / ←", "Pesan → / ←"),
            l.pick("Payload bytes → / ←", "Byte payload → / ←"),
        );
        for c in &report.conversations {
            let transport = match c.transport {
                Transport::Tcp => "TCP",
                Transport::Udp => "UDP",
            };
            let proto = if c.protocol.is_empty() {
                transport.to_string()
            } else {
                format!("{transport} / {}", c.protocol)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3}–{:.3} | {} / {} | {} / {} |",
                c.id,
                cell(&conv_line(opts, c)),
                cell(&proto),
                c.start,
                c.end,
                c.client_to_server.messages,
                c.server_to_client.messages,
                c.client_to_server.payload_bytes,
                c.server_to_client.payload_bytes
            );
        }
        s.push('\n');
    }

    // Protocol messages, grouped.
    let evs = events::events(report);
    #[derive(Default)]
    struct Group {
        first: f64,
        /// The position of its first arrow: the order among groups first seen at the same time.
        order: usize,
        count: u64,
        example: String,
        protocol: String,
    }
    // Few distinct messages: one row per exact message. Many: one row per kind (`PUBLISH sister/temp`),
    // with an example, so the table stays short.
    let data: Vec<&events::Event> = evs.iter().filter(|e| e.kind == Kind::Data).collect();
    let distinct: std::collections::HashSet<(&str, &str, &str)> = data
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str(), e.label.as_str()))
        .collect();
    let exact = distinct.len() <= 30;
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    for (order, e) in data.into_iter().enumerate() {
        let what = if exact { &e.label } else { &e.key };
        let g = groups
            .entry((e.from.clone(), e.to.clone(), what.clone()))
            .or_insert_with(|| Group {
                first: e.t,
                order,
                example: e.label.clone(),
                protocol: e.protocol.clone(),
                ..Group::default()
            });
        g.count += 1;
    }
    if !groups.is_empty() {
        let _ = writeln!(s, "### {}\n", l.pick("Protocol messages", "Pesan protokol"));
        let mut list: Vec<_> = groups.into_iter().collect();
        list.sort_by(|a, b| a.1.first.total_cmp(&b.1.first).then(a.1.order.cmp(&b.1.order)));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |\n|---|---|---|---|---|",
            l.pick("From → To", "Dari → Ke"),
            l.pick("Protocol", "Protokol"),
            l.pick("Message", "Pesan"),
            l.pick("Count", "Jumlah"),
            l.pick("First at (s)", "Pertama (s)")
        );
        let total = list.len();
        for ((from, to, _), g) in list.iter().take(MAX_MESSAGE_ROWS) {
            let _ = writeln!(
                s,
                "| {} → {} | {} | {} | {} | {:.3} |",
                cell(&host(opts, from)),
                cell(&host(opts, to)),
                cell(&g.protocol),
                match super::lang::wireshark_name(&g.protocol, &g.example) {
                    Some(ws) => format!("{} ({})", code(&g.example), ws),
                    None => code(&g.example),
                },
                g.count,
                g.first
            );
        }
        if total > MAX_MESSAGE_ROWS {
            let _ = writeln!(
                s,
                "\n{} {} {}",
                l.pick("…and", "…dan"),
                total - MAX_MESSAGE_ROWS,
                l.pick("more kinds of message.", "jenis pesan lainnya.")
            );
        }
        s.push('\n');
        if opts.lang == super::Lang::En && !report.activity.is_empty() {
            for a in &report.activity {
                let _ = writeln!(s, "- {}", a.summary);
            }
            s.push('\n');
        }
    }

    // Connections: how they opened and closed.
    let tcp: Vec<&Conversation> = report
        .conversations
        .iter()
        .filter(|c| c.lifecycle.is_some())
        .collect();
    if !tcp.is_empty() {
        let _ = writeln!(
            s,
            "### {}\n",
            l.pick(
                "How each connection opened and closed",
                "Bagaimana setiap koneksi dibuka dan ditutup"
            )
        );
        for c in tcp {
            let Some(life) = &c.lifecycle else { continue };
            let _ = writeln!(
                s,
                "- **#{}** {}: {}; {}. (Zeek: `{}`, history `{}`)",
                c.id,
                conv_line(opts, c),
                l.opening_with(life.opened, life.protocol_opened_by.as_ref()),
                l.closing_with(
                    life.closed,
                    life.first_fin_by,
                    life.reset_by,
                    life.protocol_closed_by.as_ref()
                ),
                life.zeek_state,
                life.zeek_history
            );
        }
        s.push('\n');
    }

    // TLS: what is visible without the keys, and that the content is not.
    let tls: Vec<&Conversation> = report.conversations.iter().filter(|c| c.tls.is_some()).collect();
    if !tls.is_empty() {
        let _ = writeln!(
            s,
            "### {}\n",
            l.pick("What TLS lets one see", "Apa yang terlihat dari TLS")
        );
        for c in tls {
            let Some(t) = &c.tls else { continue };
            let _ = writeln!(
                s,
                "- **#{}** {}: {}",
                c.id,
                conv_line(opts, c),
                l.tls_sentence(t, c.server.port)
            );
        }
        s.push('\n');
    }

    // Anomalies.
    let _ = writeln!(s, "### {}\n", l.pick("Anomalies", "Anomali"));
    if report.anomalies.is_empty() {
        let _ = writeln!(
            s,
            "{}\n",
            l.pick(
                "None: no retransmission, reset, refused connection, lost segment or unanswered request.",
                "Tidak ada: tidak ada retransmission, reset, koneksi ditolak, segmen hilang, atau request tanpa jawaban."
            )
        );
    } else {
        for a in &report.anomalies {
            let conv = a
                .conversation
                .map(|c| format!(", {} #{c}", l.pick("conversation", "percakapan")))
                .unwrap_or_default();
            let times = if a.count > 1 {
                format!(" ×{}", a.count)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- **{}**{times} (t={:.3} s{conv}): {}",
                l.anomaly(a.kind),
                a.t,
                cell(&a.detail)
            );
        }
        s.push('\n');
    }

    // Other traffic.
    if !report.other_traffic.is_empty() {
        let _ = writeln!(s, "### {}\n", l.pick("Other traffic", "Lalu lintas lain"));
        for o in &report.other_traffic {
            let times = if o.count > 1 {
                format!(" ×{}", o.count)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- {}: {}{times} (t={:.3} s)",
                o.protocol,
                cell(&o.summary),
                o.t
            );
        }
        s.push('\n');
    }

    if !report.problems.is_empty() {
        let _ = writeln!(
            s,
            "### {}\n",
            l.pick("Problems reading the capture", "Masalah saat membaca capture")
        );
        for p in &report.problems {
            let _ = writeln!(s, "- {}", cell(p));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "_{}_",
        l.pick(
            "Written by `sister analyze --format md`.",
            "Ditulis oleh `sister analyze --format md --lang id`."
        )
    );
    s
}
