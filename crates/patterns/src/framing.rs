//! Messages over a TCP byte stream, for the plain-TCP patterns (request/response, one-way, upcall).
//!
//! TCP delivers bytes, not messages (see [`wire::frame`] for the whole lesson). This module turns a
//! stream back into messages in one of two ways, decided per connection:
//!
//! - **framed** (between two sister peers): `0x01 | u32 length | payload`; one message is exactly one
//!   frame, however the kernel cut or merged the segments. A 1 MB message arrives whole; 10,000 messages
//!   written back to back arrive as 10,000 messages.
//! - **raw** (the course's convention, kept so the course's Python programs work unchanged): whatever
//!   one `read` returns is one message. A server reads at most [`RAW_READ_SIZE`] (1024) bytes at a time,
//!   like the course's `recv(1024)`.
//!
//! A server learns the mode from the first byte the peer sends ([`MessageReader::detect`]). A client
//! ([`ClientConn`]) always starts framed; if the first reply does not start with `0x01`, the server is one
//! of the course's raw servers: the client removes its own frame header that the server echoed back
//! ([`wire::frame::strip_echoed_header`]), warns once, and speaks raw from then on.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use wire::frame::{self, Mode};
use wire::DecodeError;

use crate::net::{self, NetError};

/// How many bytes one raw read takes on a server: the course's `recv(1024)`.
pub const RAW_READ_SIZE: usize = 1024;
/// How many bytes a client reads at once in raw mode: a course server's reply is `Echo: ` plus up to
/// 1024 bytes, so a client must read more than 1024 to get it in one piece.
pub const CLIENT_RAW_READ_SIZE: usize = 64 * 1024;
/// How many bytes to ask the kernel for at once while reading frames.
const FRAMED_READ_SIZE: usize = 64 * 1024;

/// Why no message could be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The peer closed (or the connection broke) after part of a frame: the message is lost.
    #[error("the peer closed the connection in the middle of a message ({got} of {want} bytes arrived)")]
    Truncated { got: usize, want: usize },
    /// The bytes cannot be sister frames (a garbage header, a length over the limit).
    #[error("the peer broke sister's framing: {0}")]
    Invalid(String),
}

/// What can end a client early; each says what happened in words a student can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection before answering")]
    ServerClosed,
    #[error("{0}")]
    NoReply(String),
}

/// The reading side of a connection: returns whole messages.
#[derive(Debug)]
pub struct MessageReader<R> {
    inner: R,
    buf: BytesMut,
    mode: Option<Mode>,
    max_payload: usize,
    raw_read_size: usize,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// A reader that decides the mode from the first byte it receives (servers do this).
    pub fn detect(inner: R) -> Self {
        MessageReader {
            inner,
            buf: BytesMut::new(),
            mode: None,
            max_payload: frame::DEFAULT_MAX_PAYLOAD,
            raw_read_size: RAW_READ_SIZE,
        }
    }

    /// A reader with its mode already known.
    pub fn with_mode(inner: R, mode: Mode) -> Self {
        let mut r = Self::detect(inner);
        r.mode = Some(mode);
        r
    }

    /// The largest frame payload accepted (a bound against hostile length fields).
    pub fn max_payload(mut self, max: usize) -> Self {
        self.max_payload = max;
        self
    }

    /// How many bytes one raw read may take.
    pub fn raw_read_size(mut self, n: usize) -> Self {
        self.raw_read_size = n.max(1);
        self
    }

