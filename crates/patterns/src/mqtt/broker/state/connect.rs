//! CONNECT: a client arrives, its session is found, resumed or made (MQTT 3.1.1 §3.1,
//! 5.0 §3.1; sessions §4.1), and CONNACK says what became of it.

use super::*;

impl Broker {
    /// A CONNECT arrived on connection `conn`, from a client whose credentials the caller has already
    /// accepted with `Auth::authenticate` (server.rs does it before it takes the broker's lock).
    pub fn connect(&mut self, conn: u64, req: ConnectReq, now: Instant) -> ConnectOutcome {
        // The username and password were checked before (`Auth::authenticate`, in server.rs: hashing
        // is too slow for this lock and the event loop); here the username only selects ACL rules.
        // Keep-alive cap (5.0 §3.2.2.3.14: Server Keep Alive; 3.1.1 has no way to say it: refuse).
        let mut server_keep_alive = None;
        let mut keep_alive = req.keep_alive;
        if self.config.max_keepalive < 65535 && (keep_alive == 0 || keep_alive > self.config.max_keepalive) {
            if req.v5 {
                keep_alive = self.config.max_keepalive;
                server_keep_alive = Some(keep_alive);
            } else if keep_alive > self.config.max_keepalive {
                return ConnectOutcome::Refused {
                    reason: ReasonCode::ClientIdentifierNotValid,
                    why: format!(
                        "keep-alive {}s is above this broker's maximum of {}s (MQTT 3.1.1 cannot be told a smaller one)",
                        req.keep_alive, self.config.max_keepalive
                    ),
                };
            }
        }
        // Session lifetime: 3.1.1 clean session 1 = ends with the connection, 0 = never ends.
        let mut expiry = if req.v5 {
            req.session_expiry.min(self.config.max_session_expiry)
        } else if req.clean_start {
            0
        } else {
            self.config.max_session_expiry
        };
        // Zero-length client id (3.1.1 §3.1.3.1; 5.0 §3.1.3.1): the broker assigns one; 3.1.1 only
        // allows it with clean session 1.
        let mut assigned = None;
        let client_id: Arc<str> = if req.client_id.is_empty() {
            if !req.v5 && !req.clean_start {
                return ConnectOutcome::Refused {
                    reason: ReasonCode::ClientIdentifierNotValid,
                    why: "an empty client id needs clean session 1: a session the client cannot name could never be resumed (MQTT 3.1.1 §3.1.3.1)".into(),
                };
            }
            let id = loop {
                let id = format!(
                    "sister-auto-{:x}-{}",
                    self.started.elapsed().as_micros() as u64 & 0xffff_ffff,
                    self.next_auto_id
                );
                self.next_auto_id += 1;
                if !self.by_id.contains_key(id.as_str()) {
                    break id;
                }
            };
            if req.v5 {
                assigned = Some(id.clone());
            } else {
                // 3.1.1 cannot tell the client its id; it is ours only, and the session ends with it.
                expiry = 0;
            }
            id.into()
        } else {
            req.client_id.as_str().into()
        };

        let mut kicked = None;
        let mut session_present = false;
        let sid = match self.find(&client_id) {
            Some(sid) => {
                // Takeover: the old connection is closed (3.1.1 §3.1.4 step 2; 5.0: DISCONNECT 0x8E).
                if let Some(old) = self.sessions[sid].as_ref().and_then(|s| s.conn) {
                    kicked = Some(old);
                    self.connection_lost(
                        sid,
                        old,
                        Ending::Abnormal(
                            "session taken over by a new connection with the same client id".into(),
                        ),
                        now,
                    );
                }
                if req.clean_start || self.session(sid).is_none() {
                    if self.session(sid).is_some() {
                        self.end_session(sid, now);
                    }
                    self.new_session(client_id.clone())
                } else {
                    session_present = true;
                    sid
                }
            }
            None => self.new_session(client_id.clone()),
        };
        let window = if req.v5 {
            req.receive_maximum.min(self.config.max_inflight).max(1)
        } else {
            self.config.max_inflight.max(1)
        };
        let s = self.sessions[sid]
            .as_mut()
            .expect("session just created or found");
        s.conn = Some(conn);
        s.v5 = req.v5;
        s.username = req.username.as_deref().map(Arc::from);
        s.auth = req.auth.clone();
        self.any_acl |= req.auth.as_ref().is_some_and(|a| a.has_acl());
        s.window = window;
        s.expiry = expiry;
        s.expires_at = None;
        // A client that is back before its will delay has passed cancels the will (5.0 §3.1.3.2.2).
        s.will_at = None;
        s.will = req.will.map(Box::new);
        s.keep_alive = keep_alive;
        s.heard_at = Some(now);
        s.outbox.clear();
        s.woken = false;
        s.dropped_burst = 0;
        if !req.clean_start {
            // 3.1.1 §4.4: on reconnect with a session, resend unacknowledged PUBLISH (DUP set) and PUBREL.
            for f in s.inflight.iter_mut() {
                let out = match f.state {
                    Flight::AwaitAck => {
                        f.d.dup = true;
                        Out::Publish(f.d.clone())
                    }
                    Flight::AwaitComp => Out::PubRel {
                        pid: f.d.pid,
                        reason: ReasonCode::Success,
                    },
                };
                s.outbox.push_back(out);
            }
        }
        self.stats.clients_connected += 1;
        self.stats.clients_total_connects += 1;
        self.stats.clients_maximum = self.stats.clients_maximum.max(self.stats.clients_connected);
        self.fill_window(sid, now);
        self.wake(sid);
        tracing::info!(
            client = %client_id,
            version = if req.v5 { "5.0" } else { "3.1.1" },
            clean = req.clean_start,
            keep_alive,
            session_present,
            session_expiry = %if expiry == u32::MAX { "never".to_string() } else { format!("{expiry}s") },
            will = self.session(sid).and_then(|s| s.will.as_ref()).map(|w| w.topic.as_str()).unwrap_or("-"),
            "client connected"
        );
        ConnectOutcome::Accepted {
            sid,
            session_present,
            assigned_client_id: assigned,
            server_keep_alive,
            keep_alive,
            kicked,
        }
    }

    pub(super) fn new_session(&mut self, client_id: Arc<str>) -> usize {
        let s = Session::new(client_id.clone());
        let sid = match self.free.pop() {
            Some(i) => {
                self.sessions[i] = Some(s);
                i
            }
            None => {
                self.sessions.push(Some(s));
                self.sessions.len() - 1
            }
        };
        self.by_id.insert(client_id, sid);
        sid
    }

    /// End a session: publish a pending will, drop its subscriptions and queues.
    pub(super) fn end_session(&mut self, sid: usize, now: Instant) {
        let Some(mut s) = self.sessions.get_mut(sid).and_then(|s| s.take()) else {
            return;
        };
        // 5.0 §3.1.3.2.2: the will is sent when the will delay passes or the session ends, first of both.
        if s.will_at.is_some() {
            if let Some(w) = s.will.take() {
                self.publish_will(&s.client_id, *w, now);
            }
        }
        for (filter, _) in std::mem::take(&mut s.subs) {
            self.remove_sub(sid, &filter);
        }
        let lost = s.queued.len() + s.inflight.len();
        if lost > 0 {
            tracing::info!(client = %s.client_id, messages = lost, "session ended with undelivered QoS 1/2 messages; they are discarded");
        }
        self.by_id.remove(&s.client_id);
        self.free.push(sid);
        tracing::debug!(client = %s.client_id, "session ended");
    }
}
