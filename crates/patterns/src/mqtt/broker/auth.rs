//! Who may connect, publish and subscribe: an optional password file and an optional topic ACL, in
//! Mosquitto 2.0's own formats, so a file made for one broker works in the other.
//!
//! # Password file (`--password-file`, Mosquitto's `password_file`)
//! One `user:hash` line per user, as `mosquitto_passwd` writes it (`#` starts a comment line):
//! ```text
//! alice:$7$101$/k22OLlYUt/Khbbt$D/xwSNr7At/W4cP95hW/7WENSCTN/7I4kfJZFGWo2sm0NKOu0VEVHIQ/oYMJyUaywg8ZTs8ns0b2QEKq2KYIFg==
//! bob:$6$lPU/DGp6CHvtvXWn$5H+mynDePI8rjCgaIMWeS67t091GJkURhhsqgP15VCNqP0+l3RtDwaV9I7x1aCj7KimegsY3oQsg0AvIIUGFuA==
//! ```
//! - `$7$ITERATIONS$SALT$HASH` (mosquitto_passwd's default since 2.0): HASH is PBKDF2-HMAC-SHA512 of the
//!   password with the 12-byte SALT, ITERATIONS rounds (101 unless `-I`), 64 bytes;
//! - `$6$SALT$HASH` (Mosquitto 1.6's, `mosquitto_passwd -H sha512`): HASH is SHA-512(password || SALT).
//!
//! SALT and HASH are standard base64 with padding (Mosquitto src/password_mosq.c, `pw__hash`; the
//! file is read by `unpwd__decode_passwords` in src/security_default.c). alice's password above is
//! `secret`, bob's `hunter2`: both lines were written by the real mosquitto_passwd 2.0.11.
//!
//! Make and change the file with `sister mqtt passwd` (mosquitto_passwd's flags; see
//! src/cmd/mqtt_passwd.rs) or with mosquitto_passwd itself:
//! ```text
//! sister mqtt passwd -c -b passwords.txt alice secret     create the file with one user
//! sister mqtt passwd passwords.txt bob                    add or change bob (asks for the password twice)
//! sister mqtt passwd -D passwords.txt bob                 delete bob
//! sister mqtt passwd -U passwords.txt                     hash a file of plain `user:password` lines
//! ```
//!
//! Where sister is stricter than Mosquitto 2.0.11, which logs a bad line and drops that user: a line
//! sister cannot read stops the broker with the file name and line number; a plain-text password
//! (`alice:secret`, which Mosquitto drops with "Invalid password hash type") is refused with the
//! command that hashes the file; a user listed twice is refused (Mosquitto keeps one of them).
//!
//! # Who gets in (as Mosquitto 2.0's `mosquitto_unpwd_check` decides)
//! - A client with a username is checked against the password file: no password, an unknown user or a
//!   wrong password are all refused alike, with CONNACK return code 5 "not authorised" (3.1.1) or
//!   reason code 0x87 Not authorized (5.0), and no reason string (src/handle_connect.c, the
//!   `MOSQ_ERR_AUTH` case), so that a client cannot tell an unknown user from a wrong password.
//! - A client without a username is let in only while anonymous access is allowed (`--no-anonymous`
//!   is Mosquitto's `allow_anonymous false`); otherwise the same CONNACK 5 / 0x87.
//! - Without a password file, a username proves nothing: with `--no-anonymous` every client is
//!   refused, as Mosquitto does (src/security.c: no plugin used, so `allow_anonymous` decides).
//!
//! The check costs the same for an unknown user as for a known one (the password is derived against a
//! dummy hash as costly as the file's costliest), and the derived bytes are compared in constant time
//! (`subtle`), so neither the answer nor its timing tells which users exist. (A file that mixes costs,
//! say `-I 101` and `-I 100000`, answers sooner for its cheaper users, and so tells that they exist:
//! give every user the same cost.) The derivation runs off
//! the broker's event loop ([`Auth::authenticate`]), so a flood of wrong passwords does not slow the
//! other clients down (bench/mqtt-auth.sh measures it). Nothing is cached: every CONNECT is checked.
//!
//! # ACL file (`--acl-file`, Mosquitto's `acl_file`)
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
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use wire::mqtt::topic::matches as filter_matches;

// ---- Password hashes -------------------------------------------------------------------------------

