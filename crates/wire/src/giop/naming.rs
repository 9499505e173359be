//! CosNaming, the CORBA Naming Service's values as they travel (the Naming Service specification,
//! version 1.3, §2.2 and §2.4), for the naming service, the clients and the analyzer.
//!
//! A *name* is a sequence of components, each an `id` and a `kind` (`[("Hello", "")]`); the naming
//! service is a tree of contexts holding bindings from names to object references. The course's
//! server `rebind`s `Hello`; a client `resolve`s it (or `resolve_str`s `"Hello"`) and gets an IOR.
//!
//! ```text
//!   struct NameComponent { string id; string kind; };   typedef sequence<NameComponent> Name;
//!   "Hello"        = [("Hello", "")]        the stringified form of §2.4.2 (NamingContextExt):
//!   "a/b.kind"     = [("a",""),("b","kind")]   '/' separates components, '.' id from kind,
//!   "x\.y"         = [("x.y", "")]             '\' escapes either (and itself)
//! ```

use super::cdr::{Reader, Writer};
use super::ior::Ior;
use crate::DecodeError;

pub const NAMING_CONTEXT_ID: &str = "IDL:omg.org/CosNaming/NamingContext:1.0";
pub const NAMING_CONTEXT_EXT_ID: &str = "IDL:omg.org/CosNaming/NamingContextExt:1.0";
pub const BINDING_ITERATOR_ID: &str = "IDL:omg.org/CosNaming/BindingIterator:1.0";
pub const NOT_FOUND_ID: &str = "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0";
pub const CANNOT_PROCEED_ID: &str = "IDL:omg.org/CosNaming/NamingContext/CannotProceed:1.0";
pub const INVALID_NAME_ID: &str = "IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0";
pub const ALREADY_BOUND_ID: &str = "IDL:omg.org/CosNaming/NamingContext/AlreadyBound:1.0";
pub const NOT_EMPTY_ID: &str = "IDL:omg.org/CosNaming/NamingContext/NotEmpty:1.0";
pub const INVALID_ADDRESS_ID: &str = "IDL:omg.org/CosNaming/NamingContextExt/InvalidAddress:1.0";

/// The object key of the root naming context, as omniNames and sister both use it, so that
/// `corbaloc::host:2809/NameService` reaches it (§13.6.10.1 names this key).
pub const NAME_SERVICE_KEY: &[u8] = b"NameService";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameComponent {
    pub id: String,
    pub kind: String,
}

impl NameComponent {
    pub fn new(id: &str, kind: &str) -> Self {
        NameComponent {
            id: id.to_owned(),
            kind: kind.to_owned(),
        }
    }
}

pub type Name = Vec<NameComponent>;

pub fn read_name(r: &mut Reader) -> Result<Name, DecodeError> {
    let n = r.count(10, "the number of name components")?;
    let mut name = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.string("a name component's id")?;
        let kind = r.string("a name component's kind")?;
        name.push(NameComponent { id, kind });
    }
    Ok(name)
}

pub fn write_name(w: &mut Writer, name: &[NameComponent]) {
    w.ulong(name.len() as u32);
    for c in name {
        w.string(&c.id);
        w.string(&c.kind);
    }
}

fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        if matches!(ch, '/' | '.' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
}

/// A name as NamingContextExt::to_string writes it (§2.4.2).
pub fn name_to_string(name: &[NameComponent]) -> String {
    let mut out = String::new();
    for (i, c) in name.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if c.id.is_empty() && c.kind.is_empty() {
            out.push('.');
            continue;
        }
        escape(&c.id, &mut out);
        if !c.kind.is_empty() {
            out.push('.');
            escape(&c.kind, &mut out);
        }
    }
    out
}

/// NamingContextExt::to_name (§2.4.2): Err (InvalidName) for "", an empty component (`a//b`) or a
/// component with two unescaped dots.
pub fn string_to_name(s: &str) -> Result<Name, String> {
    if s.is_empty() {
        return Err("an empty name".into());
    }
    let mut name = Vec::new();
    // (id, kind, has the unescaped '.' been seen)
    let mut parts: (String, String, bool) = Default::default();
    let mut chars = s.chars();
    let mut component_len = 0usize;
    let finish = |parts: &mut (String, String, bool), len: usize, name: &mut Name| -> Result<(), String> {
        if len == 0 {
            return Err(format!("{s:?} has an empty component"));
        }
        let (id, kind, _) = std::mem::take(parts);
        name.push(NameComponent { id, kind });
        Ok(())
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                let next = chars.next().ok_or_else(|| format!("{s:?} ends with a lone \\"))?;
                let target = if parts.2 { &mut parts.1 } else { &mut parts.0 };
                target.push(next);
                component_len += 1;
            }
            '/' => {
                finish(&mut parts, component_len, &mut name)?;
                component_len = 0;
            }
            '.' => {
                if parts.2 {
                    return Err(format!("{s:?}: a component has two unescaped dots"));
                }
                parts.2 = true;
                component_len += 1;
            }
            c => {
                let target = if parts.2 { &mut parts.1 } else { &mut parts.0 };
                target.push(c);
                component_len += 1;
            }
        }
    }
    finish(&mut parts, component_len, &mut name)?;
    Ok(name)
}

