//! Who may connect, publish and subscribe: an optional password file and an optional topic ACL, in
//! formats close to Mosquitto's so a student can carry a configuration over.
//!
//! Password file (`--password-file`), one user per line, `#` starts a comment:
//! ```text
//! # user:password   (plain text: this is a lab; Mosquitto stores a salted hash instead)
//! alice:secret
//! bob:hunter2
//! ```
//! With a password file, a client that sends a username must match a line (else CONNACK "bad user name
//! or password"); a client without a username is let in only while anonymous access is allowed
//! (`--no-anonymous` turns it off, as Mosquitto's `allow_anonymous false`).
//!
//! ACL file (`--acl-file`), Mosquitto's `acl_file` format:
//! ```text
//! # rules before any `user` line apply to anonymous clients
//! topic read $SYS/#
//! topic readwrite sister/#
//!
//! user alice
//! # access: read | write | readwrite (the default) | deny; `#` comments only whole lines
//! topic readwrite #
//! topic deny sister/secret
//!
//! # `pattern` rules apply to every client; %c is the client id, %u the username
//! pattern write sensors/%c/#
//! ```
//! With an ACL, everything not granted is denied; a `deny` rule that matches wins over any grant. A
//! denied PUBLISH is dropped (5.0: PUBACK/PUBREC 0x87), a denied SUBSCRIBE gets failure 0x80 (5.0:
//! 0x87), and a subscriber is not sent messages on topics it may not read.

use std::collections::HashMap;
use std::path::Path;

use wire::mqtt::topic::matches as filter_matches;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

#[derive(Debug, Clone)]
struct Rule {
    access: Access,
    topic: String,
}

/// The parsed ACL file.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    anonymous: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

/// Authentication and authorization settings.
#[derive(Debug, Clone)]
pub struct Auth {
    pub allow_anonymous: bool,
    passwords: Option<HashMap<String, String>>,
    acl: Option<Acl>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            allow_anonymous: true,
            passwords: None,
            acl: None,
        }
    }
}

/// A configuration file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {why}")]
    Syntax { path: String, line: usize, why: String },
}

