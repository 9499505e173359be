//! `sister ca init|server|client`: the lab's certificate authority (`patterns::ca`) on the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use patterns::ca;

#[derive(Debug, Subcommand)]
pub enum Ca {
    /// Make a CA (ca.crt, ca.key) and a server certificate signed by it (server.crt, server.key) in DIR
    #[command(after_help = "Examples:\n  \
sister ca init lab-ca\n  \
sister ca init lab-ca --host myhost.local --host 192.168.1.20     two more names\n  \
sister rest server --tls-cert lab-ca/server.crt --tls-key lab-ca/server.key\n  \
curl --cacert lab-ca/ca.crt 'https://localhost:5151/add?a=10&b=5'\n  \
openssl verify -CAfile lab-ca/ca.crt lab-ca/server.crt\n\n\
The server certificate names localhost, 127.0.0.1, ::1 and the compose services mqtt-broker,\n\
rest-server, rpc-server and soap-server, plus each --host. DIR/README.txt says what each file is and\n\
gives the mosquitto.conf and curl lines that use them.")]
    Init(InitArgs),
    /// Make a new server certificate (server.crt, server.key) with the CA already in DIR
    #[command(after_help = "Example:\n  \
sister ca server lab-ca --host 192.168.1.20 --force     add a name; clients keep the same ca.crt")]
    Server(ServerArgs),
    /// Make a client certificate NAME.crt, NAME.key (CN=NAME, clientAuth) with the CA in DIR
    #[command(after_help = "Examples:\n  \
sister ca client lab-ca alice\n  \
mosquitto_pub -h localhost -p 8883 --cafile lab-ca/ca.crt --cert lab-ca/alice.crt --key lab-ca/alice.key -t sister/temp -m hi\n\n\
With Mosquitto's `require_certificate true` only clients with such a certificate get in, and with\n\
`use_identity_as_username true` the CN (alice) is their username.")]
    Client(ClientArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory for the files (created if missing)
    dir: PathBuf,
    /// Another DNS name or IP address for the server certificate (repeat it for more)
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Replace a CA already in DIR (certificates it signed stop being trusted by clients given the new ca.crt)
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The CA's directory (from `sister ca init`)
    dir: PathBuf,
    /// Another DNS name or IP address for the certificate (repeat it for more)
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Replace server.crt and server.key if they exist
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The CA's directory (from `sister ca init`)
    dir: PathBuf,
    /// The client's name: the certificate's CN and the file names NAME.crt, NAME.key
    name: String,
    /// Replace NAME.crt and NAME.key if they exist
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: Ca) -> anyhow::Result<ExitCode> {
    let report = match &cmd {
        Ca::Init(a) => ca::init(&a.dir, &a.hosts, a.force)?,
        Ca::Server(a) => ca::server(&a.dir, &a.hosts, a.force)?,
        Ca::Client(a) => ca::client(&a.dir, &a.name, a.force)?,
    };
    println!("Wrote in {}:", report.dir.display());
    let width = report
        .files
        .iter()
        .map(|f| f.path.display().to_string().len())
        .max()
        .unwrap_or(0);
    for f in &report.files {
        let secret = if f.secret { " [SECRET, mode 0600]" } else { "" };
        println!("  {:width$}  {}{secret}", f.path.display().to_string(), f.what);
    }
    println!(
        "Keep the .key files secret: never commit or share them. ca.key signs anything every client \
given ca.crt will trust; ca.crt is public and is what clients get (--cacert, cafile)."
    );
    if let Ca::Client(a) = &cmd {
        let d = a.dir.display();
        println!(
            "Use it: mosquitto_pub --cafile {d}/ca.crt --cert {d}/{n}.crt --key {d}/{n}.key ... \
(the broker needs `require_certificate true`; with `use_identity_as_username true` the username is {n})",
            n = a.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
