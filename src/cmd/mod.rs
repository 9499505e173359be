//! The command line: `sister <pattern> <role> [flags]`.
//!
//! Conventions shared by every pattern (see README):
//! - servers take `--bind ADDR:PORT`, default `0.0.0.0:<course port>`;
//! - clients take `--server HOST:PORT`, default `<compose service>:<course port>`, also settable with an
//!   environment variable (`SISTER_SERVER`, or a pattern-specific one shown in `--help`), and `--wait SECS`
//!   to retry while the server starts;
//! - the HTTP servers (rest, rpc, soap) take `--tls-cert FILE --tls-key FILE` to serve HTTPS on the
//!   same port, their clients an `https://` server and `--cacert FILE` (`https_args.rs`);
//! - `-v`/`-q` and `--log-format json` on every command.

pub mod analyze;
pub mod bench;
pub mod bench_analyze;
pub mod ca;
pub mod capture;
pub mod check;
pub mod client_args;
pub mod corba;
pub mod https_args;
pub mod ice;
pub mod lab;
pub mod lab_capture;
pub mod lamport;
pub mod logging;
pub mod mqtt;
pub mod mqtt_bench;
pub mod mqtt_broker;
pub mod mqtt_passwd;
pub mod oneway;
pub mod procs;
pub mod reqresp;
pub mod rest;
pub mod rpc;
pub mod soap;
pub mod udp;
pub mod upcall;
pub mod web;
pub mod zk;
pub mod zmq;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sister",
    version,
    about = "A hands-on lab for distributed systems: every pattern of the course in one binary",
    long_about = "A hands-on lab for distributed systems: every communication pattern of the course \
(MQTT, TCP request/response, UDP, one-way TCP, upcalls, REST, JSON-RPC, SOAP, ZeroMQ, ZooKeeper, \
Lamport clocks) as servers and clients in one binary, plus packet capture and analysis.",
    after_help = "Examples:\n  sister lab                          run the whole worksheet on loopback\n  \
sister reqresp server               echo server on 0.0.0.0:2222\n  \
sister reqresp client --server 127.0.0.1:2222\n\nEvery subcommand has its own --help with examples."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output (-v: debug, -vv: trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less log output (-q: warnings and errors only, -qq: errors only)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log line format: human lines, or one JSON object per line for machines
    #[arg(long, value_enum, default_value_t = logging::LogFormat::Human, global = true)]
    pub log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Do nothing until stopped: keeps a client container alive for `docker compose exec`
    #[command(after_help = "Example (in a compose file):\n  command: [\"idle\"]")]
    Idle,
    /// Capture packets live (AF_PACKET, no libpcap) with a tcpdump-like filter; write pcap, or decode
    Capture(capture::CaptureArgs),
    /// Read pcap/pcapng files and write the findings: hosts, conversations, messages, anomalies
    Analyze(analyze::AnalyzeArgs),
    /// Does a capture show what the worksheet asks? Per capture, or a class table (--class DIR)
    Check(check::CheckArgs),
    /// Run the worksheet on loopback: every pattern, a transcript, a verdict
    Lab(lab::LabArgs),
    /// Measure a pattern's server: throughput and latency (not a test)
    Bench(bench::BenchArgs),
    /// TCP request/response: `Echo: <line>` (port 2222)
    Reqresp(reqresp::ReqrespArgs),
    /// One-way TCP: lines go one way, no answer (port 3131)
    Oneway(oneway::OnewayArgs),
    /// UDP datagrams: one out, one back (port 12345/udp)
    Udp(udp::UdpArgs),
    /// Upcall: the server calls its registered clients back (port 4141)
    Upcall(upcall::UpcallArgs),
    /// MQTT publish/subscribe: a broker, a publisher and a subscriber (port 1883)
    #[command(
        subcommand,
        after_help = "Examples:\n  sister mqtt broker\n  sister mqtt broker --bind 127.0.0.1:1884\n  sister mqtt sub --server 127.0.0.1:1883\n  sister mqtt pub --server 127.0.0.1:1883 -t sister/temp -m hello"
    )]
    Mqtt(Box<mqtt::MqttCommand>),
    /// ZeroMQ: REQ/REP, PUB/SUB, PUSH/PULL (ZMTP 3.1, interoperating with pyzmq)
    Zmq(zmq::ZmqArgs),
    /// Distributed objects with ZeroC Ice: two Printer objects (port 11000)
    Ice(ice::IceArgs),
    /// Distributed objects with CORBA: HelloApp::Hello and a Naming Service (port 2809)
    Corba(corba::CorbaArgs),
    /// ZooKeeper: leader election and the balance demo's distributed lock (port 2181)
    #[command(
        subcommand,
        after_help = "Examples:\n  sister zk election --id 3 --server 127.0.0.1:2181\n  sister zk election --id 1 --recipe sequential\n  sister zk lock --client a\n  sister zk lock --client b\n\nThe server is `zookeeper:2181` (the course's compose) unless --server or SISTER_ZK says otherwise."
    )]
    Zk(zk::Zk),
    /// Lamport clocks: the course's two-process exchange (port 12345), and an N-process simulation
    #[command(
        subcommand,
        after_help = "Examples:\n  sister lamport server\n  sister lamport client --server 127.0.0.1:12345\n  sister lamport sim --processes 3 --seed 1 --vector --diagram run.svg"
    )]
    Lamport(lamport::Lamport),
    /// The lab's certificate authority: a CA, server and client certificates for TLS (HTTPS, MQTT)
    #[command(
        subcommand,
        after_help = "Examples:\n  sister ca init lab-ca                  ca.crt, ca.key, server.crt, server.key, README.txt\n  sister ca client lab-ca alice          alice.crt, alice.key (CN=alice)\n  sister rest server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key\n  curl --cacert lab-ca/ca.crt 'https://localhost:5151/add?a=10&b=5'"
    )]
    Ca(ca::Ca),
    /// Processes and threads: shared memory, a lost update and its fix
    #[command(
        after_help = "Example:\n  sister procs                      eve and bob, 3 threads each, 1000000 increments per thread"
    )]
    Procs(procs::ProcsArgs),
    /// REST over HTTP: GET /add?a=10&b=5 -> {"result": 15} (port 5151)
    Rest(rest::RestArgs),
    /// JSON-RPC 2.0 over HTTP POST: add, subtract, multiply, divide (port 4000)
    Rpc(rpc::RpcArgs),
    /// SOAP 1.1 with WSDL: the course's calculator (port 8000)
    Soap(soap::SoapArgs),
    /// The lab in a browser: a live MQTT topic tree, captures as clickable flow diagrams, Lamport runs
    Web(web::WebArgs),
}