/// mosquitto_passwd's `$7$` iteration count unless `-I` says otherwise (`PW_DEFAULT_ITERATIONS` in
/// Mosquitto 2.0's src/password_mosq.h).
pub const DEFAULT_ITERATIONS: u32 = 101;
/// Bytes of salt in every Mosquitto hash (`SALT_LEN`); the broker refuses any other length.
pub const SALT_LEN: usize = 12;
/// Bytes of a SHA-512 output, the length of both hash types.
pub const HASH_LEN: usize = 64;

/// Reads base64 with or without its `=` padding (OpenSSL's decoder, which Mosquitto uses, does not
/// insist either); everything written uses [`STANDARD`], padded, as mosquitto_passwd writes.
const BASE64_READ: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which of Mosquitto's two hashes (`mosquitto_passwd -H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// `$7$`, `-H sha512-pbkdf2`, the default.
    Pbkdf2Sha512,
    /// `$6$`, `-H sha512`: one SHA-512, as Mosquitto 1.6 wrote; fast, so cheap to guess.
    Sha512,
}

/// One user's password as the file keeps it: never the password, only a salted hash of it.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$6$SALT$HASH`: SHA-512(password || salt).
    Sha512 {
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
    /// `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512(password, salt, iterations), 64 bytes.
    Pbkdf2Sha512 {
        iterations: NonZeroU32,
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
}

// Debug shows the kind and cost, not the bytes: a log line or a test failure needs no hash to copy.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { .. } => f.write_str("PasswordHash($6$, SHA-512)"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => {
                write!(
                    f,
                    "PasswordHash($7$, PBKDF2-HMAC-SHA512, {iterations} iterations)"
                )
            }
        }
    }
}

/// The line's text after `user:`, exactly as mosquitto_passwd writes it
/// (`output_new_password` in apps/mosquitto_passwd/mosquitto_passwd.c).
impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { salt, hash } => {
                write!(f, "$6${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => write!(
                f,
                "$7${iterations}${}${}",
                STANDARD.encode(salt),
                STANDARD.encode(hash)
            ),
        }
    }
}

/// What the text after `user:` is, before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Starts with `$6$` or `$7$`.
    Mosquitto,
    /// Looks like another crypt(3) hash (`$1$`, `$2y$`, `$5$`, ...), which Mosquitto does not read.
    OtherHash,
    /// Anything else: a password in plain text.
    Plain,
}

fn classify(stored: &str) -> Stored {
    if stored.starts_with("$6$") || stored.starts_with("$7$") {
        return Stored::Mosquitto;
    }
    // `$id$`, the id short and alphanumeric: crypt(3)'s way of naming a hash.
    if let Some(rest) = stored.strip_prefix('$') {
        if let Some((id, _)) = rest.split_once('$') {
            if !id.is_empty() && id.len() <= 4 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Stored::OtherHash;
            }
        }
    }
    Stored::Plain
}

impl PasswordHash {
    /// Hash `password` with a fresh random salt, as mosquitto_passwd does for a new or changed password
    /// (`iterations` is only for `$7$`; `$6$` is one SHA-512).
    pub fn new(kind: HashKind, iterations: NonZeroU32, password: &[u8]) -> PasswordHash {
        let salt = random_bytes::<SALT_LEN>();
        match kind {
            HashKind::Sha512 => PasswordHash::Sha512 {
                salt,
                hash: sha512(password, &salt),
            },
            HashKind::Pbkdf2Sha512 => {
                let mut hash = [0u8; HASH_LEN];
                pbkdf2(iterations, &salt, password, &mut hash);
                PasswordHash::Pbkdf2Sha512 {
                    iterations,
                    salt,
                    hash,
                }
            }
        }
    }

    /// Decode the text after `user:` (`$6$...` or `$7$...`). The error says what is wrong, for a
    /// `file:line:` message.
    pub fn parse(stored: &str) -> Result<PasswordHash, String> {
        let fields: Vec<&str> = stored.split('$').collect();
        // "$7$101$salt$hash".split('$') = ["", "7", "101", "salt", "hash"]
        match fields.as_slice() {
            ["", "7", iterations, salt, hash] => {
                let iterations = iterations.parse::<NonZeroU32>().map_err(|_| {
                    format!("`$7$` iterations `{iterations}` is not a whole number of at least 1")
                })?;
                Ok(PasswordHash::Pbkdf2Sha512 {
                    iterations,
                    salt: decode_exact(salt, "salt")?,
                    hash: decode_exact(hash, "hash")?,
                })
            }
            ["", "7", ..] => Err("a `$7$` hash has four parts: `$7$ITERATIONS$SALT$HASH`".into()),
            ["", "6", salt, hash] => Ok(PasswordHash::Sha512 {
                salt: decode_exact(salt, "salt")?,
                hash: decode_exact(hash, "hash")?,
            }),
            ["", "6", ..] => Err("a `$6$` hash has three parts: `$6$SALT$HASH`".into()),
            _ => Err("not a Mosquitto hash (`$7$...` or `$6$...`)".into()),
        }
    }

