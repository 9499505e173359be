//! `sister analyze --format svg`: the capture as a sequence diagram.
//!
//! Hosts are lifelines (name, address and role in a box at the top), each message an arrow labelled as
//! Wireshark would say it, time running down the page (the time of each arrow on the left, and a
//! marker where nothing happened for a while). Each TCP connection shows its handshake (grey) and its
//! teardown (FIN in orange, RST in red). Repeated exchanges are folded (see [`super::events::fold`]):
//! drawn once, then once more marked "×41". The SVG is self-contained (no scripts, no external fonts)
//! and every arrow has a tooltip with its full label, time and conversation number.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::events::{self, lifeline_addr, Kind, Row};
use super::Options;
use crate::report::Report;

/// At most this many rows are drawn; the rest is said in a note at the bottom.
pub const MAX_ROWS: usize = 400;

const COL_W: f64 = 280.0;
const LEFT: f64 = 96.0;
const TOP: f64 = 58.0;
const BOX_H: f64 = 62.0;
const ROW_H: f64 = 30.0;
const GAP_H: f64 = 22.0;
/// Average width of a character at 12 px in a sans-serif font, for cutting labels to fit.
const CHAR_W: f64 = 6.6;
/// Narrow diagrams (two hosts) still get room for the legend.
const MIN_WIDTH: f64 = 720.0;

/// Escape text for SVG/XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn cut(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The colour of an arrow.
fn colour(kind: Kind, protocol: &str) -> &'static str {
    match kind {
        Kind::Handshake => "#6b7280",
        Kind::Fin => "#d97706",
        Kind::Reset => "#dc2626",
        Kind::Data => match protocol {
            "MQTT" => "#2563eb",
            "HTTP" | "REST" => "#059669",
            // Ice and GIOP share JSON-RPC's colour: all are remote calls (a new colour would add a
            // marker to every diagram's defs).
            "JSON-RPC" | "Ice" | "GIOP" => "#0d9488",
            "SOAP" => "#7c3aed",
            "ZMTP" => "#db2777",
            // TLS in a colour of its own: what it carries cannot be read.
            "TLS" => "#4d7c0f",
            _ => "#111827",
        },
    }
}

fn fmt_t(t: f64) -> String {
    if t >= 100.0 {
        format!("{t:.1} s")
    } else {
        format!("{t:.3} s")
    }
}

