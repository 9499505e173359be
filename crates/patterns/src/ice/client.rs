//! `sister ice client`: what the course's `ice_client.py` does, on sister's codec.
//!
//! ```text
//!   connect ─► wait for ValidateConnection (an Ice server speaks first)
//!   for each object (SimplePrinter1, SimplePrinter2):
//!       checkedCast  = Request ice_isA("::Demo::Printer") ─► Reply ok (true)
//!       printString  = Request printString("Hello World from printer1!") ─► Reply ok
//!   CloseConnection, then FIN            (what `communicator.destroy()` sends)
//! ```
//!
//! [`Connection`] is a small Ice client connection (twoway and oneway invocations, request ids from
//! 1, heartbeats skipped); [`run`] is the course's scenario on it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wire::escape::preview;
use wire::ice::{
    self, Encapsulation, Identity, Message, Reader, Reply, ReplyBody, ReplyStatus, Request, ENCODING_1_1,
};
use wire::DecodeError;

use super::adapter::PRINTER_TYPE_ID;
use crate::console::Say;
use crate::net::{self, NetError};

/// Why a call or the client failed.
#[derive(Debug, thiserror::Error)]
pub enum IceError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection to the Ice server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{addr} does not speak Ice: its first bytes are {first} (an Ice server sends ValidateConnection, `IceP...`, first). Is this the right port?")]
    NotIce { addr: String, first: String },
    #[error("{addr} accepted the connection but sent no ValidateConnection within {waited:?}: is it an Ice server?")]
    NoValidate { addr: String, waited: Duration },
    #[error("the server closed the connection{0}")]
    Closed(&'static str),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("the server broke the Ice protocol: {0}")]
    Protocol(String),
    #[error("{target}: {what}")]
    Remote {
        target: String,
        status: ReplyStatus,
        what: String,
    },
    #[error("Invalid proxy: {0} is not a {PRINTER_TYPE_ID} (ice_isA answered false)")]
    NotAPrinter(String),
}

/// One client connection to an Ice server.
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    next_id: i32,
    peer: SocketAddr,
    timeout: Duration,
}

