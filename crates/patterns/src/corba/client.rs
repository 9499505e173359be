//! `sister corba client`: find `Hello` in a Naming Service, narrow it, call `sayHello`; and the
//! small GIOP client connection under it (which the server also uses to `rebind` itself in another
//! naming service, and the benchmark to load a server).
//!
//! ```text
//!   connect to the naming service (corbaloc::HOST:2809/NameService: GIOP 1.0, as corbaloc's rule
//!   says when no iiop:1.2@ is given)
//!       Request _is_a("IDL:omg.org/CosNaming/NamingContextExt:1.0")  ─► true  (narrow)
//!       Request resolve_str("Hello")                                 ─► an IOR  (NotFound: an error)
//!   connect to the host and port in the IOR's IIOP profile (GIOP 1.2, the profile's version)
//!       Request _is_a("IDL:HelloApp/Hello:1.0")                      ─► true  (HelloApp::Hello::_narrow)
//!       Request sayHello()                                           ─► "Hello from CORBA Server!"
//!   close both connections (a client just closes TCP; CloseConnection is the server's message)
//! ```

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wire::escape::preview;
use wire::giop::naming::{self as cos, NotFoundReason, NAMING_CONTEXT_EXT_ID};
use wire::giop::{
    self, encode_request, Ior, Message, ObjectUrl, Reassembler, Reply, ReplyStatus, RequestHeader,
    SystemException, Version, Writer, GIOP_1_0, GIOP_1_2, IS_A,
};
use wire::DecodeError;

use super::HELLO_TYPE_ID;
use crate::console::Say;
use crate::net::{self, NetError};

/// Why a call or the client failed, each with what a student can do about it.
#[derive(Debug, thiserror::Error)]
pub enum CorbaError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the connection to {addr} failed: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("{addr} does not speak GIOP: it answered {first} (a CORBA server answers `GIOP...`). Is this the right port?")]
    NotGiop { addr: String, first: String },
    #[error("{addr} closed the connection{how} before answering {operation}: the server went away or refused the request")]
    Closed {
        addr: String,
        operation: String,
        how: &'static str,
    },
    #[error("{addr} did not answer {operation} within {waited:?}")]
    Timeout {
        addr: String,
        operation: String,
        waited: Duration,
    },
    #[error("{addr} broke the GIOP protocol: {why}")]
    Protocol { addr: String, why: String },
    #[error("`{name}` is not bound in the Naming Service at {naming} (NotFound, {why}). Is the server running and registered there?")]
    NotFound {
        name: String,
        naming: String,
        why: &'static str,
    },
    #[error("{operation} on {target} raised the user exception {id}")]
    User {
        target: String,
        operation: String,
        id: String,
    },
    #[error("{operation} on {target} raised the system exception {exception}{hint}")]
    System {
        target: String,
        operation: String,
        exception: SystemException,
        hint: &'static str,
    },
    #[error(
        "{target} is not a {type_id} (_is_a answered false): the name is bound to another kind of object"
    )]
    WrongType { target: String, type_id: String },
    #[error("{0}")]
    BadReference(String),
    #[error("{target} forwarded the request more than {0} times", target = .1)]
    TooManyForwards(usize, String),
}

/// One client connection to a GIOP server.
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    reassembler: Reassembler,
    next_id: u32,
    addr: String,
    /// The GIOP version and byte order of the requests sent.
    pub version: Version,
    pub little_endian: bool,
    pub timeout: Duration,
}

