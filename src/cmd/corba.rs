//! `sister corba naming|server|client`: distributed objects with CORBA (GIOP/IIOP; the course's
//! `CORBA/`, Naming Service on 2809).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use patterns::console::Stdout;
use patterns::corba::{client, orb, server, GREETING, HELLO_NAME, HELLO_TYPE_ID};
use patterns::{net, shutdown};
use wire::giop::{ObjectUrl, Version};

#[derive(Debug, Args)]
#[command(
    about = "Distributed objects with CORBA: HelloApp::Hello and a Naming Service on TCP 2809 (the course's CORBA/)",
    after_help = "Examples:\n  sister corba server                                # Hello + its own Naming Service on 0.0.0.0:2809\n  \
sister corba client --naming 127.0.0.1:2809\n  \
sister corba naming                                # a Naming Service alone, as omniNames\n  \
sister corba server --naming 127.0.0.1:2809 --bind 0.0.0.0:2810\n\n\
The IDL: module HelloApp { interface Hello { string sayHello(); }; };\n\
All three interoperate with omniORB 4.2 (omniNames, and C++ programs built with omniidl -bcxx)."
)]
pub struct CorbaArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// A CosNaming Naming Service (NamingContextExt at the object key NameService), as omniNames
    #[command(
        after_help = "Examples:\n  sister corba naming\n  sister corba naming --bind 127.0.0.1:2809\n\n\
Reach it as corbaloc::HOST:2809/NameService (omniORB: -ORBInitRef NameService=corbaloc::HOST:2809/NameService)."
    )]
    Naming(NamingArgs),
    /// Serve the Hello object (sayHello returns `Hello from CORBA Server!`), bound as `Hello` in a Naming Service
    #[command(
        after_help = "Examples:\n  sister corba server                              # its own Naming Service on the same port\n  \
sister corba server --naming 127.0.0.1:2809 --bind 0.0.0.0:2810   # rebind Hello in another one (omniNames)\n  \
sister corba server --ior-file hello.ior          # also write the IOR to a file"
    )]
    Server(ServerArgs),
    /// Resolve `Hello` in the Naming Service, narrow it (_is_a) and call sayHello
    #[command(after_help = "Examples:\n  sister corba client --naming 127.0.0.1:2809\n  \
SISTER_SERVER=127.0.0.1:2809 sister corba client\n  \
sister corba client --ior \"$(cat hello.ior)\"\n  \
sister corba client --ior corbaname::127.0.0.1:2809#Hello\n  \
sister corba client --ior corbaloc::127.0.0.1:2809/Hello      # sister's server: the key is Hello\n  \
sister corba client --naming corba-server:2809 --wait 10     # in docker compose")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// Clients served at once (more wait in the listen backlog)
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// The host written in the IORs this process hands out [default: the address it listens on, or
    /// with 0.0.0.0 this machine's address towards the network, as omniORB publishes]
    #[arg(long, value_name = "HOST")]
    publish_host: Option<String>,
}

#[derive(Debug, Args)]
struct NamingArgs {
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:2809")]
    bind: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// Address and port to listen on (with its own Naming Service, both are on this port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:2809")]
    bind: String,
    /// Bind Hello in the Naming Service at HOST:PORT (omniNames, `sister corba naming`) instead of
    /// serving one in this process
    #[arg(long, value_name = "HOST:PORT")]
    naming: Option<String>,
    /// The name to bind
    #[arg(long, default_value = HELLO_NAME)]
    name: String,
    /// Also write the Hello object's IOR to FILE
    #[arg(long, value_name = "FILE")]
    ior_file: Option<std::path::PathBuf>,
    /// Seconds to keep retrying while the --naming service is not up yet
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The Naming Service to resolve the name in (corbaloc::HOST:PORT/NameService)
    #[arg(
        long,
        env = "SISTER_SERVER",
        value_name = "HOST:PORT",
        default_value = "corba-server:2809"
    )]
    naming: String,
    /// Call this object instead: an IOR:..., corbaloc::host:port/key or corbaname::host:port#name
    #[arg(long, value_name = "REF")]
    ior: Option<String>,
    /// The name to resolve
    #[arg(long, default_value = HELLO_NAME)]
    name: String,
    /// Seconds to keep retrying (with backoff) while the server is not up yet, as in docker compose
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    wait: f64,
    /// Seconds a reply may take
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
    /// Call sayHello this many times (on one connection)
    #[arg(short = 'n', long, default_value_t = 1)]
    count: usize,
    /// The newest GIOP version to speak: 1.0, 1.1 or 1.2 [default: what each reference says]
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    giop: Option<Version>,
    /// Send big-endian requests (CDR lets the sender choose; the receiver converts)
    #[arg(long)]
    big_endian: bool,
}

