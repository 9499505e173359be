//! The lecturer's table: `sister check --class DIR`, one row per capture (file, pattern, checks
//! passed of total, its faults in a few words), then a summary (captures per pattern, the most
//! common faults). Markdown (for the course's notes), CSV (for a spreadsheet: the rows only, a
//! spreadsheet sums them itself) or JSON (every check of every capture, and the summary).

use serde::Serialize;

use super::{CaptureCheck, Lang, Pattern};

/// The class as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub captures: usize,
    /// Captures whose every check passed.
    pub all_passed: usize,
    /// How many captures hold each pattern, most first.
    pub patterns: Vec<PatternCount>,
    /// How many captures show each fault, most first.
    pub faults: Vec<FaultCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternCount {
    pub pattern: Pattern,
    pub captures: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultCount {
    pub fault: String,
    pub captures: usize,
}

/// Count patterns and faults over the captures.
pub fn summary(captures: &[CaptureCheck]) -> Summary {
    let mut patterns: Vec<PatternCount> = Vec::new();
    let mut faults: Vec<FaultCount> = Vec::new();
    for c in captures {
        match patterns.iter_mut().find(|p| p.pattern == c.pattern) {
            Some(p) => p.captures += 1,
            None => patterns.push(PatternCount {
                pattern: c.pattern,
                captures: 1,
            }),
        }
        for f in c.faults() {
            match faults.iter_mut().find(|x| x.fault == f) {
                Some(x) => x.captures += 1,
                None => faults.push(FaultCount {
                    fault: f.to_string(),
                    captures: 1,
                }),
            }
        }
    }
    // Most first; equal counts in LAB.md's order of patterns, and faults in order of appearance.
    let order = |p: Pattern| Pattern::ALL.iter().position(|x| *x == p).unwrap_or(usize::MAX);
    patterns.sort_by(|a, b| {
        b.captures
            .cmp(&a.captures)
            .then(order(a.pattern).cmp(&order(b.pattern)))
    });
    faults.sort_by_key(|f| std::cmp::Reverse(f.captures));
    Summary {
        captures: captures.len(),
        all_passed: captures.iter().filter(|c| c.all_passed()).count(),
        patterns,
        faults,
    }
}

/// The table and its summary as Markdown.
pub fn markdown(captures: &[CaptureCheck], title: &str, lang: Lang) -> String {
    let s = summary(captures);
    let mut out = String::new();
    let n = s.captures;
    out.push_str(&tr!(
        lang,
        "# Captures of {title} ({n})\n\n",
        "# Capture dari {title} ({n})\n\n"
    ));
    out.push_str(&tr!(
        lang,
        "| file | pattern | checks passed | faults | notes |\n|---|---|---|---|---|\n",
        "| file | pola | pemeriksaan lulus | kesalahan | catatan |\n|---|---|---|---|---|\n"
    ));
    for c in captures {
        let faults = if c.faults().is_empty() {
            "–".to_string()
        } else {
            c.faults().join("; ")
        };
        let notes: Vec<&str> = c.notes.iter().map(|n| n.short.as_str()).collect();
        let notes = if notes.is_empty() {
            "–".to_string()
        } else {
            notes.join("; ")
        };
        out.push_str(&format!(
            "| {} | {} | {}/{} | {} | {} |\n",
            cell(&c.file),
            c.pattern,
            c.checks_passed,
            c.checks_total,
            cell(&faults),
            cell(&notes)
        ));
    }
    let good = s.all_passed;
    out.push_str(&tr!(
        lang,
        "\n## Summary\n\n{good} of {n} captures passed every check.\n\n| pattern | captures |\n|---|---|\n",
        "\n## Ringkasan\n\n{good} dari {n} capture lulus semua pemeriksaan.\n\n| pola | capture |\n|---|---|\n"
    ));
    for p in &s.patterns {
        out.push_str(&format!("| {} | {} |\n", p.pattern, p.captures));
    }
    if s.faults.is_empty() {
        out.push_str(&tr!(lang, "\nNo faults.\n", "\nTidak ada kesalahan.\n"));
    } else {
        out.push_str(&tr!(
            lang,
            "\n| most common faults | captures |\n|---|---|\n",
            "\n| kesalahan paling sering | capture |\n|---|---|\n"
        ));
        for f in &s.faults {
            out.push_str(&format!("| {} | {} |\n", cell(&f.fault), f.captures));
        }
    }
    out
}

/// One row per capture as CSV (RFC 4180), with a header line.
pub fn csv(captures: &[CaptureCheck], lang: Lang) -> String {
    let mut out = lang
        .pick(
            "file,pattern,checks_passed,checks_total,faults,notes\n",
            "file,pola,pemeriksaan_lulus,jumlah_pemeriksaan,kesalahan,catatan\n",
        )
        .to_string();
    for c in captures {
        let notes: Vec<&str> = c.notes.iter().map(|n| n.short.as_str()).collect();
        let row = [
            c.file.clone(),
            c.pattern.to_string(),
            c.checks_passed.to_string(),
            c.checks_total.to_string(),
            c.faults().join("; "),
            notes.join("; "),
        ];
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// What `sister check --class DIR --format json` writes: every capture's checks as `sister check
/// --format json` writes them, and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct JsonClass<'a> {
    pub captures: &'a [CaptureCheck],
    pub summary: Summary,
}

/// Every capture's checks and the summary as JSON: `{"captures": [...], "summary": {...}}`.
pub fn json(captures: &[CaptureCheck]) -> String {
    let class = JsonClass {
        captures,
        summary: summary(captures),
    };
    let mut s = serde_json::to_string_pretty(&class).unwrap_or_default();
    s.push('\n');
    s
}

/// A Markdown table cell: `|` escaped, line breaks as spaces.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
