//! The space-time diagram a textbook draws for a run: one horizontal line per process (time runs to
//! the right), a dot per event labelled with its Lamport clock (and vector clock, if asked), and an
//! arrow per message from its send to its receive.
//!
//! What to notice in it: every arrow goes from a smaller clock to a larger one (the clock condition);
//! two dots with no chain of arrows and line segments between them are concurrent, whatever their
//! clocks say.

use std::fmt::Write;

use super::sim::{EventKind, Run};

const LEFT: f64 = 70.0;
const TOP: f64 = 60.0;
const DX: f64 = 46.0;
const DY: f64 = 90.0;

/// Render `run` as a standalone SVG document.
pub fn svg(run: &Run, with_vectors: bool) -> String {
    let steps = run.events.len().max(1);
    let width = LEFT + DX * steps as f64 + 40.0;
    let height = TOP + DY * run.processes.saturating_sub(1) as f64 + 70.0;
    let x = |step: usize| LEFT + 20.0 + DX * step as f64;
    let y = |pid: usize| TOP + DY * pid as f64;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(
        s,
        r##"<title>Lamport clocks: {} processes, seed {}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#c0392b"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="22" font-size="14">Space-time diagram: {} processes, seed {} (labels: Lamport clock{})</text>"##,
        run.processes,
        run.seed,
        run.processes,
        run.seed,
        if with_vectors { ", vector clock" } else { "" }
    );
    for p in 0..run.processes {
        let _ = writeln!(
            s,
            r##"<line class="process" x1="{LEFT}" y1="{y:.0}" x2="{x2:.0}" y2="{y:.0}" stroke="#333" stroke-width="1.5"/>
<text x="12" y="{ty:.0}" font-weight="bold">P{}</text>"##,
            p + 1,
            y = y(p),
            x2 = width - 20.0,
            ty = y(p) + 4.0
        );
    }
    for m in &run.messages {
        let (Some(a), Some(b)) = (run.events.get(m.send_event), run.events.get(m.receive_event)) else {
            continue;
        };
        // Stop the arrow at the edge of the receiving dot.
        let (x1, y1, x2, y2) = (x(a.step), y(a.pid), x(b.step), y(b.pid));
        let len = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
        let (ex, ey) = (x2 - (x2 - x1) / len * 6.0, y2 - (y2 - y1) / len * 6.0);
        let _ = writeln!(
            s,
            r##"<line class="message" x1="{x1:.1}" y1="{y1:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="#c0392b" stroke-width="1.2" marker-end="url(#arrow)"><title>m{} P{}→P{} timestamp {}</title></line>"##,
            m.id,
            m.from + 1,
            m.to + 1,
            m.timestamp
        );
    }
    for e in &run.events {
        let fill = match e.kind {
            EventKind::Local => "#7f8c8d",
            EventKind::Send { .. } => "#2e86c1",
            EventKind::Receive { .. } => "#27ae60",
        };
        let (cx, cy) = (x(e.step), y(e.pid));
        let _ = writeln!(
            s,
            r##"<circle class="event" cx="{cx:.1}" cy="{cy:.1}" r="5" fill="{fill}"><title>{}</title></circle>
<text x="{cx:.1}" y="{ly:.1}" text-anchor="middle">{}</text>"##,
            xml_escape(&e.to_string()),
            e.lamport,
            ly = cy - 10.0
        );
        if with_vectors {
            let _ = writeln!(
                s,
                r##"<text x="{cx:.1}" y="{vy:.1}" text-anchor="middle" font-size="9" fill="#555">{}</text>"##,
                e.vector,
                vy = cy + 18.0
            );
        }
    }
    // Legend.
    let ly = height - 18.0;
    let _ = writeln!(
        s,
        r##"<g class="legend" font-size="11"><circle cx="{LEFT}" cy="{ly:.0}" r="5" fill="#2e86c1"/><text x="{a:.0}" y="{t:.0}">send</text><circle cx="{b:.0}" cy="{ly:.0}" r="5" fill="#27ae60"/><text x="{c:.0}" y="{t:.0}">receive</text><circle cx="{d:.0}" cy="{ly:.0}" r="5" fill="#7f8c8d"/><text x="{e:.0}" y="{t:.0}">local</text><text x="{f:.0}" y="{t:.0}">arrows: messages (send clock &lt; receive clock)</text></g>"##,
        a = LEFT + 10.0,
        b = LEFT + 60.0,
        c = LEFT + 70.0,
        d = LEFT + 135.0,
        e = LEFT + 145.0,
        f = LEFT + 200.0,
        t = ly + 4.0
    );
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lamport::sim::{simulate, SimConfig};

    #[test]
    fn draws_one_line_per_process_one_dot_per_event_one_arrow_per_message() {
        let run = simulate(SimConfig {
            processes: 3,
            events: 6,
            seed: 2,
        });
        let svg = svg(&run, true);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="process""#).count(), 3);
        assert_eq!(svg.matches(r#"class="event""#).count(), run.events.len());
        assert_eq!(svg.matches(r#"class="message""#).count(), run.messages.len());
        for e in &run.events {
            assert!(svg.contains(&format!(">{}</text>", e.lamport)));
        }
    }
}
