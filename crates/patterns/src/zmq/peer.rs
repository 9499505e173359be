//! One connection of a socket: the ZMTP handshake, then a reader and a writer.
//!
//! Both sides of a connection do the same thing, whoever connected (ZMTP is symmetric):
//! 1. send our greeting (64 bytes: signature, version 3.1, mechanism NULL);
//! 2. read the peer's greeting, checking each field as it arrives (RFC 23 §"The Greeting"); a peer
//!    that is not ZMTP, speaks ZMTP 1/2, or offers another mechanism (PLAIN, CURVE) is dropped;
//! 3. send READY with our Socket-Type (and Identity for REQ/DEALER/ROUTER), read the peer's READY and
//!    check the two types may talk (RFC 23 §"The Socket-Type Property"); if not, send ERROR and close;
//! 4. traffic: the reader decodes frames into whole messages and answers PING; the writer flushes the
//!    outbox. A frame over the size limit, a broken frame or a connection lost mid-message drops this
//!    peer only: the socket keeps serving the others.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tracing::Instrument;
use wire::zmtp::{command, Command, FrameHeader, FrameKind, Greeting, Mechanism, SocketType, Subscription};
use wire::DecodeError;

use super::socket::{Peer, Shared};
use super::Message;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("the peer closed the connection in the middle of a message ({0} frames received): the partial message is dropped")]
    ClosedMidMessage(usize),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the peer offers the {0} security mechanism; sister speaks only NULL (RFC 23: both sides must use the same mechanism)")]
    Mechanism(Mechanism),
    #[error("a {ours} socket cannot talk to a {theirs} peer (RFC 23 §The Socket-Type Property)")]
    Incompatible { ours: SocketType, theirs: SocketType },
    #[error("the peer sent ERROR: {0}")]
    PeerError(String),
    #[error("the handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("socket closed")]
    Stopped,
}

impl From<DecodeError> for ConnError {
    fn from(e: DecodeError) -> Self {
        ConnError::Protocol(e.to_string())
    }
}

/// What the handshake learned.
struct Handshake {
    kind: SocketType,
    minor: u8,
    identity: Vec<u8>,
    /// Bytes read past the peer's READY (its first frames may arrive in the same segment).
    leftover: BytesMut,
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), ConnError> {
    buf.reserve(4096);
    if stream.read_buf(buf).await? == 0 {
        return Err(ConnError::Closed);
    }
    Ok(())
}