fn parse_version(s: &str) -> Result<Version, String> {
    match s {
        "1.0" => Ok(wire::giop::GIOP_1_0),
        "1.1" => Ok(wire::giop::GIOP_1_1),
        "1.2" => Ok(wire::giop::GIOP_1_2),
        _ => Err(format!(
            "{s:?} is not a GIOP version sister speaks (1.0, 1.1 or 1.2)"
        )),
    }
}

fn orb_for(
    listener: &tokio::net::TcpListener,
    common: &Common,
    hello: bool,
    naming: bool,
) -> anyhow::Result<Arc<orb::Orb>> {
    let local = listener.local_addr()?;
    let host = common
        .publish_host
        .clone()
        .unwrap_or_else(|| patterns::corba::publish_host_for(local));
    Ok(Arc::new(orb::Orb::new(
        orb::Endpoint {
            host,
            port: local.port(),
        },
        hello,
        naming,
    )))
}

fn limits(common: &Common) -> server::Config {
    let mut config = server::Config::default();
    config.limits.max_connections = common.max_connections;
    config
}

pub async fn run(args: CorbaArgs) -> anyhow::Result<ExitCode> {
    match args.role {
        Role::Naming(a) => {
            let listener = net::bind_tcp(&a.bind).await?;
            let orb = orb_for(&listener, &a.common, false, true)?;
            let root = orb
                .naming
                .as_ref()
                .and_then(|n| n.lock().map(|n| n.root_ior()).ok());
            if let Some(root) = root {
                tracing::info!(
                    "Naming Service ready: corbaloc::{}:{}/NameService",
                    orb.endpoint.host,
                    orb.endpoint.port
                );
                println!("{root}");
            }
            server::run(
                listener,
                orb,
                Arc::default(),
                limits(&a.common),
                shutdown::on_ctrl_c(),
            )
            .await
            .context("the naming service stopped with an error")?;
        }
        Role::Server(a) => {
            let listener = net::bind_tcp(&a.bind).await?;
            let orb = orb_for(&listener, &a.common, true, a.naming.is_none())?;
            let ior = orb.hello_ior();
            match &a.naming {
                None => {
                    if let Some(naming) = &orb.naming {
                        let mut naming = naming.lock().map_err(|_| anyhow::anyhow!("naming lock"))?;
                        naming
                            .rebind_here(&a.name, ior.clone())
                            .map_err(|e| anyhow::anyhow!("cannot bind {:?}: {e:?}", a.name))?;
                    }
                    tracing::info!(
                        "Naming Service on this port too: {} bound as `{}` (corbaloc::{}:{}/NameService)",
                        HELLO_TYPE_ID,
                        a.name,
                        orb.endpoint.host,
                        orb.endpoint.port
                    );
                }
                Some(addr) => {
                    let mut config = client::Config::course(addr.clone());
                    config.name = a.name.clone();
                    config.wait = Duration::from_secs_f64(a.wait.max(0.0));
                    client::rebind(&config, addr, &ior)
                        .await
                        .with_context(|| format!("cannot bind {} in the Naming Service at {addr}", a.name))?;
                    tracing::info!("bound `{}` in the Naming Service at {addr}", a.name);
                }
            }
            if let Some(path) = &a.ior_file {
                std::fs::write(path, format!("{ior}\n"))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            println!("{ior}");
            tracing::info!("Hello server ready: sayHello returns {GREETING:?}");
            server::run(
                listener,
                orb,
                Arc::default(),
                limits(&a.common),
                shutdown::on_ctrl_c(),
            )
            .await
            .context("the server stopped with an error")?;
        }
        Role::Client(a) => {
            let start = match &a.ior {
                Some(s) => client::Start::Url(ObjectUrl::parse(s).map_err(anyhow::Error::msg)?),
                None => client::Start::Naming(a.naming.clone()),
            };
            let config = client::Config {
                start,
                name: a.name.clone(),
                wait: Duration::from_secs_f64(a.wait.max(0.0)),
                timeout: Duration::from_secs_f64(a.timeout.max(0.1)),
                giop: a.giop,
                big_endian: a.big_endian,
                calls: a.count.max(1),
            };
            client::run(&config, &Stdout).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
