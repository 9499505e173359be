//! The upcall protocol's messages, without sockets.
//!
//! Every message from the server starts with the course's `Upcall event: `. Between sister peers
//! (framed mode) there are five kinds:
//!
//! | message | when |
//! |---|---|
//! | `Upcall event: Registered as alice (2 clients registered)` | the answer to the client's `register alice` |
//! | `Upcall event: Processing <line>` | at once, for every line (the course's only message) |
//! | `Upcall event: Done <line> (work took 1000 ms)` | when the server's work on that line is done |
//! | `Upcall event: Notice: <text>` | on the server's own initiative: a periodic tick, another client's message, a client joining or leaving, shutdown |
//!
//! The client's first framed message is `register <name>`; every later one is a line of work.

use std::time::Duration;

/// The prefix of every upcall, as the course's server writes it.
pub const PREFIX: &str = "Upcall event: ";

/// What a message from the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Registered,
    Processing,
    Done,
    Notice,
    /// Not one of ours (a foreign server's reply).
    Other,
}

/// Classify a message from the server.
pub fn kind(message: &[u8]) -> Kind {
    let Some(rest) = message.strip_prefix(PREFIX.as_bytes()) else {
        return Kind::Other;
    };
    if rest.starts_with(b"Registered as ") {
        Kind::Registered
    } else if rest.starts_with(b"Processing ") {
        Kind::Processing
    } else if rest.starts_with(b"Done ") {
        Kind::Done
    } else if rest.starts_with(b"Notice: ") {
        Kind::Notice
    } else {
        Kind::Other
    }
}

fn event(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = PREFIX.as_bytes().to_vec();
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// The immediate answer to a line, byte for byte as the course's server sends it.
pub fn processing(line: &[u8]) -> Vec<u8> {
    event(&[b"Processing ", line])
}

/// The completion upcall for a line.
pub fn done(line: &[u8], took: Duration) -> Vec<u8> {
    event(&[
        b"Done ",
        line,
        format!(" (work took {} ms)", took.as_millis()).as_bytes(),
    ])
}

/// A server-wide notification.
pub fn notice(text: &str) -> Vec<u8> {
    event(&[b"Notice: ", text.as_bytes()])
}

/// The answer to a registration.
pub fn registered(name: &str, clients: usize) -> Vec<u8> {
    event(&[format!("Registered as {name} ({})", clients_registered(clients)).as_bytes()])
}

/// `1 client registered`, `2 clients registered`.
pub fn clients_registered(n: usize) -> String {
    format!("{n} client{} registered", if n == 1 { "" } else { "s" })
}

/// The client's registration message.
pub fn register_message(name: &str) -> Vec<u8> {
    format!("register {name}").into_bytes()
}

/// The name in a registration message, if the message is one. Names are cut to 64 characters and must
/// not be empty.
pub fn parse_register(message: &[u8]) -> Option<String> {
    let rest = message.strip_prefix(b"register ")?;
    let name = String::from_utf8_lossy(rest)
        .trim()
        .chars()
        .take(64)
        .collect::<String>();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_the_course_writes_them() {
        assert_eq!(processing(b"hello"), b"Upcall event: Processing hello");
        assert_eq!(
            done(b"hello", Duration::from_millis(250)),
            b"Upcall event: Done hello (work took 250 ms)"
        );
        assert_eq!(
            registered("alice", 1),
            b"Upcall event: Registered as alice (1 client registered)"
        );
        assert_eq!(notice("tick"), b"Upcall event: Notice: tick");
    }

    #[test]
    fn classifies_every_kind() {
        assert_eq!(kind(&processing(b"x")), Kind::Processing);
        assert_eq!(kind(&done(b"x", Duration::ZERO)), Kind::Done);
        assert_eq!(kind(&notice("x")), Kind::Notice);
        assert_eq!(kind(&registered("a", 2)), Kind::Registered);
        assert_eq!(kind(b"Echo: hi"), Kind::Other);
    }

    #[test]
    fn parses_registrations() {
        assert_eq!(parse_register(b"register alice"), Some("alice".into()));
        assert_eq!(parse_register(b"register  "), None);
        assert_eq!(parse_register(b"hello"), None);
        assert_eq!(
            parse_register(&register_message(&"x".repeat(100))).map(|n| n.len()),
            Some(64)
        );
    }
}
