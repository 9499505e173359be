//! What Docker knows about its networks: which bridge interface a compose project uses, and which
//! container sits behind each IP address of a capture.
//!
//! We ask the `docker` CLI (`docker network ls`, `docker network inspect`, `docker inspect`) rather than
//! the Engine API's socket: the CLI is what a student has, it finds the engine the same way the student's
//! `docker compose` does (DOCKER_HOST, contexts), and its JSON output is stable.
//!
//! What to notice: a user-defined bridge network (what compose creates, `<project>_default`) is the Linux
//! bridge `br-<first 12 hex digits of the network id>` unless the network sets the option
//! `com.docker.network.bridge.name`; the default network `bridge` is `docker0`. Capturing on that bridge
//! sees every packet between the project's containers, which is what the worksheet's
//! `tcpdump -nvi br-… -w mqtt.pcap` does.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// How long one docker CLI call may take before we give up (an engine that hangs must not hang us).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong asking Docker.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("the docker CLI is not installed (or not on PATH)")]
    NoCli,
    #[error("docker did not answer: {0}")]
    Failed(String),
    #[error("docker has no network {0:?} (`docker network ls` lists them)")]
    NoNetwork(String),
    #[error(
        "no Docker network belongs to compose project {project:?}; is it up? \
(`docker compose -p {project} up -d`; networks here: {available})"
    )]
    NoProject { project: String, available: String },
    #[error("compose project {project:?} has several networks ({names}): pick one with --network")]
    SeveralNetworks { project: String, names: String },
    #[error("cannot read docker's answer: {0}")]
    BadJson(#[from] serde_json::Error),
}

/// A container attached to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// The container's name (`mqtt-mqtt-sub-1`, or the compose file's `container_name`).
    pub name: String,
    /// The compose service (`mqtt-sub`) when the container was made by compose.
    pub service: Option<String>,
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    /// The container's MAC address on this network (`02:42:ac:12:00:04`), to check that a capture's
    /// host really is this container and not an older one that had the same IP.
    pub mac: Option<String>,
}

impl Container {
    /// The name a report should use: the compose service if known (`mqtt-sub`), else the container name.
    pub fn display_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.name)
    }
}

/// A Docker network and its bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// The Linux interface of a bridge network (`br-3f2a9c1d0e7b`, `docker0`).
    pub bridge: Option<String>,
    /// The compose project that created it (label `com.docker.compose.project`).
    pub compose_project: Option<String>,
    pub subnets: Vec<String>,
    pub containers: Vec<Container>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectNetwork {
    id: String,
    name: String,
    driver: String,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<Ipam>,
    #[serde(default)]
    containers: Option<BTreeMap<String, InspectEndpoint>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default)]
    config: Option<Vec<IpamConfig>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    #[serde(default)]
    subnet: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectEndpoint {
    name: String,
    #[serde(default, rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(default, rename = "IPv6Address")]
    ipv6_address: String,
    #[serde(default)]
    mac_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectContainer {
    id: String,
    config: Option<ContainerConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The bridge interface of a network, from `docker network inspect` output: the
/// `com.docker.network.bridge.name` option, else `br-` + the first 12 characters of the id.
pub fn bridge_name(driver: &str, id: &str, options: Option<&BTreeMap<String, String>>) -> Option<String> {
    if driver != "bridge" {
        return None;
    }
    if let Some(name) = options.and_then(|o| o.get("com.docker.network.bridge.name")) {
        return Some(name.clone());
    }
    Some(format!("br-{}", id.get(..12)?))
}

/// Parse the JSON array printed by `docker network inspect`.
pub fn parse_network_inspect(json: &str) -> Result<Vec<Network>, DockerError> {
    let raw: Vec<InspectNetwork> = serde_json::from_str(json)?;
    Ok(raw
        .into_iter()
        .map(|n| {
            let bridge = bridge_name(&n.driver, &n.id, n.options.as_ref());
            let ip = |s: &str| s.split('/').next().and_then(|a| a.parse::<IpAddr>().ok());
            let containers = n
                .containers
                .unwrap_or_default()
                .into_iter()
                .map(|(id, e)| Container {
                    id,
                    name: e.name,
                    service: None,
                    ipv4: ip(&e.ipv4_address),
                    ipv6: ip(&e.ipv6_address),
                    mac: Some(e.mac_address.to_ascii_lowercase()).filter(|m| !m.is_empty()),
                })
                .collect();
            Network {
                compose_project: n
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("com.docker.compose.project").cloned()),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect(),
                id: n.id,
                name: n.name,
                driver: n.driver,
                bridge,
                containers,
            }
        })
        .collect())
}

/// Run `docker ARGS…` and return its stdout, with a timeout.
fn docker(args: &[&str]) -> Result<String, DockerError> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DockerError::NoCli,
            _ => DockerError::Failed(e.to_string()),
        })?;
    // Read both pipes on threads so a chatty child cannot block on a full pipe while we wait.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + DOCKER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DockerError::Failed(format!(
                    "`docker {}` took longer than {}s",
                    args.join(" "),
                    DOCKER_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(DockerError::Failed(e.to_string())),
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    if !status.success() {
        return Err(DockerError::Failed(err.trim().to_string()));
    }
    Ok(out)
}

