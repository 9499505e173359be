use super::*;
use wire::mqtt::{Decoder, Packet, Properties, Version};

fn broker() -> Broker {
    Broker::new(Config::default(), Auth::default(), Instant::now())
}

fn req(id: &str, v5: bool, clean: bool) -> ConnectReq {
    ConnectReq {
        client_id: id.into(),
        v5,
        clean_start: clean,
        keep_alive: 60,
        session_expiry: 0,
        receive_maximum: 65535,
        will: None,
        username: None,
        auth: None,
    }
}

fn connect(b: &mut Broker, conn: u64, r: ConnectReq) -> usize {
    match b.connect(conn, r, Instant::now()) {
        ConnectOutcome::Accepted { sid, .. } => sid,
        other => panic!("refused: {other:?}"),
    }
}

fn outbox(b: &mut Broker, sid: usize, conn: u64) -> Vec<Out> {
    let mut q = VecDeque::new();
    b.take_outbox(sid, conn, &mut q);
    q.into_iter().collect()
}

/// 3.1.1 §3.1.2.10: the tick closes a connection silent for 1.5 x its keep-alive, and a packet
/// from the client (`heard_from`) starts the count again.
#[test]
fn the_tick_closes_a_connection_silent_for_one_and_a_half_keep_alives() {
    let mut b = broker();
    let mut r = req("sleepy", true, true);
    r.keep_alive = 2;
    let t0 = Instant::now();
    let sid = match b.connect(1, r, t0) {
        ConnectOutcome::Accepted { sid, .. } => sid,
        other => panic!("refused: {other:?}"),
    };
    outbox(&mut b, sid, 1);
    b.tick(t0 + Duration::from_millis(2900));
    assert!(
        outbox(&mut b, sid, 1).is_empty(),
        "closed before 1.5 x keep-alive"
    );
    b.heard_from(sid, t0 + Duration::from_secs(2));
    b.tick(t0 + Duration::from_millis(4900));
    assert!(outbox(&mut b, sid, 1).is_empty(), "a packet restarts the count");
    b.tick(t0 + Duration::from_millis(5000));
    let out = outbox(&mut b, sid, 1);
    assert!(
        matches!(
            &out[..],
            [Out::Disconnect {
                reason: ReasonCode::KeepAliveTimeout,
                ..
            }]
        ),
        "{out:?}"
    );
    b.tick(t0 + Duration::from_secs(9));
    assert!(outbox(&mut b, sid, 1).is_empty(), "asked once");
}

fn publishes(out: &[Out]) -> Vec<(String, Vec<u8>, u8, u16, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Publish(d) => Some((
                d.msg.topic.to_string(),
                d.msg.payload.to_vec(),
                d.qos as u8,
                d.pid,
                d.retain,
            )),
            _ => None,
        })
        .collect()
}

fn pubin(topic: &str, payload: &str, qos: QoS, pid: u16) -> PublishIn {
    PublishIn {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        retain: false,
        dup: false,
        pid,
        props: MsgProps::default(),
    }
}

fn sub(b: &mut Broker, sid: usize, filter: &str, qos: QoS) {
    b.subscribe(
        sid,
        1,
        vec![SubReq {
            filter: filter.into(),
            opts: SubOpts::qos(qos),
        }],
        Instant::now(),
    )
    .unwrap();
}

#[test]
fn qos0_reaches_matching_subscriber_only() {
    let mut b = broker();
    let now = Instant::now();
    let s1 = connect(&mut b, 1, req("sub1", false, true));
    let s2 = connect(&mut b, 2, req("sub2", false, true));
    let p = connect(&mut b, 3, req("pub", false, true));
    sub(&mut b, s1, "sister/channel/kesehatan", QoS::AtMostOnce);
    sub(&mut b, s2, "sister/#", QoS::AtMostOnce);
    outbox(&mut b, s1, 1);
    outbox(&mut b, s2, 2);
    b.publish(p, pubin("sister/channel/gaming", "hi", QoS::AtMostOnce, 0), now)
        .unwrap();
    assert!(publishes(&outbox(&mut b, s1, 1)).is_empty());
    assert_eq!(publishes(&outbox(&mut b, s2, 2)).len(), 1);
}

