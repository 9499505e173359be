//! The floor `bench/http.sh` measures against: the least an HTTP/1.1 keep-alive server can do on tokio.
//! It finds the end of each request head, skips `Content-Length` bytes of body and writes a fixed
//! JSON-RPC answer; no parsing beyond that, no checks, no logging. NOT a server to copy: it ignores
//! chunked bodies, HTTP/1.0, `Connection: close` and every limit. Its only use is to show how many
//! requests per second this machine allows at all, with wrk on the same cores, so the JSON-RPC goal
//! ("50x the Python server") can be judged against what is possible.
//!
//! Run: `cargo run --release --example http_floor -- 127.0.0.1:9091`

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 36\r\n\r\n{\"jsonrpc\":\"2.0\",\"result\":12,\"id\":1}";

/// The value of a `Content-Length` line in `head`, 0 if there is none.
fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .next()
        .unwrap_or(0)
}

async fn connection(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    let mut out = Vec::new();
    loop {
        match stream.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        // Answer every whole request in the buffer (wrk does not pipeline, but this costs nothing).
        let mut start = 0;
        while let Some(end) = buf[start..have].windows(4).position(|w| w == b"\r\n\r\n") {
            let whole = end + 4 + content_length(&buf[start..start + end]);
            if have - start < whole {
                break;
            }
            start += whole;
            out.extend_from_slice(ANSWER);
        }
        buf.copy_within(start..have, 0);
        have -= start;
        if have == buf.len() {
            return; // a request larger than the buffer: not what this floor is for
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9091".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("minimal HTTP/1.1 floor on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream));
    }
}
