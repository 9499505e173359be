//! Names for the hosts of a capture: `mqtt-sub (172.18.0.4)` reads better than `172.18.0.4`.
//!
//! The SVG and Markdown renderings take them as an option; the text and JSON reports get them through
//! [`Names::name_hosts`] (the report's optional `hosts[].name`).
//!
//! Two sources, the later one winning: the containers Docker knows (`docker network inspect`: the
//! compose service or container name of each IP, gathered by the binary through `capture::docker`),
//! and a `--names FILE` the student writes, one `IP NAME` per line, as in `/etc/hosts`:
//!
//! ```text
//! # the MQTT lab
//! 172.18.0.2  mqtt-broker
//! 172.18.0.3  mqtt-pub
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;

/// IP address → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(BTreeMap<IpAddr, String>);

/// A line of a names file that is not `IP NAME`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: expected `IP NAME` (e.g. `172.18.0.2 mqtt-broker`), found {text:?}")]
pub struct NamesError {
    pub line: usize,
    pub text: String,
}

impl Names {
    pub fn new() -> Names {
        Names::default()
    }

    /// Parse a names file: `IP NAME` per line; `#` starts a comment; blank lines are skipped. As in
    /// /etc/hosts, further words after the name are aliases and are ignored.
    pub fn parse(text: &str) -> Result<Names, NamesError> {
        let mut names = Names::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(ip), Some(name)) = (words.next(), words.next()) else {
                return Err(NamesError {
                    line: i + 1,
                    text: raw.to_string(),
                });
            };
            let Ok(ip) = ip.parse::<IpAddr>() else {
                return Err(NamesError {
                    line: i + 1,
                    text: raw.to_string(),
                });
            };
            names.0.insert(ip, name.to_string());
        }
        Ok(names)
    }

    /// Add or replace a name.
    pub fn insert(&mut self, ip: IpAddr, name: impl Into<String>) {
        self.0.insert(ip, name.into());
    }

    /// Add every name of `other`, replacing ours where both have one.
    pub fn extend(&mut self, other: Names) {
        self.0.extend(other.0);
    }

    /// The name of an address (given as the report writes it), if known.
    pub fn name(&self, addr: &str) -> Option<&str> {
        let ip: IpAddr = addr.parse().ok()?;
        self.0.get(&ip).map(String::as_str)
    }

    /// `mqtt-sub (172.18.0.4)`, or just the address when it has no name.
    pub fn label(&self, addr: &str) -> String {
        match self.name(addr) {
            Some(n) => format!("{n} ({addr})"),
            None => addr.to_string(),
        }
    }

    /// The names of the report's hosts that are Docker containers, from `docker network inspect`'s
    /// answer (`capture::docker::networks()`, asked by the caller: this function runs no command).
    ///
    /// A container's name is used only when the capture saw the container's MAC address on that IP (or
    /// saw no MAC at all, as in a cooked capture): an old capture must not get the names of whatever
    /// containers run today on the same addresses.
    pub fn of_containers(report: &crate::report::Report, nets: &[capture::docker::Network]) -> Names {
        let mut names = Names::new();
        for (ip, c) in capture::docker::containers_by_ip(nets) {
            let seen_macs = report
                .hosts
                .iter()
                .find(|h| h.addr == ip.to_string())
                .map(|h| &h.macs);
            let Some(macs) = seen_macs else { continue };
            let same = match &c.mac {
                Some(mac) => macs.is_empty() || macs.iter().any(|m| m.eq_ignore_ascii_case(mac)),
                None => macs.is_empty(),
            };
            if same {
                names.insert(ip, c.display_name());
            }
        }
        names
    }

    /// Write the names into the report's hosts ([`crate::report::Host::name`]), for the text and JSON
    /// reports.
    pub fn name_hosts(&self, report: &mut crate::report::Report) {
        for h in &mut report.hosts {
            h.name = self.name(&h.addr).map(str::to_string);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &String)> {
        self.0.iter()
    }
}

impl FromIterator<(IpAddr, String)> for Names {
    fn from_iter<T: IntoIterator<Item = (IpAddr, String)>>(iter: T) -> Self {
        Names(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_hosts_like_file() {
        let n = Names::parse(
            "# lab\n172.18.0.2  mqtt-broker broker\n\n172.18.0.4\tmqtt-sub # the subscriber\n::1 me\n",
        )
        .unwrap();
        assert_eq!(n.label("172.18.0.2"), "mqtt-broker (172.18.0.2)");
        assert_eq!(n.label("172.18.0.4"), "mqtt-sub (172.18.0.4)");
        assert_eq!(n.label("::1"), "me (::1)");
        assert_eq!(n.label("172.18.0.9"), "172.18.0.9");
        assert_eq!(n.label("not an ip"), "not an ip");
    }

    #[test]
    fn bad_lines_are_pointed_out() {
        let e = Names::parse("172.18.0.2 broker\nbroker 172.18.0.3\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Names::parse("172.18.0.2\n").is_err());
    }

    #[test]
    fn later_names_win() {
        let mut docker: Names = [("172.18.0.2".parse().unwrap(), "mqtt-mqtt-broker-1".to_string())]
            .into_iter()
            .collect();
        docker.extend(Names::parse("172.18.0.2 broker").unwrap());
        assert_eq!(docker.name("172.18.0.2"), Some("broker"));
    }
}