#[test]
fn overlapping_subscriptions_give_one_copy_at_highest_qos_with_all_ids() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", true, true));
    let p = connect(&mut b, 2, req("p", true, true));
    let mk = |f: &str, q, id| SubReq {
        filter: f.into(),
        opts: SubOpts {
            sub_id: Some(id),
            ..SubOpts::qos(q)
        },
    };
    b.subscribe(
        s,
        1,
        vec![mk("a/+", QoS::AtMostOnce, 1), mk("a/#", QoS::AtLeastOnce, 2)],
        now,
    )
    .unwrap();
    outbox(&mut b, s, 1);
    b.publish(p, pubin("a/b", "x", QoS::ExactlyOnce, 7), now).unwrap();
    let out = outbox(&mut b, s, 1);
    let ds: Vec<&Delivery> = out
        .iter()
        .filter_map(|o| if let Out::Publish(d) = o { Some(d) } else { None })
        .collect();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].qos, QoS::AtLeastOnce);
    let mut ids = ds[0].sub_ids.clone();
    ids.sort();
    assert_eq!(ids, vec![1, 2]);
    // The publisher got PUBREC for its QoS 2 message.
    assert!(matches!(
        outbox(&mut b, p, 2)[..],
        [Out::PubRec {
            pid: 7,
            reason: ReasonCode::Success
        }]
    ));
}

#[test]
fn qos1_inflight_window_queue_and_retry_on_reconnect() {
    let mut b = Broker::new(
        Config {
            max_inflight: 2,
            ..Config::default()
        },
        Auth::default(),
        Instant::now(),
    );
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", false, false));
    let p = connect(&mut b, 2, req("p", false, true));
    sub(&mut b, s, "t", QoS::AtLeastOnce);
    outbox(&mut b, s, 1);
    for i in 0..5 {
        b.publish(p, pubin("t", &i.to_string(), QoS::AtLeastOnce, i + 1), now)
            .unwrap();
    }
    let first = publishes(&outbox(&mut b, s, 1));
    assert_eq!(first.len(), 2, "window of 2");
    assert_eq!(b.session(s).unwrap().queued_len(), 3);
    b.puback(s, first[0].3, now);
    let next = publishes(&outbox(&mut b, s, 1));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1, b"2");
    // The subscriber's connection drops; QoS 1 messages in flight are resent with DUP on reconnect.
    b.connection_lost(s, 1, Ending::Abnormal("test".into()), now);
    b.publish(p, pubin("t", "5", QoS::AtLeastOnce, 9), now).unwrap();
    let s2 = connect(&mut b, 3, req("s", false, false));
    assert_eq!(s2, s);
    let out = outbox(&mut b, s, 3);
    let ds: Vec<(Vec<u8>, bool)> = out
        .iter()
        .filter_map(|o| {
            if let Out::Publish(d) = o {
                Some((d.msg.payload.to_vec(), d.dup))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        ds,
        vec![(b"1".to_vec(), true), (b"2".to_vec(), true)],
        "in-flight resent first, in order"
    );
    // Acking both releases the rest, in order.
    let pids: Vec<u16> = publishes(&out).iter().map(|p| p.3).collect();
    for pid in pids {
        b.puback(s, pid, now);
    }
    let rest: Vec<Vec<u8>> = publishes(&outbox(&mut b, s, 3))
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(rest, vec![b"3".to_vec(), b"4".to_vec()]);
}

#[test]
fn qos2_incoming_is_delivered_once_and_released() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", false, true));
    let p = connect(&mut b, 2, req("p", false, true));
    sub(&mut b, s, "t", QoS::ExactlyOnce);
    outbox(&mut b, s, 1);
    let mut m = pubin("t", "once", QoS::ExactlyOnce, 5);
    b.publish(p, m.clone(), now).unwrap();
    m.dup = true;
    b.publish(p, m, now).unwrap();
    let out = outbox(&mut b, s, 1);
    assert_eq!(
        publishes(&out).len(),
        1,
        "a retransmitted QoS 2 PUBLISH is not delivered twice"
    );
    let pid = publishes(&out)[0].3;
    b.pubrel(p, 5);
    let pout = outbox(&mut b, p, 2);
    assert!(matches!(
        pout[..],
        [
            Out::PubRec { pid: 5, .. },
            Out::PubRec { pid: 5, .. },
            Out::PubComp {
                pid: 5,
                reason: ReasonCode::Success
            }
        ]
    ));
    // Outgoing QoS 2 flow.
    b.pubrec(s, pid, ReasonCode::Success, now);
    assert!(matches!(outbox(&mut b, s, 1)[..], [Out::PubRel { .. }]));
    b.pubcomp(s, pid, now);
    assert_eq!(b.session(s).unwrap().inflight_len(), 0);
}

