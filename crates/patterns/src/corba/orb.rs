//! The server side of an ORB, without sockets: which object an object key names, and what to answer
//! to each GIOP message. `server.rs` reads and writes; this decides.
//!
//! ```text
//!   Request  ─► find the object by its key ─► none:  OBJECT_NOT_EXIST (SYSTEM_EXCEPTION)
//!                                          └► found: _is_a / _non_existent / _repository_id, or the
//!                                                    servant's own operation (sayHello, resolve_str...)
//!                                                    unknown operation: BAD_OPERATION
//!   LocateRequest ─► OBJECT_HERE or UNKNOWN_OBJECT
//!   CancelRequest ─► nothing (every request here is answered at once, so there is nothing to cancel)
//!   oneway Request (response flags 0) ─► run it, send nothing
//! ```
//!
//! Every reply is sent in the GIOP version of its request (a 1.0 client cannot read a 1.2 reply)
//! and **little-endian**, whatever the request's byte order: CDR's "receiver makes right" rule
//! (CORBA 3.0, §15.3.1.1) means each message is read in the order its own header declares, so a
//! big-endian client reads a little-endian reply without trouble. Replies carry no service
//! contexts; that puts the body at offset 24 in every version (8-aligned), so a result marshalled
//! on its own from offset 0 is aligned exactly as it will be in the message.

use std::sync::Mutex;

use wire::giop::ior::{code_sets_component, IiopProfile};
use wire::giop::{
    self, encode_locate_reply, encode_reply, Completion, Decoded, Ior, LocateStatus, Message, ReplyStatus,
    Request, SystemException, Writer, GIOP_1_2, IS_A, NON_EXISTENT, OBJECT_TYPE_ID,
};

use super::naming::{Naming, NamingObject};
use super::{GREETING, HELLO_KEY, HELLO_TYPE_ID};

/// Where this server's objects are reached: what goes in the IIOP profile of its IORs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// A reference to the object `key` here: one IIOP 1.2 profile announcing UTF-8 for strings.
    pub fn ior(&self, type_id: &str, key: &[u8]) -> Ior {
        let profile = IiopProfile {
            version: GIOP_1_2,
            host: self.host.clone(),
            port: self.port,
            object_key: key.to_vec(),
            components: vec![code_sets_component(true)],
        };
        Ior::iiop(type_id, &profile, true)
    }

    pub fn is_me(&self, host: &str, port: u16) -> bool {
        port == self.port && host.eq_ignore_ascii_case(&self.host)
    }
}

/// What an operation gives back, before it becomes a Reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NO_EXCEPTION: the result and out parameters, marshalled little-endian from offset 0.
    Ok(Vec<u8>),
    /// USER_EXCEPTION: the exception's repository id and members (IDL `raises`).
    User(Vec<u8>),
    /// SYSTEM_EXCEPTION: one of CORBA's standard exceptions.
    System(SystemException),
}

/// The objects of one server: the Hello servant and/or a naming service.
#[derive(Debug)]
pub struct Orb {
    pub endpoint: Endpoint,
    /// Serve the Hello servant (key `Hello`).
    pub hello: bool,
    /// The naming service (key `NameService`), when this process serves one.
    pub naming: Option<Mutex<Naming>>,
}

/// What one incoming message leads to.
#[derive(Debug, Default)]
pub struct Handled {
    /// The bytes to send back (a Reply or LocateReply), if any.
    pub reply: Option<Vec<u8>>,
    /// A line for the log: `Request #4 NameService.resolve_str: NO_EXCEPTION`.
    pub log: Option<String>,
    /// `sayHello` ran (the server counts its calls).
    pub said_hello: bool,
    /// The peer sent CloseConnection or MessageError: close the connection.
    pub close: bool,
}

/// What an object key names here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Hello,
    Naming(NamingObject),
}

impl Orb {
    pub fn new(endpoint: Endpoint, hello: bool, naming: bool) -> Self {
        let naming = naming.then(|| Mutex::new(Naming::new(endpoint.clone())));
        Orb {
            endpoint,
            hello,
            naming,
        }
    }

