//! A WebSocket client stream (RFC 6455) over any byte stream (TCP, TLS), on `wire::ws`: what
//! `sister bench mqtt --ws` loads a broker's WebSocket listener with, and what a future
//! browser-less `sister mqtt pub|sub --ws` would use.
//!
//! [`connect`] does the opening handshake (RFC 6455 §4.1) and returns a [`WsStream`], an
//! `AsyncRead + AsyncWrite` of the *payload*: each write becomes one masked binary frame (§5.1: a
//! client masks every frame, with a fresh random key, §5.3), reads return the payload of the
//! server's binary frames as a byte stream (frame boundaries mean nothing to MQTT, MQTT 5.0 §6).
//! Pings are answered with pongs; a close is answered and ends the stream (a read of 0 bytes).
//!
//! (The broker's side is not this type: its connection loop reads and writes without waiting, so
//! it drives `wire::ws` itself, in `mqtt::broker::link`.)

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use wire::ws::{self, ClientHandshake, Control, Deframer, Opcode, Role};

/// The payload of a WebSocket connection as a byte stream (see the module docs).
pub struct WsStream<S> {
    inner: S,
    deframer: Deframer,
    /// Bytes read from `inner` and not yet deframed.
    rx: BytesMut,
    /// Payload deframed and not yet read.
    data: BytesMut,
    /// Frames to write; `tx[..tx_at]` written.
    tx: Vec<u8>,
    tx_at: usize,
    /// The caller's bytes framed in `tx` by a `poll_write` that is not finished yet.
    framed: Option<usize>,
    /// The server closed (or the inner stream ended).
    eof: bool,
    close_sent: bool,
}

/// Open a WebSocket on `inner` (already connected): the handshake for `host` (the Host header) and
/// `path`, offering `protocols`; the stream and the subprotocol the server chose.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    mut inner: S,
    host: &str,
    path: &str,
    protocols: &[&str],
) -> io::Result<(WsStream<S>, Option<String>)> {
    let hs = ClientHandshake::new(host, path, protocols, rand::random());
    inner.write_all(&hs.request()).await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match hs.check_response(&buf) {
            Ok((accepted, used)) => {
                buf.advance(used); // frames the server sent right behind its 101
                let stream = WsStream {
                    inner,
                    deframer: Deframer::new(Role::Client, u64::MAX >> 1),
                    rx: buf,
                    data: BytesMut::new(),
                    tx: Vec::new(),
                    tx_at: 0,
                    framed: None,
                    eof: false,
                    close_sent: false,
                };
                return Ok((stream, accepted.protocol));
            }
            Err(e) if e.is_incomplete() => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "WebSocket handshake: {}",
                        e.to_string().trim_start_matches("invalid: ")
                    ),
                ))
            }
        }
        if inner.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection during the WebSocket handshake",
            ));
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    fn queue(&mut self, opcode: Opcode, payload: &[u8]) {
        ws::encode_frame(&mut self.tx, true, opcode, Some(rand::random()), payload);
    }

    /// Write `tx` into the inner stream.
    fn poll_tx(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.tx_at < self.tx.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &self.tx[self.tx_at..]))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => self.tx_at += n,
            }
        }
        self.tx.clear();
        self.tx_at = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.data.is_empty() {
                let n = this.data.len().min(out.remaining());
                out.put_slice(&this.data[..n]);
                this.data.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(())); // nothing put: the end of the stream
            }
            loop {
                let (used, control) = this
                    .deframer
                    .read(&this.rx, &mut this.data)
                    .map_err(|v| io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {v}")))?;
                this.rx.advance(used);
                match control {
                    None => break,
                    Some(Control::Ping(p)) if !this.close_sent => this.queue(Opcode::Pong, &p),
                    Some(Control::Ping(_) | Control::Pong(_)) => {}
                    Some(Control::Close(status)) => {
                        if !this.close_sent {
                            let p = status.map(|(code, _)| ws::close_payload(code, ""));
                            this.queue(Opcode::Close, p.as_deref().unwrap_or(&[]));
                            this.close_sent = true;
                        }
                        this.eof = true;
                    }
                }
            }
            // Pongs and a close answer leave when the socket takes them; a write waits for them.
            if this.framed.is_none() {
                let _ = this.poll_tx(cx);
            }
            if !this.data.is_empty() || this.eof {
                continue;
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                this.eof = true;
            }
            this.rx.extend_from_slice(rb.filled());
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    /// One masked binary frame for `buf`. Finished only when the frame is in the inner stream, so
    /// a caller told `Pending` must call again with the same bytes (as `write_all` does).
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.framed.is_none() {
            ready!(this.poll_tx(cx))?; // pongs first
            if this.close_sent {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the WebSocket is closed",
                )));
            }
            this.queue(Opcode::Binary, buf);
            this.framed = Some(buf.len());
        }
        ready!(this.poll_tx(cx))?;
        Poll::Ready(Ok(this.framed.take().unwrap_or(0)))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_tx(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    /// A close frame (1000, RFC 6455 §5.5.1), then the inner stream's shutdown.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent && this.framed.is_none() {
            ready!(this.poll_tx(cx))?;
            this.queue(Opcode::Close, &ws::close_payload(ws::close::NORMAL, ""));
            this.close_sent = true;
        }
        ready!(this.poll_tx(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client stream against the server side of `wire::ws`, over an in-memory pipe: the
    /// handshake, a write that arrives as one masked frame, a ping answered, a close ending reads.
    #[tokio::test]
    async fn a_client_stream_against_the_codecs_server_side() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let server_task = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let (req, used) = loop {
                server.read_buf(&mut buf).await.unwrap();
                match ws::decode_upgrade(&buf) {
                    Ok(r) => break r,
                    Err(e) => assert!(e.is_incomplete(), "{e:?}"),
                }
            };
            buf.advance(used);
            let mut answer = req.accept(Some("mqtt"));
            ws::encode_frame(&mut answer, true, Opcode::Ping, None, b"are you there");
            ws::encode_frame(&mut answer, false, Opcode::Binary, None, b"hello ");
            ws::encode_frame(&mut answer, true, Opcode::Continuation, None, b"client");
            ws::encode_frame(
                &mut answer,
                true,
                Opcode::Close,
                None,
                &ws::close_payload(1000, ""),
            );
            server.write_all(&answer).await.unwrap();
            // What the client sends: a pong, the payload in a masked binary frame, the close answer.
            let mut frames = Vec::new();
            while frames.len() < 3 {
                match ws::decode_frame(&buf, 1 << 20) {
                    Ok((f, n)) => {
                        assert!(f.header.mask.is_some(), "client frames are masked");
                        frames.push((f.header.opcode, f.payload().into_owned()));
                        buf.advance(n);
                    }
                    Err(_) => {
                        server.read_buf(&mut buf).await.unwrap();
                    }
                }
            }
            frames
        });
        let (mut s, protocol) = connect(client, "test", "/mqtt", &["mqtt"]).await.unwrap();
        assert_eq!(protocol.as_deref(), Some("mqtt"));
        s.write_all(b"payload").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello client");
        s.flush().await.unwrap();
        let frames = server_task.await.unwrap();
        let opcodes: Vec<Opcode> = frames.iter().map(|f| f.0).collect();
        assert!(
            frames.contains(&(Opcode::Binary, b"payload".to_vec())),
            "{frames:?}"
        );
        assert!(
            frames.contains(&(Opcode::Pong, b"are you there".to_vec())),
            "{frames:?}"
        );
        assert!(opcodes.contains(&Opcode::Close), "{frames:?}");
    }
}