    /// The mode, once known.
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// Force the mode (a client that learned the server is raw).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = Some(mode);
    }

    /// Read the next whole message. `Ok(None)` means the peer closed the connection cleanly between
    /// messages.
    ///
    /// Cancel-safe: bytes already read stay in the buffer, so this can sit in a `select!`.
    pub async fn read_message(&mut self) -> Result<Option<Vec<u8>>, MessageError> {
        loop {
            match self.mode {
                None => {
                    if self.fill(self.raw_read_size).await? == 0 {
                        return Ok(None);
                    }
                    // The first byte decides: SOH means a sister peer; anything else (a letter typed in
                    // the course's client) means the course's raw convention.
                    self.mode = self.buf.first().map(|&b| Mode::detect(b));
                }
                Some(Mode::Raw) => {
                    // Leftover bytes from the detecting read are the first message.
                    if !self.buf.is_empty() {
                        return Ok(Some(self.buf.split().to_vec()));
                    }
                    if self.fill(self.raw_read_size).await? == 0 {
                        return Ok(None);
                    }
                    return Ok(Some(self.buf.split().to_vec()));
                }
                Some(Mode::Framed) => {
                    if !self.buf.is_empty() {
                        match frame::decode(&self.buf, self.max_payload) {
                            Ok((payload, used)) => {
                                let message = payload.to_vec();
                                self.buf.advance(used);
                                return Ok(Some(message));
                            }
                            Err(DecodeError::Incomplete { needed }) => {
                                // Ask for the whole rest of a big frame in one reservation.
                                self.buf.reserve(needed.unwrap_or(0));
                            }
                            Err(DecodeError::Invalid(reason)) => return Err(MessageError::Invalid(reason)),
                        }
                    }
                    if self.fill(FRAMED_READ_SIZE).await? == 0 {
                        if self.buf.is_empty() {
                            return Ok(None);
                        }
                        return Err(self.truncated());
                    }
                }
            }
        }
    }

    /// Read once, at most `limit` bytes, appending to the buffer. Returns how many bytes came (0 = EOF).
    ///
    /// `read_buf` writes into the buffer's spare capacity and only then extends it, so a read cancelled
    /// by a `select!` leaves the buffer exactly as it was.
    async fn fill(&mut self, limit: usize) -> io::Result<usize> {
        self.buf.reserve(limit);
        (&mut self.inner).take(limit as u64).read_buf(&mut self.buf).await
    }

    fn truncated(&self) -> MessageError {
        let want = match self.buf.get(1..frame::HEADER_LEN) {
            Some(len) => frame::HEADER_LEN + u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize,
            None => frame::HEADER_LEN,
        };
        MessageError::Truncated {
            got: self.buf.len(),
            want,
        }
    }
}

/// Write one message in `mode`: framed, or the bare bytes (raw).
pub async fn write_message<W: AsyncWrite + Unpin>(w: &mut W, mode: Mode, payload: &[u8]) -> io::Result<()> {
    match mode {
        Mode::Framed => {
            let bytes =
                frame::encode_to_vec(payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            w.write_all(&bytes).await
        }
        Mode::Raw => w.write_all(payload).await,
    }
}

/// How a client delimits its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// sister framing, falling back to raw if the server turns out to be one of the course's.
    #[default]
    Auto,
    /// The course's convention from the first message on (`--raw`): no header, one read per reply.
    Raw,
}

/// A client's connection: sends framed (or raw), notices a raw server from its first reply.
#[derive(Debug)]
pub struct ClientConn {
    reader: MessageReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    mode: Mode,
    /// In framed mode before the first reply: the first message sent, in case a raw server echoes it.
    probe: Option<Vec<u8>>,
    confirmed: bool,
    peer: SocketAddr,
}

impl ClientConn {
    /// Connect to `addr` (retrying for up to `wait`), ready to talk in `framing`.
    pub async fn connect(addr: &str, wait: Duration, framing: Framing) -> Result<ClientConn, NetError> {
        let stream = net::connect_tcp(addr, wait).await?;
        Ok(ClientConn::new(stream, framing))
    }

    /// Wrap a connected stream.
    pub fn new(stream: TcpStream, framing: Framing) -> ClientConn {
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (r, writer) = stream.into_split();
        let (reader, mode) = match framing {
            // Not yet known which way the server answers: detect it from the first reply.
            Framing::Auto => (MessageReader::detect(r), Mode::Framed),
            Framing::Raw => (MessageReader::with_mode(r, Mode::Raw), Mode::Raw),
        };
        ClientConn {
            reader: reader.raw_read_size(CLIENT_RAW_READ_SIZE),
            writer,
            mode,
            probe: None,
            confirmed: framing == Framing::Raw,
            peer,
        }
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// How this connection currently sends.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Send one message.
    pub async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        if !self.confirmed && self.probe.is_none() {
            self.probe = Some(payload.to_vec());
        }
        write_message(&mut self.writer, self.mode, payload).await
    }