impl Connection {
    /// Connects to `addr`, retrying for up to `wait` while the server starts.
    pub async fn connect(addr: &str, wait: Duration, timeout: Duration) -> Result<Connection, CorbaError> {
        let stream = net::connect_tcp(addr, wait).await?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(4096),
            reassembler: Reassembler::new(giop::DEFAULT_MAX_SIZE),
            next_id: 1,
            addr: addr.to_string(),
            version: GIOP_1_2,
            little_endian: true,
            timeout,
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn io(&self, source: std::io::Error) -> CorbaError {
        CorbaError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    /// The bytes of a twoway request with the next id.
    pub fn request_bytes(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut Writer),
    ) -> (u32, Vec<u8>) {
        let request_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let h = RequestHeader {
            request_id,
            response_expected: true,
            object_key: key,
            operation,
            service_contexts: &[],
        };
        (
            request_id,
            encode_request(self.version, self.little_endian, &h, args),
        )
    }

    /// Sends a twoway request and waits for its Reply.
    pub async fn invoke(
        &mut self,
        key: &[u8],
        operation: &str,
        args: impl FnOnce(&mut Writer),
    ) -> Result<Reply, CorbaError> {
        let (id, bytes) = self.request_bytes(key, operation, args);
        self.stream.write_all(&bytes).await.map_err(|e| self.io(e))?;
        match tokio::time::timeout(self.timeout, self.reply(id, operation)).await {
            Ok(r) => r,
            Err(_) => Err(CorbaError::Timeout {
                addr: self.addr.clone(),
                operation: operation.into(),
                waited: self.timeout,
            }),
        }
    }

    /// Sends bytes already made (the benchmark pipelines many requests in one write).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), CorbaError> {
        self.stream.write_all(bytes).await.map_err(|e| self.io(e))
    }

    /// Reads until the Reply to `id` arrives (Replies to other ids are skipped).
    pub async fn reply(&mut self, id: u32, operation: &str) -> Result<Reply, CorbaError> {
        loop {
            match self.next_message(operation).await? {
                Message::Reply(r) if r.request_id == id => return Ok(r),
                Message::Reply(_) | Message::LocateReply(_) => {}
                Message::CloseConnection => {
                    return Err(CorbaError::Closed {
                        addr: self.addr.clone(),
                        operation: operation.into(),
                        how: " (CloseConnection)",
                    })
                }
                Message::MessageError => {
                    return Err(CorbaError::Protocol {
                        addr: self.addr.clone(),
                        why: "it answered MessageError: it could not read sister's request".into(),
                    })
                }
                other => {
                    return Err(CorbaError::Protocol {
                        addr: self.addr.clone(),
                        why: format!("a server sent a {}", other.message_type()),
                    })
                }
            }
        }
    }

    /// The next whole message from the server (fragments joined).
    pub async fn next_message(&mut self, operation: &str) -> Result<Message, CorbaError> {
        loop {
            match giop::frame_len(&self.buf, giop::DEFAULT_MAX_SIZE) {
                Ok(len) => {
                    let frame = self.buf.split_to(len);
                    let joined = self.reassembler.push(&frame).map_err(|e| CorbaError::Protocol {
                        addr: self.addr.clone(),
                        why: e.to_string(),
                    })?;
                    if let Some(whole) = joined {
                        let d = giop::decode_message(&whole).map_err(|e| CorbaError::Protocol {
                            addr: self.addr.clone(),
                            why: e.to_string(),
                        })?;
                        return Ok(d.message);
                    }
                    continue;
                }
                Err(DecodeError::Incomplete { .. }) => {}
                Err(DecodeError::Invalid(why)) => {
                    let head = &self.buf[..self.buf.len().min(16)];
                    if !head.starts_with(b"GIOP") {
                        return Err(CorbaError::NotGiop {
                            addr: self.addr.clone(),
                            first: format!("{head:02x?} \"{}\"", preview(head, 16)),
                        });
                    }
                    return Err(CorbaError::Protocol {
                        addr: self.addr.clone(),
                        why,
                    });
                }
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(CorbaError::Closed {
                    addr: self.addr.clone(),
                    operation: operation.into(),
                    how: "",
                });
            }
        }
    }