#[test]
fn receive_maximum_exceeded_is_a_violation() {
    let mut b = Broker::new(
        Config {
            receive_maximum: 2,
            ..Config::default()
        },
        Auth::default(),
        Instant::now(),
    );
    let now = Instant::now();
    let p = connect(&mut b, 1, req("p", true, true));
    b.publish(p, pubin("t", "a", QoS::ExactlyOnce, 1), now).unwrap();
    b.publish(p, pubin("t", "b", QoS::ExactlyOnce, 2), now).unwrap();
    let err = b
        .publish(p, pubin("t", "c", QoS::ExactlyOnce, 3), now)
        .unwrap_err();
    assert_eq!(err.reason, ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn retained_set_replace_clear() {
    let mut b = broker();
    let now = Instant::now();
    let p = connect(&mut b, 1, req("p", false, true));
    let mut m = pubin("r/1", "one", QoS::AtMostOnce, 0);
    m.retain = true;
    b.publish(p, m.clone(), now).unwrap();
    m.payload = Bytes::from_static(b"two");
    b.publish(p, m.clone(), now).unwrap();
    let s = connect(&mut b, 2, req("s", false, true));
    sub(&mut b, s, "r/#", QoS::AtLeastOnce);
    let got = publishes(&outbox(&mut b, s, 2));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, b"two");
    assert!(
        got[0].4,
        "retained flag set on a retained message sent at subscribe"
    );
    m.payload = Bytes::new();
    b.publish(p, m, now).unwrap();
    assert_eq!(b.retained_count(), 0);
}

#[test]
fn will_on_abnormal_loss_not_on_disconnect_and_delay() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", true, true));
    sub(&mut b, s, "will/#", QoS::AtMostOnce);
    outbox(&mut b, s, 1);
    let will = |delay| Will {
        topic: "will/x".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        delay,
        props: MsgProps::default(),
    };
    let mut r = req("w", true, true);
    r.will = Some(will(0));
    let w = connect(&mut b, 2, r.clone());
    b.disconnect(w, 2, ReasonCode::Success, None, now).unwrap();
    assert!(
        publishes(&outbox(&mut b, s, 1)).is_empty(),
        "clean DISCONNECT: no will"
    );
    let w = connect(&mut b, 3, r.clone());
    b.connection_lost(w, 3, Ending::Abnormal("reset".into()), now);
    assert_eq!(
        publishes(&outbox(&mut b, s, 1)).len(),
        1,
        "lost connection: will sent"
    );
    // Will delay 5 s, session expiry 100 s: sent after 5 s, not before; cancelled by reconnect.
    let mut r = req("w2", true, false);
    r.session_expiry = 100;
    r.will = Some(will(5));
    let w = connect(&mut b, 4, r.clone());
    b.connection_lost(w, 4, Ending::Abnormal("reset".into()), now);
    b.tick(now + Duration::from_secs(2));
    assert!(publishes(&outbox(&mut b, s, 1)).is_empty());
    b.tick(now + Duration::from_secs(6));
    assert_eq!(publishes(&outbox(&mut b, s, 1)).len(), 1);
    let w = connect(&mut b, 5, r.clone());
    b.connection_lost(w, 5, Ending::Abnormal("reset".into()), now);
    connect(&mut b, 6, r);
    b.tick(now + Duration::from_secs(10));
    assert!(
        publishes(&outbox(&mut b, s, 1)).is_empty(),
        "reconnect cancels the delayed will"
    );
    // Session expiry shorter than the will delay: the will goes when the session ends.
    let mut r = req("w3", true, false);
    r.session_expiry = 2;
    r.will = Some(will(60));
    let w = connect(&mut b, 7, r);
    b.connection_lost(w, 7, Ending::Abnormal("reset".into()), now);
    b.tick(now + Duration::from_secs(3));
    assert_eq!(publishes(&outbox(&mut b, s, 1)).len(), 1);
    assert!(b.find("w3").is_none(), "session expired");
}

