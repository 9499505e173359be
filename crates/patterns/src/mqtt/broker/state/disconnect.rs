//! DISCONNECT and lost connections: wills (§3.1.2.5), session expiry (5.0 §3.1.2.11.2) and
//! the keep-alive timer (3.1.1 §3.1.2.10).

use super::*;

impl Broker {
    /// The client sent DISCONNECT. `session_expiry` is 5.0's optional new interval (§3.14.2.2.2).
    pub fn disconnect(
        &mut self,
        sid: usize,
        conn: u64,
        reason: ReasonCode,
        session_expiry: Option<u32>,
        now: Instant,
    ) -> Result<(), Violation> {
        if let Some(new) = session_expiry {
            if let Some(s) = self.session_mut(sid) {
                // §3.14.2.2.2: a session that was to end with the connection cannot be revived here.
                if s.expiry == 0 && new != 0 {
                    let v = Violation::new(ReasonCode::ProtocolError, "DISCONNECT set a session expiry interval after CONNECT had set 0 (MQTT 5.0 §3.14.2.2.2)");
                    self.connection_lost(sid, conn, Ending::Abnormal(v.why.clone()), now);
                    return Err(v);
                }
                s.expiry = new;
            }
        }
        let ending = if reason == ReasonCode::DisconnectWithWillMessage {
            Ending::WithWill
        } else {
            Ending::Normal
        };
        self.connection_lost(sid, conn, ending, now);
        Ok(())
    }

    /// The connection `conn` of session `sid` is gone (DISCONNECT, error, timeout, takeover).
    pub fn connection_lost(&mut self, sid: usize, conn: u64, ending: Ending, now: Instant) {
        let Some(s) = self.session_mut(sid) else { return };
        if s.conn != Some(conn) {
            return; // already taken over by a newer connection
        }
        s.conn = None;
        s.woken = false;
        // QoS 0 packets not yet written are lost with the connection; QoS 1/2 stay in flight and are
        // sent again on reconnect.
        s.outbox.clear();
        let client = s.client_id.clone();
        let will = match ending {
            Ending::Normal => {
                s.will = None; // 3.1.1 §3.14.4: a clean DISCONNECT discards the will
                None
            }
            Ending::WithWill | Ending::Abnormal(_) => s.will.as_ref().map(|w| w.delay),
        };
        let expiry = s.expiry;
        self.stats.clients_connected = self.stats.clients_connected.saturating_sub(1);
        match &ending {
            Ending::Normal => tracing::info!(client = %client, "client disconnected (DISCONNECT)"),
            Ending::WithWill => {
                tracing::info!(client = %client, "client disconnected (DISCONNECT asking for its will)")
            }
            Ending::Abnormal(why) => tracing::info!(client = %client, "client connection lost: {why}"),
        }
        if let Some(delay) = will {
            if delay == 0 || expiry == 0 {
                let s = self.session_mut(sid).expect("checked above");
                let w = s.will.take().expect("will checked above");
                self.publish_will(&client, *w, now);
            } else {
                let s = self.session_mut(sid).expect("checked above");
                s.will_at = Some(now + Duration::from_secs(delay as u64));
                tracing::info!(client = %client, delay_s = delay, "will message scheduled (5.0 will delay)");
            }
        }
        if expiry == 0 {
            self.end_session(sid, now);
        } else if expiry != u32::MAX {
            let s = self.session_mut(sid).expect("checked above");
            s.expires_at = Some(now + Duration::from_secs(expiry as u64));
        }
    }

    pub(super) fn publish_will(&mut self, client: &Arc<str>, w: Will, now: Instant) {
        tracing::info!(client = %client, topic = %w.topic, "publishing the will message");
        let msg = Message {
            topic: w.topic.as_str().into(),
            payload: w.payload,
            qos: w.qos,
            retain: w.retain,
            props: w.props,
            received: now,
            from: Some(client.clone()),
            wire: Default::default(),
        };
        self.route(Arc::new(msg), None, now);
    }

    /// Let time pass: close connections silent for too long, send wills whose delay is over and end
    /// sessions whose expiry is over. Call about once a second.
    pub fn tick(&mut self, now: Instant) {
        for sid in 0..self.sessions.len() {
            let Some(s) = self.sessions[sid].as_mut() else {
                continue;
            };
            if s.conn.is_some() {
                // 3.1.1 §3.1.2.10: one and a half times the keep-alive without a packet ends the
                // connection. Checked here, once a second for every client, rather than by a timer in
                // each connection's task: an idle client then costs no timer (memory per idle client).
                let grace = Duration::from_millis(s.keep_alive as u64 * 1500);
                if s.keep_alive > 0 && s.heard_at.is_some_and(|t| now >= t + grace) {
                    let text = format!(
                        "nothing received for 1.5 x keep-alive ({}s) (MQTT 3.1.1 §3.1.2.10)",
                        s.keep_alive
                    );
                    s.keep_alive = 0; // asked once; the connection is closing
                    s.outbox.push_front(Out::Disconnect {
                        reason: ReasonCode::KeepAliveTimeout,
                        text,
                    });
                    self.wake(sid);
                }
                continue;
            }
            if s.will_at.is_some_and(|t| t <= now) {
                s.will_at = None;
                let client = s.client_id.clone();
                if let Some(w) = s.will.take() {
                    self.publish_will(&client, *w, now);
                }
            }
            let Some(s) = self.sessions[sid].as_ref() else {
                continue;
            };
            if s.expires_at.is_some_and(|t| t <= now) {
                tracing::info!(client = %s.client_id, "session expired");
                self.end_session(sid, now);
            }
        }
    }
}
