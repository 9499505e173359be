//! End-to-end tests of the `sister` binary and interop tests with the real peers (Python programs that
//! behave exactly as the course's, Mosquitto, pyzmq, zeep/spyne, Flask, kazoo...).
//!
//! One test binary for all of them (as ripgrep does): one link step, shared helpers in `util`.
//! Each pattern has its own module below. The peers are installed by `.ci/run`; a missing peer fails the
//! test with a message saying so (a skipped interop test would be a test that cannot fail).

mod analyze;
mod ca;
mod capture;
mod check;
mod corba;
mod docker;
mod https;
mod ice;
mod lab;
mod lamport;
mod mqtt_broker;
mod mqtt_clients;
mod mqtt_passwd;
mod mqtt_tls;
mod mqtt_ws;
mod oneway;
mod procs;
mod render;
mod reqresp;
mod rest;
mod rpc;
mod soap;
mod udp;
mod upcall;
mod util;
mod web;
mod web_capture;
mod web_topics;
mod zk;
mod zmq;