#[test]
fn takeover_kicks_old_connection_and_keeps_session() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("c", false, false));
    sub(&mut b, s, "t", QoS::AtLeastOnce);
    match b.connect(2, req("c", false, false), now) {
        ConnectOutcome::Accepted {
            sid,
            session_present,
            kicked,
            ..
        } => {
            assert_eq!(sid, s);
            assert!(session_present);
            assert_eq!(kicked, Some(1));
        }
        o => panic!("{o:?}"),
    }
    let mut q = VecDeque::new();
    assert!(
        !b.take_outbox(s, 1, &mut q),
        "the old connection no longer owns the session"
    );
    assert!(b.session(s).unwrap().subs.contains_key("t"));
}

#[test]
fn empty_client_id_rules() {
    let mut b = broker();
    let now = Instant::now();
    assert!(matches!(
        b.connect(1, req("", false, false), now),
        ConnectOutcome::Refused {
            reason: ReasonCode::ClientIdentifierNotValid,
            ..
        }
    ));
    assert!(matches!(
        b.connect(2, req("", false, true), now),
        ConnectOutcome::Accepted {
            assigned_client_id: None,
            ..
        }
    ));
    match b.connect(3, req("", true, true), now) {
        ConnectOutcome::Accepted {
            assigned_client_id: Some(id),
            ..
        } => assert!(id.starts_with("sister-auto-")),
        o => panic!("{o:?}"),
    }
}

#[test]
fn offline_persistent_session_queues_qos1_not_qos0() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", false, false));
    sub(&mut b, s, "t", QoS::AtLeastOnce);
    b.disconnect(s, 1, ReasonCode::Success, None, now).unwrap();
    let p = connect(&mut b, 2, req("p", false, true));
    b.publish(p, pubin("t", "q0", QoS::AtMostOnce, 0), now).unwrap();
    b.publish(p, pubin("t", "q1", QoS::AtLeastOnce, 1), now).unwrap();
    connect(&mut b, 3, req("s", false, false));
    let got: Vec<Vec<u8>> = publishes(&outbox(&mut b, s, 3))
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(got, vec![b"q1".to_vec()]);
}