/// `enum NotFoundReason { missing_node, not_context, not_object }` (§2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFoundReason {
    MissingNode,
    NotContext,
    NotObject,
}

impl NotFoundReason {
    pub fn to_u32(self) -> u32 {
        match self {
            NotFoundReason::MissingNode => 0,
            NotFoundReason::NotContext => 1,
            NotFoundReason::NotObject => 2,
        }
    }
    pub fn from_u32(n: u32) -> Option<Self> {
        match n {
            0 => Some(NotFoundReason::MissingNode),
            1 => Some(NotFoundReason::NotContext),
            2 => Some(NotFoundReason::NotObject),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            NotFoundReason::MissingNode => "missing_node",
            NotFoundReason::NotContext => "not_context",
            NotFoundReason::NotObject => "not_object",
        }
    }
}

/// `enum BindingType { nobject, ncontext }` and `struct Binding { Name binding_name; BindingType
/// binding_type; }` (§2.2.1), what `list` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub name: Name,
    pub is_context: bool,
}

pub fn write_binding(w: &mut Writer, b: &Binding) {
    write_name(w, &b.name);
    w.ulong(u32::from(b.is_context));
}

pub fn read_binding(r: &mut Reader) -> Result<Binding, DecodeError> {
    let name = read_name(r)?;
    let is_context = r.ulong("the binding type")? == 1;
    Ok(Binding { name, is_context })
}

/// A NotFound exception's body after its repository id: `why` and the rest of the name.
pub fn write_not_found(w: &mut Writer, why: NotFoundReason, rest_of_name: &[NameComponent]) {
    w.string(NOT_FOUND_ID);
    w.ulong(why.to_u32());
    write_name(w, rest_of_name);
}

/// The arguments of a NamingContext(Ext) request, for showing: `resolve Hello`, `rebind Hello`
/// (with the type of the object bound). None for other operations or arguments that do not read.
pub fn describe_request(operation: &str, args: &mut Reader) -> Option<String> {
    let text = match operation {
        "bind" | "rebind" | "bind_context" | "rebind_context" => {
            let name = read_name(args).ok()?;
            let ior = Ior::read(args).ok()?;
            format!("{} → {}", shorten(name_to_string(&name)), describe_ior(&ior))
        }
        "resolve" | "unbind" | "bind_new_context" | "to_string" => name_to_string(&read_name(args).ok()?),
        "resolve_str" | "to_name" => args.string("the name").ok()?,
        "to_url" => {
            let addr = args.string("the address").ok()?;
            let name = args.string("the name").ok()?;
            format!("{addr} {name}")
        }
        "list" => format!("up to {}", args.ulong("how_many").ok()?),
        "next_n" => format!("up to {}", args.ulong("how_many").ok()?),
        _ => return None,
    };
    Some(if text.contains(" → ") {
        text
    } else {
        shorten(text)
    })
}

/// A description is one line of a report: a 10,000-character name (as in testdata/corba's fragment
/// captures) is cut after 60 characters.
fn shorten(text: String) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text;
    }
    let mut s: String = text.chars().take(MAX).collect();
    s.push('…');
    s
}

/// An IOR in a few words: its type and where its IIOP profile points.
pub fn describe_ior(ior: &Ior) -> String {
    if ior.is_nil() {
        return "nil".into();
    }
    let ty = if ior.type_id.is_empty() {
        "an object"
    } else {
        ior.type_id.as_str()
    };
    match ior.iiop_profile() {
        Some(Ok(p)) => format!("{ty} at {}:{}", p.host, p.port),
        _ => ty.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringified_names() {
        let n = string_to_name("a/b.kind/x\\.y/.k/.").unwrap();
        assert_eq!(
            n,
            vec![
                NameComponent::new("a", ""),
                NameComponent::new("b", "kind"),
                NameComponent::new("x.y", ""),
                NameComponent::new("", "k"),
                NameComponent::new("", ""),
            ]
        );
        assert_eq!(name_to_string(&n), "a/b.kind/x\\.y/.k/.");
        for bad in ["", "a//b", "/a", "a/", "a.b.c", "a\\"] {
            assert!(string_to_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            string_to_name("Hello").unwrap(),
            vec![NameComponent::new("Hello", "")]
        );
    }

    #[test]
    fn names_and_requests_in_cdr() {
        let mut w = Writer::new(false);
        write_name(&mut w, &[NameComponent::new("Hello", "")]);
        let b = w.into_bytes();
        assert_eq!(
            describe_request("resolve", &mut Reader::new(&b, false)).unwrap(),
            "Hello"
        );
        let mut w = Writer::new(true);
        w.string("a/b");
        let b = w.into_bytes();
        assert_eq!(
            describe_request("resolve_str", &mut Reader::new(&b, true)).unwrap(),
            "a/b"
        );
        assert_eq!(describe_request("sayHello", &mut Reader::new(&[], true)), None);
        assert_eq!(describe_ior(&Ior::nil()), "nil");
        let mut w = Writer::new(true);
        w.string(&"n".repeat(10_000));
        let b = w.into_bytes();
        let long = describe_request("resolve_str", &mut Reader::new(&b, true)).unwrap();
        assert_eq!(long.chars().count(), 61);
    }
}
