//! `sister mqtt passwd`: make and change the broker's password file, with mosquitto_passwd 2.0's flags
//! (apps/mosquitto_passwd/mosquitto_passwd.c), so that sister's broker and Mosquitto read the same
//! file. The format and the edits (keep every other line) are in
//! `patterns::mqtt::broker::auth`; this file parses flags, asks for the password and writes the file.
//!
//! Where it differs from mosquitto_passwd 2.0.11, on purpose:
//! - comments and blank lines are kept (mosquitto_passwd stops at them with "Corrupt password file",
//!   and when it adds a user it then leaves only that user in the file);
//! - `-U` hashes only the plain-text lines (mosquitto_passwd also hashes the `$7$...` text of lines
//!   already hashed, which locks those users out) and uses `-I` (mosquitto_passwd's `-U` ignores it);
//! - the file is replaced at once (a temporary file renamed over it), never left half written; a new
//!   file is mode 0600, an existing one keeps its mode without the bits for everyone else;
//! - usernames the broker could not match are refused: empty, blanks around it, starting with `#`.

use std::io::{BufRead, IsTerminal, Write};
use std::num::NonZeroU32;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use patterns::mqtt::broker::auth::{self, HashKind, PasswordHash};

/// Flags of `sister mqtt passwd` (mosquitto_passwd's).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister mqtt passwd -c pw.txt alice           new file with alice (asks her password twice)
  sister mqtt passwd -c -b pw.txt alice secret the same, password given (and in shell history)
  sister mqtt passwd -b pw.txt bob hunter2     add bob, or change his password
  sister mqtt passwd -D pw.txt bob             delete bob
  sister mqtt passwd -U pw.txt                 hash every plain-text `user:password` line
  sister mqtt passwd -I 100000 -b pw.txt c pw  a costlier hash (default: 101 rounds)
  sister mqtt broker --password-file pw.txt --no-anonymous

Lines are `user:$7$ITERATIONS$SALT$HASH` (PBKDF2-HMAC-SHA512) or, with -H sha512,
`user:$6$SALT$HASH`, as mosquitto_passwd 2.0 writes them: Mosquitto reads sister's files and sister
reads Mosquitto's. Other lines and comments are kept; the file is replaced atomically. A new file is
mode 0600: Debian's mosquitto service reads it as user mosquitto (`chown mosquitto: pw.txt`).
See crates/patterns/src/mqtt/broker/auth.rs.")]
pub struct PasswdArgs {
    /// Hash: sha512-pbkdf2 (`$7$`, the default, as in mosquitto_passwd 2.0) or sha512 (`$6$`, Mosquitto 1.6's)
    #[arg(short = 'H', value_enum, value_name = "HASH", default_value_t = Hash::Sha512Pbkdf2)]
    pub hash: Hash,
    /// PBKDF2 rounds of a `$7$` hash: more make each login, and each guess, slower
    #[arg(short = 'I', value_name = "ITERATIONS", default_value_t = auth::DEFAULT_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// Batch mode: the password is the third argument, not asked for
    #[arg(short = 'b', conflicts_with_all = ["delete"])]
    pub batch: bool,
    /// Create the file, or overwrite it with this one user
    #[arg(short = 'c', conflicts_with_all = ["delete", "update"])]
    pub create: bool,
    /// Delete USER instead of setting a password
    #[arg(short = 'D', conflicts_with_all = ["update"])]
    pub delete: bool,
    /// Hash a file of plain-text `user:password` lines in place (lines already hashed are kept)
    #[arg(short = 'U')]
    pub update: bool,
    /// The password file
    pub file: PathBuf,
    /// The user to add, change or delete
    pub user: Option<String>,
    /// The password (with -b)
    #[arg(allow_hyphen_values = true)]
    pub password: Option<String>,
}

/// mosquitto_passwd's `-H` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Hash {
    #[value(name = "sha512-pbkdf2")]
    Sha512Pbkdf2,
    #[value(name = "sha512")]
    Sha512,
}

/// What the arguments ask for, once their number has been checked as mosquitto_passwd checks it.
enum Action {
    Set { user: String, password: Option<String> },
    Delete { user: String },
    Update,
}

pub async fn run(args: PasswdArgs) -> anyhow::Result<ExitCode> {
    let action = action(&args)?;
    let kind = match args.hash {
        Hash::Sha512Pbkdf2 => HashKind::Pbkdf2Sha512,
        Hash::Sha512 => HashKind::Sha512,
    };
    let iterations = NonZeroU32::new(args.iterations).unwrap_or(auth::default_iterations());
    let make = |password: &[u8]| PasswordHash::new(kind, iterations, password);
    let shown = args.file.display().to_string();

    // Read the file first: a missing file is reported before anyone types a password.
    let existing = if args.create {
        None
    } else {
        Some(read_existing(&args.file)?)
    };

    let new_text = match action {
        Action::Set { user, password } => {
            let password = match password {
                Some(p) => p,
                None => ask_password().await?,
            };
            if password.len() > 65535 {
                bail!("the password is longer than 65535 bytes (MQTT's limit)");
            }
            let hash = make(password.as_bytes());
            match &existing {
                Some(text) => auth::set_user(text, &user, &hash),
                None => format!("{user}:{hash}\n"),
            }
        }
        Action::Delete { user } => {
            let text = existing.as_deref().unwrap_or_default();
            match auth::delete_user(text, &user) {
                Some(t) => t,
                None => bail!("user `{user}` is not in {shown}; nothing deleted"),
            }
        }
        Action::Update => {
            let text = existing.as_deref().unwrap_or_default();
            let (new_text, hashed) = auth::hash_plain_passwords(text, &shown, make)?;
            if hashed == 0 {
                eprintln!("{shown}: no plain-text password to hash; the file is unchanged");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "{shown}: hashed {hashed} plain-text password{}",
                if hashed == 1 { "" } else { "s" }
            );
            new_text
        }
    };
    write_atomically(&args.file, &new_text)?;
    Ok(ExitCode::SUCCESS)
}

