//! Distributed objects with CORBA: the course's `CORBA/` pattern, over GIOP/IIOP.
//!
//! The course's IDL, which both sides compile (omniORB's `omniidl`):
//!
//! ```text
//! module HelloApp { interface Hello { string sayHello(); }; };      // IDL:HelloApp/Hello:1.0
//! ```
//!
//! The server activates a servant whose `sayHello()` returns `Hello from CORBA Server!` and binds
//! it as `Hello` in a Naming Service (port 2809); a client resolves `Hello` there, narrows the
//! reference to `HelloApp::Hello` and calls `sayHello()`. What CORBA adds to Ice's picture is the
//! *naming service*: the client knows a name, not a host and port; the IOR it gets back carries
//! the address.
//!
//! # Run it
//! ```text
//! sister corba server                                   # Hello + its own Naming Service on 0.0.0.0:2809
//! sister corba client --naming 127.0.0.1:2809           # resolve Hello, _is_a, sayHello
//! sister corba naming                                   # a Naming Service alone (as omniNames)
//! sister corba server --naming 127.0.0.1:2809 --bind 0.0.0.0:2810   # register in that one
//! sister corba client --ior corbaname::127.0.0.1:2809#Hello
//! ```
//! All interoperate with omniORB 4.2: omniNames, and C++ servers and clients built from the IDL.
//!
//! # In a capture
//! The client's first connection goes to the naming service: `_is_a` (narrow to
//! NamingContextExt) and `resolve_str("Hello")`, whose reply is an IOR: the type id
//! `IDL:HelloApp/Hello:1.0` in clear text, then the host, port and object key in its IIOP profile.
//! Then a second connection, to the address from the IOR (the same port, with sister's server),
//! carries `_is_a("IDL:HelloApp/Hello:1.0")` and `sayHello`, whose reply body is the CDR string
//! `19 00 00 00 "Hello from CORBA Server!" 00`. See [`wire::giop`] for every byte.
//!
//! Modules: [`orb`] (objects and dispatch, no sockets), [`naming`] (the CosNaming tree),
//! [`server`], [`client`], [`bench`] (the load generator of `sister bench corba`).

pub mod bench;
pub mod client;
pub mod naming;
pub mod orb;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::lab::Checks;
use crate::{net, shutdown};

/// The Naming Service's port (IANA's `corba-iiop`, the course's `-ORBInitRef ...:2809`).
pub const PORT: u16 = 2809;
/// The course's interface.
pub const HELLO_TYPE_ID: &str = "IDL:HelloApp/Hello:1.0";
/// The name the course's server binds.
pub const HELLO_NAME: &str = "Hello";
/// The Hello servant's object key in sister's server (text, so a capture shows it).
pub const HELLO_KEY: &[u8] = b"Hello";
/// What `sayHello()` returns.
pub const GREETING: &str = "Hello from CORBA Server!";

/// The host to put in IORs when the server listens on every interface: the address this machine
/// uses to reach others (in a container, its address on the compose network), as omniORB
/// publishes its first non-loopback address. 127.0.0.1 when there is none.
pub fn default_publish_host() -> String {
    // Connecting a UDP socket sends nothing; it only asks the kernel which source address it
    // would use for that destination.
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect("10.255.255.255:9")?;
        s.local_addr()
    });
    match probe {
        Ok(a) if !a.ip().is_unspecified() && !a.ip().is_loopback() => a.ip().to_string(),
        _ => "127.0.0.1".into(),
    }
}

/// The host for IORs of a server bound to `bound`: its own address unless it is 0.0.0.0 / [::].
pub fn publish_host_for(bound: std::net::SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        default_publish_host()
    } else {
        bound.ip().to_string()
    }
}

/// `sister lab`: the course's pattern on loopback: a naming service alone, a server that registers
/// in it over the network (as the course's server.py does), and the client.
pub async fn lab(checks: &Checks) {
    let bind = |what: &'static str| async move {
        match net::bind_tcp("127.0.0.1:0").await {
            Ok(l) => Ok(l),
            Err(e) => Err(format!("the {what} could not bind: {e}")),
        }
    };
    let (naming_l, server_l) = match (bind("naming service").await, bind("server").await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return checks.fail(e),
    };
    let (Ok(naming_addr), Ok(server_addr)) = (naming_l.local_addr(), server_l.local_addr()) else {
        return checks.fail("no local address");
    };
    let (trigger, signal) = shutdown::channel();
    let naming_orb = Arc::new(orb::Orb::new(
        orb::Endpoint {
            host: "127.0.0.1".into(),
            port: naming_addr.port(),
        },
        false,
        true,
    ));
    let naming = tokio::spawn(
        server::run(
            naming_l,
            naming_orb,
            Arc::default(),
            server::Config::default(),
            signal.clone(),
        )
        .instrument(tracing::info_span!("corba-naming")),
    );
    let hello_orb = Arc::new(orb::Orb::new(
        orb::Endpoint {
            host: "127.0.0.1".into(),
            port: server_addr.port(),
        },
        true,
        false,
    ));
    let stats = Arc::new(server::Stats::default());
    let mut register = client::Config::course(naming_addr.to_string());
    register.wait = Duration::from_secs(5);
    let registered = client::rebind(&register, &naming_addr.to_string(), &hello_orb.hello_ior())
        .instrument(tracing::info_span!("corba-server"))
        .await;
    match registered {
        Ok(()) => {
            checks.expect(true, "the server rebinds Hello in the Naming Service, over GIOP");
        }
        Err(e) => checks.fail(format!(
            "the server could not rebind Hello in the Naming Service: {e}"
        )),
    }
    let server = tokio::spawn(
        server::run(
            server_l,
            hello_orb,
            stats.clone(),
            server::Config::default(),
            signal,
        )
        .in_current_span(),
    );

    let mut config = client::Config::course(naming_addr.to_string());
    config.wait = Duration::from_secs(5);
    match client::run(&config, &crate::console::Log)
        .instrument(tracing::info_span!("corba-client"))
        .await
    {
        Ok(greetings) => {
            checks.expect_eq(
                greetings,
                vec![GREETING.to_string()],
                "the client resolves Hello, narrows it and sayHello answers",
            );
        }
        Err(e) => checks.fail(format!("the client failed: {e}")),
    }
    checks.expect_eq(
        stats.hellos.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the server ran sayHello once",
    );

    let mut ghost = client::Config::course(naming_addr.to_string());
    ghost.name = "Nobody".into();
    let refused = client::run(&ghost, &crate::console::Log)
        .instrument(tracing::info_span!("corba-client"))
        .await;
    checks.expect(
        matches!(refused, Err(client::CorbaError::NotFound { .. })),
        "a name nobody bound gets CosNaming's NotFound",
    );

    trigger.trigger();
    for (name, task) in [("the naming service", naming), ("the CORBA server", server)] {
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(joined) => checks.expect_stopped(name, joined),
            Err(_) => checks.fail(format!("{name} did not stop within 10 s of the shutdown")),
        }
    }
}
