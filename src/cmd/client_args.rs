//! Flags shared by the plain-TCP clients (request/response, one-way, upcall): where the server is, and
//! where the lines come from.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use patterns::console::Input;
use patterns::framing::Framing;

/// `--server`, `--wait`, `--raw`.
#[derive(Debug, Args)]
pub struct Connect {
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub wait: f64,
    /// Speak the course's raw convention (no framing, one read per reply) from the first message on.
    /// Without it sister frames its messages and falls back to raw when the server is the course's
    #[arg(long)]
    pub raw: bool,
}

impl Connect {
    pub fn wait(&self) -> Duration {
        Duration::from_secs_f64(self.wait.max(0.0))
    }

    pub fn framing(&self) -> Framing {
        if self.raw {
            Framing::Raw
        } else {
            Framing::Auto
        }
    }
}

/// `--message` (repeatable) or `--script FILE`; neither means: read the terminal.
#[derive(Debug, Args)]
pub struct Script {
    /// Send this message (repeat the flag for several; `bye` is sent too, then the client ends, as the
    /// course's scripted client does). Without --message or --script the client reads the terminal,
    /// where typing `bye` ends it
    #[arg(short, long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// Send each line of FILE as a message (like --message)
    #[arg(long, value_name = "FILE", conflicts_with = "messages")]
    pub script: Option<std::path::PathBuf>,
}

impl Script {
    pub fn input(&self) -> anyhow::Result<Input> {
        if let Some(path) = &self.script {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the script {}", path.display()))?;
            return Ok(Input::script_file(&text));
        }
        if !self.messages.is_empty() {
            return Ok(Input::script(self.messages.clone()));
        }
        Ok(Input::stdin())
    }
}