/// Render the report as an SVG sequence diagram.
pub fn render(report: &Report, opts: &Options) -> String {
    let lang = opts.lang;
    let evs = events::events(report);
    let (rows, omitted) = events::fold_limited(&evs, MAX_ROWS);

    // Lifelines in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    for r in &rows {
        for id in [&r.event.from, &r.event.to] {
            if !order.contains(id) {
                order.push(id.clone());
            }
        }
    }
    let col: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let x_of = |id: &str| LEFT + COL_W * (col.get(id).copied().unwrap_or(0) as f64 + 0.5);

    // Vertical positions, with a gap marker where more than 5 s (and a fifth of the capture) passed.
    let gap_threshold = (report.capture.duration / 5.0).max(5.0);
    let mut ys = Vec::with_capacity(rows.len());
    let mut gaps: Vec<(f64, f64)> = Vec::new(); // (y, seconds)
    let mut y = TOP + BOX_H + 34.0;
    let mut prev_t: Option<f64> = None;
    for r in &rows {
        if let Some(p) = prev_t {
            if r.event.t - p > gap_threshold {
                gaps.push((y - 4.0, r.event.t - p));
                y += GAP_H;
            }
        }
        ys.push(y);
        y += ROW_H;
        prev_t = Some(r.t_last.max(r.event.t));
    }
    let bottom = y + 8.0;
    let width = (LEFT + COL_W * order.len().max(1) as f64 + 24.0).max(MIN_WIDTH);
    let height = bottom + 116.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12">"#
    );
    // One arrowhead per colour; TLS's only when the diagram has TLS arrows.
    let mut colours = vec![
        "#6b7280", "#d97706", "#dc2626", "#2563eb", "#059669", "#0d9488", "#7c3aed", "#db2777", "#111827",
    ];
    if rows
        .iter()
        .any(|r| r.event.kind == Kind::Data && r.event.protocol == "TLS")
    {
        colours.insert(8, "#4d7c0f");
    }
    let _ = writeln!(
        s,
        "<defs>{}</defs>",
        colours
            .iter()
            .map(|c| format!(
                r#"<marker id="a{}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"#,
                &c[1..]
            ))
            .collect::<String>()
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = opts.title.clone().unwrap_or_else(|| super::file_names(report));
    let _ = writeln!(
        s,
        r#"<text x="12" y="24" font-size="16" font-weight="bold">{}</text>"#,
        esc(&format!(
            "{} {}",
            lang.pick("Sequence diagram:", "Diagram urutan:"),
            title
        ))
    );
    let _ = writeln!(
        s,
        r##"<text x="12" y="44" fill="#4b5563">{}</text>"##,
        esc(&format!(
            "{} {}, {:.1} s, {} {}",
            report.capture.packets,
            lang.pick("packets", "paket"),
            report.capture.duration,
            report.conversations.len(),
            lang.pick("conversations", "percakapan"),
        ))
    );

    // Lifelines and their boxes.
    for (i, id) in order.iter().enumerate() {
        let x = LEFT + COL_W * (i as f64 + 0.5);
        let addr = lifeline_addr(id);
        let name = opts.names.name(addr);
        let roles: Vec<&str> = events::lifeline_roles(report, &evs, id)
            .into_iter()
            .map(|r| lang.role(r))
            .collect();
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#9ca3af" stroke-dasharray="4 4"/>"##,
            TOP + BOX_H
        );
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{TOP:.1}" width="{:.1}" height="{BOX_H:.1}" rx="6" fill="#f3f4f6" stroke="#374151"/>"##,
            x - COL_W / 2.0 + 12.0,
            COL_W - 24.0
        );
        let max = ((COL_W - 36.0) / CHAR_W) as usize;
        let (line1, line2) = match name {
            Some(n) => (n.to_string(), id.clone()),
            None => (id.clone(), String::new()),
        };
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" font-size="13">{}</text>"#,
            TOP + 20.0,
            esc(&cut(&line1, max))
        );
        if !line2.is_empty() {
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                TOP + 36.0,
                esc(&cut(&line2, max))
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#4b5563" font-style="italic">{}</text>"##,
            TOP + if line2.is_empty() { 38.0 } else { 52.0 },
            esc(&cut(&roles.join(", "), max))
        );
    }

    for (gy, secs) in &gaps {
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT:.1}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#e5e7eb" stroke-width="6" opacity="0.8"/><text x="8" y="{:.1}" fill="#6b7280" font-size="11">{}</text>"##,
            width - 24.0,
            gy + 4.0,
            esc(&format!("⋯ +{secs:.1} s")),
        );
    }

    for (r, y) in rows.iter().zip(&ys) {
        draw_row(&mut s, r, *y, x_of(&r.event.from), x_of(&r.event.to), opts);
    }

    // Legend and notes.
    let mut ly = bottom + 26.0;
    let legend = [
        ("#6b7280", "handshake (SYN → SYN, ACK → ACK)"),
        ("#111827", lang.pick("application message", "pesan aplikasi")),
        (
            "#d97706",
            lang.pick("FIN: graceful close", "FIN: penutupan normal"),
        ),
        (
            "#dc2626",
            lang.pick("RST: reset / refused", "RST: reset / ditolak"),
        ),
    ];
    let mut lx = 12.0;
    for (c, text) in legend {
        let w = 56.0 + text.chars().count() as f64 * 7.0;
        if lx > 12.0 && lx + w > width {
            lx = 12.0;
            ly += 20.0;
        }
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="2" marker-end="url(#a{})"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 30.0,
            &c[1..],
            lx + 36.0,
            ly + 4.0,
            esc(text)
        );
        lx += w;
    }
    let mut notes = vec![lang
        .pick(
            "×N: the same exchange repeated N more times (first and last time shown on the left)",
            "×N: pertukaran yang sama diulang N kali lagi (waktu pertama dan terakhir di kiri)",
        )
        .to_string()];
    if omitted > 0 {
        notes.push(format!(
            "{} {omitted} {}",
            lang.pick("…and", "…dan"),
            lang.pick(
                "more arrows not drawn (see the text or Markdown report)",
                "panah lagi tidak digambar (lihat laporan teks atau Markdown)"
            )
        ));
    }
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text x="12" y="{:.1}" fill="#4b5563">{}</text>"##,
            ly + 26.0 + 18.0 * i as f64,
            esc(n)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn draw_row(s: &mut String, r: &Row, y: f64, x1: f64, x2: f64, opts: &Options) {
    let e = &r.event;
    let c = colour(e.kind, &e.protocol);
    let (label, time) = if r.times > 1 {
        (
            format!("×{} {}", r.times, e.key),
            format!("{}–{}", fmt_t(e.t).trim_end_matches(" s"), fmt_t(r.t_last)),
        )
    } else {
        (e.label.clone(), fmt_t(e.t))
    };
    let wireshark = super::lang::wireshark_name(&e.protocol, &e.label)
        .map(|n| format!(" (Wireshark: {n})"))
        .unwrap_or_default();
    let tooltip = format!(
        "{}{wireshark} — {} #{}, t={}",
        e.label,
        opts.lang.pick("conversation", "percakapan"),
        e.conversation,
        time
    );
    let span = (x2 - x1).abs().max(COL_W);
    let max = ((span - 16.0) / CHAR_W) as usize;
    let mid = (x1 + x2) / 2.0;
    let dash = if r.times > 1 {
        r#" stroke-dasharray="7 3""#
    } else {
        ""
    };
    let width = if r.times > 1 { 2.5 } else { 1.5 };
    let _ = writeln!(s, "<g><title>{}</title>", esc(&tooltip));
    let _ = writeln!(
        s,
        r##"<text x="8" y="{:.1}" fill="#6b7280" font-size="11">{}</text>"##,
        y + 4.0,
        esc(&time)
    );
    if (x1 - x2).abs() < 1.0 {
        // A message to itself: a small loop.
        let _ = writeln!(
            s,
            r#"<path d="M{x1:.1},{:.1} h40 v14 h-40" fill="none" stroke="{c}" stroke-width="{width}"{dash} marker-end="url(#a{})"/>"#,
            y - 7.0,
            &c[1..]
        );
    } else {
        let _ = writeln!(
            s,
            r#"<line x1="{x1:.1}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="{c}" stroke-width="{width}"{dash} marker-end="url(#a{})"/>"#,
            &c[1..]
        );
    }
    let weight = if r.times > 1 { r#" font-weight="bold""# } else { "" };
    let _ = writeln!(
        s,
        r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle" fill="{c}"{weight}>{}</text></g>"#,
        y - 5.0,
        esc(&cut(&label, max))
    );
}