    /// Receive one message (`None`: the server closed the connection).
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, MessageError> {
        let Some(message) = self.reader.read_message().await? else {
            return Ok(None);
        };
        if self.confirmed {
            return Ok(Some(message));
        }
        self.confirmed = true;
        match self.reader.mode() {
            Some(Mode::Raw) => {
                tracing::warn!(
                    server = %self.peer,
                    "the server answered without sister's framing: it is one of the course's raw servers. \
                     Falling back to raw mode (one read per reply; long or quick messages may be cut or merged)"
                );
                self.mode = Mode::Raw;
                let probe = self.probe.take().unwrap_or_default();
                Ok(Some(frame::strip_echoed_header(&message, &probe)))
            }
            _ => {
                tracing::debug!(server = %self.peer, "the server speaks sister's framing");
                Ok(Some(message))
            }
        }
    }

    /// Send, then wait for the reply.
    pub async fn request(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, MessageError> {
        self.send(payload).await?;
        self.recv().await
    }

    /// Close the sending direction (TCP FIN): the server sees the end of the stream.
    pub async fn finish(&mut self) -> io::Result<()> {
        self.writer.shutdown().await
    }

    /// Split into a reader and a writer with the mode now in force (after the first reply).
    pub fn into_parts(self) -> (MessageReader<OwnedReadHalf>, OwnedWriteHalf, Mode) {
        let mut reader = self.reader;
        reader.set_mode(self.mode);
        (reader, self.writer, self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn detects_framed_and_splits_merged_frames() {
        let mut bytes = frame::encode_to_vec(b"hello").unwrap();
        bytes.extend(frame::encode_to_vec(b"world").unwrap());
        let mut r = MessageReader::detect(&bytes[..]);
        assert_eq!(r.read_message().await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(r.mode(), Some(Mode::Framed));
        assert_eq!(r.read_message().await.unwrap(), Some(b"world".to_vec()));
        assert_eq!(r.read_message().await.unwrap(), None);
    }

    #[tokio::test]
    async fn raw_reads_are_messages_of_at_most_1024_bytes() {
        let bytes = vec![b'a'; 1500];
        let mut r = MessageReader::detect(&bytes[..]);
        assert_eq!(r.read_message().await.unwrap().map(|m| m.len()), Some(1024));
        assert_eq!(r.mode(), Some(Mode::Raw));
        assert_eq!(r.read_message().await.unwrap().map(|m| m.len()), Some(476));
        assert_eq!(r.read_message().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_reported() {
        let bytes = frame::encode_to_vec(b"hello").unwrap();
        let mut r = MessageReader::detect(&bytes[..7]);
        let err = r.read_message().await.unwrap_err();
        assert!(
            matches!(err, MessageError::Truncated { got: 7, want: 10 }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn garbage_after_a_frame_is_invalid() {
        let mut bytes = frame::encode_to_vec(b"ok").unwrap();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut r = MessageReader::detect(&bytes[..]);
        assert_eq!(r.read_message().await.unwrap(), Some(b"ok".to_vec()));
        assert!(matches!(r.read_message().await, Err(MessageError::Invalid(_))));
    }

    /// A reader that hands out its bytes in pieces of the given sizes, as TCP may.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let size = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            let n = size.min(buf.remaining()).min(self.data.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.data[start..start + n]);
            self.pos += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn frames_survive_any_segmentation() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let messages: Vec<Vec<u8>> = (0..rng.gen_range(1..20))
                .map(|_| (0..rng.gen_range(0..3000)).map(|_| rng.gen()).collect())
                .collect();
            let mut data = Vec::new();
            for m in &messages {
                frame::encode(m, &mut data).unwrap();
            }
            let sizes = (0..7).map(|_| rng.gen_range(1..2000)).collect();
            let mut r = MessageReader::detect(Chunked {
                data,
                pos: 0,
                sizes,
                next: 0,
            });
            for m in &messages {
                assert_eq!(r.read_message().await.unwrap().as_ref(), Some(m));
            }
            assert_eq!(r.read_message().await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..500 {
            let mut data: Vec<u8> = (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect();
            if rng.gen_bool(0.5) {
                data.insert(0, frame::SOH);
            }
            let sizes = vec![rng.gen_range(1..50)];
            let mut r = MessageReader::detect(Chunked {
                data,
                pos: 0,
                sizes,
                next: 0,
            })
            .max_payload(64);
            for _ in 0..300 {
                match r.read_message().await {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_allocating() {
        let bytes = [0x01, 0xff, 0xff, 0xff, 0xff, b'x'];
        let mut r = MessageReader::detect(&bytes[..]).max_payload(1024);
        assert!(matches!(r.read_message().await, Err(MessageError::Invalid(_))));
    }
}