/// Run the chosen command; `Ok` carries the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Idle => {
            patterns::shutdown::ctrl_c_or_sigterm().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Capture(args) => capture::run(args).await,
        Command::Analyze(args) => analyze::run(args),
        Command::Check(args) => check::run(args),
        Command::Lab(args) => lab::run(args, &cli.global).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Reqresp(args) => reqresp::run(args).await,
        Command::Oneway(args) => oneway::run(args).await,
        Command::Udp(args) => udp::run(args).await,
        Command::Upcall(args) => upcall::run(args).await,
        Command::Mqtt(cmd) => mqtt::run(*cmd).await,
        Command::Zmq(args) => zmq::run(args, patterns::shutdown::on_ctrl_c()).await,
        Command::Ice(args) => ice::run(args).await,
        Command::Corba(args) => corba::run(args).await,
        Command::Zk(c) => zk::run(c).await,
        Command::Lamport(c) => lamport::run(c).await,
        Command::Ca(c) => ca::run(c),
        Command::Procs(a) => tokio::task::spawn_blocking(move || procs::run(a)).await?,
        Command::Rest(args) => rest::run(args).await,
        Command::Rpc(args) => rpc::run(args).await,
        Command::Web(args) => web::run(args).await,
        Command::Soap(args) => soap::run(args).await,
    }
}
