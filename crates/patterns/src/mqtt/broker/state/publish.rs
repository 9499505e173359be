//! PUBLISH: a message comes in (§3.3, QoS flows §4.3), is matched against the subscriptions and
//! retained (§3.3.1.3), and goes out to each subscriber's session; back-pressure when a queue fills
//! (the queue policy is in the documentation of `state`, mod.rs).

use super::*;

impl Broker {
    /// A PUBLISH from session `sid`. Acknowledgements go to the publisher's outbox, copies to the
    /// subscribers'.
    pub fn publish(&mut self, sid: usize, p: PublishIn, now: Instant) -> Result<(), Violation> {
        // The codec already refused wildcards; an empty topic here means an unresolved 5.0 alias.
        topic::validate_name(&p.topic)
            .map_err(|e| Violation::new(ReasonCode::TopicNameInvalid, e.to_string()))?;
        let (client, v5, user, acl) = match self.session(sid) {
            Some(s) => (s.client_id.clone(), s.v5, s.username.clone(), s.auth.clone()),
            None => return Ok(()),
        };
        self.stats.publish_received += 1;
        self.stats.messages_received += 1;
        if p.qos == QoS::ExactlyOnce {
            let max = self.config.receive_maximum as usize;
            let s = self.session_mut(sid).expect("checked");
            if s.incoming_qos2.contains(&p.pid) {
                // A retransmission of a message already received: acknowledge again, deliver nothing
                // (4.3.3: "exactly once" is the receiver remembering the packet id until PUBREL).
                s.outbox.push_back(Out::PubRec {
                    pid: p.pid,
                    reason: ReasonCode::Success,
                });
                self.wake(sid);
                return Ok(());
            }
            if s.incoming_qos2.len() >= max {
                return Err(Violation::new(
                    ReasonCode::ReceiveMaximumExceeded,
                    format!("more than {max} QoS 2 messages unacknowledged at once, the broker's Receive Maximum (MQTT 5.0 §3.3.4)"),
                ));
            }
            s.incoming_qos2.push(p.pid);
        }
        // Topic ACL (write access), if configured.
        if !acl
            .as_deref()
            .unwrap_or(&self.auth)
            .can_write(&client, user.as_deref(), &p.topic)
        {
            tracing::warn!(client = %client, topic = %p.topic, "PUBLISH denied by the ACL; message dropped");
            let reason = if v5 {
                ReasonCode::NotAuthorized
            } else {
                ReasonCode::Success
            };
            self.ack_publish(sid, &p, reason);
            return Ok(());
        }
        let msg = Arc::new(Message {
            topic: p.topic.as_str().into(),
            payload: p.payload.clone(),
            qos: p.qos,
            retain: p.retain,
            props: p.props.clone(),
            received: now,
            from: Some(client.clone()),
            wire: Default::default(),
        });
        let delivered = self.route(msg, Some(sid), now);
        let reason = if delivered == 0 && v5 {
            ReasonCode::NoMatchingSubscribers
        } else {
            ReasonCode::Success
        };
        self.ack_publish(sid, &p, reason);
        Ok(())
    }

