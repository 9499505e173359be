//! What a client reads (the terminal, or a script) and what it prints (the lines a course student sees).
//!
//! The course's clients come in two kinds, and sister's follow them:
//! - **interactive**: read a line from the terminal, send it, show the reply; typing `bye` ends the
//!   client *without sending it* (the course's `client.py` just closes);
//! - **scripted**: send a fixed list (`hello`, `distributed`, `systems`, `bye`), and *do* send `bye`
//!   (the course's `auto_client.py` does), then end.
//!
//! What a client prints for the student goes through [`Say`], not through the log: on the command line
//! it is stdout (`Received: Echo: hello`, as the course's clients print), in `sister lab` it becomes a
//! line of the transcript.

use std::collections::VecDeque;
use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

/// Where a client's lines come from.
pub enum Input {
    /// A fixed list of messages (`--message`, `--script FILE`, the lab).
    Script(VecDeque<String>),
    /// Lines typed by a person (or piped in); `pending` holds a line read only in part.
    Lines {
        reader: Box<dyn AsyncBufRead + Unpin + Send>,
        pending: Vec<u8>,
    },
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Script(m) => f.debug_tuple("Script").field(m).finish(),
            Input::Lines { .. } => f.write_str("Lines(..)"),
        }
    }
}

impl Input {
    /// A scripted input from a list of messages.
    pub fn script<S: Into<String>>(messages: impl IntoIterator<Item = S>) -> Input {
        Input::Script(messages.into_iter().map(Into::into).collect())
    }

    /// The lines of a script file (one message per line; empty lines skipped).
    pub fn script_file(text: &str) -> Input {
        Input::script(text.lines().filter(|l| !l.trim().is_empty()))
    }

    /// The terminal.
    pub fn stdin() -> Input {
        Input::reader(tokio::io::stdin())
    }

    /// Any byte source read line by line, like the terminal.
    pub fn reader(r: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Input {
        Input::Lines {
            reader: Box::new(BufReader::new(r)),
            pending: Vec::new(),
        }
    }

    /// True for a script (which sends `bye`), false for a person at a terminal (where `bye` only ends).
    pub fn is_scripted(&self) -> bool {
        matches!(self, Input::Script(_))
    }

    /// The next line without its line ending; `None` at the end of the input. Bytes that are not UTF-8
    /// (a terminal in Latin-1) become U+FFFD instead of ending the client.
    ///
    /// Cancel-safe: a line read in part stays in `pending` (tokio's `read_until` appends to it), so a
    /// client can wait for it in a `select!` while it also listens to its server.
    pub async fn next(&mut self) -> io::Result<Option<String>> {
        match self {
            Input::Script(messages) => Ok(messages.pop_front()),
            Input::Lines { reader, pending } => {
                let n = reader.read_until(b'\n', pending).await?;
                if n == 0 && pending.is_empty() {
                    return Ok(None);
                }
                let mut line = std::mem::take(pending);
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                Ok(Some(String::from_utf8_lossy(&line).into_owned()))
            }
        }
    }
}

/// The line that ends a client.
pub fn is_bye(line: &str) -> bool {
    line.trim() == "bye"
}

/// What a client does with a line of input, by the course's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send it and go on.
    Send,
    /// Send it, then stop (`bye` in a script).
    SendThenStop,
    /// Stop without sending (`bye` typed by a person).
    Stop,
    /// Skip it: an empty line. (The course's client would send zero bytes, which TCP does not carry,
    /// and then wait forever for a reply.)
    Skip,
}

/// Decide what to do with `line`.
pub fn step(line: &str, scripted: bool) -> Step {
    if line.is_empty() {
        Step::Skip
    } else if is_bye(line) {
        if scripted {
            Step::SendThenStop
        } else {
            Step::Stop
        }
    } else {
        Step::Send
    }
}

/// Where a client's student-facing lines go.
pub trait Say: Send + Sync {
    fn say(&self, line: &str);
}

/// Print to stdout (the command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl Say for Stdout {
    fn say(&self, line: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is not an error worth stopping a client for.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Log at INFO in the current span (`sister lab` turns these into transcript lines).
#[derive(Debug, Clone, Copy, Default)]
pub struct Log;

impl Say for Log {
    fn say(&self, line: &str) {
        tracing::info!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bye_ends_a_person_but_is_sent_by_a_script() {
        assert_eq!(step("bye", false), Step::Stop);
        assert_eq!(step("bye", true), Step::SendThenStop);
        assert_eq!(step("hello", false), Step::Send);
        assert_eq!(step("", true), Step::Skip);
    }

    #[tokio::test]
    async fn reads_lines_without_their_endings() {
        let mut input = Input::reader(&b"hello\r\nsystems\ncaf\xe9\nlast"[..]);
        assert_eq!(input.next().await.unwrap().as_deref(), Some("hello"));
        assert_eq!(input.next().await.unwrap().as_deref(), Some("systems"));
        assert_eq!(input.next().await.unwrap().as_deref(), Some("caf\u{fffd}"));
        assert_eq!(input.next().await.unwrap().as_deref(), Some("last"));
        assert_eq!(input.next().await.unwrap(), None);
        assert!(!input.is_scripted());
    }
}
