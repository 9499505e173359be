//! A recorded Lamport run (`sister lamport sim --record run.json`) for the page's space-time
//! diagram: read and checked here, drawn by `assets/lamport.js` (processes as lines, events as dots
//! with their Lamport and vector clocks, messages as arrows from send to receive).

use std::path::Path;

use anyhow::Context;
use patterns::lamport::sim::Run;

/// Read a recorded run; the page gets it as JSON (`GET /api/lamport`).
pub fn load(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let run: Run = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a run recorded by `sister lamport sim --record`",
            path.display()
        )
    })?;
    Ok(serde_json::to_value(&run)?)
}
