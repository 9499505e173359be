//! The capture view's model: a report turned into Wireshark's Flow Graph (hosts as columns, each
//! message an arrow, time down the page), filtered by conversation and protocol, repeated exchanges
//! folded exactly as the SVG diagram folds them.
//!
//! Plain data, no I/O: [`Flow::build`] takes a report and a [`Filter`], and the page draws what it
//! gets. The arrows come from `analyze::render::events` (the same handshake, messages and teardown the
//! SVG shows) and the folding from `events::fold` (the same code, so the page and `sister analyze
//! --format svg` fold the same blocks); each folded row says where its arrows are in `events`, so the
//! page can open a fold without asking again.
//!
//! Sizes: a 100,000-message capture is 100,000 events. Each is a JSON array, not an object
//! (`[t, from, to, kind, protocol, conversation, message, label, from_port, to_port]`): the names of
//! ten fields repeated 100,000 times would double what the browser has to parse.

use std::collections::{BTreeSet, HashMap, HashSet};

use analyze::render::events::{self, Event, Kind};
use analyze::render::Lang;
use analyze::report::{Anomaly, Report, Side, Transport};
use serde::Serialize;
use serde_json::{json, Value};

/// Which arrows to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this conversation (its `id`).
    pub conversation: Option<u32>,
    /// Only these protocols (`MQTT`, `HTTP`...; `TCP` is the handshakes and teardowns); empty: all.
    pub protocols: BTreeSet<String>,
}

impl Filter {
    fn keeps(&self, e: &Event) -> bool {
        self.conversation.is_none_or(|c| c == e.conversation)
            && (self.protocols.is_empty() || self.protocols.contains(&e.protocol))
    }
}

/// A host column: a lifeline of the diagram.
#[derive(Debug, Serialize)]
pub struct Column {
    /// The lifeline's id: the address, or `addr:port` when one host plays two parts (see
    /// `events::lifelines`).
    pub id: String,
    pub addr: String,
    /// The host's name (Docker's container or compose service, or `--names`), when known.
    pub name: Option<String>,
    /// What it did, in the page's language (`broker`, `publisher`...).
    pub roles: Vec<&'static str>,
}

/// One conversation, as the list beside the diagram shows it.
#[derive(Debug, Serialize)]
pub struct ConversationRow {
    pub id: u32,
    pub transport: Transport,
    pub protocol: String,
    pub client: String,
    pub server: String,
    pub start: f64,
    pub end: f64,
    /// Messages the dissector found, both ways (all of them, shown or not).
    pub messages: u64,
    /// Messages of it the view has no detail for (beyond the view's limits).
    pub omitted: u64,
    /// How it opened and closed (TCP): the lifecycle's sentence and Zeek's state and history.
    pub lifecycle: Option<Value>,
}

/// What the page draws.
#[derive(Debug, Serialize)]
pub struct Flow {
    pub columns: Vec<Column>,
    /// Every protocol of the capture's arrows (for the filter), whatever the filter.
    pub protocols: Vec<String>,
    pub conversations: Vec<ConversationRow>,
    pub anomalies: Vec<Anomaly>,
    pub problems: Vec<String>,
    /// The arrows that pass the filter, in time order (see the module's note on their shape).
    pub events: Vec<Value>,
    /// The rows as drawn: `[event, times, t_last, period]` (see `events::Row`; `event` is a position
    /// in `events`).
    pub rows: Vec<[Value; 4]>,
    /// Messages the view has no detail for, over all conversations.
    pub omitted: u64,
}

fn endpoint(e: &analyze::report::Endpoint) -> String {
    if e.addr.contains(':') {
        format!("[{}]:{}", e.addr, e.port)
    } else {
        format!("{}:{}", e.addr, e.port)
    }
}

fn kind_code(k: Kind) -> &'static str {
    match k {
        Kind::Handshake => "handshake",
        Kind::Data => "data",
        Kind::Fin => "fin",
        Kind::Reset => "reset",
    }
}

