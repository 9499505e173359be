//! Mosquitto 2.0's `mosquitto.conf`, read as Mosquitto reads it (`sister mqtt broker -c FILE`), so a
//! lecturer's existing file starts sister's broker unchanged.
//!
//! The format (mosquitto.conf(5)): one `option value` per line, `#` starts a comment line, options
//! are global or belong to the `listener PORT [ADDRESS]` above them. What to notice:
//! - **Security settings** (`allow_anonymous`, `password_file`, `acl_file`) are global unless
//!   `per_listener_settings true`, which makes each apply to the listener above it.
//! - **No listener at all** is Mosquitto 2.0's "local only mode": port 1883 on the loopback interface,
//!   anonymous clients allowed. With a listener, `allow_anonymous` defaults to **false** (Mosquitto 2.0
//!   changed this: "migrating to 2.0"), so a file with a listener and no `allow_anonymous true`
//!   refuses anonymous clients.
//! - **TLS** is on for a listener with `certfile` and `keyfile`; `cafile`/`capath` name the CAs of the
//!   clients' certificates (`require_certificate`, `use_identity_as_username`).
//! - **`protocol websockets`** makes a listener take MQTT over WebSockets (RFC 6455; any path, the
//!   subprotocol `mqtt` or `mqttv3.1`); with `certfile`/`keyfile` too, over TLS (`wss://`). Its
//!   other options (security with `per_listener_settings`, `max_connections`) are a listener's as
//!   for `protocol mqtt`.
//! - An unknown option or a bad value stops the broker with the file and line, as Mosquitto does
//!   (`Error: Unknown configuration variable "foo".` / `Error found at mosquitto.conf:2.`).
//! - Options sister reads but does not act on (logging, `persistence`, `user`, `pid_file`) are
//!   accepted so the file still starts; [`Config::notes`] says what sister does instead.
//!
//! Parsing is pure ([`parse`]: text in, [`Config`] out); [`load`] adds the files (`include_dir`).

use std::path::{Path, PathBuf};

use crate::tls::MinVersion;

/// A configuration error, with where it was found (`mosquitto.conf:12: ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Who may connect and what they may do: global, or one listener's with `per_listener_settings`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Security {
    pub allow_anonymous: Option<bool>,
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
}

/// A `listener` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerConf {
    pub port: u16,
    /// The address to bind (`listener PORT ADDRESS` or `bind_address`); `None`: every interface.
    pub address: Option<String>,
    /// Where the block starts (`mosquitto.conf:12`), for messages.
    pub at: String,
    pub max_connections: Option<usize>,
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    pub require_certificate: bool,
    pub use_identity_as_username: bool,
    pub tls_version: Option<MinVersion>,
    /// `protocol websockets`: MQTT over WebSockets.
    pub websockets: bool,
    /// With `per_listener_settings true`.
    pub security: Security,
}

impl ListenerConf {
    /// `certfile` and `keyfile` make a TLS listener.
    pub fn is_tls(&self) -> bool {
        self.certfile.is_some()
    }

    /// `0.0.0.0:8883`, `[::1]:1883`.
    pub fn bind(&self) -> String {
        match self.address.as_deref() {
            None => format!("0.0.0.0:{}", self.port),
            Some(a) if a.contains(':') && !a.starts_with('[') => format!("[{a}]:{}", self.port),
            Some(a) => format!("{a}:{}", self.port),
        }
    }
}

/// What a `mosquitto.conf` sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub per_listener_settings: bool,
    /// Empty: Mosquitto's local only mode (see the module docs; [`Config::effective_listeners`]).
    pub listeners: Vec<ListenerConf>,
    pub security: Security,
    pub max_keepalive: Option<u16>,
    pub max_inflight_messages: Option<u16>,
    pub max_queued_messages: Option<usize>,
    pub max_packet_size: Option<u32>,
    pub sys_interval: Option<u64>,
    pub persistence: bool,
    /// What sister does with options it accepts but does not act on, one line each.
    pub notes: Vec<String>,
}

