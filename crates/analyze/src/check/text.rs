//! `sister check`'s text output: per capture, the pattern it holds and each check, passed (✓) or
//! not (✗), with its sentence; notes (ℹ) after; a last line over all captures when there are several.

use super::{CaptureCheck, Lang};

/// The captures' checks as text for a terminal.
pub fn render(captures: &[CaptureCheck], lang: Lang) -> String {
    let mut out = String::new();
    for (i, c) in captures.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let (file, pattern, title) = (&c.file, c.pattern, &c.pattern_title);
        let (passed, total) = (c.checks_passed, c.checks_total);
        out.push_str(&tr!(
            lang,
            "{file}: {pattern} ({title}), {passed} of {total} checks passed\n",
            "{file}: {pattern} ({title}), {passed} dari {total} pemeriksaan lulus\n"
        ));
        for check in &c.checks {
            let mark = if check.passed { '✓' } else { '✗' };
            out.push_str(&format!("  {mark} {}: {}\n", check.title, check.detail));
        }
        for note in &c.notes {
            out.push_str(&format!("  ℹ {}\n", note.detail));
        }
    }
    if captures.len() > 1 {
        let n = captures.len();
        let good = captures.iter().filter(|c| c.all_passed()).count();
        let bad = n - good;
        out.push('\n');
        out.push_str(&tr!(
            lang,
            "{n} captures: {good} passed every check, {bad} did not\n",
            "{n} capture: {good} lulus semua pemeriksaan, {bad} tidak\n"
        ));
    }
    out
}