    /// The Hello servant's reference.
    pub fn hello_ior(&self) -> Ior {
        self.endpoint.ior(HELLO_TYPE_ID, HELLO_KEY)
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Naming>> {
        self.naming
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn find(&self, key: &[u8]) -> Option<Object> {
        if self.hello && key == HELLO_KEY {
            return Some(Object::Hello);
        }
        self.lock()?.object(key).map(Object::Naming)
    }

    fn type_ids(object: Object) -> &'static [&'static str] {
        match object {
            Object::Hello => &[HELLO_TYPE_ID, OBJECT_TYPE_ID],
            Object::Naming(n) => Naming::type_ids(n),
        }
    }

    /// Decides what to do with one decoded message from a client.
    /// `describe`: also say in words what happened (for the log), which costs a little.
    pub fn handle(&self, decoded: &Decoded, describe: bool) -> Handled {
        let version = decoded.header.version;
        match &decoded.message {
            Message::Request(req) => self.request(version, req, describe),
            Message::LocateRequest(l) => {
                let key = l.target.object_key().unwrap_or_default();
                let status = if self.find(&key).is_some() {
                    LocateStatus::ObjectHere
                } else {
                    LocateStatus::UnknownObject
                };
                Handled {
                    reply: Some(encode_locate_reply(version, true, l.request_id, status, |_| {})),
                    log: Some(format!(
                        "LocateRequest #{} {}: {}",
                        l.request_id,
                        giop::ior::key_to_string(&key),
                        status.name()
                    )),
                    ..Handled::default()
                }
            }
            Message::CancelRequest { request_id } => Handled {
                log: Some(format!("CancelRequest #{request_id} (already answered)")),
                ..Handled::default()
            },
            Message::CloseConnection => Handled {
                close: true,
                log: Some("CloseConnection".into()),
                ..Handled::default()
            },
            Message::MessageError => Handled {
                close: true,
                log: Some("MessageError: the client could not read something sister sent".into()),
                ..Handled::default()
            },
            Message::Reply(r) => Handled {
                close: true,
                log: Some(format!(
                    "a client sent a Reply (#{}) to the server; closing",
                    r.request_id
                )),
                ..Handled::default()
            },
            Message::LocateReply(r) => Handled {
                close: true,
                log: Some(format!(
                    "a client sent a LocateReply (#{}) to the server; closing",
                    r.request_id
                )),
                ..Handled::default()
            },
            // The reassembler has joined every Fragment before this point.
            Message::Fragment(_) => Handled::default(),
        }
    }

    fn request(&self, version: giop::Version, req: &Request, describe: bool) -> Handled {
        let key = req.object_key();
        let answer = self.invoke(&key, req);
        let said_hello = req.operation == "sayHello" && matches!(answer, Answer::Ok(_));
        let (status, body) = match answer {
            Answer::Ok(b) => (ReplyStatus::NoException, b),
            Answer::User(b) => (ReplyStatus::UserException, b),
            Answer::System(e) => {
                let mut w = Writer::new(true);
                e.write(&mut w);
                (ReplyStatus::SystemException, w.into_bytes())
            }
        };
        // The log line is built only when it will be written: formatting it for every call of a
        // benchmark's 100,000 per second would cost more than answering them.
        let log = describe.then(|| {
            let what = match status {
                ReplyStatus::NoException => status.name().to_string(),
                _ => format!(
                    "{} {}",
                    status.name(),
                    wire::giop::Reader::new(&body, true)
                        .string("id")
                        .unwrap_or_default()
                ),
            };
            let id = if req.response_expected() {
                format!("#{}", req.request_id)
            } else {
                "oneway".into()
            };
            format!(
                "Request {id} {}.{}: {what}",
                giop::ior::key_to_string(&key),
                req.operation
            )
        });
        let reply = req
            .response_expected()
            .then(|| encode_reply(version, true, req.request_id, status, &[], |w| w.raw(&body)));
        Handled {
            reply,
            log,
            said_hello,
            close: false,
        }
    }

    fn invoke(&self, key: &[u8], req: &Request) -> Answer {
        let Some(object) = self.find(key) else {
            // `_non_existent` is how a client asks "is it gone?": the answer is yes, not an error.
            if req.operation == NON_EXISTENT {
                return ok(|w| w.boolean(true));
            }
            return Answer::System(SystemException::new("OBJECT_NOT_EXIST", 0, Completion::No));
        };
        let mut args = req.body.reader();
        match req.operation.as_str() {
            IS_A => match args.string("the repository id") {
                Ok(id) => ok(|w| w.boolean(Self::type_ids(object).contains(&id.as_str()))),
                Err(_) => Answer::System(SystemException::new("MARSHAL", 0, Completion::No)),
            },
            NON_EXISTENT => ok(|w| w.boolean(false)),
            // CORBA 3's `_repository_id`: the most derived type.
            "_repository_id" => ok(|w| w.string(Self::type_ids(object)[0])),
            "_interface" | "_get_interface" | "_component" => {
                Answer::System(SystemException::new("NO_IMPLEMENT", 0, Completion::No))
            }
            op => match object {
                Object::Hello if op == "sayHello" => ok(|w| w.string(GREETING)),
                Object::Hello => Answer::System(SystemException::new("BAD_OPERATION", 0, Completion::No)),
                Object::Naming(n) => match self.lock() {
                    Some(mut naming) => naming.invoke(n, op, &mut args),
                    None => Answer::System(SystemException::new("OBJECT_NOT_EXIST", 0, Completion::No)),
                },
            },
        }
    }
}

fn ok(f: impl FnOnce(&mut Writer)) -> Answer {
    let mut w = Writer::new(true);
    f(&mut w);
    Answer::Ok(w.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::giop::{decode_message, encode_locate_request, encode_request, RequestHeader, GIOP_1_0};

    fn orb() -> Orb {
        Orb::new(
            Endpoint {
                host: "127.0.0.1".into(),
                port: 2809,
            },
            true,
            true,
        )
    }

    fn ask(
        orb: &Orb,
        version: giop::Version,
        le: bool,
        key: &[u8],
        op: &str,
        args: impl FnOnce(&mut Writer),
    ) -> giop::Reply {
        let h = RequestHeader {
            request_id: 5,
            response_expected: true,
            object_key: key,
            operation: op,
            service_contexts: &[],
        };
        let req = decode_message(&encode_request(version, le, &h, args)).unwrap();
        let bytes = orb.handle(&req, true).reply.expect("a reply");
        let d = decode_message(&bytes).unwrap();
        assert_eq!(d.header.version, version, "the reply is in the request's version");
        let Message::Reply(r) = d.message else { panic!() };
        assert_eq!(r.request_id, 5);
        r
    }

    #[test]
    fn say_hello_in_every_version_and_byte_order() {
        let orb = orb();
        for v in [GIOP_1_0, giop::GIOP_1_1, GIOP_1_2] {
            for le in [true, false] {
                let r = ask(&orb, v, le, HELLO_KEY, "sayHello", |_| {});
                assert_eq!(r.status, ReplyStatus::NoException);
                assert_eq!(r.body.reader().string("result").unwrap(), GREETING);
                let r = ask(&orb, v, le, HELLO_KEY, IS_A, |w| w.string(HELLO_TYPE_ID));
                assert!(r.body.reader().boolean("is_a").unwrap());
                let r = ask(&orb, v, le, HELLO_KEY, IS_A, |w| w.string("IDL:Other:1.0"));
                assert!(!r.body.reader().boolean("is_a").unwrap());
            }
        }
    }

    #[test]
    fn unknown_objects_and_operations() {
        let orb = orb();
        let r = ask(&orb, GIOP_1_2, true, b"Nobody", "sayHello", |_| {});
        assert_eq!(r.system_exception().unwrap().short_name(), "OBJECT_NOT_EXIST");
        let r = ask(&orb, GIOP_1_2, true, b"Nobody", NON_EXISTENT, |_| {});
        assert!(r.body.reader().boolean("gone").unwrap());
        let r = ask(&orb, GIOP_1_0, false, HELLO_KEY, "sayGoodbye", |_| {});
        assert_eq!(r.system_exception().unwrap().short_name(), "BAD_OPERATION");
        let r = ask(&orb, GIOP_1_2, true, b"NameService", IS_A, |w| {
            w.string(wire::giop::naming::NAMING_CONTEXT_EXT_ID)
        });
        assert!(r.body.reader().boolean("is_a").unwrap());
        let hello_only = Orb::new(orb.endpoint.clone(), true, false);
        let r = ask(&hello_only, GIOP_1_2, true, b"NameService", "resolve_str", |w| {
            w.string("Hello")
        });
        assert_eq!(r.system_exception().unwrap().short_name(), "OBJECT_NOT_EXIST");
    }

    #[test]
    fn locate_oneway_and_close() {
        let orb = orb();
        for (key, want) in [
            (HELLO_KEY, LocateStatus::ObjectHere),
            (&b"x"[..], LocateStatus::UnknownObject),
        ] {
            let d = decode_message(&encode_locate_request(GIOP_1_2, true, 3, key)).unwrap();
            let reply = decode_message(&orb.handle(&d, true).reply.unwrap()).unwrap();
            let Message::LocateReply(l) = reply.message else {
                panic!()
            };
            assert_eq!(l.status, want);
        }
        let h = RequestHeader {
            request_id: 0,
            response_expected: false,
            object_key: HELLO_KEY,
            operation: "sayHello",
            service_contexts: &[],
        };
        let handled = orb.handle(
            &decode_message(&encode_request(GIOP_1_2, true, &h, |_| {})).unwrap(),
            true,
        );
        assert!(handled.reply.is_none() && handled.said_hello);
        let close = decode_message(&giop::encode_bare(
            GIOP_1_2,
            true,
            giop::MessageType::CloseConnection,
        ))
        .unwrap();
        assert!(orb.handle(&close, true).close);
    }
}
