//! A client's byte stream: plain TCP, or TLS over TCP (a listener with `certfile`/`keyfile`).
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

use std::io::{self, Read, Write};
use std::task::{Context, Poll};

use bytes::BytesMut;
use rustls::ServerConnection;
use tokio::net::TcpStream;

/// A client's connection to the broker.
pub(crate) enum Link {
    Plain(TcpStream),
    /// Boxed: a TLS session is a few kilobytes, and a plain client should not pay for it.
    Tls(Box<TlsLink>),
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

    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(t) => &t.tcp,
        }
    }

    /// Encrypted bytes wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Link::Plain(_) => false,
            Link::Tls(t) => t.session.wants_write(),
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_read_ready(cx)
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_write_ready(cx)
    }

    /// Read what is there without waiting: `Ok(0)` when the client closed, `WouldBlock` when nothing
    /// came. For TLS the count is of plaintext bytes.
    pub(crate) fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.try_read_buf(buf),
            Link::Tls(t) => t.try_read(buf),
        }
    }

    /// Write without waiting; for TLS the count is of plaintext bytes taken (encrypted and written,
    /// or waiting in rustls for the socket).
    pub(crate) fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.try_write(buf),
            Link::Tls(t) => t.try_write(buf),
        }
    }

    /// Write the ciphertext that waits in rustls, without waiting (`WouldBlock` if some is left).
    pub(crate) fn try_flush(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(_) => Ok(()),
            Link::Tls(t) => t.flush_tls(),
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

    async fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.try_flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tcp().writable().await?,
                r => return r,
            }
        }
    }

    /// End our side: TLS's close_notify (RFC 8446 §6.1) if TLS, then TCP's FIN.
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        if let Link::Tls(t) = self {
            t.session.send_close_notify();
            self.flush().await?;
        }
        use tokio::io::AsyncWriteExt;
        match self {
            Link::Plain(s) => s.shutdown().await,
            Link::Tls(t) => t.tcp.shutdown().await,
        }
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
