//! A client's byte stream: plain TCP, TLS over TCP (a listener with `certfile`/`keyfile`), or
//! WebSocket frames over either (`protocol websockets`).
//!
//! The connection loop in [`super::server`] reads and writes without waiting (`try_read`,
//! `try_write`) and sleeps on the socket's readiness, so it cannot use an `AsyncRead` wrapper such as
//! tokio-rustls' stream. TLS here is rustls used sans-I/O, the same shape as sister's own codecs:
//! ciphertext goes from the socket into [`rustls::ServerConnection`] (`read_tls`), comes out as
//! plaintext (`reader()`); plaintext goes in (`writer()`), ciphertext comes out to the socket
//! (`write_tls`). tokio-rustls does only the handshake (`TlsAcceptor::accept`), then hands over the
//! socket and the session ([`Link::tls`]).
//!
//! What to notice:
//! - A TLS client may have sent its CONNECT in the same flight as its last handshake message, so
//!   plaintext can already be waiting inside rustls when the handshake ends: every read looks there
//!   before it looks at the socket.
//! - Ciphertext that the socket did not take yet stays in rustls ([`Link::wants_write`]); the loop then
//!   waits for the socket to be writable even if it has no plaintext left to write.
//! - Idle TLS clients are not parked (see `parking.rs`): the parking holds bare sockets, and a TLS
//!   session's keys and sequence numbers live in user space, next to the socket.
//!
//! WebSocket ([`WsLink`]) is a layer over one of the two others, in the same sans-I/O shape on
//! `wire::ws`: frames read from the inner link go through a [`ws::Deframer`], which appends the
//! payload of binary frames to the MQTT byte stream (MQTT 5.0 §6: a packet may span frames, a frame
//! may hold several packets, so frame boundaries mean nothing to the broker); bytes written become
//! one unmasked binary frame per write (RFC 6455 §5.1: a server never masks). Pings are answered and
//! a close is answered with a close (§5.5); a broken rule closes with its status code (§7.4). Like
//! TLS, framed bytes the socket did not take wait in the link (`wants_write`), and WebSocket clients
//! are not parked (the deframer's state lives in user space too).

use std::io::{self, Read, Write};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use rustls::ServerConnection;
use tokio::net::TcpStream;
use wire::ws::{self, Control, Opcode};

/// A client's connection to the broker.
pub(crate) enum Link {
    Plain(TcpStream),
    /// Boxed: a TLS session is a few kilobytes, and a plain client should not pay for it.
    Tls(Box<TlsLink>),
    /// WebSocket frames over a plain or TLS link (boxed, as TLS is).
    Ws(Box<WsLink>),
}

pub(crate) struct TlsLink {
    tcp: TcpStream,
    session: ServerConnection,
    /// The peer ended the stream (close_notify or TCP FIN).
    closed: bool,
}

/// `std::io::Read`/`Write` over a tokio socket without waiting (`WouldBlock` when it is not ready),
/// which is what rustls' `read_tls`/`write_tls` expect.
struct NoWait<'a>(&'a TcpStream);

impl Read for NoWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NoWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Link {
    /// A client whose TLS handshake is done.
    pub(crate) fn tls(tcp: TcpStream, session: ServerConnection) -> Link {
        Link::Tls(Box::new(TlsLink {
            tcp,
            session,
            closed: false,
        }))
    }

