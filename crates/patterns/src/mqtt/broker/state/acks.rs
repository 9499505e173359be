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

    pub fn pingreq(&mut self, sid: usize) {
        self.push_out(sid, Out::PingResp);
    }
}