/// The positional arguments each mode needs (mosquitto_passwd's `main`), and the username's rules.
fn action(args: &PasswdArgs) -> anyhow::Result<Action> {
    let (user, password) = (args.user.clone(), args.password.clone());
    let action = if args.update {
        if user.is_some() {
            bail!("-U takes only the password file: sister mqtt passwd -U FILE");
        }
        return Ok(Action::Update);
    } else if args.delete {
        match (user, password) {
            (Some(user), None) => Action::Delete { user },
            _ => bail!("-D takes the password file and a username: sister mqtt passwd -D FILE USER"),
        }
    } else if args.batch {
        match (user, password) {
            (Some(user), Some(password)) => Action::Set {
                user,
                password: Some(password),
            },
            _ => bail!("-b takes the password file, a username and the password: sister mqtt passwd -b FILE USER PASSWORD"),
        }
    } else {
        match (user, password) {
            (Some(user), None) => Action::Set { user, password: None },
            (None, _) => {
                bail!("give the password file and a username: sister mqtt passwd FILE USER (see --help)")
            }
            (Some(_), Some(_)) => {
                bail!("a password on the command line needs -b: sister mqtt passwd -b FILE USER PASSWORD")
            }
        }
    };
    let (Action::Set { user, .. } | Action::Delete { user }) = &action else {
        return Ok(action);
    };
    auth::check_username(user).map_err(anyhow::Error::msg)?;
    Ok(action)
}

/// The file's text; it must exist unless -c.
fn read_existing(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} does not exist; create it with -c: sister mqtt passwd -c {} USER",
            path.display(),
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replace `path` by a file holding `text`, all at once: a temporary file next to it is written,
/// flushed to disk and renamed over it, so a crash or a full disk never leaves half a password file.
/// A new file is mode 0600 (only its owner reads the hashes); an existing one keeps its mode without
/// the bits for everyone else, and its owner and group where we may set them (a broker that runs as
/// its own user must still read it). A symbolic link is followed: the file it names is replaced.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let before = std::fs::metadata(&target).ok();
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "passwords".into());
    let tmp = dir.join(format!(".{name}.sister-{}.tmp", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        if let Some(meta) = &before {
            let mode = meta.permissions().mode() & 0o660;
            if meta.permissions().mode() & 0o007 != 0 {
                eprintln!(
                    "note: {} was readable by every user; it is now mode {mode:04o}",
                    path.display()
                );
            }
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            if std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid())).is_err() {
                eprintln!(
                    "warning: {} now belongs to you, not to its previous owner (uid {}, gid {}): check that the broker can still read it",
                    path.display(),
                    meta.uid(),
                    meta.gid()
                );
            }
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target).with_context(|| format!("cannot replace {}", target.display()))?;
        // The rename itself reaches the disk with the directory (best effort: not every system can).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The password, asked twice on a terminal without echo (mosquitto_passwd's `get_password`). Without
/// a terminal, one line of standard input; a second line, if there is one, must be the same (so
/// `printf 'pw\npw\n' | ...`, which mosquitto_passwd needs, works too).
async fn ask_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let read = tokio::task::spawn_blocking(|| -> std::io::Result<(Option<String>, Option<String>)> {
            let mut lines = std::io::stdin().lock();
            Ok((read_line(&mut lines)?, read_line(&mut lines)?))
        });
        let (first, second) = read.await.context("reading standard input")??;
        let Some(first) = first else {
            bail!("no password on standard input (or use -b FILE USER PASSWORD)");
        };
        if second.as_ref().is_some_and(|s| s != &first) {
            bail!("the two passwords on standard input do not match");
        }
        return check_not_empty(first);
    }
    // Echo off for as long as the guard lives, which includes an early return on Ctrl+C: the read
    // runs on a blocking thread, and tokio's Ctrl+C handler (installed here) replaces the default of
    // killing the process, which would leave the terminal without echo.
    let echo = EchoOff::new()?;
    let read = tokio::task::spawn_blocking(|| -> std::io::Result<(Option<String>, Option<String>)> {
        let mut lines = std::io::stdin().lock();
        eprint!("Password: ");
        let first = read_line(&mut lines)?;
        eprintln!();
        if first.as_deref().is_none_or(str::is_empty) {
            return Ok((first, None));
        }
        eprint!("Reenter password: ");
        let second = read_line(&mut lines)?;
        eprintln!();
        Ok((first, second))
    });
    let (first, second) = tokio::select! {
        r = read => r.context("reading the terminal")??,
        _ = tokio::signal::ctrl_c() => {
            drop(echo);
            eprintln!();
            bail!("interrupted; the password file is unchanged");
        }
    };
    drop(echo);
    let first = check_not_empty(first.unwrap_or_default())?;
    if second.as_deref() != Some(first.as_str()) {
        bail!("the passwords do not match; the password file is unchanged");
    }
    Ok(first)
}

fn check_not_empty(password: String) -> anyhow::Result<String> {
    if password.is_empty() {
        bail!("empty password; the password file is unchanged");
    }
    Ok(password)
}

/// One line without its `\n` (or `\r\n`); `None` at the end of the input.
fn read_line(input: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(Some(trimmed.to_string()))
}

/// The terminal's echo, off until this is dropped.
struct EchoOff {
    saved: nix::sys::termios::Termios,
}

impl EchoOff {
    fn new() -> anyhow::Result<EchoOff> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).context("cannot turn the terminal's echo off")?;
        Ok(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ =
            nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, &self.saved);
    }
}