    /// Is `password` the one this hash was made from? Costs the full derivation whatever the answer,
    /// and compares the derived bytes in constant time: how long it takes says nothing about how
    /// many bytes matched.
    pub fn verify(&self, password: &[u8]) -> bool {
        let (derived, stored) = match self {
            PasswordHash::Sha512 { salt, hash } => (sha512(password, salt), hash),
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => {
                let mut out = [0u8; HASH_LEN];
                pbkdf2(*iterations, salt, password, &mut out);
                (out, hash)
            }
        };
        derived.ct_eq(stored).into()
    }

    /// A hash no password matches, as costly to check as `like` (the dummy of unknown users): random
    /// salt, random hash bytes (2^-512 is the chance that a derivation lands on them).
    fn dummy_like(like: Option<&PasswordHash>) -> PasswordHash {
        let (salt, hash) = (random_bytes::<SALT_LEN>(), random_bytes::<HASH_LEN>());
        match like {
            Some(PasswordHash::Sha512 { .. }) => PasswordHash::Sha512 { salt, hash },
            Some(PasswordHash::Pbkdf2Sha512 { iterations, .. }) => PasswordHash::Pbkdf2Sha512 {
                iterations: *iterations,
                salt,
                hash,
            },
            None => PasswordHash::Pbkdf2Sha512 {
                iterations: default_iterations(),
                salt,
                hash,
            },
        }
    }

    /// What one check costs, to choose the dummy: `$6$` is one hash, `$7$` one per iteration.
    fn cost(&self) -> u32 {
        match self {
            PasswordHash::Sha512 { .. } => 1,
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => iterations.get(),
        }
    }
}

/// [`DEFAULT_ITERATIONS`] as the type PBKDF2 takes.
pub fn default_iterations() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

/// Bytes from the operating system's random source (getrandom), as Mosquitto takes its salts from
/// OpenSSL's `RAND_bytes`.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // It fails only on a system without a working random source, where no salt would be safe.
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

/// `$6$`: SHA-512 of the password followed by the salt (Mosquitto's `pw__hash`, `pw_sha512`).
fn sha512(password: &[u8], salt: &[u8; SALT_LEN]) -> [u8; HASH_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    ctx.update(password);
    ctx.update(salt);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `$7$`: PBKDF2 with HMAC-SHA512, 64 bytes of output (Mosquitto's `PKCS5_PBKDF2_HMAC` call).
fn pbkdf2(iterations: NonZeroU32, salt: &[u8; SALT_LEN], password: &[u8], out: &mut [u8; HASH_LEN]) {
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA512, iterations, salt, password, out);
}

/// Base64 of exactly `N` bytes (Mosquitto refuses a salt that is not 12 bytes, a hash not 64).
fn decode_exact<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = BASE64_READ
        .decode(text)
        .map_err(|e| format!("the {what} `{text}` is not base64: {e}"))?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("the {what} is {} bytes; Mosquitto's {what}s are {N}", bytes.len()))
}

// ---- The password file -----------------------------------------------------------------------------

/// The parsed password file: each user's hash, and the dummy an unknown user is checked against.
#[derive(Clone)]
pub struct Passwords {
    users: HashMap<String, PasswordHash>,
    dummy: PasswordHash,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passwords({} users)", self.users.len())
    }
}

/// A user's line split as Mosquitto splits it: `user:stored`, blanks around both trimmed
/// (`misc__trimblanks` in `pwfile__parse`). `None` for comments and blank lines.
fn split_line(line: &str) -> Option<Result<(&str, &str), ()>> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    Some(match t.split_once(':') {
        Some((user, stored)) => Ok((user.trim(), stored.trim())),
        None => Err(()),
    })
}