    /// A client whose WebSocket handshake is done over `inner`; `early` holds the bytes that came
    /// after the handshake's head (frames already), `max_frame` the largest data frame taken.
    pub(crate) fn ws(inner: Link, early: &[u8], max_frame: u64) -> Link {
        Link::Ws(Box::new(WsLink {
            inner,
            deframer: ws::Deframer::new(ws::Role::Server, max_frame),
            rx: BytesMut::from(early),
            tx: Vec::new(),
            tx_at: 0,
            closed: false,
            close_sent: false,
        }))
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(t) => &t.tcp,
            Link::Ws(w) => w.inner.tcp(),
        }
    }

    /// Encrypted or framed bytes wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Link::Plain(_) => false,
            Link::Tls(t) => t.session.wants_write(),
            Link::Ws(w) => w.tx_at < w.tx.len() || w.inner.wants_write(),
        }
    }

    /// The client speaks WebSocket (for the log and the goodbye).
    pub(crate) fn is_ws(&self) -> bool {
        matches!(self, Link::Ws(_))
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_read_ready(cx)
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_write_ready(cx)
    }

    /// Read what is there without waiting: `Ok(0)` when the client closed, `WouldBlock` when nothing
    /// came. For TLS the count is of plaintext bytes, for WebSocket of MQTT bytes (frame payload).
    pub(crate) fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.try_read_buf(buf),
            Link::Tls(t) => t.try_read(buf),
            Link::Ws(w) => w.try_read(buf),
        }
    }

    /// Write without waiting; for TLS the count is of plaintext bytes taken (encrypted and written,
    /// or waiting in rustls for the socket); for WebSocket of MQTT bytes framed.
    pub(crate) fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.try_write(buf),
            Link::Tls(t) => t.try_write(buf),
            Link::Ws(w) => w.try_write(buf),
        }
    }

    /// Write the ciphertext that waits in rustls, or the frames that wait in the WebSocket layer,
    /// without waiting (`WouldBlock` if some is left).
    pub(crate) fn try_flush(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(_) => Ok(()),
            Link::Tls(t) => t.flush_tls(),
            Link::Ws(w) => w.flush(),
        }
    }

    /// Read (waiting until something comes).
    pub(crate) async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.try_read_buf(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tcp().readable().await?,
                r => return r,
            }
        }
    }

    /// Write all of `buf` (waiting for the socket as needed).
    pub(crate) async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tcp().writable().await?,
                Err(e) => return Err(e),
            }
        }
        self.flush().await
    }

    /// A WebSocket client is told the connection ends: a close frame with `code` (RFC 6455 §5.5.1),
    /// written within a second. Nothing for the other links (MQTT's own DISCONNECT is their goodbye).
    pub(crate) async fn close_ws(&mut self, code: u16, reason: &str) {
        if let Link::Ws(w) = self {
            if w.close_sent {
                return;
            }
            w.queue_close(code, reason);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.flush()).await;
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.try_flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tcp().writable().await?,
                r => return r,
            }
        }
    }

    /// End our side: a WebSocket close frame if WebSocket (RFC 6455 §5.5.1), TLS's close_notify
    /// (RFC 8446 §6.1) if TLS, then TCP's FIN.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(_) => {}
            Link::Tls(t) => t.session.send_close_notify(),
            Link::Ws(w) => w.queue_close(ws::close::NORMAL, ""),
        }
        self.flush().await?;
        use tokio::io::AsyncWriteExt;
        match self {
            Link::Plain(s) => s.shutdown().await,
            Link::Tls(t) => t.tcp.shutdown().await,
            // The inner link's own goodbye (TLS's close_notify) and FIN.
            Link::Ws(w) => Box::pin(w.inner.shutdown()).await,
        }
    }
}

/// MQTT over WebSocket frames, over a plain or TLS link (see the module docs).
pub(crate) struct WsLink {
    inner: Link,
    deframer: ws::Deframer,
    /// Bytes read from `inner` and not yet deframed: part of a header or of a control frame.
    rx: BytesMut,
    /// Frames to write: pongs, closes, and what the inner link did not take of a data frame;
    /// `tx[..tx_at]` is written already.
    tx: Vec<u8>,
    tx_at: usize,
    /// The client sent a close frame, broke a rule, or the inner link ended.
    closed: bool,
    /// Our close frame is queued: nothing may follow it (RFC 6455 §5.5.1).
    close_sent: bool,
}

