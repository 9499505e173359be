//! Topic names, topic filters, and which filters match which names (MQTT 3.1.1 §4.7, 5.0 §4.7-4.8).
//!
//! A *topic name* is where a PUBLISH goes: `sister/channel/gaming`. Levels are separated by `/`; an
//! empty level is allowed (`a//b`, `/a`), names are case-sensitive, and a name never holds a wildcard.
//!
//! A *topic filter* is what a SUBSCRIBE asks for, and may hold wildcards:
//! - `+` matches exactly one level: `sister/+/gaming` matches `sister/channel/gaming`, not
//!   `sister/gaming`; it must fill a whole level (`sister/ch+` is invalid).
//! - `#` matches any number of levels, including none: `sister/#` matches `sister`, `sister/temp` and
//!   `sister/channel/gaming`; it must be the last character, alone in its level.
//!
//! Names starting with `$` (`$SYS/broker/clients/connected`) are the server's own: a filter starting
//! with a wildcard (`#`, `+/...`) does not match them (§4.7.2), so `#` does not drown a subscriber in
//! statistics. A filter starting with `$SYS/` does.
//!
//! 5.0 shared subscriptions (§4.8.2): `$share/{group}/{filter}` subscribes the group, and each message
//! matching `filter` goes to one member of the group instead of to all of them.
//!
//! What to notice in the worksheet: `sister/channel/kesehatan` and `sister/channel/gaming` differ in
//! one level, so neither matches the other, and the broker silently delivers nothing.

use std::fmt;

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Names and filters have at least one character (§4.7.3).
    Empty,
    /// More than 65,535 bytes of UTF-8 (§4.7.3).
    TooLong,
    /// U+0000 is not allowed in any MQTT string (§1.5.3).
    Nul,
    /// A topic name (PUBLISH, will) holds `+` or `#` (§4.7.1).
    WildcardInName,
    /// `#` somewhere other than alone in the last level (§4.7.1.2).
    MisplacedHash,
    /// `+` sharing a level with other characters (§4.7.1.3).
    MisplacedPlus,
    /// `$share/` without a group name, or a group name holding `+`, `#` (5.0 §4.8.2).
    BadShareName,
    /// `$share/group/` without a filter after it (5.0 §4.8.2).
    EmptySharedFilter,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "a topic must have at least one character (MQTT 3.1.1 §4.7.3)",
            TopicError::TooLong => "a topic is at most 65535 bytes of UTF-8 (MQTT 3.1.1 §4.7.3)",
            TopicError::Nul => "a topic must not contain U+0000 (MQTT 3.1.1 §1.5.3)",
            TopicError::WildcardInName => {
                "a topic name (where a message is published) must not contain + or #; those are for subscriptions (MQTT 3.1.1 §4.7.1)"
            }
            TopicError::MisplacedHash => {
                "# must be the last level of a filter and alone in it, as in sister/# (MQTT 3.1.1 §4.7.1.2)"
            }
            TopicError::MisplacedPlus => {
                "+ must fill a whole level, as in sister/+/gaming (MQTT 3.1.1 §4.7.1.3)"
            }
            TopicError::BadShareName => {
                "a shared subscription is $share/GROUP/FILTER with a group name without + or # (MQTT 5.0 §4.8.2)"
            }
            TopicError::EmptySharedFilter => {
                "a shared subscription needs a filter after $share/GROUP/ (MQTT 5.0 §4.8.2)"
            }
        })
    }
}

impl std::error::Error for TopicError {}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > 65_535 {
        return Err(TopicError::TooLong);
    }
    if s.contains('\0') {
        return Err(TopicError::Nul);
    }
    Ok(())
}

/// Check a topic name (the topic of a PUBLISH or a will).
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Check a topic filter (of a SUBSCRIBE or UNSUBSCRIBE), including the `$share/group/` form.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let filter = match parse_shared(filter)? {
        Some(shared) => shared.filter,
        None => filter,
    };
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MisplacedHash);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedPlus);
        }
    }
    Ok(())
}