    pub(super) fn ack_publish(&mut self, sid: usize, p: &PublishIn, reason: ReasonCode) {
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.push_out(sid, Out::PubAck { pid: p.pid, reason }),
            QoS::ExactlyOnce => self.push_out(sid, Out::PubRec { pid: p.pid, reason }),
        }
    }

    /// PUBREL from a publisher: the QoS 2 message `pid` is released; answer PUBCOMP.
    pub fn pubrel(&mut self, sid: usize, pid: u16) {
        let Some(s) = self.session_mut(sid) else { return };
        let reason = match s.incoming_qos2.iter().position(|&p| p == pid) {
            Some(i) => {
                s.incoming_qos2.swap_remove(i);
                ReasonCode::Success
            }
            None if s.v5 => ReasonCode::PacketIdentifierNotFound,
            None => ReasonCode::Success,
        };
        self.push_out(sid, Out::PubComp { pid, reason });
    }

    /// Hand `msg` to every matching subscription; returns how many clients get a copy.
    pub(super) fn route(&mut self, msg: Arc<Message>, publisher: Option<usize>, now: Instant) -> usize {
        if msg.retain {
            // 3.1.1 §3.3.1.3: a retained message replaces the topic's previous one; an empty payload
            // deletes it.
            if msg.payload.is_empty() {
                if self.retained.remove(&msg.topic).is_some() {
                    tracing::info!(topic = %msg.topic, "retained message cleared");
                }
            } else {
                let replaced = self.retained.insert(msg.topic.clone(), msg.clone()).is_some();
                tracing::info!(topic = %msg.topic, replaced, "retained message stored");
            }
        }
        // One line per message for a student watching the broker (`-q` silences it in benchmarks).
        let log_each = publisher.is_some() && tracing::enabled!(tracing::Level::INFO);
        let mut names: Vec<String> = Vec::new();
        let mut found = std::mem::take(&mut self.scratch);
        found.clear();
        self.subs.matches(&msg.topic, &mut found);
        // No-local (5.0 §3.8.3.1): not back to the client that published it.
        found.retain(|e| !(e.group.is_none() && e.value.no_local && publisher == Some(e.sid)));
        // Shared subscriptions: one member per group gets the message, round robin.
        let mut groups_seen: Vec<u32> = Vec::new();
        found.retain(|e| match e.group {
            Some(g) => {
                if !groups_seen.contains(&g) {
                    groups_seen.push(g);
                }
                false
            }
            None => true,
        });
        for g in groups_seen {
            if let Some((sid, opts)) = self.pick_member(g) {
                found.push(Entry {
                    sid,
                    group: Some(g),
                    value: opts,
                });
            }
        }
        // Sort so all entries of one session are adjacent: one copy per client at the highest QoS
        // with every subscription identifier (3.1.1 §3.3.5; 5.0 §3.3.4). Shared ones are separate.
        found.sort_by_key(|e| (e.sid, e.group.is_some()));
        let matched = !found.is_empty();
        let mut delivered = 0;
        let mut j = 0;
        while j < found.len() {
            let sid = found[j].sid;
            let shared = found[j].group.is_some();
            let mut qos = QoS::AtMostOnce;
            let mut rap = false;
            let mut sub_ids = Vec::new();
            while j < found.len() && found[j].sid == sid && found[j].group.is_some() == shared {
                let o = &found[j].value;
                qos = qos.max(o.qos);
                rap |= o.retain_as_published;
                if let Some(id) = o.sub_id {
                    sub_ids.push(id);
                }
                j += 1;
            }
            if self.any_acl {
                let ok = self
                    .session(sid)
                    .map(|s| {
                        s.auth.as_deref().unwrap_or(&self.auth).can_read(
                            &s.client_id,
                            s.username.as_deref(),
                            &msg.topic,
                        )
                    })
                    .unwrap_or(false);
                if !ok {
                    continue;
                }
            }
            let qos = qos.min(msg.qos);
            let retain = rap && msg.retain;
            if self.deliver(sid, msg.clone(), qos, retain, sub_ids, now) {
                delivered += 1;
                if log_each && names.len() < 5 {
                    if let Some(s) = self.session(sid) {
                        names.push(format!("{} (QoS {})", s.client_id, qos as u8));
                    }
                }
            }
        }
        self.scratch = found;
        if !matched {
            self.stats.publish_unmatched += 1;
            if !msg.topic.starts_with('$') {
                self.explain_no_match(&msg.topic);
            }
        } else if log_each {
            let more = if delivered > names.len() {
                format!(" and {} more", delivered - names.len())
            } else {
                String::new()
            };
            tracing::info!(
                topic = %msg.topic,
                qos = msg.qos as u8,
                bytes = msg.payload.len(),
                "PUBLISH delivered to {}{more}",
                names.join(", ")
            );
        }
        delivered
    }

    pub(super) fn pick_member(&mut self, g: u32) -> Option<(usize, SubOpts)> {
        let group = self.groups.get(g as usize)?;
        let n = group.members.len();
        if n == 0 {
            return None;
        }
        // Prefer a connected member; if none is, queue at the next one (it has a session).
        let online = |sid: usize| {
            self.sessions
                .get(sid)
                .and_then(|s| s.as_ref())
                .is_some_and(|s| s.conn.is_some())
        };
        let k = (0..n)
            .find(|k| online(group.members[(group.cursor + k) % n].0))
            .unwrap_or(0);
        let i = (group.cursor + k) % n;
        let pick = group.members[i];
        self.groups[g as usize].cursor = (i + 1) % n;
        Some(pick)
    }

    /// A retained message sent at QoS 0 because of a SUBSCRIBE: into the outbox whatever its length
    /// (see the queue policy at the top), with RETAIN set (MQTT 3.1.1 §3.3.1.3).
    pub(super) fn deliver_retained_qos0(&mut self, sid: usize, msg: Arc<Message>, sub_ids: Vec<u32>) {
        let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) else {
            return;
        };
        if s.conn.is_none() {
            return;
        }
        s.outbox.push_back(Out::Publish(Delivery {
            msg,
            qos: QoS::AtMostOnce,
            pid: 0,
            dup: false,
            retain: true,
            sub_ids,
        }));
        self.stats.publish_sent += 1;
        self.stats.messages_sent += 1;
        self.wake(sid);
    }

    /// Queue one copy for one client. Returns false if it was dropped.
    pub(super) fn deliver(
        &mut self,
        sid: usize,
        msg: Arc<Message>,
        qos: QoS,
        retain: bool,
        sub_ids: Vec<u32>,
        now: Instant,
    ) -> bool {
        let max_outbox = self.config.max_outbox;
        let max_queued = self.config.max_queued;
        let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) else {
            return false;
        };
        if qos == QoS::AtMostOnce {
            if s.conn.is_none() {
                return false;
            }
            if s.outbox.len() >= max_outbox {
                self.stats.publish_dropped_qos0 += 1;
                s.dropped_burst += 1;
                if s.dropped_burst == 1 {
                    tracing::warn!(client = %s.client_id, queued = s.outbox.len(), "client is not reading fast enough: dropping QoS 0 messages for it (counted in $SYS/broker/messages/dropped)");
                }
                return false;
            }
            s.dropped_burst = 0;
            s.outbox.push_back(Out::Publish(Delivery {
                msg,
                qos,
                pid: 0,
                dup: false,
                retain,
                sub_ids,
            }));
            if s.outbox.len() >= max_outbox / 2 {
                // Half full: slow the publisher down before anything has to be dropped.
                self.pressure(sid, now);
            }
            self.stats.publish_sent += 1;
            self.stats.messages_sent += 1;
            self.wake(sid);
            return true;
        }
        if s.conn.is_some() && s.queued.is_empty() && s.inflight.len() < usize::from(s.window) {
            let pid = s.alloc_pid();
            let d = Delivery {
                msg,
                qos,
                pid,
                dup: false,
                retain,
                sub_ids,
            };
            s.outbox.push_back(Out::Publish(d.clone()));
            s.inflight.push_back(Inflight {
                d,
                state: Flight::AwaitAck,
            });
            self.stats.publish_sent += 1;
            self.stats.messages_sent += 1;
            self.wake(sid);
            return true;
        }
        if s.queued.len() >= max_queued {
            self.stats.publish_dropped_qos12 += 1;
            s.dropped_burst += 1;
            if s.dropped_burst == 1 || s.dropped_burst % 1000 == 0 {
                tracing::warn!(
                    client = %s.client_id,
                    topic = %msg.topic,
                    queued = s.queued.len(),
                    dropped_so_far = s.dropped_burst,
                    "queue full: QoS {} message dropped for this client (max_queued = {max_queued}; counted in $SYS/broker/messages/dropped)",
                    qos as u8
                );
            }
            return false;
        }
        s.queued.push_back(Waiting {
            msg,
            qos,
            retain,
            sub_ids,
        });
        if s.conn.is_some() && s.queued.len() >= max_queued / 2 {
            self.pressure(sid, now);
        }
        true
    }

    /// Session `sid` has a queue over half full: ask the server to pause the publisher, unless this
    /// client has not drained for a second (then it is stuck, and pausing publishers for it would let
    /// one client that stopped reading slow everyone down; its queue limit applies instead).
    pub(super) fn pressure(&mut self, sid: usize, now: Instant) {
        let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) else {
            return;
        };
        let since = *s.congested_since.get_or_insert(now);
        if now.duration_since(since) < Duration::from_secs(1) && !self.congested.contains(&sid) {
            self.congested.push(sid);
        }
    }

    /// Move waiting QoS 1/2 messages into the in-flight window while there is room.
    pub(super) fn fill_window(&mut self, sid: usize, now: Instant) {
        let Some(s) = self.sessions.get_mut(sid).and_then(|s| s.as_mut()) else {
            return;
        };
        if s.conn.is_none() {
            return;
        }
        if s.queued.len() <= self.config.max_queued / 4 {
            s.congested_since = None; // it drains: a live client, not a stuck one
        }
        let mut sent = 0;
        while s.inflight.len() < usize::from(s.window) {
            let Some(w) = s.queued.pop_front() else { break };
            if w.msg.expired(now) {
                continue; // 5.0 §3.3.2.3.3: an expired message is not sent
            }
            let pid = s.alloc_pid();
            let d = Delivery {
                msg: w.msg,
                qos: w.qos,
                pid,
                dup: false,
                retain: w.retain,
                sub_ids: w.sub_ids,
            };
            s.outbox.push_back(Out::Publish(d.clone()));
            s.inflight.push_back(Inflight {
                d,
                state: Flight::AwaitAck,
            });
            sent += 1;
        }
        if sent > 0 {
            self.stats.publish_sent += sent;
            self.stats.messages_sent += sent;
            self.wake(sid);
        }
        self.release_waiters(sid);
    }
}
