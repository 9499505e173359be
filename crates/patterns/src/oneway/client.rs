//! The one-way client: sends each line and prints `Sent: <line>`; never waits for anything.

use std::time::Duration;

use wire::escape::show;

use crate::console::{step, Input, Say, Step};
use crate::framing::{ClientConn, ClientError, Framing};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub wait: Duration,
    /// `Auto` sends framed (a one-way client gets no reply to detect a raw server from); `Raw` sends the
    /// bare text, as the course's client does.
    pub framing: Framing,
}

/// Send every line of `input`; returns how many messages were sent.
#[tracing::instrument(name = "oneway-client", skip_all)]
pub async fn run(config: &Config, mut input: Input, say: &dyn Say) -> Result<usize, ClientError> {
    let mut conn = ClientConn::connect(&config.server, config.wait, config.framing).await?;
    tracing::info!(server = %conn.peer(), "connected");
    let scripted = input.is_scripted();
    let mut sent = 0;
    while let Some(line) = input.next().await? {
        let what = step(&line, scripted);
        match what {
            Step::Skip => continue,
            Step::Stop => break,
            Step::Send | Step::SendThenStop => {}
        }
        conn.send(line.as_bytes()).await?;
        sent += 1;
        say.say(&format!("Sent: {}", show(line.as_bytes())));
        if what == Step::SendThenStop {
            break;
        }
    }
    // FIN: the server reads the end of the stream after the last message.
    let _ = conn.finish().await;
    tracing::info!(messages = sent, "closed the connection");
    Ok(sent)
}