impl Passwords {
    /// Parse a password file's text; `path` names it in errors (`path:line: why`).
    pub fn parse(text: &str, path: &str) -> Result<Passwords, AuthError> {
        let mut users: HashMap<String, PasswordHash> = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let err = |why: String| AuthError::Syntax {
                path: path.into(),
                line: i + 1,
                why,
            };
            let (user, stored) = match split_line(line) {
                None => continue,
                Some(Err(())) => {
                    return Err(err("expected `user:hash` (a line of mosquitto_passwd's)".into()))
                }
                Some(Ok(pair)) => pair,
            };
            if user.is_empty() {
                return Err(err("no username before the `:`".into()));
            }
            if stored.is_empty() {
                return Err(err(format!("no password hash after `{user}:`")));
            }
            let hash = match classify(stored) {
                Stored::Mosquitto => PasswordHash::parse(stored)
                    .map_err(|why| err(format!("the password hash of `{user}`: {why}")))?,
                Stored::OtherHash => {
                    return Err(err(format!(
                        "the password of `{user}` is hashed with `${}$`, which Mosquitto does not read (only $7$ and $6$); set it again with `sister mqtt passwd {path} {user}`",
                        stored[1..].split('$').next().unwrap_or("")
                    )))
                }
                Stored::Plain => {
                    return Err(err(format!(
                        "the password of `{user}` is in plain text; hash the file with `sister mqtt passwd -U {path}` (or mosquitto_passwd -U)"
                    )))
                }
            };
            if let Some(before) = first_line.get(user) {
                return Err(err(format!(
                    "`{user}` is already on line {before}; keep one line per user"
                )));
            }
            first_line.insert(user.to_string(), i + 1);
            users.insert(user.to_string(), hash);
        }
        // The dummy costs what the dearest real check costs, so "unknown user" is never the fast answer.
        let dearest = users.values().max_by_key(|h| h.cost());
        let dummy = PasswordHash::dummy_like(dearest);
        Ok(Passwords { users, dummy })
    }

    /// How many users the file has.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Check one login (this is the costly part: one full hash derivation, whoever `user` is).
    fn verify(&self, user: &str, password: &[u8]) -> Result<(), String> {
        match self.users.get(user) {
            Some(hash) if hash.verify(password) => Ok(()),
            Some(_) => Err(format!("wrong password for user `{user}`")),
            None => {
                // Same work as for a real user, result thrown away: no timing difference to measure.
                let _ = self.dummy.verify(password);
                Err(format!("unknown user `{user}` (not in the password file)"))
            }
        }
    }
}

// ---- Editing a password file (`sister mqtt passwd`) ------------------------------------------------
//
// mosquitto_passwd 2.0.11 rewrites the whole file and refuses (or loses) what it does not understand:
// a comment or a blank line makes it stop with "Corrupt password file at line N", and when it adds a
// user it then writes the file with only that user left. These edits keep every other line as it is.

/// Can `user` be written to a password file and log in? mosquitto_passwd's rules (`is_username_valid`:
/// no `:`, no control characters, under 65536 bytes) and what the file format needs on top: not
/// empty (a client without a username is anonymous), no blanks around it (the broker trims them), not
/// starting with `#` (a comment).
pub fn check_username(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("the username is empty (a client without a username is anonymous)".into());
    }
    if user.len() > 65535 {
        return Err("the username is longer than 65535 bytes (MQTT's limit for a string)".into());
    }
    if user.contains(':') {
        return Err(format!(
            "the username `{user}` contains `:`, which separates the user from the hash in the file"
        ));
    }
    if user.chars().any(char::is_control) {
        return Err("the username contains a control character".into());
    }
    if user.trim() != user {
        return Err(format!(
            "the username `{user}` starts or ends with a blank, which the broker trims when it reads the file"
        ));
    }
    if user.starts_with('#') {
        return Err(format!(
            "the username `{user}` starts with `#`, which makes its line a comment"
        ));
    }
    Ok(())
}

/// Does this line belong to `user`?
fn is_line_of(line: &str, user: &str) -> bool {
    matches!(split_line(line), Some(Ok((u, _))) if u == user)
}

/// `text` with `user`'s line set to `user:hash`: the first line of that user is replaced, any later
/// ones dropped (the broker refuses a user listed twice), or the line is added at the end. Every other
/// line is kept byte for byte.
pub fn set_user(text: &str, user: &str, hash: &PasswordHash) -> String {
    let new_line = format!("{user}:{hash}\n");
    let mut out = String::with_capacity(text.len() + new_line.len());
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if is_line_of(line, user) {
            if !done {
                out.push_str(&new_line);
                done = true;
            }
        } else {
            out.push_str(line);
        }
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
    }
    out
}