/// Every network with its containers (compose service names filled in where the labels say).
pub fn networks() -> Result<Vec<Network>, DockerError> {
    let ids = docker(&["network", "ls", "-q", "--no-trunc"])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["network", "inspect"];
    args.extend(ids.iter().copied());
    let mut nets = parse_network_inspect(&docker(&args)?)?;
    // The compose service of each container is a label on the container, not on the network.
    let cids: Vec<String> = nets
        .iter()
        .flat_map(|n| n.containers.iter().map(|c| c.id.clone()))
        .filter(|id| !id.starts_with("ep-")) // endpoints of containers on other hosts (swarm)
        .collect();
    if !cids.is_empty() {
        let mut args = vec!["inspect"];
        args.extend(cids.iter().map(String::as_str));
        if let Ok(json) = docker(&args) {
            if let Ok(list) = serde_json::from_str::<Vec<InspectContainer>>(&json) {
                for c in list {
                    let service = c
                        .config
                        .and_then(|cfg| cfg.labels)
                        .and_then(|l| l.get("com.docker.compose.service").cloned());
                    for n in nets.iter_mut() {
                        for k in n.containers.iter_mut().filter(|k| k.id == c.id) {
                            k.service = service.clone();
                        }
                    }
                }
            }
        }
    }
    Ok(nets)
}

/// The network named (or with the id prefix) `name`.
pub fn find_network(name: &str) -> Result<Network, DockerError> {
    let nets = networks()?;
    nets.into_iter()
        .find(|n| n.name == name || (name.len() >= 12 && n.id.starts_with(name)))
        .ok_or_else(|| DockerError::NoNetwork(name.to_string()))
}

/// The one network of compose project `project` (its `<project>_default` when it has several).
pub fn find_project(project: &str) -> Result<Network, DockerError> {
    let nets = networks()?;
    pick_project_network(nets, project)
}

fn pick_project_network(nets: Vec<Network>, project: &str) -> Result<Network, DockerError> {
    let available = nets
        .iter()
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut mine: Vec<Network> = nets
        .into_iter()
        .filter(|n| n.compose_project.as_deref() == Some(project))
        .collect();
    match mine.len() {
        0 => Err(DockerError::NoProject {
            project: project.to_string(),
            available,
        }),
        1 => Ok(mine.remove(0)),
        _ => {
            let default = format!("{project}_default");
            if let Some(i) = mine.iter().position(|n| n.name == default) {
                return Ok(mine.remove(i));
            }
            Err(DockerError::SeveralNetworks {
                project: project.to_string(),
                names: mine
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// The name of every container address on these networks, for reports: `172.18.0.4 -> mqtt-sub`.
pub fn names_by_ip(nets: &[Network]) -> BTreeMap<IpAddr, String> {
    containers_by_ip(nets)
        .into_iter()
        .map(|(ip, c)| (ip, c.display_name().to_string()))
        .collect()
}

/// Every container address on these networks with its container.
pub fn containers_by_ip(nets: &[Network]) -> BTreeMap<IpAddr, &Container> {
    let mut m = BTreeMap::new();
    for n in nets {
        for c in &n.containers {
            for ip in [c.ipv4, c.ipv6].into_iter().flatten() {
                m.insert(ip, c);
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed `docker network inspect` output of a compose project's network and of the default one.
    const INSPECT: &str = r#"[
      {"Name": "mqtt_default", "Id": "3f2a9c1d0e7b5a6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
       "Driver": "bridge", "IPAM": {"Driver": "default", "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]},
       "Containers": {
         "aaa111": {"Name": "mqtt-mqtt-broker-1", "IPv4Address": "172.18.0.2/16", "IPv6Address": ""},
         "bbb222": {"Name": "mqtt-sub", "IPv4Address": "172.18.0.4/16", "IPv6Address": "", "MacAddress": "02:42:AC:12:00:04"}
       },
       "Options": {}, "Labels": {"com.docker.compose.network": "default", "com.docker.compose.project": "mqtt"}},
      {"Name": "bridge", "Id": "8de097f279d3aaaa", "Driver": "bridge",
       "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}, "Containers": {},
       "Options": {"com.docker.network.bridge.name": "docker0"}, "Labels": {}},
      {"Name": "host", "Id": "0cc177fa768f", "Driver": "host", "Containers": {}, "Options": {}, "Labels": {}}
    ]"#;

    #[test]
    fn bridges_and_containers_from_inspect() {
        let nets = parse_network_inspect(INSPECT).unwrap();
        assert_eq!(nets.len(), 3);
        assert_eq!(nets[0].bridge.as_deref(), Some("br-3f2a9c1d0e7b"));
        assert_eq!(nets[0].compose_project.as_deref(), Some("mqtt"));
        assert_eq!(nets[0].subnets, vec!["172.18.0.0/16"]);
        assert_eq!(nets[1].bridge.as_deref(), Some("docker0"));
        assert_eq!(nets[2].bridge, None, "host network has no bridge");
        let names = names_by_ip(&nets);
        assert_eq!(
            names[&"172.18.0.2".parse::<IpAddr>().unwrap()],
            "mqtt-mqtt-broker-1"
        );
        assert_eq!(names[&"172.18.0.4".parse::<IpAddr>().unwrap()], "mqtt-sub");
        let by_ip = containers_by_ip(&nets);
        assert_eq!(
            by_ip[&"172.18.0.4".parse::<IpAddr>().unwrap()].mac.as_deref(),
            Some("02:42:ac:12:00:04")
        );
    }

    #[test]
    fn project_network_is_found_or_explained() {
        let nets = parse_network_inspect(INSPECT).unwrap();
        let n = pick_project_network(nets.clone(), "mqtt").unwrap();
        assert_eq!(n.name, "mqtt_default");
        let e = pick_project_network(nets, "soap").unwrap_err().to_string();
        assert!(e.contains("soap") && e.contains("mqtt_default"), "{e}");
    }

    #[test]
    fn service_label_wins_for_display() {
        let c = Container {
            id: "x".into(),
            name: "mqtt-mqtt-sub-1".into(),
            service: Some("mqtt-sub".into()),
            ipv4: None,
            ipv6: None,
            mac: None,
        };
        assert_eq!(c.display_name(), "mqtt-sub");
    }
}