async fn handshake(shared: &Shared, stream: &mut TcpStream) -> Result<Handshake, ConnError> {
    let mut out = Vec::with_capacity(128);
    Greeting::null().encode(&mut out);
    stream.write_all(&out).await?;

    let mut buf = BytesMut::with_capacity(1024);
    let greeting = loop {
        match Greeting::decode(&buf) {
            Ok((g, used)) => {
                buf.advance(used);
                break g;
            }
            Err(DecodeError::Incomplete { .. }) => read_more(stream, &mut buf).await?,
            Err(e) => return Err(e.into()),
        }
    };
    if greeting.mechanism != Mechanism::Null {
        return Err(ConnError::Mechanism(greeting.mechanism));
    }
    // Both talk the lower version (RFC 23 §"Version Negotiation").
    let minor = if greeting.version.0 > 3 {
        1
    } else {
        greeting.version.1.min(1)
    };

    out.clear();
    let ours = shared.kind.as_str().as_bytes();
    if matches!(
        shared.kind,
        SocketType::Req | SocketType::Dealer | SocketType::Router
    ) {
        command::encode_ready(&mut out, &[("Socket-Type", ours), ("Identity", b"")]);
    } else {
        command::encode_ready(&mut out, &[("Socket-Type", ours)]);
    }
    stream.write_all(&out).await?;

    loop {
        match FrameHeader::decode(&buf, shared.opts.max_frame.max(4096)) {
            Ok(h) if buf.len() >= h.frame_len() => {
                if h.kind != FrameKind::Command {
                    return Err(ConnError::Protocol(
                        "a message frame before READY (RFC 23: the handshake comes first)".into(),
                    ));
                }
                let frame = buf.split_to(h.frame_len());
                let body = &frame[h.header_len..];
                return match Command::decode(body)? {
                    Command::Ready(meta) => {
                        let Some(kind) = meta.socket_type() else {
                            return Err(ConnError::Protocol("READY without Socket-Type".into()));
                        };
                        if !shared.kind.is_compatible_with(&kind) {
                            let mut err = Vec::new();
                            Command::Error {
                                reason: b"Invalid socket type",
                            }
                            .encode(&mut err);
                            let _ = stream.write_all(&err).await;
                            return Err(ConnError::Incompatible {
                                ours: shared.kind.clone(),
                                theirs: kind,
                            });
                        }
                        Ok(Handshake {
                            kind,
                            minor,
                            identity: meta.identity().unwrap_or_default().to_vec(),
                            leftover: buf,
                        })
                    }
                    Command::Error { reason } => Err(ConnError::PeerError(wire::escape::show(reason))),
                    other => Err(ConnError::Protocol(format!("expected READY, got {other}"))),
                };
            }
            Ok(_) | Err(DecodeError::Incomplete { .. }) => read_more(stream, &mut buf).await?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Handle a connection accepted by a bound socket.
pub(super) async fn serve_accepted(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let span = tracing::info_span!(parent: &shared.span, "conn", peer = %addr);
    async move {
        match run(&shared, stream, addr).await {
            Ok(()) | Err(ConnError::Stopped) => {}
            Err(e) => log_end(&e),
        }
    }
    .instrument(span)
    .await
}

fn log_end(e: &ConnError) {
    match e {
        ConnError::Closed => tracing::info!("peer disconnected"),
        ConnError::Stopped => {}
        e => tracing::warn!("peer dropped: {e}"),
    }
}

/// Keep one outgoing connection up: connect, run, and on any failure wait and reconnect, with
/// exponential backoff (`reconnect` doubling up to `reconnect_max`), until the socket closes.
pub(super) async fn keep_connected(shared: Arc<Shared>, addr: String) {
    let mut backoff = shared.opts.reconnect;
    let mut stop = shared.stop.clone();
    let mut announced = false;
    loop {
        let attempt = async {
            let addrs = crate::net::resolve(&addr).await.map_err(|e| e.to_string())?;
            let mut last = String::new();
            for a in addrs {
                match TcpStream::connect(a).await {
                    Ok(s) => return Ok((s, a)),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = stop.recv() => return,
        };
        match result {
            Ok((stream, peer_addr)) => {
                let _ = stream.set_nodelay(true);
                let span = tracing::info_span!("conn", peer = %peer_addr);
                let r = run(&shared, stream, peer_addr).instrument(span.clone()).await;
                let handshaken = !matches!(
                    r,
                    Err(ConnError::Protocol(_)
                        | ConnError::Mechanism(_)
                        | ConnError::Incompatible { .. }
                        | ConnError::HandshakeTimeout(_))
                );
                match r {
                    Err(ConnError::Stopped) => return,
                    Ok(()) => {}
                    Err(e) => span.in_scope(|| log_end(&e)),
                }
                if handshaken {
                    backoff = shared.opts.reconnect;
                }
                if stop.is_shutdown() {
                    return;
                }
                tracing::info!(%addr, "reconnecting in {backoff:?}");
                announced = true;
            }
            Err(e) => {
                if !announced {
                    tracing::info!(%addr, "cannot connect yet ({e}); retrying in the background");
                    announced = true;
                } else {
                    tracing::debug!(%addr, "connect failed ({e}); retrying in {backoff:?}");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.recv() => return,
        }
        backoff = (backoff * 2).min(shared.opts.reconnect_max);
    }
}

/// One connection from handshake to end.
async fn run(shared: &Arc<Shared>, mut stream: TcpStream, addr: SocketAddr) -> Result<(), ConnError> {
    let mut stop = shared.stop.clone();
    let limit = shared.opts.handshake_timeout;
    let hs = tokio::select! {
        r = tokio::time::timeout(limit, handshake(shared, &mut stream)) => match r {
            Ok(r) => r,
            Err(_) => Err(ConnError::HandshakeTimeout(limit)),
        },
        _ = stop.recv() => return Err(ConnError::Stopped),
    };
    let hs = match hs {
        Ok(hs) => hs,
        Err(e) => {
            if !matches!(e, ConnError::Closed | ConnError::Io(_)) {
                shared.note_protocol_error();
            }
            return Err(e);
        }
    };
    tracing::info!(peer_type = %hs.kind, zmtp = %format!("3.{}", hs.minor), "peer connected");
    let peer = shared.add_peer(addr, hs.kind.clone(), hs.minor, &hs.identity);
    let (r, w) = stream.into_split();
    let result = tokio::select! {
        r = reader(shared, &peer, r, hs.leftover) => r,
        w = writer(shared, &peer, w) => w,
        _ = stop.recv() => Err(ConnError::Stopped),
    };
    shared.remove_peer(&peer);
    if let Err(ConnError::Protocol(_)) = &result {
        shared.note_protocol_error();
    }
    result
}

/// Flush the outbox: take everything queued at once and write it with one call (batching: under
/// load, hundreds of small messages leave in one TCP segment train).
async fn writer(shared: &Shared, peer: &Peer, mut w: OwnedWriteHalf) -> Result<(), ConnError> {
    let mut spare = BytesMut::with_capacity(64 * 1024);
    loop {
        let batch = {
            let mut out = peer.lock_out();
            if out.buf.is_empty() {
                out.writing = false;
                None
            } else {
                out.queued = 0;
                out.writing = true;
                Some(std::mem::replace(&mut out.buf, std::mem::take(&mut spare)))
            }
        };
        match batch {
            None => peer.wake_writer.notified().await,
            Some(mut b) => {
                shared.notify_space();
                w.write_all(&b).await?;
                b.clear();
                spare = b;
            }
        }
    }
}

/// Read and decode: whole frames only, whole messages only, delivered in batches.
async fn reader(
    shared: &Shared,
    peer: &Peer,
    mut r: OwnedReadHalf,
    mut buf: BytesMut,
) -> Result<(), ConnError> {
    let max = shared.opts.max_frame;
    let mut partial = Message::new();
    let mut batch: VecDeque<Message> = VecDeque::new();
    let is_pub = matches!(shared.kind, SocketType::Pub | SocketType::Xpub);
    loop {
        loop {
            let h = match FrameHeader::decode(&buf, max) {
                Ok(h) => h,
                Err(DecodeError::Incomplete { .. }) => break,
                Err(e) => return Err(e.into()),
            };
            if buf.len() < h.frame_len() {
                buf.reserve(h.frame_len() - buf.len());
                break;
            }
            buf.advance(h.header_len);
            let body = buf.split_to(h.body_len).freeze();
            match h.kind {
                FrameKind::Command => handle_command(peer, &Command::decode(&body)?)?,
                FrameKind::Message { more } => {
                    partial.push(body);
                    if !more {
                        let msg = std::mem::take(&mut partial);
                        if is_pub {
                            // From a SUB, a message can only be a ZMTP 3.0 subscription.
                            if let (1, Some(s)) = (msg.len(), Subscription::decode(msg.first())) {
                                handle_command(
                                    peer,
                                    &match s {
                                        Subscription::Subscribe(t) => Command::Subscribe(t),
                                        Subscription::Cancel(t) => Command::Cancel(t),
                                    },
                                )?;
                            }
                        } else {
                            batch.push_back(msg);
                        }
                    }
                }
            }
        }
        if !batch.is_empty() && shared.deliver(peer.id, &mut batch).await.is_err() {
            return Err(ConnError::Stopped);
        }
        // Read in big chunks: one system call brings many small messages. The frames handed out
        // still point into the old chunk, so a reservation here starts a new one: 64 KiB stays under
        // glibc's mmap threshold (128 KiB), so chunks come from the heap, not from fresh pages.
        if buf.capacity() - buf.len() < 8 * 1024 {
            buf.reserve(64 * 1024 - 1024);
        }
        if r.read_buf(&mut buf).await? == 0 {
            return Err(if partial.is_empty() && buf.is_empty() {
                ConnError::Closed
            } else {
                ConnError::ClosedMidMessage(partial.len() + usize::from(!buf.is_empty()))
            });
        }
    }
}

fn handle_command(peer: &Peer, cmd: &Command<'_>) -> Result<(), ConnError> {
    match cmd {
        Command::Ping { context, .. } => peer.enqueue_command(&Command::Pong { context }),
        Command::Pong { .. } => {}
        Command::Subscribe(t) => {
            let mut out = peer.lock_out();
            out.subs.subscribe(t);
            drop(out);
            tracing::info!(topic = %wire::escape::show(t), "subscriber subscribed");
        }
        Command::Cancel(t) => {
            peer.lock_out().subs.cancel(t);
            tracing::info!(topic = %wire::escape::show(t), "subscriber cancelled");
        }
        Command::Error { reason } => return Err(ConnError::PeerError(wire::escape::show(reason))),
        Command::Ready(_) => return Err(ConnError::Protocol("a second READY after the handshake".into())),
        Command::Unknown { name, .. } => {
            tracing::debug!(command = %wire::escape::show(name), "unknown command ignored");
        }
    }
    Ok(())
}