/// `text` without `user`'s line(s); `None` if the user is not in it.
pub fn delete_user(text: &str, user: &str) -> Option<String> {
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if is_line_of(line, user) {
            found = true;
        } else {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

/// `-U`: every plain-text password of `text` replaced by its hash (made by `hash`); lines already
/// hashed, comments and blank lines are kept. Returns the new text and how many passwords were
/// hashed. A line that is neither (`path:line:`) is an error, and nothing is changed.
///
/// Unlike mosquitto_passwd 2.0.11's `-U`, a line that is already hashed is kept: Mosquitto hashes its
/// `$7$...` text again as if it were the password, which locks that user out. A plain password is
/// the whole text after the first `:` (Mosquitto cuts it at a second `:`), without surrounding blanks.
pub fn hash_plain_passwords(
    text: &str,
    path: &str,
    mut hash: impl FnMut(&[u8]) -> PasswordHash,
) -> Result<(String, usize), AuthError> {
    let mut out = String::with_capacity(text.len() * 2);
    let mut hashed = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let err = |why: String| AuthError::Syntax {
            path: path.into(),
            line: i + 1,
            why,
        };
        let (user, stored) = match split_line(line) {
            None => {
                out.push_str(line);
                continue;
            }
            Some(Err(())) => return Err(err("expected `user:password`".into())),
            Some(Ok(pair)) => pair,
        };
        check_username(user).map_err(&err)?;
        match classify(stored) {
            Stored::Mosquitto => {
                PasswordHash::parse(stored)
                    .map_err(|why| err(format!("the password hash of `{user}`: {why}")))?;
                out.push_str(line);
            }
            Stored::OtherHash => {
                return Err(err(format!(
                    "the password of `{user}` looks hashed already, but not the way Mosquitto hashes; set it again with `sister mqtt passwd {path} {user}`"
                )))
            }
            Stored::Plain if stored.is_empty() => {
                return Err(err(format!("no password after `{user}:`")))
            }
            Stored::Plain => {
                out.push_str(&format!("{user}:{}\n", hash(stored.as_bytes())));
                hashed += 1;
            }
        }
    }
    Ok((out, hashed))
}

// ---- Access: the password check and the ACL --------------------------------------------------------

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
    passwords: Option<Arc<Passwords>>,
    acl: Option<Acl>,
    /// Password checks running at once on tokio's blocking threads (see [`Auth::authenticate`]).
    hashing: Arc<Semaphore>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            allow_anonymous: true,
            passwords: None,
            acl: None,
            hashing: Arc::new(Semaphore::new(hashing_threads())),
        }
    }
}

