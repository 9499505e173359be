//! The Naming Service: CosNaming's `NamingContextExt` (Naming Service 1.3, §2.2 and §2.4), as the
//! object that `sister corba naming` (and `sister corba server`, by default) serves at the key
//! `NameService` on port 2809. No sockets here: [`Naming::invoke`] takes one operation and its
//! arguments and gives the [`Answer`] to send back.
//!
//! The service is a tree of *contexts*. Each holds bindings from one name component to an object
//! reference (an IOR) or to another context; a compound name `a/b/Hello` walks the tree. What
//! the course's programs use:
//!
//! ```text
//!   server:  rebind([("Hello","")], <IOR of the servant>)      ─► void
//!   client:  resolve_str("Hello")  (or resolve([("Hello","")])) ─► <that IOR>
//!            resolve_str("Nobody")                              ─► NotFound { missing_node, [("Nobody","")] }
//! ```
//!
//! The other operations are there because a naming service that people point omniORB's tools at
//! (`nameclt list`, `bind_new_context`) must have them: bind, rebind, bind_context, rebind_context,
//! resolve, unbind, new_context, bind_new_context, destroy, list (with a BindingIterator for long
//! lists), to_string, to_name, to_url, resolve_str. Exceptions are the specification's (§2.2.1):
//! NotFound (with why and the rest of the name), CannotProceed, InvalidName, AlreadyBound, NotEmpty,
//! and NamingContextExt::InvalidAddress.

use std::collections::{BTreeMap, HashMap, VecDeque};

use wire::giop::naming::{
    self as cos, Binding, Name, NameComponent, NotFoundReason, NAMING_CONTEXT_EXT_ID, NAMING_CONTEXT_ID,
};
use wire::giop::{Completion, Ior, Reader, SystemException, Writer, OBJECT_TYPE_ID};

use super::orb::{Answer, Endpoint};

/// How many BindingIterators may be alive at once (a client that never destroys them must not
/// grow the server without bound; the oldest is dropped first).
const MAX_ITERATORS: usize = 256;
/// How many bindings one context may hold.
const MAX_BINDINGS: usize = 100_000;

/// What a name is bound to.
#[derive(Debug, Clone)]
struct Bound {
    ior: Ior,
    kind: BoundKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoundKind {
    Object,
    /// A context of this service (its id).
    LocalContext(u64),
    /// A context of another naming service: a name cannot be walked through it here.
    ForeignContext,
}

#[derive(Debug, Default)]
struct Context {
    bindings: BTreeMap<NameComponent, Bound>,
}

/// Why a naming operation failed: CosNaming's user exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamingError {
    NotFound { why: NotFoundReason, rest: Name },
    CannotProceed { cxt: Ior, rest: Name },
    InvalidName,
    AlreadyBound,
    NotEmpty,
    InvalidAddress,
}

impl NamingError {
    /// The exception as a USER_EXCEPTION reply body: its repository id, then its members.
    fn write(&self, w: &mut Writer) {
        match self {
            NamingError::NotFound { why, rest } => cos::write_not_found(w, *why, rest),
            NamingError::CannotProceed { cxt, rest } => {
                w.string(cos::CANNOT_PROCEED_ID);
                cxt.write(w);
                cos::write_name(w, rest);
            }
            NamingError::InvalidName => w.string(cos::INVALID_NAME_ID),
            NamingError::AlreadyBound => w.string(cos::ALREADY_BOUND_ID),
            NamingError::NotEmpty => w.string(cos::NOT_EMPTY_ID),
            NamingError::InvalidAddress => w.string(cos::INVALID_ADDRESS_ID),
        }
    }
}

/// The whole naming tree, and the iterators `list` handed out.
#[derive(Debug)]
pub struct Naming {
    endpoint: Endpoint,
    contexts: HashMap<u64, Context>,
    next_context: u64,
    iterators: HashMap<u64, VecDeque<Binding>>,
    iterator_order: VecDeque<u64>,
    next_iterator: u64,
}

/// What an object key of the naming service names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamingObject {
    Context(u64),
    Iterator(u64),
}

/// The root context's id (key `NameService`).
const ROOT: u64 = 0;

impl Naming {
    pub fn new(endpoint: Endpoint) -> Self {
        let mut contexts = HashMap::new();
        contexts.insert(ROOT, Context::default());
        Naming {
            endpoint,
            contexts,
            next_context: 1,
            iterators: HashMap::new(),
            iterator_order: VecDeque::new(),
            next_iterator: 1,
        }
    }

