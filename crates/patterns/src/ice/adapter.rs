//! The object adapter's dispatch, without sockets: which servant a request is for, what it runs, what
//! the reply is. The server's connection loop ([`super::server`]) only decodes, calls
//! [`Adapter::dispatch`] and writes; everything here is tested without a network.
//!
//! What Ice does with a request (Ice Manual, "The Ice Run Time" → "Object Adapters" and "The Ice
//! Protocol" → "Reply Message Body"), and so what this does:
//!
//! ```text
//!   identity not in the table          → Reply ObjectNotExist    (identity, facet, operation echoed)
//!   identity known, facet not ""       → Reply FacetNotExist     (these servants have no facets)
//!   operation not in the interface     → Reply OperationNotExist
//!   parameters that do not unmarshal   → Reply UnknownLocalException ("MarshalException ...")
//!   otherwise                          → run it: Reply Ok with the results (a oneway: no reply)
//! ```
//!
//! Every Ice object also answers the four operations of `::Ice::Object`, which a client's run time
//! calls on its own: `ice_isA(string id) -> bool` (what `checkedCast` sends), `ice_ping()`,
//! `ice_id() -> string`, `ice_ids() -> ["::Demo::Printer", "::Ice::Object"]` (sorted, as Ice sorts).

use wire::ice::{
    Encapsulation, Identity, Reader, Reply, ReplyBody, ReplyStatus, Request, ICE_OBJECT_TYPE_ID,
};

/// The Slice type id of the course's interface, `module Demo { interface Printer ... }`.
pub const PRINTER_TYPE_ID: &str = "::Demo::Printer";

/// A Printer servant: `printString(s)` prints its prefix and `s`.
#[derive(Debug, Clone)]
pub struct Printer {
    /// `Object1 says:` for the course's first object.
    pub prefix: String,
}

/// What the server does with one request: the reply to send (none for a oneway call) and, when a
/// servant ran, the line it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub reply: Option<Reply>,
    pub printed: Option<String>,
}

/// The table of servants by identity (the course's adapter `SimpleAdapter`).
#[derive(Debug, Clone, Default)]
pub struct Adapter {
    servants: Vec<(Identity, Printer)>,
}

impl Adapter {
    /// The course's adapter: `SimplePrinter1` (`Object1 says:`) and `SimplePrinter2` (`Object2 says:`).
    pub fn course() -> Self {
        let mut a = Adapter::default();
        a.add(
            Identity::new(super::OBJECT1),
            Printer {
                prefix: "Object1 says:".into(),
            },
        );
        a.add(
            Identity::new(super::OBJECT2),
            Printer {
                prefix: "Object2 says:".into(),
            },
        );
        a
    }

    /// `adapter.add(servant, identity)`.
    pub fn add(&mut self, identity: Identity, servant: Printer) {
        self.servants.retain(|(id, _)| *id != identity);
        self.servants.push((identity, servant));
    }

    /// Run one request. Oneway requests (id 0, and everything in a batch) run the same way; their
    /// reply is computed and dropped, as Ice drops it.
    pub fn dispatch(&self, req: &Request) -> Dispatched {
        let (result, printed) = self.run(req);
        let reply = match result {
            Ok(results) => Reply::ok(req.request_id, results),
            Err(Failure::NotExist(status)) => Reply::not_exist(status, req),
            Err(Failure::Marshal(why)) => Reply {
                request_id: req.request_id,
                status: ReplyStatus::UnknownLocalException,
                body: ReplyBody::Unknown(format!("::Ice::MarshalException: {why}")),
            },
        };
        Dispatched {
            reply: (!req.is_oneway()).then_some(reply),
            printed,
        }
    }

    fn run(&self, req: &Request) -> (Result<Encapsulation, Failure>, Option<String>) {
        let Some((_, servant)) = self.servants.iter().find(|(id, _)| *id == req.identity) else {
            return (Err(Failure::NotExist(ReplyStatus::ObjectNotExist)), None);
        };
        if req.facet.as_deref().is_some_and(|f| !f.is_empty()) {
            return (Err(Failure::NotExist(ReplyStatus::FacetNotExist)), None);
        }
        // Results go back in the encoding the request used (an Ice 3.3 client sends 1.0).
        let encoding = req.params.encoding;
        let mut args = Reader::new(&req.params.data);
        let result = match req.operation.as_str() {
            "printString" => match one_string(&mut args) {
                Ok(s) => {
                    let line = format!("{} {s}", servant.prefix);
                    return (Ok(Encapsulation::build(encoding, |_| {})), Some(line));
                }
                Err(e) => Err(e),
            },
            "ice_isA" => one_string(&mut args).map(|id| {
                let yes = id == PRINTER_TYPE_ID || id == ICE_OBJECT_TYPE_ID;
                Encapsulation::build(encoding, |w| w.bool(yes))
            }),
            "ice_ping" => no_args(&args).map(|()| Encapsulation::build(encoding, |_| {})),
            "ice_id" => {
                no_args(&args).map(|()| Encapsulation::build(encoding, |w| w.string(PRINTER_TYPE_ID)))
            }
            "ice_ids" => no_args(&args).map(|()| {
                Encapsulation::build(encoding, |w| w.string_seq(&[PRINTER_TYPE_ID, ICE_OBJECT_TYPE_ID]))
            }),
            _ => Err(Failure::NotExist(ReplyStatus::OperationNotExist)),
        };
        (result, None)
    }
}