#[test]
fn shared_subscription_round_robin_and_no_local_and_retain_as_published() {
    let mut b = broker();
    let now = Instant::now();
    let a = connect(&mut b, 1, req("a", true, true));
    let c = connect(&mut b, 2, req("c", true, true));
    sub(&mut b, a, "$share/g/job/#", QoS::AtMostOnce);
    sub(&mut b, c, "$share/g/job/#", QoS::AtMostOnce);
    let p = connect(&mut b, 3, req("p", true, true));
    outbox(&mut b, a, 1);
    outbox(&mut b, c, 2);
    for i in 0..4 {
        b.publish(p, pubin("job/x", &i.to_string(), QoS::AtMostOnce, 0), now)
            .unwrap();
    }
    assert_eq!(publishes(&outbox(&mut b, a, 1)).len(), 2);
    assert_eq!(publishes(&outbox(&mut b, c, 2)).len(), 2);
    // no-local: p does not get its own message back; retain-as-published keeps the flag.
    let opts = SubOpts {
        no_local: true,
        retain_as_published: true,
        ..SubOpts::qos(QoS::AtMostOnce)
    };
    b.subscribe(
        p,
        2,
        vec![SubReq {
            filter: "echo".into(),
            opts,
        }],
        now,
    )
    .unwrap();
    let opts = SubOpts {
        retain_as_published: true,
        ..SubOpts::qos(QoS::AtMostOnce)
    };
    b.subscribe(
        a,
        2,
        vec![SubReq {
            filter: "echo".into(),
            opts,
        }],
        now,
    )
    .unwrap();
    outbox(&mut b, p, 3);
    outbox(&mut b, a, 1);
    let mut m = pubin("echo", "x", QoS::AtMostOnce, 0);
    m.retain = true;
    b.publish(p, m, now).unwrap();
    assert!(publishes(&outbox(&mut b, p, 3)).is_empty());
    let got = publishes(&outbox(&mut b, a, 1));
    assert!(got[0].4, "retain-as-published");
}

#[test]
fn dollar_sys_is_not_seen_by_hash() {
    let mut b = broker();
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", false, true));
    sub(&mut b, s, "#", QoS::AtMostOnce);
    outbox(&mut b, s, 1);
    b.publish_sys(now);
    assert!(publishes(&outbox(&mut b, s, 1)).is_empty());
    sub(&mut b, s, "$SYS/broker/clients/connected", QoS::AtMostOnce);
    let got = publishes(&outbox(&mut b, s, 1));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, b"1");
}

#[test]
fn qos0_overflow_is_dropped_and_counted() {
    let mut b = Broker::new(
        Config {
            max_outbox: 3,
            ..Config::default()
        },
        Auth::default(),
        Instant::now(),
    );
    let now = Instant::now();
    let s = connect(&mut b, 1, req("s", false, true));
    sub(&mut b, s, "t", QoS::AtMostOnce);
    outbox(&mut b, s, 1);
    let p = connect(&mut b, 2, req("p", false, true));
    for _ in 0..5 {
        b.publish(p, pubin("t", "x", QoS::AtMostOnce, 0), now).unwrap();
    }
    assert_eq!(publishes(&outbox(&mut b, s, 1)).len(), 3);
    assert_eq!(b.stats.publish_dropped_qos0, 2);
}

#[test]
fn every_retained_message_comes_with_a_qos0_subscribe_however_small_the_outbox() {
    let mut b = Broker::new(
        Config {
            max_outbox: 3,
            ..Config::default()
        },
        Auth::default(),
        Instant::now(),
    );
    let now = Instant::now();
    let p = connect(&mut b, 1, req("p", false, true));
    for i in 0..10 {
        let mut m = pubin(&format!("r/{i}"), "v", QoS::AtLeastOnce, 1 + i as u16);
        m.retain = true;
        b.publish(p, m, now).unwrap();
    }
    let s = connect(&mut b, 2, req("s", false, true));
    sub(&mut b, s, "r/#", QoS::AtMostOnce);
    let got = publishes(&outbox(&mut b, s, 2));
    assert_eq!(got.len(), 10, "all ten, not max_outbox of them");
    assert!(got.iter().all(|m| m.4), "each with RETAIN set");
    assert_eq!(b.stats.publish_dropped_qos0, 0);
    // Live QoS 0 traffic is still bounded by the outbox.
    for _ in 0..5 {
        b.publish(p, pubin("r/0", "live", QoS::AtMostOnce, 0), now)
            .unwrap();
    }
    assert_eq!(publishes(&outbox(&mut b, s, 2)).len(), 3);
}