impl Config {
    /// The listeners to open: the file's, or local only mode's `127.0.0.1:1883`.
    pub fn effective_listeners(&self) -> Vec<ListenerConf> {
        if self.listeners.is_empty() {
            vec![ListenerConf {
                port: 1883,
                address: Some("127.0.0.1".into()),
                at: "(no listener in the file: Mosquitto's local only mode)".into(),
                ..ListenerConf::default()
            }]
        } else {
            self.listeners.clone()
        }
    }

    /// Whether anonymous clients may connect (with `security` the global or the listener's settings).
    pub fn anonymous_allowed(&self, security: &Security) -> bool {
        // Mosquitto 2.0: false by default, true in local only mode.
        security.allow_anonymous.unwrap_or(self.listeners.is_empty())
    }
}

/// Options sister accepts without acting on them, and what it says about each.
const ACCEPTED: &[(&str, &str)] = &[
    ("log_dest", "sister logs to its standard error (-v for more, --log-format json)"),
    ("log_type", "sister logs to its standard error (-v for more)"),
    ("log_timestamp", "sister's log lines always carry a time"),
    ("log_timestamp_format", "sister's log lines always carry a time"),
    ("connection_messages", "sister always logs connections and disconnections"),
    ("pid_file", "no PID file is written (run sister in the foreground or under a service manager)"),
    ("user", "sister does not change user (start it as the user it should run as)"),
    ("persistence_location", "see `persistence`"),
    ("persistence_file", "see `persistence`"),
    ("autosave_interval", "see `persistence`"),
    ("autosave_on_changes", "see `persistence`"),
    ("allow_zero_length_clientid", "sister always assigns an id to a client that sends an empty one (MQTT 3.1.1 §3.1.3.1, 5.0 §3.1.3.1)"),
    ("set_tcp_nodelay", "sister always sets TCP_NODELAY"),
    ("retain_available", "retained messages are always available"),
    ("ciphers", "rustls chooses among its secure cipher suites (AES-GCM, ChaCha20-Poly1305); the list is not configurable"),
    ("ciphers_tls1.3", "rustls chooses among its TLS 1.3 cipher suites"),
    ("socket_domain", "the address given decides IPv4 or IPv6"),
    ("websockets_log_level", "sister logs WebSocket handshakes with the rest (-v shows each one)"),
    ("websockets_headers_size", "sister reads WebSocket handshake heads of up to 16 KiB"),
];

/// Options Mosquitto has that sister cannot honour: refused, so the broker never silently behaves
/// otherwise than the file says.
const REFUSED: &[(&str, &str)] = &[
    ("connection", "bridges are not supported by sister's broker"),
    ("address", "bridges are not supported by sister's broker"),
    ("plugin", "plugins are not supported by sister's broker"),
    ("auth_plugin", "plugins are not supported by sister's broker"),
    (
        "psk_file",
        "TLS-PSK is not supported (rustls has no PSK); use certificates",
    ),
    (
        "psk_hint",
        "TLS-PSK is not supported (rustls has no PSK); use certificates",
    ),
    ("mount_point", "mount points are not supported"),
    (
        "use_subject_as_username",
        "use use_identity_as_username (the subject's CN) instead",
    ),
    ("crlfile", "certificate revocation lists are not supported"),
    (
        "http_dir",
        "sister's WebSocket listener serves no files (a plain HTTP request gets 426 Upgrade Required)",
    ),
];

/// Read `path` (and the files its `include_dir` names).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    let mut config = Config::default();
    let mut parser = Parser::new(&mut config);
    parser.feed(&text, &path.display().to_string(), path.parent(), 0)?;
    parser.finish()?;
    Ok(config)
}

/// Parse one file's text (named `name` in messages); `include_dir` lines are refused (use [`load`]).
pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    let mut parser = Parser::new(&mut config);
    parser.feed(text, name, None, 0)?;
    parser.finish()?;
    Ok(config)
}

