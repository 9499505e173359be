//! `sister mqtt <role>`: the MQTT broker, publisher and subscriber.
//!
//! (Written minimally by the broker's author so the broker can run; the `pub` and `sub` roles are added
//! here by the clients' author. Keep `Broker(mqtt_broker::BrokerArgs)` as it is.)

use std::process::ExitCode;

use clap::Subcommand;

use super::mqtt_broker;

#[derive(Debug, Subcommand)]
pub enum MqttCommand {
    /// An MQTT 3.1.1/5.0 broker (default 0.0.0.0:1883, anonymous clients allowed, like the course's Mosquitto)
    Broker(mqtt_broker::BrokerArgs),
}

pub async fn run(cmd: MqttCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MqttCommand::Broker(args) => mqtt_broker::run(args).await,
    }
}
