//! The upcall client: registers, then reads the terminal *and* listens to the server at the same time,
//! printing every upcall the moment it arrives.
//!
//! Against the course's raw upcall server (or with `--raw`) there are no upcalls to wait for: the client
//! behaves as the course's `clientcall.py`, one reply per line.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use wire::escape::show;
use wire::frame::Mode;

use super::state::{self, Kind};
use crate::console::{step, Input, Say, Step};
use crate::framing::{write_message, ClientConn, ClientError, Framing};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub wait: Duration,
    pub framing: Framing,
    /// The name this client registers under (shown to the other clients).
    pub name: String,
    /// After the last line, how long to keep listening for the completion upcalls still due.
    pub linger: Duration,
}

/// What the client received.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Every message from the server, in arrival order.
    pub received: Vec<Vec<u8>>,
    /// True when the server spoke sister's upcall protocol (false: the course's raw server).
    pub upcalls: bool,
}

/// Run the client over `input`.
#[tracing::instrument(name = "upcall-client", skip_all, fields(name = %config.name))]
pub async fn run(config: &Config, mut input: Input, say: &dyn Say) -> Result<Outcome, ClientError> {
    let mut conn = ClientConn::connect(&config.server, config.wait, config.framing).await?;
    tracing::info!(server = %conn.peer(), "connected");
    let mut outcome = Outcome::default();
    if config.framing == Framing::Auto {
        // Registration doubles as the probe: a sister server answers framed, the course's answers raw.
        conn.send(&state::register_message(&config.name)).await?;
        let first = conn.recv().await?.ok_or(ClientError::ServerClosed)?;
        if conn.mode() == Mode::Framed {
            say.say(&format!("Received: {}", show(&first)));
            outcome.received.push(first);
            outcome.upcalls = true;
            return upcalls(conn, input, say, config, outcome).await;
        }
        tracing::warn!(
            "this server does not make upcalls (the course's server answers each line once and never calls \
             back); continuing as request/response"
        );
        tracing::debug!("its answer to the registration: \"{}\"", show(&first));
    }
    let scripted = input.is_scripted();
    while let Some(line) = input.next().await? {
        let what = step(&line, scripted);
        match what {
            Step::Skip => continue,
            Step::Stop => break,
            Step::Send | Step::SendThenStop => {}
        }
        let reply = conn
            .request(line.as_bytes())
            .await?
            .ok_or(ClientError::ServerClosed)?;
        say.say(&format!("Received: {}", show(&reply)));
        outcome.received.push(reply);
        if what == Step::SendThenStop {
            break;
        }
    }
    let _ = conn.finish().await;
    tracing::info!("closed the connection");
    Ok(outcome)
}

async fn upcalls(
    conn: ClientConn,
    mut input: Input,
    say: &dyn Say,
    config: &Config,
    mut outcome: Outcome,
) -> Result<Outcome, ClientError> {
    let (mut reader, mut writer, _) = conn.into_parts();
    let scripted = input.is_scripted();
    let mut due = 0usize; // lines whose completion upcall has not come yet
    let mut deadline: Option<Instant> = None; // set once the input is over
    loop {
        let wake = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            line = input.next(), if deadline.is_none() => {
                let stop = match line? {
                    None => true,
                    Some(line) => match step(&line, scripted) {
                        Step::Skip => false,
                        Step::Stop => true,
                        what => {
                            write_message(&mut writer, Mode::Framed, line.as_bytes()).await?;
                            tracing::debug!("sent \"{}\"", show(line.as_bytes()));
                            due += 1;
                            what == Step::SendThenStop
                        }
                    },
                };
                if stop {
                    if due == 0 {
                        break;
                    }
                    tracing::info!("input over; waiting up to {:?} for {due} completion upcalls", config.linger);
                    deadline = Some(Instant::now() + config.linger);
                }
            }
            message = reader.read_message() => {
                let Some(message) = message? else {
                    tracing::warn!("the server closed the connection");
                    break;
                };
                say.say(&format!("Received: {}", show(&message)));
                if state::kind(&message) == Kind::Done {
                    due = due.saturating_sub(1);
                }
                outcome.received.push(message);
                if deadline.is_some() && due == 0 {
                    break;
                }
            }
            _ = tokio::time::sleep_until(wake), if deadline.is_some() => {
                tracing::warn!("gave up waiting for {due} completion upcalls");
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
    tracing::info!("closed the connection");
    Ok(outcome)
}