impl Auth {
    /// Parse a password file's text (see the module docs).
    pub fn parse_passwords(text: &str, path: &str) -> Result<HashMap<String, String>, AuthError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, pass)) = line.split_once(':') else {
                return Err(AuthError::Syntax {
                    path: path.into(),
                    line: i + 1,
                    why: "expected `user:password`".into(),
                });
            };
            users.insert(user.to_string(), pass.to_string());
        }
        Ok(users)
    }

    /// Parse an ACL file's text (see the module docs).
    pub fn parse_acl(text: &str, path: &str) -> Result<Acl, AuthError> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            // Only whole-line comments: `#` is also the multi-level wildcard (`topic read #`).
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |why: &str| AuthError::Syntax {
                path: path.into(),
                line: i + 1,
                why: why.into(),
            };
            let (kw, rest) = line.split_once(char::is_whitespace).ok_or_else(|| {
                err("expected `user NAME`, `topic [ACCESS] TOPIC` or `pattern [ACCESS] TOPIC`")
            })?;
            let rest = rest.trim();
            match kw {
                "user" => user = Some(rest.to_string()),
                "topic" | "pattern" => {
                    let (access, topic) = match rest.split_once(char::is_whitespace) {
                        Some(("read", t)) => (Access::Read, t),
                        Some(("write", t)) => (Access::Write, t),
                        Some(("readwrite", t)) => (Access::ReadWrite, t),
                        Some(("deny", t)) => (Access::Deny, t),
                        _ => (Access::ReadWrite, rest),
                    };
                    let rule = Rule {
                        access,
                        topic: topic.trim().to_string(),
                    };
                    if kw == "pattern" {
                        acl.patterns.push(rule);
                    } else if let Some(u) = &user {
                        acl.users.entry(u.clone()).or_default().push(rule);
                    } else {
                        acl.anonymous.push(rule);
                    }
                }
                other => {
                    return Err(err(&format!(
                        "unknown keyword `{other}` (expected user, topic or pattern)"
                    )))
                }
            }
        }
        Ok(acl)
    }

    /// Load the optional files.
    pub fn load(
        password_file: Option<&Path>,
        acl_file: Option<&Path>,
        allow_anonymous: bool,
    ) -> Result<Auth, AuthError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| AuthError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        let passwords = match password_file {
            Some(p) => Some(Self::parse_passwords(&read(p)?, &p.display().to_string())?),
            None => None,
        };
        let acl = match acl_file {
            Some(p) => Some(Self::parse_acl(&read(p)?, &p.display().to_string())?),
            None => None,
        };
        Ok(Auth {
            allow_anonymous,
            passwords,
            acl,
        })
    }

    pub fn has_acl(&self) -> bool {
        self.acl.is_some()
    }

    /// May a client with these credentials connect?
    pub fn check_password(&self, user: Option<&str>, pass: Option<&[u8]>) -> Result<(), String> {
        match (user, &self.passwords) {
            (None, _) if self.allow_anonymous => Ok(()),
            (None, _) => Err("anonymous clients are not allowed: give a username and password".into()),
            (Some(_), None) => Ok(()),
            (Some(u), Some(users)) => match users.get(u) {
                Some(p) if pass == Some(p.as_bytes()) => Ok(()),
                Some(_) => Err(format!("wrong password for user `{u}`")),
                None => Err(format!("unknown user `{u}` (not in the password file)")),
            },
        }
    }

    fn rules<'a>(&'a self, acl: &'a Acl, user: Option<&str>) -> impl Iterator<Item = &'a Rule> {
        let own = match user {
            Some(u) => acl.users.get(u).map(|v| v.as_slice()).unwrap_or(&[]),
            None => acl.anonymous.as_slice(),
        };
        own.iter()
    }

    fn allowed(&self, client: &str, user: Option<&str>, want: Access, covers: impl Fn(&str) -> bool) -> bool {
        let Some(acl) = &self.acl else { return true };
        let mut granted = false;
        let fixed = self.rules(acl, user).cloned();
        let patterns = acl.patterns.iter().map(|r| Rule {
            access: r.access,
            topic: r.topic.replace("%c", client).replace("%u", user.unwrap_or("")),
        });
        for r in fixed.chain(patterns) {
            if !covers(&r.topic) {
                continue;
            }
            match r.access {
                Access::Deny => return false,
                Access::ReadWrite => granted = true,
                a if a == want => granted = true,
                _ => {}
            }
        }
        granted
    }

    /// May this client publish to `topic`?
    pub fn can_write(&self, client: &str, user: Option<&str>, topic: &str) -> bool {
        self.allowed(client, user, Access::Write, |rule| filter_matches(rule, topic))
    }

    /// May this client receive a message on `topic`?
    pub fn can_read(&self, client: &str, user: Option<&str>, topic: &str) -> bool {
        self.allowed(client, user, Access::Read, |rule| filter_matches(rule, topic))
    }

    /// May this client subscribe to `filter`? Only if a read rule covers every topic the filter can
    /// match (and no deny rule covers it); messages on denied topics are still filtered at delivery.
    pub fn can_subscribe(&self, client: &str, user: Option<&str>, filter: &str) -> bool {
        self.allowed(client, user, Access::Read, |rule| covers(rule, filter))
    }
}

/// Does rule filter `rule` match every topic that `filter` can match?
fn covers(rule: &str, filter: &str) -> bool {
    let mut r = rule.split('/');
    let mut f = filter.split('/');
    loop {
        match (r.next(), f.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(fl)) if fl != "#" => {}
            (Some(rl), Some(fl)) if rl == fl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let users = Auth::parse_passwords("# c\nalice:secret\n", "p").unwrap();
        let auth = Auth {
            allow_anonymous: false,
            passwords: Some(users),
            acl: None,
        };
        assert!(auth.check_password(Some("alice"), Some(b"secret")).is_ok());
        assert!(auth.check_password(Some("alice"), Some(b"nope")).is_err());
        assert!(auth.check_password(Some("eve"), Some(b"secret")).is_err());
        assert!(auth.check_password(None, None).is_err());
    }

    #[test]
    fn acl_rules() {
        let acl = Auth::parse_acl(
            "topic read $SYS/#\ntopic sister/#\nuser alice\ntopic readwrite #\ntopic deny sister/secret\npattern write sensors/%c/#\n",
            "a",
        )
        .unwrap();
        let auth = Auth {
            allow_anonymous: true,
            passwords: None,
            acl: Some(acl),
        };
        assert!(auth.can_write("c1", None, "sister/temp"));
        assert!(!auth.can_write("c1", None, "other"));
        assert!(!auth.can_write("c1", None, "$SYS/x"));
        assert!(auth.can_read("c1", None, "$SYS/x"));
        assert!(auth.can_write("c1", None, "sensors/c1/t"));
        assert!(!auth.can_write("c1", None, "sensors/c2/t"));
        assert!(auth.can_write("x", Some("alice"), "anything"));
        assert!(!auth.can_read("x", Some("alice"), "sister/secret"));
        assert!(auth.can_subscribe("c1", None, "sister/+/temp"));
        assert!(!auth.can_subscribe("c1", None, "#"));
        assert!(Auth::parse_acl("bogus line", "a").is_err());
    }
}