#[test]
fn helpers() {
    assert_eq!(shared_parts("$share/g/a/b"), Some(("g", "a/b")));
    assert_eq!(shared_parts("a/b"), None);
    assert_eq!(edit_distance("gaming", "kesehatan"), 8);
}

// ---- the rules of one network connection (conn.rs): topic aliases, Maximum Packet Size ----------

fn v5_rules(alias_max: Option<u16>, max_packet: Option<u32>) -> ConnRules {
    let connect = Properties {
        topic_alias_maximum: alias_max,
        maximum_packet_size: max_packet,
        ..Properties::default()
    };
    ConnRules::new(Version::V5, &connect)
}

fn delivery(topic: &str, payload_len: usize, qos: QoS, pid: u16) -> Out {
    Out::Publish(Delivery {
        msg: Arc::new(Message {
            topic: topic.into(),
            payload: Bytes::from(vec![b'x'; payload_len]),
            qos,
            retain: false,
            props: MsgProps::default(),
            received: Instant::now(),
            from: None,
            wire: Default::default(),
        }),
        qos,
        pid,
        dup: false,
        retain: false,
        sub_ids: Vec::new(),
    })
}

/// What `ConnRules::encode` wrote, read back as the client reads it: (topic, topic alias) of each
/// PUBLISH.
fn written(rules: &ConnRules, wbuf: &[u8]) -> Vec<(String, Option<u16>)> {
    let (packets, used, err) = Decoder::with_version(rules.version()).decode_all(wbuf);
    assert_eq!((used, err), (wbuf.len(), None));
    packets
        .into_iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.topic, p.properties.topic_alias),
            other => panic!("not a PUBLISH: {other}"),
        })
        .collect()
}

