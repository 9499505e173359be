//! `sister capture`: tcpdump for the lab, without libpcap (the binary stays static).
//!
//! Flags are turned into a `capture::session::Options` and the library does the rest; this file only
//! finds the interface (`-i`, or the Docker bridge of `--compose`/`--network`), prints, and stops the
//! capture on Ctrl+C.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::capture::session::{self, Options, Session, Tally};
use ::capture::{docker, filter::Filter, iface, live, write::TsResolution};
use analyze::live::LiveDecoder;
use anyhow::{bail, Context};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  sister capture --list                               interfaces, Docker bridges marked
  sudo sister capture -i lo -w echo.pcap port 2222    loopback, only the echo service
  sister capture --compose mqtt -w mqtt.pcap          the bridge of compose project `mqtt`
  sister capture -i br-3f2a9c1d0e7b --decode tcp port 1883
  sister capture -i any -c 100 'host 172.18.0.3 and (tcp or arp)'

Filter (tcpdump-like, applied in user space): tcp udp arp icmp icmp6 ip ip6, [src|dst] host A,
[tcp|udp] [src|dst] port N, [src|dst] net CIDR, and/or/not (&& || !), parentheses. As in tcpdump, `and`
and `or` have the same precedence and group from the left.

Needs CAP_NET_RAW: run as root (sudo), or once `sudo setcap cap_net_raw+ep $(command -v sister)`, or in
Docker `--cap-add NET_RAW`.")]
pub struct CaptureArgs {
    /// Interface to capture on (`lo`, `eth0`, `br-…`, `any`)
    #[arg(short = 'i', long, value_name = "IFACE", conflicts_with_all = ["compose", "network"])]
    pub interface: Option<String>,
    /// Capture on the Docker bridge of this compose project (found with the docker CLI)
    #[arg(long, value_name = "PROJECT", conflicts_with = "network")]
    pub compose: Option<String>,
    /// Capture on the bridge of this Docker network
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// Write the packets to this pcap file (Wireshark/tshark open it); `-` writes to stdout, e.g.
    /// `sister capture -i lo -w - | wireshark -k -i -`
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
    /// Stop after this many packets (that matched the filter)
    #[arg(short = 'c', long, value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print one line per message as it happens (who → whom, protocol, what: the analyzer's dissectors),
    /// and the report when the capture stops
    #[arg(long)]
    pub decode: bool,
    /// List the interfaces with their addresses (Docker bridges marked with their network) and exit
    #[arg(long)]
    pub list: bool,
    /// Bytes kept of each packet (longer packets are cut; their real length is kept in the file)
    #[arg(short = 's', long, default_value_t = live::DEFAULT_SNAPLEN)]
    pub snaplen: u32,
    /// Nanosecond timestamps in the file (default: microseconds, as tcpdump)
    #[arg(long)]
    pub nano: bool,
    /// With --decode: names for the hosts, one `IP NAME` per line (Docker's container names are used
    /// by themselves with --compose/--network)
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// Filter expression, e.g. `tcp port 1883 and host 172.18.0.3`
    #[arg(trailing_var_arg = true, value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub async fn run(args: CaptureArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        list();
        return Ok(ExitCode::SUCCESS);
    }
    let filter = Filter::parse_words(&args.filter)?;
    let mut names = analyze::render::Names::new();
    let iface = match (&args.interface, &args.compose, &args.network) {
        (Some(i), _, _) => i.clone(),
        (None, Some(project), _) => bridge_of(docker::find_project(project), project, &mut names)?,
        (None, None, Some(net)) => bridge_of(docker::find_network(net), net, &mut names)?,
        (None, None, None) => bail!(
            "say where to capture: -i IFACE (see `sister capture --list`), --compose PROJECT or --network NAME"
        ),
    };
    let duration = match args.duration {
        Some(s) if !(s.is_finite() && s > 0.0) => bail!("--duration must be a positive number of seconds"),
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let iface_shown = iface.clone();
    let opts = Options {
        iface: iface.clone(),
        snaplen: args.snaplen.max(64),
        write: args.write.clone(),
        resolution: if args.nano {
            TsResolution::Nanos
        } else {
            TsResolution::Micros
        },
        count: args.count,
        duration,
        filter,
    };
    if let Some(path) = &args.names {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        names.extend(analyze::render::Names::parse(&text).with_context(|| format!("in {}", path.display()))?);
    }
    let decode = args.decode;
    let to_stdout = args.write.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if decode && to_stdout {
        bail!("--decode prints to stdout, where `-w -` writes the pcap: write the pcap to a file, or drop --decode");
    }
    let print_each = !decode && args.write.is_none();

    let stop = Arc::new(AtomicBool::new(false));
    let stop_on_signal = stop.clone();
    tokio::spawn(async move {
        patterns::shutdown::ctrl_c_or_sigterm().await;
        stop_on_signal.store(true, Ordering::Relaxed);
    });

    let summary = tokio::task::spawn_blocking(
        move || -> anyhow::Result<(session::Summary, Tally, Option<analyze::report::Report>)> {
            let filter_text = opts.filter.text().to_string();
            let target = opts.write.as_ref().map(|p| p.display().to_string());
            let sess = Session::open(opts)?;
            eprintln!(
                "capturing on {iface} ({}){}{}; Ctrl+C to stop",
                sess.linktype(),
                if filter_text.is_empty() {
                    String::new()
                } else {
                    format!(", filter `{filter_text}`")
                },
                target
                    .map(|t| if t == "-" {
                        ", writing pcap to stdout".to_string()
                    } else {
                        format!(", writing {t}")
                    })
                    .unwrap_or_default(),
            );
            let mut tally = Tally::default();
            let mut decoder = decode.then(|| LiveDecoder::new(names));
            let stdout = std::io::stdout();
            let summary = sess.run(&stop, |p, d| {
                tally.add(d);
                // A closed stdout (`| head`) is no reason to stop writing the file: write errors are ignored.
                if let Some(dec) = decoder.as_mut() {
                    let lines = dec.packet(p, d);
                    let mut out = stdout.lock();
                    for line in lines {
                        let _ = writeln!(out, "{line}");
                    }
                } else if print_each {
                    let _ = writeln!(stdout.lock(), "{}", session::describe(p, d));
                }
            })?;
            Ok((summary, tally, decoder.map(LiveDecoder::finish)))
        },
    )
    .await
    .context("the capture thread stopped unexpectedly")??;

    let (s, tally, report) = summary;
    if let Some(mut report) = report {
        report.capture.files = vec![format!("live capture on {iface_shown}")];
        println!();
        print!("{}", analyze::render::text::render(&report));
    } else if print_each {
        println!();
        for line in tally.lines() {
            println!("{line}");
        }
    }
    eprintln!(
        "{} packets captured ({} seen on the interface) in {:.1} s",
        s.matched,
        s.seen,
        s.elapsed.as_secs_f64()
    );
    eprintln!(
        "{} packets dropped by the kernel{}",
        s.stats.dropped_by_kernel,
        if s.stats.loopback_duplicates > 0 {
            format!(
                ", {} loopback duplicates skipped (as libpcap does)",
                s.stats.loopback_duplicates
            )
        } else {
            String::new()
        }
    );
    if let Some(path) = args.write.as_ref().filter(|p| p.as_os_str() != "-") {
        eprintln!(
            "wrote {} (open it with Wireshark, or `sister analyze {}`)",
            path.display(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bridge_of(
    found: Result<docker::Network, docker::DockerError>,
    what: &str,
    names: &mut analyze::render::Names,
) -> anyhow::Result<String> {
    let net = found.with_context(|| format!("cannot find the Docker bridge of {what:?}"))?;
    for (ip, name) in docker::names_by_ip(std::slice::from_ref(&net)) {
        names.insert(ip, name);
    }
    match net.bridge {
        Some(b) => {
            eprintln!(
                "Docker network {} ({}) is bridge {b}",
                net.name,
                net.subnets.join(", ")
            );
            Ok(b)
        }
        None => bail!(
            "Docker network {} uses driver {}, which has no bridge to capture on",
            net.name,
            net.driver
        ),
    }
}

/// `--list`: interfaces, addresses, Docker bridges with their network's name.
fn list() {
    let nets = docker::networks().ok();
    for i in iface::list() {
        let addrs: Vec<String> = i.addrs.iter().map(|(a, p)| format!("{a}/{p}")).collect();
        let mut notes = Vec::new();
        if !i.up {
            notes.push("down".to_string());
        }
        if i.name == "lo" {
            notes.push("loopback".to_string());
        }
        if let Some(net) = nets
            .as_ref()
            .and_then(|ns| ns.iter().find(|n| n.bridge.as_deref() == Some(i.name.as_str())))
        {
            let project = net
                .compose_project
                .as_ref()
                .map(|p| format!(", compose project {p}"))
                .unwrap_or_default();
            notes.push(format!(
                "Docker bridge of network {}{project}, {} containers",
                net.name,
                net.containers.len()
            ));
        } else if iface::is_docker_bridge_name(&i.name) {
            notes.push("Docker bridge".to_string());
        }
        println!(
            "{:>3}: {:<16} {:<40} {}",
            i.index,
            i.name,
            if addrs.is_empty() {
                "-".to_string()
            } else {
                addrs.join(" ")
            },
            notes.join("; ")
        );
    }
    println!(
        "{:>3}: {:<16} {:<40} every interface at once (Linux cooked headers)",
        "-", "any", "-"
    );
    if nets.is_none() {
        println!("(docker did not answer: Docker bridges are recognised by name only)");
    }
}