    /// Context keys are `NameService` (the root) and `NameService/<n>`; iterators
    /// `NameService/iterator/<n>`. Text keys, so a capture shows which context a request went to.
    fn context_key(id: u64) -> Vec<u8> {
        if id == ROOT {
            cos::NAME_SERVICE_KEY.to_vec()
        } else {
            format!("NameService/{id}").into_bytes()
        }
    }

    /// Which naming object `key` names (None: not one of this service's).
    pub fn object(&self, key: &[u8]) -> Option<NamingObject> {
        if key == cos::NAME_SERVICE_KEY {
            return Some(NamingObject::Context(ROOT));
        }
        let rest = std::str::from_utf8(key).ok()?.strip_prefix("NameService/")?;
        if let Some(n) = rest.strip_prefix("iterator/") {
            let id = n.parse().ok()?;
            return self
                .iterators
                .contains_key(&id)
                .then_some(NamingObject::Iterator(id));
        }
        let id = rest.parse().ok()?;
        self.contexts
            .contains_key(&id)
            .then_some(NamingObject::Context(id))
    }

    pub fn type_ids(object: NamingObject) -> &'static [&'static str] {
        match object {
            NamingObject::Context(_) => &[NAMING_CONTEXT_EXT_ID, NAMING_CONTEXT_ID, OBJECT_TYPE_ID],
            NamingObject::Iterator(_) => &[cos::BINDING_ITERATOR_ID, OBJECT_TYPE_ID],
        }
    }

    /// The root context's reference (what `corbaloc::host:2809/NameService` also reaches).
    pub fn root_ior(&self) -> Ior {
        self.endpoint.ior(NAMING_CONTEXT_EXT_ID, cos::NAME_SERVICE_KEY)
    }

    fn context_ior(&self, id: u64) -> Ior {
        self.endpoint.ior(NAMING_CONTEXT_EXT_ID, &Self::context_key(id))
    }

    /// Is `ior` one of this service's own contexts? (then a name can be walked through it here)
    fn local_context(&self, ior: &Ior) -> Option<u64> {
        let p = ior.iiop_profile()?.ok()?;
        if !self.endpoint.is_me(&p.host, p.port) {
            return None;
        }
        match self.object(&p.object_key)? {
            NamingObject::Context(id) => Some(id),
            NamingObject::Iterator(_) => None,
        }
    }

    /// Binds `[("Hello","")]`-style names directly (the server's own Hello, no network).
    pub fn rebind_here(&mut self, name: &str, ior: Ior) -> Result<(), NamingError> {
        let name = cos::string_to_name(name).map_err(|_| NamingError::InvalidName)?;
        self.bind(ROOT, &name, ior, false, true)
    }

    /// Runs `operation` on a naming object with the request's arguments.
    pub fn invoke(&mut self, object: NamingObject, operation: &str, args: &mut Reader) -> Answer {
        let result = match object {
            NamingObject::Context(id) => self.context_op(id, operation, args),
            NamingObject::Iterator(id) => self.iterator_op(id, operation, args),
        };
        match result {
            Ok(Ok(body)) => Answer::Ok(body),
            Ok(Err(e)) => {
                let mut w = Writer::new(true);
                e.write(&mut w);
                Answer::User(w.into_bytes())
            }
            Err(system) => Answer::System(system),
        }
    }

    /// Ok(Ok(result bytes)), Ok(Err(a CosNaming exception)), or Err(a system exception).
    fn context_op(
        &mut self,
        ctx: u64,
        operation: &str,
        args: &mut Reader,
    ) -> Result<Result<Vec<u8>, NamingError>, SystemException> {
        let mut out = Writer::new(true);
        let r = match operation {
            "bind" | "rebind" | "bind_context" | "rebind_context" => {
                let name = cos::read_name(args).map_err(marshal)?;
                let ior = Ior::read(args).map_err(marshal)?;
                let is_context = operation.ends_with("context");
                self.bind(ctx, &name, ior, is_context, operation.starts_with("rebind"))
            }
            "resolve" => {
                let name = cos::read_name(args).map_err(marshal)?;
                self.resolve(ctx, &name).map(|ior| ior.write(&mut out))
            }
            "resolve_str" => {
                let s = args.string("the name").map_err(marshal)?;
                match cos::string_to_name(&s) {
                    Ok(name) => self.resolve(ctx, &name).map(|ior| ior.write(&mut out)),
                    Err(_) => Err(NamingError::InvalidName),
                }
            }
            "unbind" => {
                let name = cos::read_name(args).map_err(marshal)?;
                self.unbind(ctx, &name)
            }
            "new_context" => {
                let id = self.new_context();
                self.context_ior(id).write(&mut out);
                Ok(())
            }
            "bind_new_context" => {
                let name = cos::read_name(args).map_err(marshal)?;
                self.bind_new_context(ctx, &name).map(|ior| ior.write(&mut out))
            }
            "destroy" => self.destroy(ctx),
            "list" => {
                let how_many = args.ulong("how_many").map_err(marshal)? as usize;
                self.list(ctx, how_many, &mut out);
                Ok(())
            }
            "to_string" => {
                let name = cos::read_name(args).map_err(marshal)?;
                if name.is_empty() {
                    Err(NamingError::InvalidName)
                } else {
                    out.string(&cos::name_to_string(&name));
                    Ok(())
                }
            }
            "to_name" => {
                let s = args.string("the name").map_err(marshal)?;
                cos::string_to_name(&s)
                    .map(|name| cos::write_name(&mut out, &name))
                    .map_err(|_| NamingError::InvalidName)
            }
            "to_url" => {
                let addr = args.string("the address").map_err(marshal)?;
                let sn = args.string("the name").map_err(marshal)?;
                to_url(&addr, &sn).map(|url| out.string(&url))
            }
            _ => return Err(SystemException::new("BAD_OPERATION", 0, Completion::No)),
        };
        Ok(r.map(|()| out.into_bytes()))
    }

    fn iterator_op(
        &mut self,
        it: u64,
        operation: &str,
        args: &mut Reader,
    ) -> Result<Result<Vec<u8>, NamingError>, SystemException> {
        let mut out = Writer::new(true);
        let queue = self.iterators.get_mut(&it).ok_or_else(not_exist)?;
        match operation {
            // boolean next_one(out Binding b): the result first, then the out parameter.
            "next_one" => match queue.pop_front() {
                Some(b) => {
                    out.boolean(true);
                    cos::write_binding(&mut out, &b);
                }
                None => {
                    out.boolean(false);
                    cos::write_binding(
                        &mut out,
                        &Binding {
                            name: Vec::new(),
                            is_context: false,
                        },
                    );
                }
            },
            "next_n" => {
                let n = args.ulong("how_many").map_err(marshal)? as usize;
                if n == 0 {
                    return Err(SystemException::new("BAD_PARAM", 0, Completion::No));
                }
                let take: Vec<Binding> = queue.drain(..n.min(queue.len())).collect();
                out.boolean(!take.is_empty());
                out.ulong(take.len() as u32);
                for b in &take {
                    cos::write_binding(&mut out, b);
                }
            }
            "destroy" => {
                self.iterators.remove(&it);
                self.iterator_order.retain(|i| *i != it);
            }
            _ => return Err(SystemException::new("BAD_OPERATION", 0, Completion::No)),
        }
        Ok(Ok(out.into_bytes()))
    }

    /// Walks all components but the last; returns the context that holds the last one.
    fn walk<'n>(
        &self,
        mut ctx: u64,
        name: &'n [NameComponent],
    ) -> Result<(u64, &'n NameComponent), NamingError> {
        let Some((last, path)) = name.split_last() else {
            return Err(NamingError::InvalidName);
        };
        for (i, c) in path.iter().enumerate() {
            let context = self.contexts.get(&ctx).ok_or(NamingError::InvalidName)?;
            let rest = name[i..].to_vec();
            match context.bindings.get(c) {
                None => {
                    return Err(NamingError::NotFound {
                        why: NotFoundReason::MissingNode,
                        rest,
                    })
                }
                Some(Bound {
                    kind: BoundKind::Object,
                    ..
                }) => {
                    return Err(NamingError::NotFound {
                        why: NotFoundReason::NotContext,
                        rest,
                    })
                }
                Some(Bound {
                    kind: BoundKind::ForeignContext,
                    ior,
                }) => {
                    return Err(NamingError::CannotProceed {
                        cxt: ior.clone(),
                        rest: name[i + 1..].to_vec(),
                    })
                }
                Some(Bound {
                    kind: BoundKind::LocalContext(id),
                    ..
                }) => ctx = *id,
            }
        }
        Ok((ctx, last))
    }

    fn bind(
        &mut self,
        ctx: u64,
        name: &[NameComponent],
        ior: Ior,
        is_context: bool,
        rebind: bool,
    ) -> Result<(), NamingError> {
        let (holder, last) = self.walk(ctx, name)?;
        let kind = if is_context {
            self.local_context(&ior)
                .map_or(BoundKind::ForeignContext, BoundKind::LocalContext)
        } else {
            BoundKind::Object
        };
        let context = self.contexts.get_mut(&holder).ok_or(NamingError::InvalidName)?;
        match context.bindings.get(last) {
            Some(_) if !rebind => return Err(NamingError::AlreadyBound),
            // rebind may not turn a context binding into an object binding or back (§2.2.2).
            Some(old) if (old.kind == BoundKind::Object) == is_context => {
                let why = if is_context {
                    NotFoundReason::NotContext
                } else {
                    NotFoundReason::NotObject
                };
                return Err(NamingError::NotFound {
                    why,
                    rest: vec![last.clone()],
                });
            }
            None if context.bindings.len() >= MAX_BINDINGS => return Err(NamingError::InvalidName),
            _ => {}
        }
        context.bindings.insert(last.clone(), Bound { ior, kind });
        Ok(())
    }

    fn resolve(&self, ctx: u64, name: &[NameComponent]) -> Result<Ior, NamingError> {
        let (holder, last) = self.walk(ctx, name)?;
        let context = self.contexts.get(&holder).ok_or(NamingError::InvalidName)?;
        context
            .bindings
            .get(last)
            .map(|b| b.ior.clone())
            .ok_or_else(|| NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest: vec![last.clone()],
            })
    }

    fn unbind(&mut self, ctx: u64, name: &[NameComponent]) -> Result<(), NamingError> {
        let (holder, last) = self.walk(ctx, name)?;
        let context = self.contexts.get_mut(&holder).ok_or(NamingError::InvalidName)?;
        context
            .bindings
            .remove(last)
            .map(|_| ())
            .ok_or_else(|| NamingError::NotFound {
                why: NotFoundReason::MissingNode,
                rest: vec![last.clone()],
            })
    }

    fn new_context(&mut self) -> u64 {
        let id = self.next_context;
        self.next_context += 1;
        self.contexts.insert(id, Context::default());
        id
    }

    fn bind_new_context(&mut self, ctx: u64, name: &[NameComponent]) -> Result<Ior, NamingError> {
        let (holder, last) = self.walk(ctx, name)?;
        if self
            .contexts
            .get(&holder)
            .is_some_and(|c| c.bindings.contains_key(last))
        {
            return Err(NamingError::AlreadyBound);
        }
        let id = self.new_context();
        let ior = self.context_ior(id);
        self.bind(ctx, name, ior.clone(), true, false)?;
        Ok(ior)
    }

    fn destroy(&mut self, ctx: u64) -> Result<(), NamingError> {
        if self.contexts.get(&ctx).is_some_and(|c| !c.bindings.is_empty()) {
            return Err(NamingError::NotEmpty);
        }
        // The root stays: destroying it would leave the service with nothing at `NameService`.
        if ctx != ROOT {
            self.contexts.remove(&ctx);
        }
        Ok(())
    }

    /// `void list(in unsigned long how_many, out BindingList bl, out BindingIterator bi)`: up to
    /// `how_many` bindings now, the rest through an iterator (nil when nothing is left).
    fn list(&mut self, ctx: u64, how_many: usize, out: &mut Writer) {
        let all: Vec<Binding> = self
            .contexts
            .get(&ctx)
            .map(|c| {
                c.bindings
                    .iter()
                    .map(|(n, b)| Binding {
                        name: vec![n.clone()],
                        is_context: b.kind != BoundKind::Object,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let now = how_many.min(all.len());
        out.ulong(now as u32);
        for b in &all[..now] {
            cos::write_binding(out, b);
        }
        if now == all.len() {
            Ior::nil().write(out);
            return;
        }
        if self.iterators.len() >= MAX_ITERATORS {
            if let Some(old) = self.iterator_order.pop_front() {
                self.iterators.remove(&old);
            }
        }
        let id = self.next_iterator;
        self.next_iterator += 1;
        self.iterators.insert(id, all[now..].iter().cloned().collect());
        self.iterator_order.push_back(id);
        self.endpoint
            .ior(
                cos::BINDING_ITERATOR_ID,
                format!("NameService/iterator/{id}").as_bytes(),
            )
            .write(out);
    }
}

/// `to_url("host:2809", "a/b")` = `corbaname:host:2809#a/b` with RFC 2396 escapes (§2.4.3).
fn to_url(addr: &str, sn: &str) -> Result<String, NamingError> {
    if addr.is_empty() {
        return Err(NamingError::InvalidAddress);
    }
    if cos::string_to_name(sn).is_err() {
        return Err(NamingError::InvalidName);
    }
    let mut url = format!("corbaname:{addr}#");
    for b in sn.bytes() {
        if b.is_ascii_alphanumeric() || b";/:?@&=+$,-_.!~*'()".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02x}"));
        }
    }
    Ok(url)
}

fn marshal(e: wire::DecodeError) -> SystemException {
    tracing::debug!("arguments that do not read: {e}");
    SystemException::new("MARSHAL", 0, Completion::No)
}

fn not_exist() -> SystemException {
    SystemException::new("OBJECT_NOT_EXIST", 0, Completion::No)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::giop::naming::write_name;

    fn service() -> Naming {
        Naming::new(Endpoint {
            host: "127.0.0.1".into(),
            port: 2809,
        })
    }

    fn call(n: &mut Naming, key: &[u8], op: &str, args: impl FnOnce(&mut Writer)) -> Answer {
        let mut w = Writer::new(false);
        args(&mut w);
        let bytes = w.into_bytes();
        let object = n.object(key).expect("a naming object");
        n.invoke(object, op, &mut Reader::new(&bytes, false))
    }

    fn name(s: &str) -> Name {
        cos::string_to_name(s).unwrap()
    }

    fn hello_ior() -> Ior {
        Endpoint {
            host: "10.0.0.2".into(),
            port: 2809,
        }
        .ior("IDL:HelloApp/Hello:1.0", b"Hello")
    }

    fn user_id(a: &Answer) -> String {
        let Answer::User(b) = a else {
            panic!("not a user exception: {a:?}")
        };
        Reader::new(b, true).string("id").unwrap()
    }

    #[test]
    fn the_course_rebinds_and_resolves_hello() {
        let mut n = service();
        let a = call(&mut n, b"NameService", "rebind", |w| {
            write_name(w, &name("Hello"));
            hello_ior().write(w);
        });
        assert_eq!(a, Answer::Ok(vec![]));
        let Answer::Ok(b) = call(&mut n, b"NameService", "resolve_str", |w| w.string("Hello")) else {
            panic!()
        };
        assert_eq!(Ior::read(&mut Reader::new(&b, true)).unwrap(), hello_ior());
        let Answer::Ok(b) = call(&mut n, b"NameService", "resolve", |w| {
            write_name(w, &name("Hello"))
        }) else {
            panic!()
        };
        assert_eq!(Ior::read(&mut Reader::new(&b, true)).unwrap(), hello_ior());
    }

    #[test]
    fn not_found_says_why_and_what_is_left() {
        let mut n = service();
        let a = call(&mut n, b"NameService", "resolve_str", |w| w.string("Nobody"));
        let Answer::User(b) = &a else { panic!() };
        let mut r = Reader::new(b, true);
        assert_eq!(r.string("id").unwrap(), cos::NOT_FOUND_ID);
        assert_eq!(r.ulong("why").unwrap(), 0);
        assert_eq!(cos::read_name(&mut r).unwrap(), name("Nobody"));
        assert_eq!(
            user_id(&call(&mut n, b"NameService", "resolve_str", |w| w.string("a//b"))),
            cos::INVALID_NAME_ID
        );
        assert_eq!(
            user_id(&call(&mut n, b"NameService", "resolve", |w| w.ulong(0))),
            cos::INVALID_NAME_ID
        );
    }

    #[test]
    fn contexts_bind_and_already_bound() {
        let mut n = service();
        let Answer::Ok(b) = call(&mut n, b"NameService", "bind_new_context", |w| {
            write_name(w, &name("lab"))
        }) else {
            panic!()
        };
        let ctx = Ior::read(&mut Reader::new(&b, true)).unwrap();
        let key = ctx.iiop_profile().unwrap().unwrap().object_key;
        assert_eq!(key, b"NameService/1");
        let bind = |n: &mut Naming| {
            call(n, b"NameService", "bind", |w| {
                write_name(w, &name("lab/Hello.obj"));
                hello_ior().write(w);
            })
        };
        assert_eq!(bind(&mut n), Answer::Ok(vec![]));
        assert_eq!(user_id(&bind(&mut n)), cos::ALREADY_BOUND_ID);
        let Answer::Ok(b) = call(&mut n, &key, "resolve_str", |w| w.string("Hello.obj")) else {
            panic!()
        };
        assert_eq!(Ior::read(&mut Reader::new(&b, true)).unwrap(), hello_ior());
        // Through an object binding: NotFound not_context.
        let a = call(&mut n, b"NameService", "resolve_str", |w| {
            w.string("lab/Hello.obj/x")
        });
        let Answer::User(b) = &a else { panic!() };
        let mut r = Reader::new(b, true);
        r.string("id").unwrap();
        assert_eq!(r.ulong("why").unwrap(), 1);
        assert_eq!(user_id(&call(&mut n, &key, "destroy", |_| {})), cos::NOT_EMPTY_ID);
        assert_eq!(
            call(&mut n, b"NameService", "unbind", |w| write_name(
                w,
                &name("lab/Hello.obj")
            )),
            Answer::Ok(vec![])
        );
        assert_eq!(call(&mut n, &key, "destroy", |_| {}), Answer::Ok(vec![]));
        assert!(n.object(&key).is_none());
    }

    #[test]
    fn list_hands_the_rest_to_an_iterator() {
        let mut n = service();
        for s in ["a", "b", "c"] {
            n.rebind_here(s, hello_ior()).unwrap();
        }
        let Answer::Ok(b) = call(&mut n, b"NameService", "list", |w| w.ulong(1)) else {
            panic!()
        };
        let mut r = Reader::new(&b, true);
        assert_eq!(r.ulong("count").unwrap(), 1);
        assert_eq!(cos::read_binding(&mut r).unwrap().name, name("a"));
        let it = Ior::read(&mut r).unwrap();
        let key = it.iiop_profile().unwrap().unwrap().object_key;
        let Answer::Ok(b) = call(&mut n, &key, "next_n", |w| w.ulong(5)) else {
            panic!()
        };
        let mut r = Reader::new(&b, true);
        assert!(r.boolean("more").unwrap());
        assert_eq!(r.ulong("count").unwrap(), 2);
        let Answer::Ok(b) = call(&mut n, &key, "next_one", |_| {}) else {
            panic!()
        };
        assert!(!Reader::new(&b, true).boolean("more").unwrap());
        assert_eq!(call(&mut n, &key, "destroy", |_| {}), Answer::Ok(vec![]));
        assert!(n.object(&key).is_none());
        let Answer::Ok(b) = call(&mut n, b"NameService", "list", |w| w.ulong(10)) else {
            panic!()
        };
        let mut r = Reader::new(&b, true);
        assert_eq!(r.ulong("count").unwrap(), 3);
        for _ in 0..3 {
            cos::read_binding(&mut r).unwrap();
        }
        assert!(Ior::read(&mut r).unwrap().is_nil());
    }

    #[test]
    fn ext_operations() {
        let mut n = service();
        let Answer::Ok(b) = call(&mut n, b"NameService", "to_name", |w| w.string("a/b.k")) else {
            panic!()
        };
        let parsed = cos::read_name(&mut Reader::new(&b, true)).unwrap();
        assert_eq!(
            parsed,
            vec![NameComponent::new("a", ""), NameComponent::new("b", "k")]
        );
        let Answer::Ok(b) = call(&mut n, b"NameService", "to_string", |w| write_name(w, &parsed)) else {
            panic!()
        };
        assert_eq!(Reader::new(&b, true).string("s").unwrap(), "a/b.k");
        let Answer::Ok(b) = call(&mut n, b"NameService", "to_url", |w| {
            w.string(":host:2809");
            w.string("a b");
        }) else {
            panic!()
        };
        assert_eq!(
            Reader::new(&b, true).string("s").unwrap(),
            "corbaname::host:2809#a%20b"
        );
        let a = call(&mut n, b"NameService", "to_url", |w| {
            w.string("");
            w.string("a");
        });
        assert_eq!(user_id(&a), cos::INVALID_ADDRESS_ID);
        assert!(
            matches!(call(&mut n, b"NameService", "frobnicate", |_| {}), Answer::System(s) if s.short_name() == "BAD_OPERATION")
        );
        assert!(
            matches!(call(&mut n, b"NameService", "resolve", |w| w.ulong(5)), Answer::System(s) if s.short_name() == "MARSHAL")
        );
    }
}
