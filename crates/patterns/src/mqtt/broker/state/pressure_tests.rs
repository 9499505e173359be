use super::*;

#[test]
fn every_publisher_into_a_half_full_queue_is_told_to_wait() {
    let now = Instant::now();
    let mut b = Broker::new(
        Config {
            max_inflight: 1,
            max_queued: 10,
            ..Config::default()
        },
        Auth::default(),
        now,
    );
    let req = |id: &str| ConnectReq {
        client_id: id.into(),
        v5: false,
        clean_start: true,
        keep_alive: 60,
        session_expiry: 0,
        receive_maximum: 65535,
        will: None,
        username: None,
        auth: None,
    };
    let ConnectOutcome::Accepted { sid: s, .. } = b.connect(1, req("s"), now) else {
        panic!()
    };
    let ConnectOutcome::Accepted { sid: p1, .. } = b.connect(2, req("p1"), now) else {
        panic!()
    };
    let ConnectOutcome::Accepted { sid: p2, .. } = b.connect(3, req("p2"), now) else {
        panic!()
    };
    b.subscribe(
        s,
        1,
        vec![SubReq {
            filter: "t".into(),
            opts: SubOpts::qos(QoS::AtLeastOnce),
        }],
        now,
    )
    .unwrap();
    let m = |pid| PublishIn {
        topic: "t".into(),
        payload: Bytes::from_static(b"x"),
        qos: QoS::AtLeastOnce,
        retain: false,
        dup: false,
        pid,
        props: MsgProps::default(),
    };
    let mut n = 0;
    while !b.is_congested() {
        n += 1;
        b.publish(p1, m(n), now).unwrap();
    }
    let mut c = Vec::new();
    b.take_congested(&mut c);
    assert_eq!(c, vec![s]);
    b.publish(p2, m(1), now).unwrap();
    assert!(b.is_congested(), "the second publisher must be paused too");
    b.take_congested(&mut c);
    // The subscriber has not drained for over a second: it is stuck, publishers are no longer
    // held for it (its bounded queue drops, counted, instead).
    let later = now + Duration::from_secs(2);
    b.publish(p2, m(2), later).unwrap();
    assert!(
        !b.is_congested(),
        "a stuck subscriber must not hold publishers forever"
    );
    while b.session(s).unwrap().queued_len() < 10 {
        b.publish(p1, m(1), later).unwrap();
    }
    let before = b.stats.publish_dropped_qos12;
    b.publish(p1, m(1), later).unwrap();
    assert_eq!(b.stats.publish_dropped_qos12, before + 1, "the drop is counted");
}
