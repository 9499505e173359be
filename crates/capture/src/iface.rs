//! The machine's network interfaces: names, indexes, hardware types and addresses.
//!
//! What `ip a` shows, read from the kernel: names, indexes and hardware types from `/sys/class/net`
//! (sysfs), addresses from `getifaddrs(3)`. A student looking for "the Docker bridge" wants the
//! interface whose address is the gateway of the compose network (`172.18.0.1/16` on `br-3f2a…`):
//! [`is_docker_bridge_name`] spots them by name, and `sister capture --list` adds the Docker network's
//! name when the docker CLI answers (see [`crate::docker`]).

use std::fs;
use std::net::IpAddr;
use std::path::Path;

const SYS_CLASS_NET: &str = "/sys/class/net";

/// One interface as `sister capture --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: i32,
    /// Administratively up and running (`operstate` is `up` or `unknown`, as for `lo`).
    pub up: bool,
    /// The hardware type (`ARPHRD_*`): 1 Ethernet, 772 loopback, 65534 none (tun)...
    pub arphrd: Option<u16>,
    /// The link-layer address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// Addresses with their prefix length.
    pub addrs: Vec<(IpAddr, u8)>,
}

/// Is this the name Docker gives a bridge? `docker0` (the default network) or `br-` + the first 12 hex
/// digits of a user-defined network's id (what compose creates).
pub fn is_docker_bridge_name(name: &str) -> bool {
    if name == "docker0" {
        return true;
    }
    name.strip_prefix("br-")
        .is_some_and(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The interface index of `name`, or `None` if there is no such interface.
pub fn index_of(name: &str) -> Option<i32> {
    // A name with a slash would read some other file of sysfs: refuse it.
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    read_trimmed(Path::new(SYS_CLASS_NET).join(name).join("ifindex"))
        .and_then(|s| s.parse().ok())
        .or_else(|| crate::live::if_nametoindex(name))
}

/// The hardware type (`ARPHRD_*`) of `name`.
pub fn arphrd_of(name: &str) -> Option<u16> {
    if name.contains('/') {
        return None;
    }
    read_trimmed(Path::new(SYS_CLASS_NET).join(name).join("type")).and_then(|s| s.parse().ok())
}

/// The names of all interfaces, ordered by index (`lo` first).
pub fn names() -> Vec<String> {
    let mut v: Vec<(i32, String)> = fs::read_dir(SYS_CLASS_NET)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .map(|n| (index_of(&n).unwrap_or(i32::MAX), n))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// Every interface with its addresses.
pub fn list() -> Vec<Interface> {
    let mut out: Vec<Interface> = names()
        .into_iter()
        .map(|name| {
            let dir = Path::new(SYS_CLASS_NET).join(&name);
            let oper = read_trimmed(dir.join("operstate")).unwrap_or_default();
            let flags = read_trimmed(dir.join("flags"))
                .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            let mac = read_trimmed(dir.join("address")).filter(|m| !m.is_empty());
            Interface {
                index: index_of(&name).unwrap_or(0),
                // IFF_UP = 0x1; `lo` reports operstate "unknown" while working fine.
                up: flags & 0x1 != 0 && oper != "down",
                arphrd: arphrd_of(&name),
                mac,
                addrs: Vec::new(),
                name,
            }
        })
        .collect();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let Some(iface) = out.iter_mut().find(|i| i.name == a.interface_name) else {
                continue;
            };
            let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
                continue;
            };
            let entry = if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
                Some((IpAddr::V4(ip.ip()), u32::from(m.ip()).count_ones() as u8))
            } else if let (Some(ip), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
                Some((IpAddr::V6(ip.ip()), u128::from(m.ip()).count_ones() as u8))
            } else {
                None
            };
            if let Some(e) = entry {
                if !iface.addrs.contains(&e) {
                    iface.addrs.push(e);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_bridge_names() {
        assert!(is_docker_bridge_name("docker0"));
        assert!(is_docker_bridge_name("br-3f2a9c1d0e7b"));
        assert!(!is_docker_bridge_name("br-lan"));
        assert!(!is_docker_bridge_name("br-3f2a9c1d0e7"));
        assert!(!is_docker_bridge_name("eth0"));
    }

    #[test]
    fn loopback_is_listed_with_its_address() {
        let all = list();
        let lo = all
            .iter()
            .find(|i| i.name == "lo")
            .expect("every Linux machine has lo");
        assert_eq!(lo.arphrd, Some(772));
        assert!(lo.up);
        assert!(lo.addrs.contains(&("127.0.0.1".parse().unwrap(), 8)), "{lo:?}");
        assert_eq!(index_of("lo"), Some(lo.index));
        assert_eq!(index_of("../lo"), None);
        assert_eq!(index_of("nosuch0"), None);
    }
}
