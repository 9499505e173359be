//! SUBSCRIBE and UNSUBSCRIBE (§3.8, §3.10), shared subscriptions (5.0 §4.8.2).

use super::*;

impl Broker {
    /// SUBSCRIBE: answer SUBACK with one code per filter, then send the matching retained messages.
    pub fn subscribe(
        &mut self,
        sid: usize,
        pid: u16,
        reqs: Vec<SubReq>,
        now: Instant,
    ) -> Result<(), Violation> {
        let Some(s) = self.session(sid) else { return Ok(()) };
        let (client, user, v5, acl) = (s.client_id.clone(), s.username.clone(), s.v5, s.auth.clone());
        let mut codes = Vec::with_capacity(reqs.len());
        let mut retained_to_send: Vec<(String, SubOpts)> = Vec::new();
        for r in reqs {
            let sh = match topic::validate_filter(&r.filter) {
                Ok(()) => shared_parts(&r.filter),
                Err(why) => {
                    tracing::warn!(client = %client, filter = %r.filter, "SUBSCRIBE refused: {why}");
                    if !v5 {
                        // 3.1.1 §4.8: a malformed filter is a protocol violation... Mosquitto closes
                        // the connection; we answer 0x80 (failure) so the student sees which one.
                        codes.push(ReasonCode::UnspecifiedError);
                    } else {
                        codes.push(ReasonCode::TopicFilterInvalid);
                    }
                    continue;
                }
            };
            if sh.is_some() && r.opts.no_local {
                return Err(Violation::new(
                    ReasonCode::ProtocolError,
                    "no-local on a shared subscription (MQTT 5.0 §3.8.3.1)",
                ));
            }
            let real_filter = sh.map(|(_, f)| f).unwrap_or(&r.filter);
            if !acl
                .as_deref()
                .unwrap_or(&self.auth)
                .can_subscribe(&client, user.as_deref(), real_filter)
            {
                tracing::warn!(client = %client, filter = %r.filter, "SUBSCRIBE denied by the ACL");
                codes.push(if v5 {
                    ReasonCode::NotAuthorized
                } else {
                    ReasonCode::UnspecifiedError
                });
                continue;
            }
            let key: Arc<str> = r.filter.as_str().into();
            let existed = self.session(sid).is_some_and(|s| s.subs.contains_key(&key));
            let group = sh.map(|(g, f)| self.group_id(g, f));
            if let Some(g) = group {
                let members = &mut self.groups[g as usize].members;
                match members.iter_mut().find(|m| m.0 == sid) {
                    Some(m) => m.1 = r.opts,
                    None => members.push((sid, r.opts)),
                }
            }
            self.subs.insert(
                real_filter,
                Entry {
                    sid,
                    group,
                    value: r.opts,
                },
            );
            self.session_mut(sid).expect("checked").subs.insert(key, r.opts);
            codes.push(ReasonCode::granted(r.opts.qos));
            tracing::info!(
                client = %client,
                filter = %r.filter,
                qos = r.opts.qos as u8,
                replaced = existed,
                "subscribed"
            );
            // Retained messages (3.1.1 §3.3.1.3; 5.0 retain handling §3.8.3.1; none for shared ones).
            let send = group.is_none()
                && match r.opts.retain_handling {
                    0 => true,
                    1 => !existed,
                    _ => false,
                };
            if send {
                retained_to_send.push((real_filter.to_string(), r.opts));
            }
        }
        self.push_out(sid, Out::SubAck { pid, codes });
        for (filter, opts) in retained_to_send {
            let mut msgs: Vec<Arc<Message>> = if !topic::has_wildcards(&filter) {
                self.retained.get(filter.as_str()).cloned().into_iter().collect()
            } else {
                self.retained
                    .values()
                    .filter(|m| topic::matches(&filter, &m.topic))
                    .cloned()
                    .collect()
            };
            msgs.sort_by(|a, b| a.topic.cmp(&b.topic));
            for m in msgs {
                if m.expired(now) {
                    continue;
                }
                let qos = opts.qos.min(m.qos);
                let ids = opts.sub_id.into_iter().collect();
                if qos == QoS::AtMostOnce {
                    self.deliver_retained_qos0(sid, m, ids);
                } else {
                    self.deliver(sid, m, qos, true, ids, now);
                }
            }
        }
        Ok(())
    }

    pub(super) fn group_id(&mut self, group: &str, filter: &str) -> u32 {
        let key = (group.to_string(), filter.to_string());
        if let Some(&g) = self.group_ids.get(&key) {
            return g;
        }
        let g = self.groups.len() as u32;
        self.groups.push(Group {
            members: Vec::new(),
            cursor: 0,
        });
        self.group_ids.insert(key, g);
        g
    }

    pub(super) fn remove_sub(&mut self, sid: usize, filter: &str) -> bool {
        match shared_parts(filter) {
            Some((g, f)) => {
                let Some(&gid) = self.group_ids.get(&(g.to_string(), f.to_string())) else {
                    return false;
                };
                self.groups[gid as usize].members.retain(|m| m.0 != sid);
                self.subs.remove(f, sid, Some(gid))
            }
            _ => self.subs.remove(filter, sid, None),
        }
    }

    /// UNSUBSCRIBE: answer UNSUBACK (5.0: one code per filter).
    pub fn unsubscribe(&mut self, sid: usize, pid: u16, filters: Vec<String>) {
        let Some(s) = self.session(sid) else { return };
        let client = s.client_id.clone();
        let mut codes = Vec::with_capacity(filters.len());
        for f in filters {
            let had = self
                .session_mut(sid)
                .expect("checked")
                .subs
                .remove(f.as_str())
                .is_some();
            if had {
                self.remove_sub(sid, &f);
                tracing::info!(client = %client, filter = %f, "unsubscribed");
                codes.push(ReasonCode::Success);
            } else {
                codes.push(ReasonCode::NoSubscriptionExisted);
            }
        }
        self.push_out(sid, Out::UnsubAck { pid, codes });
    }
}