/// MQTT 5.0 §3.3.2.3.4: a PUBLISH carrying a topic and an alias sets the alias; one with an empty
/// topic and the alias means that topic. Alias 0 or above our Topic Alias Maximum is 0x94; an alias
/// not set yet, or an empty topic without alias (§3.3.2.1), is a protocol error. The mapping belongs
/// to the network connection: a new one starts without.
#[test]
fn incoming_topic_aliases_are_set_then_stand_for_their_topic() {
    let mut rules = v5_rules(None, None);
    let max = 10;
    assert_eq!(rules.topic_in("a/b".into(), None, max), Ok("a/b".into()));
    assert_eq!(rules.topic_in("a/b".into(), Some(3), max), Ok("a/b".into()));
    assert_eq!(rules.topic_in(String::new(), Some(3), max), Ok("a/b".into()));
    // Set again: the alias now stands for the new topic.
    assert_eq!(rules.topic_in("c".into(), Some(3), max), Ok("c".into()));
    assert_eq!(rules.topic_in(String::new(), Some(3), max), Ok("c".into()));
    let reason = |r: Result<String, Violation>| r.unwrap_err().reason;
    assert_eq!(
        reason(rules.topic_in(String::new(), Some(4), max)),
        ReasonCode::ProtocolError
    );
    assert_eq!(
        reason(rules.topic_in("x".into(), Some(0), max)),
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(
        reason(rules.topic_in("x".into(), Some(max + 1), max)),
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(
        reason(rules.topic_in(String::new(), None, max)),
        ReasonCode::ProtocolError
    );
    let mut next_connection = v5_rules(None, None);
    assert!(next_connection.topic_in(String::new(), Some(3), max).is_err());
}

/// MQTT 5.0 §3.3.2.3.4 towards the client: the first PUBLISH on a topic carries the topic and a new
/// alias (at most the client's Topic Alias Maximum of them), later ones only the alias. An alias is
/// assigned only when its PUBLISH is really sent: one too large for the client's Maximum Packet
/// Size (§3.1.2.11.4) is dropped without taking an alias the client would never learn.
#[test]
fn outgoing_topic_aliases_are_assigned_once_the_publish_is_sent() {
    let now = Instant::now();
    let mut rules = v5_rules(Some(2), Some(100));
    let mut wbuf = Vec::new();
    rules.encode(delivery("big", 200, QoS::AtMostOnce, 0), &mut wbuf, now);
    assert!(wbuf.is_empty(), "larger than the client's 100 bytes: not sent");
    for topic in ["a", "a", "big", "c", "c"] {
        rules.encode(delivery(topic, 1, QoS::AtMostOnce, 0), &mut wbuf, now);
    }
    let no_alias_left = ("c".to_string(), None);
    assert_eq!(
        written(&rules, &wbuf),
        [
            ("a".to_string(), Some(1)),
            (String::new(), Some(1)),
            ("big".to_string(), Some(2)),
            no_alias_left.clone(),
            no_alias_left,
        ]
    );
    // A client that accepts no aliases (3.1.1 never does) always gets the topic.
    let mut rules = ConnRules::new(Version::V3_1_1, &Properties::default());
    let mut wbuf = Vec::new();
    rules.encode(delivery("a", 1, QoS::AtMostOnce, 0), &mut wbuf, now);
    rules.encode(delivery("a", 1, QoS::AtLeastOnce, 1), &mut wbuf, now);
    assert_eq!(written(&rules, &wbuf), [("a".into(), None), ("a".into(), None)]);
}

/// MQTT 5.0 §3.1.2.11.4: "Where a Packet is too large to send, the Server MUST discard it without
/// sending it and then behave as if it had completed sending that Application Message"
/// [MQTT-3.1.2-25]. QoS 0 is just not written (the shared encoding of a fan-out is measured too);
/// a QoS 1/2 delivery is acknowledged on the client's behalf (`Broker::ack_skipped`), so it does not
/// hold its place in the in-flight window: the next message goes out.
#[test]
fn deliveries_larger_than_the_clients_maximum_packet_size_are_skipped_and_acknowledged() {
    let now = Instant::now();
    let mut rules = v5_rules(None, Some(64));
    let mut wbuf = Vec::new();
    rules.encode(delivery("t", 100, QoS::AtMostOnce, 0), &mut wbuf, now);
    rules.encode(delivery("t", 100, QoS::AtLeastOnce, 1), &mut wbuf, now);
    rules.encode(delivery("t", 10, QoS::AtMostOnce, 0), &mut wbuf, now);
    assert_eq!(written(&rules, &wbuf), [("t".into(), None)]);
    assert_eq!(rules.drain_skipped().collect::<Vec<_>>(), [(1, QoS::AtLeastOnce)]);
    assert_eq!(rules.drain_skipped().count(), 0, "taken once");

    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut b = broker();
        let mut r = req("small", true, true);
        r.receive_maximum = 1; // one message in flight at a time
        let s = connect(&mut b, 1, r);
        let p = connect(&mut b, 2, req("pub", true, true));
        sub(&mut b, s, "t", qos);
        outbox(&mut b, s, 1);
        b.publish(p, pubin("t", &"x".repeat(100), qos, 1), now).unwrap();
        b.publish(p, pubin("t", "fits", qos, 2), now).unwrap();
        let mut rules = v5_rules(None, Some(64));
        let mut wbuf = Vec::new();
        for out in outbox(&mut b, s, 1) {
            rules.encode(out, &mut wbuf, now);
        }
        assert!(wbuf.is_empty(), "{qos:?}: the large one is not sent");
        assert_eq!(b.session(s).unwrap().inflight_len(), 1);
        b.ack_skipped(s, &mut rules, now);
        // As if the client had acknowledged it: the window moves on to the next message.
        let next = outbox(&mut b, s, 1);
        assert_eq!(
            publishes(&next).iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
            [b"fits".to_vec()],
            "{qos:?}"
        );
        assert_eq!(b.session(s).unwrap().inflight_len(), 1);
    }
}