impl Connection {
    /// Connect (retrying for up to `wait` while the server starts) and wait for ValidateConnection.
    pub async fn connect(addr: &str, wait: Duration, timeout: Duration) -> Result<Connection, IceError> {
        let stream = net::connect_tcp(addr, wait).await?;
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr()?;
        let mut conn = Connection {
            stream,
            buf: BytesMut::with_capacity(4096),
            next_id: 1,
            peer,
            timeout,
        };
        let first = tokio::time::timeout(timeout, conn.read_message()).await;
        match first {
            Err(_) => Err(IceError::NoValidate {
                addr: addr.to_string(),
                waited: timeout,
            }),
            Ok(Err(IceError::Protocol(_))) | Ok(Err(IceError::Closed(_))) if !conn.buf.is_empty() => {
                Err(IceError::NotIce {
                    addr: addr.to_string(),
                    first: show_first(&conn.buf),
                })
            }
            Ok(Err(IceError::Closed(_))) => Err(IceError::Closed(
                " before sending ValidateConnection: not an Ice server?",
            )),
            Ok(Err(e)) => Err(e),
            Ok(Ok(Message::ValidateConnection)) => {
                tracing::debug!("ValidateConnection received: the connection is ready");
                Ok(conn)
            }
            Ok(Ok(other)) => Err(IceError::Protocol(format!(
                "the first message was a {}, not ValidateConnection",
                other.message_type().name()
            ))),
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Read the next message (skipping nothing).
    async fn read_message(&mut self) -> Result<Message, IceError> {
        loop {
            match ice::decode(&self.buf, ice::DEFAULT_MAX_SIZE) {
                Ok((d, used)) => {
                    self.buf.advance(used);
                    return Ok(d.message);
                }
                Err(DecodeError::Incomplete { .. }) => {}
                Err(DecodeError::Invalid(why)) => return Err(IceError::Protocol(why)),
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(IceError::Closed(""));
            }
        }
    }

    /// A twoway call: send the request, wait for its reply (heartbeats skipped).
    pub async fn invoke(
        &mut self,
        identity: &Identity,
        operation: &str,
        params: Encapsulation,
    ) -> Result<Reply, IceError> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        let mut out = Vec::with_capacity(64 + params.data.len());
        ice::encode(
            &Message::Request(Request::new(id, identity.clone(), operation, params)),
            &mut out,
        );
        self.stream.write_all(&out).await?;
        let timeout = self.timeout;
        let wait = async {
            loop {
                match self.read_message().await? {
                    Message::Reply(r) if r.request_id == id => return Ok(r),
                    Message::Reply(r) => {
                        tracing::debug!("reply #{} for no pending request, ignored", r.request_id)
                    }
                    Message::ValidateConnection => tracing::debug!("heartbeat from the server"),
                    Message::CloseConnection => {
                        return Err(IceError::Closed(" (CloseConnection) before replying"))
                    }
                    other => {
                        return Err(IceError::Protocol(format!(
                            "a server sent a {}",
                            other.message_type().name()
                        )))
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| IceError::Timeout(timeout))?
    }

    /// A oneway call (request id 0): sent, never answered.
    pub async fn invoke_oneway(
        &mut self,
        identity: &Identity,
        operation: &str,
        params: Encapsulation,
    ) -> Result<(), IceError> {
        let mut out = Vec::with_capacity(64 + params.data.len());
        ice::encode(
            &Message::Request(Request::new(0, identity.clone(), operation, params)),
            &mut out,
        );
        self.stream.write_all(&out).await?;
        Ok(())
    }

    /// `checkedCast`: `ice_isA(type_id)`; `Ok(false)` when the object is not of that type.
    pub async fn is_a(&mut self, identity: &Identity, type_id: &str) -> Result<bool, IceError> {
        let reply = self
            .invoke(
                identity,
                "ice_isA",
                Encapsulation::build(ENCODING_1_1, |w| w.string(type_id)),
            )
            .await?;
        let results = expect_ok(identity, "ice_isA", reply)?;
        Reader::new(&results.data)
            .bool("ice_isA's result")
            .map_err(|e| IceError::Protocol(e.to_string()))
    }

    /// Close as `communicator.destroy()` does: CloseConnection, then wait for the server's FIN.
    pub async fn close(mut self) -> Result<(), IceError> {
        let mut out = Vec::with_capacity(ice::HEADER_SIZE);
        ice::Header::new(ice::MessageType::CloseConnection, ice::HEADER_SIZE as u32).encode(&mut out);
        self.stream.write_all(&out).await?;
        let _ = self.stream.shutdown().await;
        let mut sink = [0u8; 512];
        let drain = async { while matches!(self.stream.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        Ok(())
    }
}

fn show_first(buf: &[u8]) -> String {
    let head = &buf[..buf.len().min(16)];
    format!("{head:02x?} (\"{}\")", preview(head, 16))
}

/// The results of an Ok reply, or the reply's failure as an error naming the call.
pub fn expect_ok(identity: &Identity, operation: &str, reply: Reply) -> Result<Encapsulation, IceError> {
    let target = format!("{identity}.{operation}");
    match (reply.status, reply.body) {
        (ReplyStatus::Ok, ReplyBody::Encapsulation(e)) => Ok(e),
        (ReplyStatus::UserException, ReplyBody::Encapsulation(e)) => Err(IceError::Remote {
            target,
            status: ReplyStatus::UserException,
            what: format!(
                "user exception {}",
                e.exception_id().unwrap_or_else(|| "(type unknown)".into())
            ),
        }),
        (status @ ReplyStatus::ObjectNotExist, _) => Err(IceError::Remote {
            target,
            status,
            what: format!("the server has no object `{identity}` (Ice.ObjectNotExistException)"),
        }),
        (status, ReplyBody::Unknown(text)) => Err(IceError::Remote {
            target,
            status,
            what: format!("{}: {text}", status.describe()),
        }),
        (status, _) => Err(IceError::Remote {
            target,
            status,
            what: status.describe().to_string(),
        }),
    }
}

/// What the client does.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// How long to keep retrying while the server starts.
    pub wait: Duration,
    /// How long a reply (and ValidateConnection) may take.
    pub timeout: Duration,
    /// The objects to call and the text each gets, in order.
    pub calls: Vec<(String, String)>,
    /// Send `printString` oneway (request id 0, no reply) instead of twoway.
    pub oneway: bool,
}

impl Config {
    /// The course's scenario: each printer gets its own "Hello World from printerN!".
    pub fn course(server: impl Into<String>) -> Self {
        Config {
            server: server.into(),
            wait: Duration::ZERO,
            timeout: Duration::from_secs(5),
            calls: vec![
                (super::OBJECT1.to_string(), super::MESSAGE1.to_string()),
                (super::OBJECT2.to_string(), super::MESSAGE2.to_string()),
            ],
            oneway: false,
        }
    }
}

/// Run the scenario: for each call, `checkedCast` then `printString`; then close. Returns the calls
/// made (object, text).
#[tracing::instrument(name = "ice-client", skip_all)]
pub async fn run(config: &Config, say: &dyn Say) -> Result<Vec<(String, String)>, IceError> {
    let mut conn = Connection::connect(&config.server, config.wait, config.timeout).await?;
    tracing::info!(server = %conn.peer(), "connected; ValidateConnection received");
    let result = calls(&mut conn, config, say).await;
    // Close as Ice does (CloseConnection, then FIN) whether the calls worked or not.
    let closed = conn.close().await;
    let done = result?;
    closed?;
    tracing::info!("sent CloseConnection; closed");
    Ok(done)
}

async fn calls(
    conn: &mut Connection,
    config: &Config,
    say: &dyn Say,
) -> Result<Vec<(String, String)>, IceError> {
    let mut done = Vec::new();
    let mut cast: Vec<String> = Vec::new();
    for (object, text) in &config.calls {
        let identity = Identity::new(object.clone());
        if !cast.contains(object) {
            if !conn.is_a(&identity, PRINTER_TYPE_ID).await? {
                return Err(IceError::NotAPrinter(object.clone()));
            }
            say.say(&format!(
                "checkedCast {object}: ice_isA(\"{PRINTER_TYPE_ID}\") = true"
            ));
            cast.push(object.clone());
        }
        let params = Encapsulation::build(ENCODING_1_1, |w| w.string(text));
        if config.oneway {
            conn.invoke_oneway(&identity, "printString", params).await?;
            say.say(&format!("{object}.printString(\"{text}\"): sent oneway"));
        } else {
            let reply = conn.invoke(&identity, "printString", params).await?;
            expect_ok(&identity, "printString", reply)?;
            say.say(&format!("{object}.printString(\"{text}\"): ok"));
        }
        done.push((object.clone(), text.clone()));
    }
    Ok(done)
}