    /// Replies consumed: give back a large buffer.
    pub fn compact(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 256 * 1024 {
            self.buf = BytesMut::with_capacity(4096);
        } else if !self.buf.has_remaining() {
            self.buf.clear();
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// An object to call: where, which key, which GIOP version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub addr: String,
    pub key: Vec<u8>,
    pub version: Version,
}

impl ObjectRef {
    pub fn from_ior(ior: &Ior) -> Result<ObjectRef, CorbaError> {
        if ior.is_nil() {
            return Err(CorbaError::BadReference(
                "the reference is nil (no profile): nothing to call".into(),
            ));
        }
        match ior.iiop_profile() {
            Some(Ok(p)) => Ok(ObjectRef {
                addr: host_port(&p.host, p.port),
                key: p.object_key,
                version: giop::ior::giop_for(p.version),
            }),
            Some(Err(e)) => Err(CorbaError::BadReference(format!(
                "the IOR's IIOP profile does not read: {e}"
            ))),
            None => Err(CorbaError::BadReference(format!(
                "the IOR of {} has no IIOP profile (tags {:?}): sister speaks IIOP only",
                ior.type_id,
                ior.profiles.iter().map(|p| p.tag).collect::<Vec<_>>()
            ))),
        }
    }

    /// The naming service at `HOST:PORT`, as `corbaloc::HOST:PORT/NameService` names it.
    pub fn naming(addr: &str) -> ObjectRef {
        ObjectRef {
            addr: addr.to_string(),
            key: cos::NAME_SERVICE_KEY.to_vec(),
            version: GIOP_1_0,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} at {} (GIOP {})",
            giop::ior::key_to_string(&self.key),
            self.addr,
            self.version
        )
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What the client is pointed at.
#[derive(Debug, Clone)]
pub enum Start {
    /// `--naming HOST:PORT`: resolve the name there.
    Naming(String),
    /// `--ior`: an IOR, corbaloc (the object itself) or corbaname (a naming context and a name).
    Url(ObjectUrl),
}

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct Config {
    pub start: Start,
    /// The name to resolve (`Hello`, in the stringified form of NamingContextExt).
    pub name: String,
    /// How long to retry connecting while the naming service or server starts.
    pub wait: Duration,
    /// How long one reply may take.
    pub timeout: Duration,
    /// The newest GIOP version to speak (each connection speaks the older of this and its
    /// reference's); None: the reference's own.
    pub giop: Option<Version>,
    /// Send requests big-endian (CDR lets either side pick; receivers make right).
    pub big_endian: bool,
    /// sayHello calls to make.
    pub calls: usize,
}

impl Config {
    /// The course's client: resolve `Hello` in the naming service at `addr`, call sayHello once.
    pub fn course(addr: impl Into<String>) -> Config {
        Config {
            start: Start::Naming(addr.into()),
            name: super::HELLO_NAME.into(),
            wait: Duration::ZERO,
            timeout: Duration::from_secs(5),
            giop: None,
            big_endian: false,
            calls: 1,
        }
    }

    fn version_for(&self, object: &ObjectRef) -> Version {
        match self.giop {
            Some(v) if v < object.version => v,
            _ => object.version,
        }
    }
}

/// Opens a connection to `object` with the config's version and byte order.
async fn open(config: &Config, object: &ObjectRef) -> Result<Connection, CorbaError> {
    let mut conn = Connection::connect(&object.addr, config.wait, config.timeout).await?;
    conn.version = config.version_for(object);
    conn.little_endian = !config.big_endian;
    Ok(conn)
}

/// Turns a reply's exception into an error (NO_EXCEPTION gives the reply back).
pub fn expect_ok(reply: Reply, target: &str, operation: &str) -> Result<Reply, CorbaError> {
    match reply.status {
        ReplyStatus::NoException => Ok(reply),
        ReplyStatus::UserException => Err(CorbaError::User {
            target: target.into(),
            operation: operation.into(),
            id: reply.exception_id().unwrap_or_else(|| "(unreadable)".into()),
        }),
        ReplyStatus::SystemException => {
            let exception = reply
                .system_exception()
                .unwrap_or_else(|| SystemException::new("UNKNOWN", 0, giop::Completion::Maybe));
            let hint = match exception.short_name() {
                "OBJECT_NOT_EXIST" => {
                    ": the server does not hold this object (a stale reference, or the wrong server)"
                }
                "BAD_OPERATION" => {
                    ": the object has no such operation (does the client's IDL match the server's?)"
                }
                "TRANSIENT" => ": the server could not be reached for now; try again",
                _ => "",
            };
            Err(CorbaError::System {
                target: target.into(),
                operation: operation.into(),
                exception,
                hint,
            })
        }
        other => Err(CorbaError::Protocol {
            addr: target.into(),
            why: format!("unexpected reply status {other} to {operation}"),
        }),
    }
}

/// Calls `operation` on `object`, following LOCATION_FORWARD replies (up to 5), and returns the
/// connection it ended on with the NO_EXCEPTION reply.
async fn call(
    config: &Config,
    object: &ObjectRef,
    conn: Option<Connection>,
    operation: &str,
    args: impl Fn(&mut Writer),
) -> Result<(Connection, ObjectRef, Reply), CorbaError> {
    const MAX_FORWARDS: usize = 5;
    let mut object = object.clone();
    let mut conn = match conn {
        Some(c) => c,
        None => open(config, &object).await?,
    };
    for _ in 0..=MAX_FORWARDS {
        let reply = conn.invoke(&object.key, operation, &args).await?;
        if let Some(ior) = reply.forward() {
            let next = ObjectRef::from_ior(&ior)?;
            tracing::info!(
                "{} forwarded {operation} to {}",
                object.describe(),
                next.describe()
            );
            conn.close().await;
            conn = open(config, &next).await?;
            object = next;
            continue;
        }
        let target = object.describe();
        return Ok((conn, object, expect_ok(reply, &target, operation)?));
    }
    Err(CorbaError::TooManyForwards(MAX_FORWARDS, object.describe()))
}

/// `_is_a(type_id)` on an open connection.
async fn is_a(
    config: &Config,
    object: &ObjectRef,
    conn: Option<Connection>,
    type_id: &str,
) -> Result<(Connection, ObjectRef, bool), CorbaError> {
    let (conn, object, reply) = call(config, object, conn, IS_A, |w| w.string(type_id)).await?;
    let yes = reply
        .body
        .reader()
        .boolean("the result of _is_a")
        .map_err(|e| CorbaError::Protocol {
            addr: object.addr.clone(),
            why: e.to_string(),
        })?;
    Ok((conn, object, yes))
}

/// Resolves `name` in the naming context `naming` (narrowing it first, as a client's
/// `NamingContextExt::_narrow` does): `resolve_str` on a NamingContextExt, `resolve` on a plain one.
pub async fn resolve(config: &Config, naming: &ObjectRef) -> Result<Ior, CorbaError> {
    let (conn, naming, ext) = is_a(config, naming, None, NAMING_CONTEXT_EXT_ID).await?;
    let parsed = cos::string_to_name(&config.name)
        .map_err(|e| CorbaError::BadReference(format!("`{}` is not a name: {e}", config.name)))?;
    let result = if ext {
        call(config, &naming, Some(conn), "resolve_str", |w| {
            w.string(&config.name)
        })
        .await
    } else {
        call(config, &naming, Some(conn), "resolve", |w| {
            cos::write_name(w, &parsed)
        })
        .await
    };
    let (conn, naming, reply) = match result {
        Err(CorbaError::User { id, .. }) if id == cos::NOT_FOUND_ID => {
            return Err(CorbaError::NotFound {
                name: config.name.clone(),
                naming: naming.addr,
                why: "missing_node",
            })
        }
        other => other?,
    };
    conn.close().await;
    let mut r = reply.body.reader();
    Ior::read(&mut r).map_err(|e| CorbaError::Protocol {
        addr: naming.addr.clone(),
        why: e.to_string(),
    })
}

/// Reads a NotFound's reason from a USER_EXCEPTION body (for messages).
pub fn not_found_reason(reply: &Reply) -> Option<NotFoundReason> {
    let mut r = reply.body.reader();
    (r.string("id").ok()? == cos::NOT_FOUND_ID).then_some(())?;
    NotFoundReason::from_u32(r.ulong("why").ok()?)
}

/// The course's scenario: find Hello, narrow it, call sayHello (`config.calls` times). Returns the
/// greetings.
pub async fn run(config: &Config, say: &dyn Say) -> Result<Vec<String>, CorbaError> {
    let (object, naming_ref) = match &config.start {
        Start::Naming(addr) => (None, Some(ObjectRef::naming(addr))),
        Start::Url(ObjectUrl::Ior(ior)) => (Some(ObjectRef::from_ior(ior)?), None),
        Start::Url(ObjectUrl::Corbaloc { addresses, key }) => (Some(first_address(addresses, key)?), None),
        Start::Url(ObjectUrl::Corbaname { addresses, key, name }) => {
            let mut naming = first_address(addresses, key)?;
            if naming.key.is_empty() {
                naming.key = cos::NAME_SERVICE_KEY.to_vec();
            }
            let mut c = config.clone();
            if !name.is_empty() {
                c.name = name.clone();
            }
            let ior = resolve(&c, &naming).await?;
            tracing::info!(
                "resolved {} in the Naming Service at {}: {}",
                c.name,
                naming.addr,
                cos::describe_ior(&ior)
            );
            (Some(ObjectRef::from_ior(&ior)?), None)
        }
    };
    let object = match (object, naming_ref) {
        (Some(o), _) => o,
        (None, Some(naming)) => {
            let ior = resolve(config, &naming).await?;
            tracing::info!(
                "resolved {} in the Naming Service at {}: {}",
                config.name,
                naming.addr,
                cos::describe_ior(&ior)
            );
            ObjectRef::from_ior(&ior)?
        }
        (None, None) => unreachable!("every start gives an object or a naming service"),
    };
    let (conn, object, yes) = is_a(config, &object, None, HELLO_TYPE_ID).await?;
    if !yes {
        conn.close().await;
        return Err(CorbaError::WrongType {
            target: object.describe(),
            type_id: HELLO_TYPE_ID.into(),
        });
    }
    let mut conn = Some(conn);
    let mut greetings = Vec::new();
    for _ in 0..config.calls.max(1) {
        let (c, _, reply) = call(config, &object, conn.take(), "sayHello", |_| {}).await?;
        conn = Some(c);
        let text = reply
            .body
            .reader()
            .string("the result of sayHello")
            .map_err(|e| CorbaError::Protocol {
                addr: object.addr.clone(),
                why: e.to_string(),
            })?;
        say.say(&text);
        greetings.push(text);
    }
    if let Some(c) = conn {
        c.close().await;
    }
    Ok(greetings)
}

fn first_address(addresses: &[giop::IiopAddress], key: &[u8]) -> Result<ObjectRef, CorbaError> {
    let a = addresses
        .first()
        .ok_or_else(|| CorbaError::BadReference("the corbaloc URL has no address".into()))?;
    Ok(ObjectRef {
        addr: host_port(&a.host, a.port),
        key: key.to_vec(),
        version: giop::ior::giop_for(a.version),
    })
}

/// Binds `name` to `ior` in the naming service at `addr` (what the course's server does with
/// `rebind`), after narrowing it.
pub async fn rebind(config: &Config, addr: &str, ior: &Ior) -> Result<(), CorbaError> {
    let naming = ObjectRef::naming(addr);
    let name = cos::string_to_name(&config.name)
        .map_err(|e| CorbaError::BadReference(format!("`{}` is not a name: {e}", config.name)))?;
    let (conn, naming, ext) = is_a(config, &naming, None, NAMING_CONTEXT_EXT_ID).await?;
    if !ext {
        tracing::info!(
            "{} is not a NamingContextExt; rebinding on it as a NamingContext",
            naming.describe()
        );
    }
    let (conn, _, _) = call(config, &naming, Some(conn), "rebind", |w| {
        cos::write_name(w, &name);
        ior.write(w);
    })
    .await?;
    conn.close().await;
    Ok(())
}

/// A reply's result read as a string (sayHello's), if it is one.
pub fn string_result(reply: &Reply) -> Option<String> {
    reply.body.reader().string("result").ok()
}