struct Parser<'a> {
    config: &'a mut Config,
    /// Security lines seen before `per_listener_settings` (Mosquitto requires it to come first).
    saw_security: Option<String>,
    /// Options for the default listener before any `listener` line (`port`, `bind_address`, and
    /// listener options given globally, which in Mosquitto 2.0 configure the default listener).
    default: Option<ListenerConf>,
}

impl<'a> Parser<'a> {
    fn new(config: &'a mut Config) -> Parser<'a> {
        Parser {
            config,
            saw_security: None,
            default: None,
        }
    }

    fn feed(&mut self, text: &str, name: &str, dir: Option<&Path>, depth: usize) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let at = format!("{name}:{}", i + 1);
            let line = raw.trim_end_matches('\r');
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (key, value) = match trimmed.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((k, v)) => (k, v.trim()),
                None => (trimmed, ""),
            };
            if key == "include_dir" {
                self.include(value, &at, dir, depth)?;
                continue;
            }
            self.option(key, value, &at)
                .map_err(|why| ConfigError(format!("{at}: {why}")))?;
        }
        Ok(())
    }

    fn include(
        &mut self,
        value: &str,
        at: &str,
        dir: Option<&Path>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let Some(base) = dir else {
            return Err(ConfigError(format!(
                "{at}: include_dir needs the configuration read from a file"
            )));
        };
        if depth > 4 {
            return Err(ConfigError(format!("{at}: include_dir nested too deep")));
        }
        let d = base.join(value);
        let entries = std::fs::read_dir(&d)
            .map_err(|e| ConfigError(format!("{at}: include_dir {}: {e}", d.display())))?;
        // Mosquitto reads the `*.conf` files of the directory in alphabetical order.
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| ConfigError(format!("{at}: cannot read {}: {e}", f.display())))?;
            self.feed(&text, &f.display().to_string(), Some(base), depth + 1)?;
        }
        Ok(())
    }

    /// The listener the option belongs to: the last `listener`, or the default one.
    fn current(&mut self, at: &str) -> &mut ListenerConf {
        if self.config.listeners.is_empty() {
            self.default.get_or_insert_with(|| ListenerConf {
                port: 1883,
                at: at.to_string(),
                ..ListenerConf::default()
            })
        } else {
            let n = self.config.listeners.len();
            &mut self.config.listeners[n - 1]
        }
    }

    fn security(&mut self, at: &str) -> &mut Security {
        if self.saw_security.is_none() {
            self.saw_security = Some(at.to_string());
        }
        if self.config.per_listener_settings && !self.config.listeners.is_empty() {
            &mut self.current(at).security
        } else {
            &mut self.config.security
        }
    }

    fn option(&mut self, key: &str, value: &str, at: &str) -> Result<(), String> {
        let need = |v: &str| {
            if v.is_empty() {
                Err(format!("`{key}` needs a value"))
            } else {
                Ok(v.to_string())
            }
        };
        match key {
            "listener" => {
                let mut parts = value.split_whitespace();
                let port = parts
                    .next()
                    .ok_or("`listener` needs a port: `listener 1883 [ADDRESS]`")?;
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("invalid listener port `{port}` (1 to 65535)"))?;
                if port == 0 {
                    return Err("a listener with port 0 must provide a Unix socket path (sister has no Unix socket listeners)".into());
                }
                let address = parts.next().map(str::to_string);
                if parts.next().is_some() {
                    return Err("`listener` takes a port and an optional address".into());
                }
                self.config.listeners.push(ListenerConf {
                    port,
                    address,
                    at: at.to_string(),
                    ..ListenerConf::default()
                });
            }
            "port" => {
                // Deprecated in 2.0: the default listener's port.
                let port: u16 = value.parse().map_err(|_| format!("invalid port `{value}`"))?;
                if !self.config.listeners.is_empty() {
                    return Err("`port` after a `listener` line: give the port on the listener line".into());
                }
                self.current(at).port = port;
            }
            "bind_address" => {
                let a = need(value)?;
                self.current(at).address = Some(a);
            }
            "protocol" => match value {
                "mqtt" => self.current(at).websockets = false,
                "websockets" => self.current(at).websockets = true,
                other => return Err(format!("invalid protocol `{other}` (mqtt or websockets)")),
            },
            "per_listener_settings" => {
                let v = boolean(key, value)?;
                if let Some(first) = &self.saw_security {
                    if v != self.config.per_listener_settings {
                        return Err(format!(
                            "per_listener_settings must come before the security options (the first is at {first})"
                        ));
                    }
                }
                self.config.per_listener_settings = v;
            }
            "allow_anonymous" => {
                let v = boolean(key, value)?;
                self.security(at).allow_anonymous = Some(v);
            }
            "password_file" => {
                let v = need(value)?;
                self.security(at).password_file = Some(v.into());
            }
            "acl_file" => {
                let v = need(value)?;
                self.security(at).acl_file = Some(v.into());
            }
            "cafile" => {
                let v = need(value)?;
                self.current(at).cafile = Some(v.into());
            }
            "capath" => {
                let v = need(value)?;
                self.current(at).capath = Some(v.into());
            }
            "certfile" => {
                let v = need(value)?;
                self.current(at).certfile = Some(v.into());
            }
            "keyfile" => {
                let v = need(value)?;
                self.current(at).keyfile = Some(v.into());
            }
            "require_certificate" => {
                let v = boolean(key, value)?;
                self.current(at).require_certificate = v;
            }
            "use_identity_as_username" => {
                let v = boolean(key, value)?;
                self.current(at).use_identity_as_username = v;
            }
            "tls_version" => {
                let v = MinVersion::parse(value).map_err(|e| e.0)?;
                self.current(at).tls_version = Some(v);
            }
            "max_connections" => {
                let v: i64 = value
                    .parse()
                    .map_err(|_| format!("invalid max_connections `{value}` (a number; -1: no limit)"))?;
                // -1: no limit (Mosquitto's default).
                self.current(at).max_connections = (v >= 0).then_some(v.max(1) as usize);
            }
            "max_keepalive" => {
                let v: u16 = value
                    .parse()
                    .map_err(|_| format!("invalid max_keepalive `{value}` (0 to 65535 seconds)"))?;
                self.config.max_keepalive = Some(v);
            }
            "max_inflight_messages" => {
                let v: u16 = value
                    .parse()
                    .map_err(|_| format!("invalid max_inflight_messages `{value}`"))?;
                // 0: no limit in Mosquitto; sister's largest window.
                self.config.max_inflight_messages = Some(if v == 0 { u16::MAX } else { v });
            }
            "max_queued_messages" => {
                let v: usize = value
                    .parse()
                    .map_err(|_| format!("invalid max_queued_messages `{value}`"))?;
                self.config.max_queued_messages = Some(if v == 0 { usize::MAX / 2 } else { v });
            }
            "max_packet_size" | "message_size_limit" => {
                let v: u32 = value.parse().map_err(|_| format!("invalid {key} `{value}`"))?;
                if v > 0 {
                    // message_size_limit counts the payload only; the packet is a little larger.
                    let v = if key == "message_size_limit" {
                        v.saturating_add(65_536 + 16)
                    } else {
                        v
                    };
                    self.config.max_packet_size = Some(v);
                }
            }
            "sys_interval" => {
                let v: u64 = value
                    .parse()
                    .map_err(|_| format!("invalid sys_interval `{value}` (seconds)"))?;
                self.config.sys_interval = Some(v);
            }
            "persistence" => {
                let v = boolean(key, value)?;
                self.config.persistence = v;
                if v {
                    self.note("persistence true: sister keeps sessions, retained messages and queued messages in memory only; they are lost when the broker stops (Mosquitto writes them to mosquitto.db)");
                }
            }
            _ => {
                if let Some((_, what)) = ACCEPTED.iter().find(|(k, _)| *k == key) {
                    self.note(&format!("{key}: {what}"));
                } else if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == key) {
                    return Err(format!(
                        "`{key}` is a Mosquitto option sister does not support: {why}"
                    ));
                } else {
                    return Err(format!("unknown configuration variable `{key}`"));
                }
            }
        }
        Ok(())
    }

    fn note(&mut self, s: &str) {
        if !self.config.notes.iter().any(|n| n == s) {
            self.config.notes.push(s.to_string());
        }
    }

    /// Checks that need the whole file: the default listener, TLS files in pairs.
    fn finish(&mut self) -> Result<(), ConfigError> {
        if let Some(d) = self.default.take() {
            if self.config.listeners.is_empty() {
                // Options given before any `listener` line configure Mosquitto's default listener
                // (on every interface, as `port`/`bind_address` always did).
                self.config.listeners.push(d);
            } else {
                return Err(ConfigError(format!(
                    "{}: listener options (port, bind_address, cafile, certfile, ...) before the first `listener` line: move them under the `listener` they belong to",
                    d.at
                )));
            }
        }
        for l in &self.config.listeners {
            let at = &l.at;
            match (&l.certfile, &l.keyfile) {
                (Some(_), None) => {
                    return Err(ConfigError(format!(
                        "{at}: listener {} has certfile but no keyfile",
                        l.port
                    )))
                }
                (None, Some(_)) => {
                    return Err(ConfigError(format!(
                        "{at}: listener {} has keyfile but no certfile",
                        l.port
                    )))
                }
                _ => {}
            }
            if !l.is_tls() && (l.require_certificate || l.use_identity_as_username || l.tls_version.is_some())
            {
                return Err(ConfigError(format!(
                    "{at}: listener {} has TLS options but no certfile and keyfile (TLS is off for it)",
                    l.port
                )));
            }
            if l.require_certificate && l.cafile.is_none() && l.capath.is_none() {
                return Err(ConfigError(format!(
                    "{at}: listener {}: require_certificate needs cafile or capath (the CA of the clients' certificates)",
                    l.port
                )));
            }
            if l.use_identity_as_username && !l.require_certificate {
                return Err(ConfigError(format!(
                    "{at}: listener {}: use_identity_as_username needs require_certificate true",
                    l.port
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for l in &self.config.listeners {
            if !seen.insert(l.bind()) {
                return Err(ConfigError(format!(
                    "{}: a second listener on {}",
                    l.at,
                    l.bind()
                )));
            }
        }
        Ok(())
    }
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("invalid {key} value `{other}` (true or false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_file() {
        // The course's own mosquitto.conf (../shared/LAB.md): one anonymous listener.
        let c = parse("listener 1883\nallow_anonymous true\n", "mosquitto.conf").unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].bind(), "0.0.0.0:1883");
        assert!(c.anonymous_allowed(&c.security));
    }

    #[test]
    fn a_listener_makes_anonymous_default_false_and_none_means_local_only() {
        let c = parse("listener 1883\n", "m.conf").unwrap();
        assert!(!c.anonymous_allowed(&c.security));
        let c = parse("# nothing\n", "m.conf").unwrap();
        assert!(c.anonymous_allowed(&c.security));
        assert_eq!(c.effective_listeners()[0].bind(), "127.0.0.1:1883");
    }

    #[test]
    fn tls_listener_and_security() {
        let text = "per_listener_settings false\nallow_anonymous false\npassword_file /etc/mosquitto/passwd\n\
                    acl_file acl\nlistener 1883 127.0.0.1\nlistener 8883\ncafile ca.crt\ncertfile s.crt\nkeyfile s.key\n\
                    require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3\nmax_connections -1\n";
        let c = parse(text, "m.conf").unwrap();
        assert_eq!(c.listeners.len(), 2);
        assert!(!c.listeners[0].is_tls());
        assert_eq!(c.listeners[0].bind(), "127.0.0.1:1883");
        let tls = &c.listeners[1];
        assert!(tls.is_tls() && tls.require_certificate && tls.use_identity_as_username);
        assert_eq!(tls.tls_version, Some(MinVersion::Tls13));
        assert_eq!(tls.max_connections, None);
        assert_eq!(
            c.security.password_file.as_deref(),
            Some(Path::new("/etc/mosquitto/passwd"))
        );
    }

    #[test]
    fn per_listener_security() {
        let text = "per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 8883\npassword_file p\n";
        let c = parse(text, "m.conf").unwrap();
        assert_eq!(c.listeners[0].security.allow_anonymous, Some(true));
        assert_eq!(
            c.listeners[1].security.password_file.as_deref(),
            Some(Path::new("p"))
        );
        assert_eq!(c.security, Security::default());
        let e = parse("allow_anonymous true\nper_listener_settings true\n", "m.conf").unwrap_err();
        assert!(e.0.starts_with("m.conf:2:"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse("listener 1883\nfoo bar\n", "bad.conf").unwrap_err();
        assert_eq!(e.0, "bad.conf:2: unknown configuration variable `foo`");
        let e = parse("listener 1883\nallow_anonymous maybe\n", "bad.conf").unwrap_err();
        assert_eq!(
            e.0,
            "bad.conf:2: invalid allow_anonymous value `maybe` (true or false)"
        );
        for bad in [
            "listener abc",
            "listener 0",
            "listener 9001\nprotocol websocket",
            "listener 9001\nprotocol websockets\nhttp_dir /var/www",
            "listener 1883\nconnection bridge1",
            "listener 8883\ncertfile a.crt",
            "listener 8883\ntls_version tlsv1.1",
            "listener 1883\nlistener 1883",
            "port 1883\nlistener 1884\nport 1",
        ] {
            let e = parse(bad, "x.conf").unwrap_err();
            assert!(e.0.starts_with("x.conf:"), "{bad}: {e}");
        }
    }

    #[test]
    fn websockets_listeners() {
        let text = "listener 1883\nlistener 9001 127.0.0.1\nprotocol websockets\nwebsockets_log_level 255\n\
                    listener 9443\nprotocol websockets\ncertfile s.crt\nkeyfile s.key\n";
        let c = parse(text, "m.conf").unwrap();
        let kinds: Vec<(u16, bool, bool)> = c
            .listeners
            .iter()
            .map(|l| (l.port, l.websockets, l.is_tls()))
            .collect();
        assert_eq!(
            kinds,
            [(1883, false, false), (9001, true, false), (9443, true, true)]
        );
        assert!(c.notes.iter().any(|n| n.starts_with("websockets_log_level")));
    }

    #[test]
    fn accepted_options_are_noted() {
        let c = parse(
            "persistence true\npersistence_location /var/lib/mosquitto/\nlog_dest stdout\nlistener 1883\n",
            "m.conf",
        )
        .unwrap();
        assert!(c.persistence);
        assert!(c.notes.iter().any(|n| n.contains("in memory only")));
        assert!(c.notes.iter().any(|n| n.starts_with("log_dest")));
    }

    #[test]
    fn options_before_any_listener_make_the_default_listener() {
        let c = parse("port 1884\nbind_address 127.0.0.1\n", "m.conf").unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].bind(), "127.0.0.1:1884");
        assert!(!c.anonymous_allowed(&c.security));
    }

    #[test]
    fn include_dir_reads_conf_files_in_order() {
        let dir = std::env::temp_dir().join(format!("sister-conf-{}", std::process::id()));
        let d = dir.join("conf.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("b.conf"), "listener 8884\n").unwrap();
        std::fs::write(d.join("a.conf"), "listener 8883\n").unwrap();
        std::fs::write(d.join("ignored.txt"), "nonsense\n").unwrap();
        std::fs::write(
            dir.join("mosquitto.conf"),
            "include_dir conf.d\nallow_anonymous true\n",
        )
        .unwrap();
        let c = load(&dir.join("mosquitto.conf")).unwrap();
        let ports: Vec<u16> = c.listeners.iter().map(|l| l.port).collect();
        assert_eq!(ports, [8883, 8884]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
