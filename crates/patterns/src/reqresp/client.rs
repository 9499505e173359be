//! The request/response client: one line out, one reply back, printed as `Received: <reply>`.

use std::time::Duration;

use wire::escape::show;

use crate::console::{step, Input, Say, Step};
use crate::framing::{ClientConn, ClientError, Framing};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// How long to keep retrying while the server starts.
    pub wait: Duration,
    pub framing: Framing,
}

/// Run the client over `input`; returns the replies received, in order.
///
/// Interactive input ends at `bye` (not sent) or end of input; a script sends `bye` too, then ends.
#[tracing::instrument(name = "reqresp-client", skip_all)]
pub async fn run(config: &Config, mut input: Input, say: &dyn Say) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut conn = ClientConn::connect(&config.server, config.wait, config.framing).await?;
    tracing::info!(server = %conn.peer(), "connected");
    let scripted = input.is_scripted();
    let mut replies = Vec::new();
    while let Some(line) = input.next().await? {
        let what = step(&line, scripted);
        match what {
            Step::Skip => continue,
            Step::Stop => break,
            Step::Send | Step::SendThenStop => {}
        }
        tracing::debug!("sending \"{}\"", show(line.as_bytes()));
        let reply = conn
            .request(line.as_bytes())
            .await?
            .ok_or(ClientError::ServerClosed)?;
        say.say(&format!("Received: {}", show(&reply)));
        replies.push(reply);
        if what == Step::SendThenStop {
            break;
        }
    }
    let _ = conn.finish().await;
    tracing::info!("closed the connection");
    Ok(replies)
}