enum Failure {
    NotExist(ReplyStatus),
    Marshal(String),
}

/// The single `string` parameter of `printString` and `ice_isA`, and nothing after it.
fn one_string(args: &mut Reader<'_>) -> Result<String, Failure> {
    let s = args
        .string("the string parameter")
        .map_err(|e| Failure::Marshal(e.to_string()))?;
    no_args(args)?;
    Ok(s.to_owned())
}

fn no_args(args: &Reader<'_>) -> Result<(), Failure> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(Failure::Marshal(format!(
            "{} unexpected bytes after the parameters",
            args.remaining()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::ice::ENCODING_1_1;

    fn request(id: i32, name: &str, op: &str, args: impl FnOnce(&mut wire::ice::Writer<'_>)) -> Request {
        Request::new(
            id,
            Identity::new(name),
            op,
            Encapsulation::build(ENCODING_1_1, args),
        )
    }

    fn results(d: &Dispatched) -> &Encapsulation {
        match &d.reply {
            Some(Reply {
                status: ReplyStatus::Ok,
                body: ReplyBody::Encapsulation(e),
                ..
            }) => e,
            other => panic!("not an ok reply: {other:?}"),
        }
    }

    #[test]
    fn print_string_prints_the_prefix_and_answers_an_empty_result() {
        let a = Adapter::course();
        let d = a.dispatch(&request(2, "SimplePrinter1", "printString", |w| {
            w.string("Hello World from printer1!")
        }));
        assert_eq!(
            d.printed.as_deref(),
            Some("Object1 says: Hello World from printer1!")
        );
        assert_eq!(results(&d).data, b"");
        assert_eq!(d.reply.as_ref().unwrap().request_id, 2);
        let d = a.dispatch(&request(4, "SimplePrinter2", "printString", |w| w.string("x")));
        assert_eq!(d.printed.as_deref(), Some("Object2 says: x"));
    }

    #[test]
    fn a_oneway_call_runs_but_gets_no_reply() {
        let d = Adapter::course().dispatch(&request(0, "SimplePrinter1", "printString", |w| {
            w.string("quiet")
        }));
        assert_eq!(d.reply, None);
        assert_eq!(d.printed.as_deref(), Some("Object1 says: quiet"));
    }

    #[test]
    fn the_ice_object_operations_answer_as_ice_does() {
        let a = Adapter::course();
        let isa = |id: &str| {
            results(&a.dispatch(&request(1, "SimplePrinter1", "ice_isA", |w| w.string(id))))
                .data
                .clone()
        };
        assert_eq!(isa("::Demo::Printer"), [1]);
        assert_eq!(isa("::Ice::Object"), [1]);
        assert_eq!(isa("::Demo::Other"), [0]);
        assert_eq!(
            results(&a.dispatch(&request(1, "SimplePrinter2", "ice_ping", |_| {}))).data,
            b""
        );
        let id = a.dispatch(&request(1, "SimplePrinter2", "ice_id", |_| {}));
        assert_eq!(results(&id).as_strings().unwrap(), ["::Demo::Printer"]);
        let ids = a.dispatch(&request(1, "SimplePrinter2", "ice_ids", |_| {}));
        assert_eq!(
            Reader::new(&results(&ids).data).string_seq("ids").unwrap(),
            ["::Demo::Printer", "::Ice::Object"]
        );
    }

    #[test]
    fn unknown_objects_facets_and_operations_get_their_not_exist_replies() {
        let a = Adapter::course();
        let status = |req: Request| a.dispatch(&req).reply.unwrap().status;
        assert_eq!(
            status(request(3, "Nobody", "printString", |w| w.string("x"))),
            ReplyStatus::ObjectNotExist
        );
        assert_eq!(
            status(request(3, "SimplePrinter1", "shout", |_| {})),
            ReplyStatus::OperationNotExist
        );
        let mut faceted = request(3, "SimplePrinter1", "ice_ping", |_| {});
        faceted.facet = Some("admin".into());
        assert_eq!(status(faceted), ReplyStatus::FacetNotExist);
        let reply = a
            .dispatch(&request(3, "Nobody", "ice_isA", |w| w.string("::Demo::Printer")))
            .reply
            .unwrap();
        assert_eq!(
            reply.body,
            ReplyBody::NotExist {
                identity: Identity::new("Nobody"),
                facet: None,
                operation: "ice_isA".into()
            }
        );
    }

    #[test]
    fn parameters_that_do_not_unmarshal_are_an_unknown_local_exception() {
        let a = Adapter::course();
        let d = a.dispatch(&request(5, "SimplePrinter1", "printString", |w| w.int(7)));
        let reply = d.reply.unwrap();
        assert_eq!(reply.status, ReplyStatus::UnknownLocalException);
        assert!(
            matches!(reply.body, ReplyBody::Unknown(ref t) if t.contains("MarshalException")),
            "{reply:?}"
        );
        assert_eq!(d.printed, None);
        let extra = a.dispatch(&request(6, "SimplePrinter1", "ice_ping", |w| w.byte(1)));
        assert_eq!(extra.reply.unwrap().status, ReplyStatus::UnknownLocalException);
    }
}