/// How many password checks may run at once: one core fewer than the machine has (at least one), so
/// that a flood of CONNECTs leaves a core to the broker's event loop.
fn hashing_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
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
            Some(p) => Some(Arc::new(Passwords::parse(&read(p)?, &p.display().to_string())?)),
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
            ..Auth::default()
        })
    }

    /// These settings with the users of `passwords` (as if read from a password file).
    pub fn with_passwords(mut self, passwords: Passwords) -> Auth {
        self.passwords = Some(Arc::new(passwords));
        self
    }

    pub fn has_acl(&self) -> bool {
        self.acl.is_some()
    }

    /// May a client with these credentials connect? `Err` says why not, for the broker's log only: the
    /// client is told "not authorised" whatever the reason (see the module docs). With a password file
    /// this derives a hash (costly by design): the broker calls [`Auth::authenticate`] instead.
    pub fn check_password(&self, user: Option<&str>, pass: Option<&[u8]>) -> Result<(), String> {
        match (user, &self.passwords, pass) {
            (None, _, _) if self.allow_anonymous => Ok(()),
            (None, _, _) => Err("anonymous clients are not allowed: give a username and password".into()),
            // No password file: a username proves nothing, and the client counts as anonymous
            // (Mosquitto 2.0 src/security.c, `mosquitto_unpwd_check` with no plugin used).
            (Some(_), None, _) if self.allow_anonymous => Ok(()),
            (Some(u), None, _) => Err(format!(
                "anonymous access is off and there is no password file to check user `{u}` against"
            )),
            (Some(u), Some(_), None) => Err(format!("user `{u}` sent no password")),
            (Some(u), Some(users), Some(p)) => users.verify(u, p),
        }
    }

    /// [`Auth::check_password`] without stalling the event loop: the hash derivation (101 PBKDF2
    /// rounds by default, about 0.1 ms; with `-I 100000` about 100 ms) runs on tokio's blocking
    /// threads, at most [`hashing_threads`] at once, while the connection's task waits for the verdict
    /// as it waits for any I/O. Inline, a flood of CONNECTs would stop every other client of the
    /// broker's one thread for as long as it lasts; Mosquitto hashes inline on its one thread.
    /// Checks that derive nothing (no username, no password file) are answered at once.
    pub async fn authenticate(&self, user: Option<String>, pass: Option<Bytes>) -> Result<(), String> {
        let (Some(user), Some(passwords), Some(pass)) = (&user, &self.passwords, &pass) else {
            return self.check_password(user.as_deref(), pass.as_deref());
        };
        let (user, passwords, pass) = (user.clone(), Arc::clone(passwords), pass.clone());
        // A closed semaphore is impossible (nobody closes it); refuse rather than panic if it were.
        let Ok(permit) = self.hashing.clone().acquire_owned().await else {
            return Err("the password check is unavailable".into());
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit; // released when this check is done
            passwords.verify(&user, &pass)
        })
        .await
        .unwrap_or_else(|e| Err(format!("the password check failed: {e}")))
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
    use std::time::{Duration, Instant};

    // Written by the real mosquitto_passwd 2.0.11 (`mosquitto_passwd -c -b pw alice secret`,
    // `-H sha512 -c -b pw6 bob hunter2`, `-b -I 1000 pw carol pass3`).
    const ALICE_7: &str = "alice:$7$101$/k22OLlYUt/Khbbt$D/xwSNr7At/W4cP95hW/7WENSCTN/7I4kfJZFGWo2sm0NKOu0VEVHIQ/oYMJyUaywg8ZTs8ns0b2QEKq2KYIFg==";
    const BOB_6: &str = "bob:$6$lPU/DGp6CHvtvXWn$5H+mynDePI8rjCgaIMWeS67t091GJkURhhsqgP15VCNqP0+l3RtDwaV9I7x1aCj7KimegsY3oQsg0AvIIUGFuA==";
    const CAROL_7_1000: &str = "carol:$7$1000$RPV/WxKVF4KT5DUH$nm/RbYy9SnuOGNNBKC/0Sxv/hhc3J/irJtTfiSA+Aens544KycKgMjpFWXqg43IAl+z3I95x2mC9Nl+UOMaB9Q==";

    fn auth_with(text: &str, allow_anonymous: bool) -> Auth {
        let auth = Auth {
            allow_anonymous,
            ..Auth::default()
        };
        auth.with_passwords(Passwords::parse(text, "p").unwrap())
    }

    fn syntax_error(text: &str) -> String {
        Passwords::parse(text, "pw.txt").unwrap_err().to_string()
    }

    #[test]
    fn mosquitto_passwd_vectors() {
        let text = format!("# made by mosquitto_passwd\n{ALICE_7}\n\n{BOB_6}\n{CAROL_7_1000}\n");
        let auth = auth_with(&text, false);
        assert!(auth.check_password(Some("alice"), Some(b"secret")).is_ok());
        assert!(auth.check_password(Some("bob"), Some(b"hunter2")).is_ok());
        assert!(auth.check_password(Some("carol"), Some(b"pass3")).is_ok());
        assert_eq!(
            auth.check_password(Some("alice"), Some(b"Secret")),
            Err("wrong password for user `alice`".into())
        );
        assert!(auth.check_password(Some("bob"), Some(b"secret")).is_err());
        assert!(auth
            .check_password(Some("eve"), Some(b"secret"))
            .unwrap_err()
            .contains("unknown user `eve`"));
        assert!(auth.check_password(Some("alice"), None).is_err());
        assert!(auth.check_password(None, None).is_err());
        assert!(auth_with(&text, true).check_password(None, None).is_ok());
    }

    #[test]
    fn own_hashes_verify_and_print_as_mosquitto_does() {
        for (kind, prefix) in [(HashKind::Pbkdf2Sha512, "$7$101$"), (HashKind::Sha512, "$6$")] {
            let h = PasswordHash::new(kind, default_iterations(), b"s3cret");
            let text = h.to_string();
            assert!(text.starts_with(prefix), "{text}");
            // 12 bytes of salt = 16 base64 characters; 64 bytes of hash = 88 with `==`.
            let parts: Vec<&str> = text.rsplitn(3, '$').collect();
            assert_eq!((parts[1].len(), parts[0].len()), (16, 88), "{text}");
            assert!(parts[0].ends_with("=="));
            let back = PasswordHash::parse(&text).unwrap();
            assert_eq!(back, h);
            assert!(back.verify(b"s3cret"));
            assert!(!back.verify(b"s3cret "));
            assert!(!back.verify(b""));
        }
        // Two hashes of one password differ (fresh salt each time).
        let a = PasswordHash::new(HashKind::Pbkdf2Sha512, default_iterations(), b"x");
        let b = PasswordHash::new(HashKind::Pbkdf2Sha512, default_iterations(), b"x");
        assert_ne!(a.to_string(), b.to_string());
        let i = NonZeroU32::new(7).unwrap();
        assert!(PasswordHash::new(HashKind::Pbkdf2Sha512, i, b"x")
            .to_string()
            .starts_with("$7$7$"));
    }

    #[test]
    fn unknown_users_cost_a_derivation_of_the_files_strength() {
        let p = Passwords::parse(&format!("{ALICE_7}\n{CAROL_7_1000}\n"), "p").unwrap();
        assert_eq!(p.dummy.cost(), 1000);
        assert!(!p.dummy.verify(b""));
        let p = Passwords::parse(BOB_6, "p").unwrap();
        assert!(matches!(p.dummy, PasswordHash::Sha512 { .. }));
        let p = Passwords::parse("", "p").unwrap();
        assert_eq!(p.dummy.cost(), DEFAULT_ITERATIONS);
        assert!(p.is_empty());
    }

    #[test]
    fn an_unknown_user_costs_as_much_as_a_wrong_password() {
        // 20,000 rounds: milliseconds per check, far above the noise of a HashMap lookup. The two
        // kinds of check alternate so that load from other processes hits both alike.
        let line = PasswordHash::new(HashKind::Pbkdf2Sha512, NonZeroU32::new(20_000).unwrap(), b"pw");
        let p = Passwords::parse(&format!("alice:{line}\n"), "p").unwrap();
        let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..5 {
            let t = Instant::now();
            assert!(p.verify("alice", b"wrong").is_err());
            known += t.elapsed();
            let t = Instant::now();
            assert!(p.verify("mallory", b"wrong").is_err());
            unknown += t.elapsed();
        }
        let ratio = unknown.as_secs_f64() / known.as_secs_f64();
        assert!(
            (0.5..2.0).contains(&ratio),
            "unknown {unknown:?} vs known {known:?}"
        );
    }

    #[test]
    fn plain_text_and_malformed_lines_are_refused_with_file_and_line() {
        assert_eq!(
            syntax_error("# users\n\nalice:secret\n"),
            "pw.txt:3: the password of `alice` is in plain text; hash the file with `sister mqtt passwd -U pw.txt` (or mosquitto_passwd -U)"
        );
        assert!(syntax_error("x\nalice\n").starts_with("pw.txt:1: expected `user:hash`"));
        assert!(syntax_error(":$7$1$a$b").contains("no username"));
        assert!(syntax_error("alice:").contains("no password hash after `alice:`"));
        assert!(syntax_error("alice:$7$0$/k22OLlYUt/Khbbt$AA==").contains("at least 1"));
        assert!(syntax_error("alice:$7$101$abc").contains("four parts"));
        assert!(syntax_error("alice:$6$abc").contains("three parts"));
        assert!(syntax_error("alice:$7$101$%%%%$AA==").contains("not base64"));
        assert!(
            syntax_error("alice:$7$101$AAAA$AA==").contains("the salt is 3 bytes; Mosquitto's salts are 12")
        );
        assert!(syntax_error("alice:$7$101$/k22OLlYUt/Khbbt$AAAA").contains("the hash is 3 bytes"));
        assert!(syntax_error("alice:$2y$10$abcdefghijk").contains("`$2y$`, which Mosquitto does not read"));
        assert!(syntax_error(&format!("{ALICE_7}\n{ALICE_7}\n"))
            .starts_with("pw.txt:2: `alice` is already on line 1"));
        // Blanks around the user and the hash are trimmed, as Mosquitto trims them.
        let auth = auth_with(&format!("  {}  \r\n", ALICE_7.replace(':', " : ")), false);
        assert!(auth.check_password(Some("alice"), Some(b"secret")).is_ok());
        // Unpadded base64 is read too (OpenSSL's decoder does not insist).
        let unpadded = ALICE_7.trim_end_matches('=');
        assert!(auth_with(unpadded, false)
            .check_password(Some("alice"), Some(b"secret"))
            .is_ok());
    }

    #[test]
    fn without_a_password_file_anonymity_decides() {
        let open = Auth::default();
        assert!(open.check_password(Some("anyone"), Some(b"x")).is_ok());
        assert!(open.check_password(None, None).is_ok());
        let closed = Auth {
            allow_anonymous: false,
            ..Auth::default()
        };
        assert!(closed.check_password(Some("anyone"), Some(b"x")).is_err());
        assert!(closed.check_password(None, None).is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn authenticate_off_the_event_loop() {
        let auth = auth_with(ALICE_7, false);
        let ok = auth.authenticate(Some("alice".into()), Some(Bytes::from_static(b"secret")));
        assert_eq!(ok.await, Ok(()));
        let wrong = auth.authenticate(Some("alice".into()), Some(Bytes::from_static(b"x")));
        assert!(wrong.await.is_err());
        assert!(auth.authenticate(None, None).await.is_err());
        // Many at once: all answered, the semaphore's permits all given back.
        let mut all = tokio::task::JoinSet::new();
        for i in 0..20 {
            let auth = auth.clone();
            all.spawn(async move {
                auth.authenticate(Some(format!("u{i}")), Some(Bytes::from_static(b"x")))
                    .await
            });
        }
        while let Some(r) = all.join_next().await {
            assert!(r.unwrap().is_err());
        }
        assert_eq!(auth.hashing.available_permits(), hashing_threads());
    }

    #[test]
    fn editing_keeps_other_lines() {
        let h = PasswordHash::new(HashKind::Sha512, NonZeroU32::MIN, b"pw");
        let text = format!("# the lab's users\n{ALICE_7}\n\n{BOB_6}\n");
        // Change bob: his line is replaced in place, everything else kept byte for byte.
        let changed = set_user(&text, "bob", &h);
        assert_eq!(changed, format!("# the lab's users\n{ALICE_7}\n\nbob:{h}\n"));
        // Add carol at the end (also after a last line without a newline).
        let added = set_user(text.trim_end(), "carol", &h);
        assert_eq!(
            added,
            format!("# the lab's users\n{ALICE_7}\n\n{BOB_6}\ncarol:{h}\n")
        );
        assert_eq!(set_user("", "carol", &h), format!("carol:{h}\n"));
        // A user listed twice ends up once.
        let twice = set_user(&format!("{BOB_6}\n# c\n{BOB_6}\n"), "bob", &h);
        assert_eq!(twice, format!("bob:{h}\n# c\n"));
        // Delete.
        assert_eq!(
            delete_user(&text, "alice").unwrap(),
            format!("# the lab's users\n\n{BOB_6}\n")
        );
        assert_eq!(delete_user(&text, "eve"), None);
        // `#alice:...` is a comment, not alice.
        assert_eq!(delete_user(&format!("#{ALICE_7}\n"), "alice"), None);
    }

    #[test]
    fn hashing_a_plain_file() {
        let text = format!("# users\nalice : secret \n{BOB_6}\n\ndave:pa:ss\n");
        let (out, n) = hash_plain_passwords(&text, "p", |pw| {
            PasswordHash::new(HashKind::Pbkdf2Sha512, default_iterations(), pw)
        })
        .unwrap();
        assert_eq!(n, 2);
        let auth = auth_with(&out, false);
        assert!(auth.check_password(Some("alice"), Some(b"secret")).is_ok());
        assert!(
            auth.check_password(Some("bob"), Some(b"hunter2")).is_ok(),
            "kept, not hashed again"
        );
        assert!(auth.check_password(Some("dave"), Some(b"pa:ss")).is_ok());
        assert!(out.starts_with("# users\nalice:$7$101$"));
        assert!(out.contains(&format!("\n{BOB_6}\n\ndave:$7$")));
        // Nothing to do is fine; errors name the line.
        assert_eq!(hash_plain_passwords(BOB_6, "p", |_| unreachable!()).unwrap().1, 0);
        let e = hash_plain_passwords("a:b\nnocolon\n", "f", |pw| {
            PasswordHash::new(HashKind::Sha512, NonZeroU32::MIN, pw)
        });
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("f:2: expected `user:password`"));
        assert!(hash_plain_passwords("a:\n", "f", |_| unreachable!()).is_err());
        assert!(hash_plain_passwords("a:$7$1$x\n", "f", |_| unreachable!()).is_err());
    }

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("a b").is_ok());
        for bad in ["", "a:b", "a\tb", " a", "a ", "#a", "a\n"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_username(&"x".repeat(65536)).is_err());
    }

    #[test]
    fn acl_rules() {
        let acl = Auth::parse_acl(
            "topic read $SYS/#\ntopic sister/#\nuser alice\ntopic readwrite #\ntopic deny sister/secret\npattern write sensors/%c/#\n",
            "a",
        )
        .unwrap();
        let auth = Auth {
            acl: Some(acl),
            ..Auth::default()
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
