//! Acknowledgements from subscribers: PUBACK, PUBREC, PUBCOMP (§4.3.2, §4.3.3), and PINGREQ.

use super::*;

impl Broker {
    /// PUBACK (QoS 1 delivery done). Returns a violation for a packet id that is not in flight in 3.1.1?
    /// No: an unknown id is ignored (it may be a late duplicate), as Mosquitto does.
    pub fn puback(&mut self, sid: usize, pid: u16, now: Instant) {
        self.finish(sid, pid, QoS::AtLeastOnce, Flight::AwaitAck, now);
    }

    /// PUBCOMP (QoS 2 delivery done).
    pub fn pubcomp(&mut self, sid: usize, pid: u16, now: Instant) {
        self.finish(sid, pid, QoS::ExactlyOnce, Flight::AwaitComp, now);
    }

    pub(super) fn finish(&mut self, sid: usize, pid: u16, qos: QoS, state: Flight, now: Instant) {
        let Some(s) = self.session_mut(sid) else { return };
        if let Some(i) = s
            .inflight
            .iter()
            .position(|f| f.d.pid == pid && f.d.qos == qos && f.state == state)
        {
            s.inflight.remove(i);
            self.fill_window(sid, now);
        } else {
            tracing::debug!(client = %s.client_id, pid, "acknowledgement for a packet id not in flight; ignored");
        }
    }

    /// PUBREC (QoS 2, first half): answer PUBREL. A 5.0 PUBREC with an error code ends the flow.
    pub fn pubrec(&mut self, sid: usize, pid: u16, reason: ReasonCode, now: Instant) {
        let Some(s) = self.session_mut(sid) else { return };
        let Some(i) = s
            .inflight
            .iter()
            .position(|f| f.d.pid == pid && f.d.qos == QoS::ExactlyOnce)
        else {
            let reason = if s.v5 {
                ReasonCode::PacketIdentifierNotFound
            } else {
                ReasonCode::Success
            };
            self.push_out(sid, Out::PubRel { pid, reason });
            return;
        };
        if !reason.is_success() {
            s.inflight.remove(i);
            self.fill_window(sid, now);
            return;
        }
        s.inflight[i].state = Flight::AwaitComp;
        self.push_out(
            sid,
            Out::PubRel {
                pid,
                reason: ReasonCode::Success,
            },
        );
    }

    /// The QoS 1/2 deliveries the connection did not write because they were larger than its
    /// client's Maximum Packet Size: "the Server MUST discard it without sending it and then behave
    /// as if it had completed sending that Application Message" (5.0 §3.1.2.11.4, [MQTT-3.1.2-25]).
    /// So each is finished as if acknowledged: QoS 1 as by a PUBACK, QoS 2 as by a PUBREC with an
    /// error code, which ends the flow. Otherwise it would hold its place in the in-flight window
    /// forever. Cheap when there are none (the common case: called at every write of a connection).
    pub fn ack_skipped(&mut self, sid: usize, rules: &mut ConnRules, now: Instant) {
        for (pid, qos) in rules.drain_skipped() {
            match qos {
                QoS::AtLeastOnce => self.puback(sid, pid, now),
                _ => self.pubrec(sid, pid, ReasonCode::UnspecifiedError, now),
            }
        }
    }

    pub fn pingreq(&mut self, sid: usize) {
        self.push_out(sid, Out::PingResp);
    }
}