impl Flow {
    /// The flow graph of `report`, filtered; host roles in `lang`.
    pub fn build(report: &Report, filter: &Filter, lang: Lang) -> Flow {
        let all = events::events(report);
        let protocols: BTreeSet<String> = all.iter().map(|e| e.protocol.clone()).collect();
        let kept: Vec<&Event> = all.iter().filter(|e| filter.keeps(e)).collect();

        // Columns in order of first appearance, as the SVG orders its lifelines.
        let mut order: Vec<&str> = Vec::new();
        let mut col: HashMap<&str, usize> = HashMap::new();
        for e in &kept {
            for id in [e.from.as_str(), e.to.as_str()] {
                if !col.contains_key(id) {
                    col.insert(id, order.len());
                    order.push(id);
                }
            }
        }
        // A lifeline's roles depend on who sent what in which conversation, not on each repetition:
        // one event per (sender, conversation, key) gives `lifeline_roles` the same answer, and keeps it
        // fast on 100,000 arrows (it looks at every event for every lifeline).
        let mut seen = HashSet::new();
        let distinct: Vec<Event> = all
            .iter()
            .filter(|e| seen.insert((e.from.as_str(), e.conversation, e.key.as_str())))
            .cloned()
            .collect();
        let columns = order
            .iter()
            .map(|id| {
                let addr = events::lifeline_addr(id).to_string();
                let name = report
                    .hosts
                    .iter()
                    .find(|h| h.addr == addr)
                    .and_then(|h| h.name.clone());
                Column {
                    id: id.to_string(),
                    roles: events::lifeline_roles(report, &distinct, id)
                        .into_iter()
                        .map(|r| lang.role(r))
                        .collect(),
                    addr,
                    name,
                }
            })
            .collect();

        let conv_by_id: HashMap<u32, &analyze::report::Conversation> =
            report.conversations.iter().map(|c| (c.id, c)).collect();
        let events_json: Vec<Value> = kept
            .iter()
            .map(|e| {
                let (from_port, to_port) = match conv_by_id.get(&e.conversation) {
                    Some(c) => match e.sender {
                        Side::Client => (c.client.port, c.server.port),
                        Side::Server => (c.server.port, c.client.port),
                    },
                    None => (0, 0),
                };
                json!([
                    e.t,
                    col[e.from.as_str()],
                    col[e.to.as_str()],
                    kind_code(e.kind),
                    e.protocol,
                    e.conversation,
                    e.message.map_or(-1, |m| m as i64),
                    e.label,
                    from_port,
                    to_port
                ])
            })
            .collect();
        let owned: Vec<Event> = kept.iter().map(|e| (*e).clone()).collect();
        let rows = events::fold(&owned)
            .into_iter()
            .map(|r| [json!(r.index), json!(r.times), json!(r.t_last), json!(r.period)])
            .collect();

        let conversations = report
            .conversations
            .iter()
            .map(|c| ConversationRow {
                id: c.id,
                transport: c.transport,
                protocol: c.protocol.clone(),
                client: endpoint(&c.client),
                server: endpoint(&c.server),
                start: c.start,
                end: c.end,
                messages: c.client_to_server.messages + c.server_to_client.messages,
                omitted: c.messages_omitted,
                lifecycle: c.lifecycle.as_ref().map(|l| {
                    json!({
                        "summary": l.summary,
                        "opened": l.opened,
                        "closed": l.closed,
                        "zeek_state": l.zeek_state,
                        "zeek_history": l.zeek_history,
                    })
                }),
            })
            .collect();
        Flow {
            columns,
            protocols: protocols.into_iter().collect(),
            conversations,
            anomalies: report.anomalies.clone(),
            problems: report.problems.clone(),
            events: events_json,
            rows,
            omitted: report.conversations.iter().map(|c| c.messages_omitted).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(file: &str) -> Report {
        let path = format!("{}/../../testdata/pcaps/{file}", env!("CARGO_MANIFEST_DIR"));
        analyze::analyze_files(&[path], &analyze::Options::default())
            .unwrap()
            .report
    }

    /// The publisher's session of ArsyaDin's capture: handshake, CONNECT, PUBLISHes folded, and the
    /// columns in the order the SVG draws them.
    #[test]
    fn a_real_mqtt_capture_becomes_columns_arrows_and_folds() {
        let r = report("mqtt__ArsyaDin__MQTT.pcap");
        let f = Flow::build(&r, &Filter::default(), Lang::En);
        let ids: Vec<&str> = f.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids[..2], ["172.18.0.3", "172.18.0.2"]);
        assert!(f.columns[1].roles.contains(&"broker"), "{:?}", f.columns[1]);
        assert!(f.protocols.contains(&"MQTT".to_string()) && f.protocols.contains(&"TCP".to_string()));
        // Every message of the report is an event; the rows fold some of them.
        let messages: usize = r.conversations.iter().map(|c| c.messages.len()).sum();
        let data = f.events.iter().filter(|e| e[3] == "data").count();
        assert_eq!(data, messages);
        assert!(f.rows.len() < f.events.len(), "nothing folded");
        let connect = f
            .events
            .iter()
            .find(|e| e[7].as_str().is_some_and(|l| l.starts_with("CONNECT ")))
            .expect("a CONNECT arrow");
        assert_eq!(
            (connect[8].as_u64(), connect[9].as_u64()),
            (Some(36141), Some(1883))
        );
        // A folded row's period rows stand for times * period events.
        let folded = f
            .rows
            .iter()
            .find(|r| r[1].as_u64() > Some(1))
            .expect("a folded row");
        assert!(folded[3].as_u64() >= Some(1));
    }

    #[test]
    fn filters_narrow_the_arrows() {
        let r = report("mqtt__ArsyaDin__MQTT.pcap");
        let all = Flow::build(&r, &Filter::default(), Lang::En);
        let mqtt = Flow::build(
            &r,
            &Filter {
                conversation: None,
                protocols: ["MQTT".to_string()].into(),
            },
            Lang::En,
        );
        assert!(mqtt.events.len() < all.events.len());
        assert!(mqtt.events.iter().all(|e| e[4] == "MQTT"));
        let one = Flow::build(
            &r,
            &Filter {
                conversation: Some(2),
                protocols: BTreeSet::new(),
            },
            Lang::En,
        );
        assert!(!one.events.is_empty() && one.events.iter().all(|e| e[5] == 2));
        assert_eq!(one.columns.len(), 2);
    }
}