impl WsLink {
    fn try_read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let before = buf.len();
        loop {
            // 1. Deframe what is waiting: payload to `buf`, control frames answered.
            loop {
                let (used, control) = match self.deframer.read(&self.rx, buf) {
                    Ok(r) => r,
                    Err(v) => {
                        // A broken rule: the close frame says which (§7.4), then the connection
                        // ends (the "fail the WebSocket connection" of §7.1.7).
                        self.queue_close(v.code, &v.why);
                        self.closed = true;
                        let _ = self.flush();
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("WebSocket: {v}"),
                        ));
                    }
                };
                self.rx.advance(used);
                match control {
                    None => break,
                    Some(Control::Ping(payload)) if !self.close_sent => {
                        ws::encode_frame(&mut self.tx, true, Opcode::Pong, None, &payload);
                    }
                    Some(Control::Ping(_) | Control::Pong(_)) => {}
                    Some(Control::Close(status)) => {
                        // Answer with the same code (§5.5.1), or none if the client gave none.
                        tracing::debug!(status = ?status, "the client closed the WebSocket");
                        if !self.close_sent {
                            let payload = status.map(|(code, _)| ws::close_payload(code, ""));
                            ws::encode_frame(
                                &mut self.tx,
                                true,
                                Opcode::Close,
                                None,
                                payload.as_deref().unwrap_or(&[]),
                            );
                            self.close_sent = true;
                        }
                        self.closed = true;
                    }
                }
            }
            // Pongs and the close answer go out at once (a full socket keeps them in `tx`).
            match self.flush() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            let got = buf.len() - before;
            if got > 0 {
                return Ok(got);
            }
            if self.closed {
                return Ok(0);
            }
            // 2. More from the inner link (WouldBlock ends the read: nothing came).
            self.rx.reserve(16 * 1024);
            if self.inner.try_read_buf(&mut self.rx)? == 0 {
                self.closed = true;
            }
        }
    }

    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // What was framed before goes first; while the socket is full, take nothing more (the frames
        // would pile up here without bound otherwise).
        self.flush()?;
        if self.close_sent {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the WebSocket is closing",
            ));
        }
        // One binary frame for all of `buf` (the outgoing batch: several MQTT packets, or part of a
        // large one). The copy into `tx` costs less than a second system call per frame would.
        ws::encode_frame(&mut self.tx, true, Opcode::Binary, None, buf);
        match self.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        Ok(buf.len())
    }

    fn queue_close(&mut self, code: u16, reason: &str) {
        if !self.close_sent {
            let payload = ws::close_payload(code, reason);
            ws::encode_frame(&mut self.tx, true, Opcode::Close, None, &payload);
            self.close_sent = true;
        }
    }

    /// Write `tx` to the inner link and flush it; `WouldBlock` while something is left.
    fn flush(&mut self) -> io::Result<()> {
        while self.tx_at < self.tx.len() {
            match self.inner.try_write(&self.tx[self.tx_at..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.tx_at += n,
            }
        }
        self.tx.clear();
        self.tx_at = 0;
        if self.tx.capacity() > 1 << 20 {
            self.tx = Vec::new(); // a large message passed: do not keep its buffer
        }
        self.inner.try_flush()
    }
}

impl TlsLink {
    fn try_read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            // 1. Plaintext rustls already decrypted.
            let got = self.take_plaintext(buf)?;
            if got > 0 {
                return Ok(got);
            }
            if self.closed {
                return Ok(0);
            }
            // 2. More records from the socket (WouldBlock ends the read: nothing came).
            if self.session.read_tls(&mut NoWait(&self.tcp))? == 0 {
                self.closed = true;
            }
            if let Err(e) = self.session.process_new_packets() {
                // rustls queued an alert for the client: try to send it, then fail.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Records such as a KeyUpdate (RFC 8446 §4.6.3) may call for an answer.
            match self.flush_tls() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }

    /// Move every decrypted byte into `buf`; notes a close_notify (or FIN) in `self.closed`.
    fn take_plaintext(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let mut got = 0;
        loop {
            match self.session.reader().read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                    return Ok(got);
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                // TCP closed without close_notify: a truncation attack for HTTP, an ordinary lost
                // connection for MQTT (its packets are framed; a cut one is never applied).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.closed = true;
                    return Ok(got);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // What was encrypted before goes first; while the socket is full, take nothing more (rustls
        // would buffer without bound otherwise).
        self.flush_tls()?;
        let n = self.session.writer().write(buf)?;
        match self.flush_tls() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            if self.session.write_tls(&mut NoWait(&self.tcp))? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}
