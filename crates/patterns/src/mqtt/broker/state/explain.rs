//! Explaining to a student what the broker did (a PUBLISH nobody was subscribed to: a topic one
//! edit away), and the `$SYS` topics Mosquitto also publishes.

use super::*;

impl Broker {
    /// Log that a PUBLISH reached nobody, naming the nearest existing subscriptions: the student's
    /// `sister/channel/gaming` vs `sister/channel/kesehatan` mistake, seen from the one place that can.
    pub(super) fn explain_no_match(&self, topic: &str) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let mut near: Vec<(usize, usize, String, String)> = Vec::new(); // (-common levels, distance, filter, client)
        for s in self.sessions.iter().flatten() {
            for f in s.subs.keys() {
                let plain = shared_parts(f).map(|(_, f)| f).unwrap_or(f);
                let common = plain
                    .split('/')
                    .zip(topic.split('/'))
                    .take_while(|(a, b)| a == b || *a == "+")
                    .count();
                let dist = edit_distance(plain, topic);
                near.push((usize::MAX - common, dist, f.to_string(), s.client_id.to_string()));
            }
        }
        near.sort();
        near.dedup_by(|a, b| a.2 == b.2);
        if near.is_empty() {
            tracing::info!(topic = %topic, "PUBLISH matched no subscription: nobody has subscribed to anything yet, so the message is dropped");
            return;
        }
        let list: Vec<String> = near
            .iter()
            .take(3)
            .map(|(_, _, f, c)| format!("`{f}` (client {c})"))
            .collect();
        tracing::info!(
            topic = %topic,
            "PUBLISH matched no subscription, so the message is dropped; nearest subscriptions: {}. A topic must match a filter level by level, exactly (wildcards: + one level, # the rest)",
            list.join(", ")
        );
    }

    // ---- $SYS ----------------------------------------------------------------------------------------

    /// Publish the statistics as retained messages under `$SYS/broker/` (as Mosquitto does).
    pub fn publish_sys(&mut self, now: Instant) {
        let st = self.stats.clone();
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let offline = self.by_id.len() as u64 - st.clients_connected.min(self.by_id.len() as u64);
        let items: Vec<(&str, String)> = vec![
            ("version", format!("sister {}", env!("CARGO_PKG_VERSION"))),
            ("uptime", format!("{uptime} seconds")),
            ("clients/connected", st.clients_connected.to_string()),
            ("clients/disconnected", offline.to_string()),
            ("clients/total", (st.clients_connected + offline).to_string()),
            ("clients/maximum", st.clients_maximum.to_string()),
            ("messages/received", st.messages_received.to_string()),
            ("messages/sent", st.messages_sent.to_string()),
            (
                "messages/dropped",
                (st.publish_dropped_qos0 + st.publish_dropped_qos12).to_string(),
            ),
            ("publish/messages/received", st.publish_received.to_string()),
            ("publish/messages/sent", st.publish_sent.to_string()),
            (
                "publish/messages/dropped/qos0",
                st.publish_dropped_qos0.to_string(),
            ),
            (
                "publish/messages/dropped/qos12",
                st.publish_dropped_qos12.to_string(),
            ),
            ("publish/messages/unmatched", st.publish_unmatched.to_string()),
            ("bytes/received", st.bytes_received.to_string()),
            ("bytes/sent", st.bytes_sent.to_string()),
            ("retained messages/count", self.retained.len().to_string()),
            ("subscriptions/count", self.subs.len().to_string()),
        ];
        for (name, value) in items {
            let msg = Message {
                topic: format!("$SYS/broker/{name}").into(),
                payload: Bytes::from(value),
                qos: QoS::AtMostOnce,
                retain: true,
                props: MsgProps::default(),
                received: now,
                from: None,
                wire: Default::default(),
            };
            // Quietly: these are not the student's messages.
            let msg = Arc::new(msg);
            self.retained.insert(msg.topic.clone(), msg.clone());
            let mut found = std::mem::take(&mut self.scratch);
            found.clear();
            self.subs.matches(&msg.topic, &mut found);
            found.sort_by_key(|e| e.sid);
            found.dedup_by_key(|e| e.sid);
            for e in &found {
                self.deliver(e.sid, msg.clone(), QoS::AtMostOnce, true, Vec::new(), now);
            }
            self.scratch = found;
        }
    }
}