/// A 5.0 shared subscription's parts: `$share/{group}/{filter}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared<'a> {
    pub group: &'a str,
    pub filter: &'a str,
}

/// Split `$share/group/filter`; `Ok(None)` for an ordinary filter. Does not validate `filter` itself.
pub fn parse_shared(filter: &str) -> Result<Option<Shared<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix("$share/") else {
        return Ok(None);
    };
    let Some((group, filter)) = rest.split_once('/') else {
        return Err(TopicError::EmptySharedFilter);
    };
    if group.is_empty() || group.contains(['+', '#']) {
        return Err(TopicError::BadShareName);
    }
    if filter.is_empty() {
        return Err(TopicError::EmptySharedFilter);
    }
    Ok(Some(Shared { group, filter }))
}

/// Does `filter` match the topic `name`? Both are assumed valid (see [`validate_filter`],
/// [`validate_name`]); a `$share/group/` prefix must be removed first (see [`parse_shared`]).
///
/// ```
/// use wire::mqtt::topic::matches;
/// assert!(matches("sister/#", "sister/channel/gaming"));
/// assert!(matches("sister/+/gaming", "sister/channel/gaming"));
/// assert!(!matches("sister/channel/kesehatan", "sister/channel/gaming"));
/// assert!(!matches("#", "$SYS/broker/uptime")); // $-topics are not matched by a leading wildcard
/// ```
pub fn matches(filter: &str, name: &str) -> bool {
    // §4.7.2: a filter starting with a wildcard does not match a name starting with '$'.
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            // "sport/#" matches "sport" too: # also stands for the parent level (§4.7.1.2).
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when `filter` holds a wildcard (so it can match more than one name).
pub fn has_wildcards(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_of_hash() {
        // MQTT 3.1.1 §4.7.1.2 non-normative comment.
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "sport/tennis"));
        assert_eq!(validate_filter("sport/tennis#"), Err(TopicError::MisplacedHash));
        assert_eq!(
            validate_filter("sport/tennis/#/ranking"),
            Err(TopicError::MisplacedHash)
        );
        assert!(validate_filter("#").is_ok());
    }

    #[test]
    fn spec_examples_of_plus() {
        // MQTT 3.1.1 §4.7.1.3 non-normative comment.
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(validate_filter("+").is_ok());
        assert!(validate_filter("+/tennis/#").is_ok());
        assert_eq!(validate_filter("sport+"), Err(TopicError::MisplacedPlus));
    }

    #[test]
    fn dollar_topics() {
        // MQTT 3.1.1 §4.7.2.
        assert!(!matches("#", "$SYS/broker/clients"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn names_and_levels() {
        assert!(validate_name("sister/temp").is_ok());
        assert!(validate_name("/").is_ok());
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a\0b"), Err(TopicError::Nul));
        assert!(!matches("sister/channel/kesehatan", "sister/channel/gaming"));
        assert!(!matches("Sister/temp", "sister/temp"));
        assert!(matches("a//b", "a//b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }

    #[test]
    fn shared_subscriptions() {
        assert_eq!(
            parse_shared("$share/g1/sister/#"),
            Ok(Some(Shared {
                group: "g1",
                filter: "sister/#"
            }))
        );
        assert_eq!(parse_shared("sister/#"), Ok(None));
        assert_eq!(parse_shared("$share//a"), Err(TopicError::BadShareName));
        assert_eq!(parse_shared("$share/g+/a"), Err(TopicError::BadShareName));
        assert_eq!(parse_shared("$share/g"), Err(TopicError::EmptySharedFilter));
        assert_eq!(parse_shared("$share/g/"), Err(TopicError::EmptySharedFilter));
        assert!(validate_filter("$share/g/a/+").is_ok());
        assert_eq!(validate_filter("$share/g/a#"), Err(TopicError::MisplacedHash));
    }
}
