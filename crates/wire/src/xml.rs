//! A small, bounded XML tree for SOAP envelopes and WSDL documents, read with quick-xml.
//!
//! SOAP messages and WSDL files are small documents whose meaning lies in *namespaced* element names
//! (`{http://schemas.xmlsoap.org/soap/envelope/}Body`), so this module resolves every prefix while it
//! reads and keeps only what the SOAP and WSDL code needs: an element's namespace, local name,
//! attributes, text and children. Prefixes are a detail of one document (spyne writes `soap11env:`, zeep
//! writes `soap-env:`); the namespace is what counts.
//!
//! What a hostile document cannot do here (and why it matters for a server on a network):
//! - **No DTD at all.** A `<!DOCTYPE ...>` is refused, so no entity can be declared, hence none expanded
//!   ("billion laughs") and none fetched from outside (XXE). SOAP 1.1 §3 forbids a DTD in a SOAP message
//!   anyway. Only XML's five predefined entities and character references (`&#65;`) are understood.
//! - **No processing instructions** (SOAP 1.1 §3 forbids them too); the XML declaration is fine.
//! - **Bounded**: a maximum input size, nesting depth and element count ([`Limits`]), checked while
//!   reading, so memory stays proportional to the input and the input is capped.
//! - **Never a panic**: every malformed input is an [`XmlError`].

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// How much a document may hold before it is refused.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in the whole document.
    pub max_elements: usize,
}

impl Default for Limits {
    /// Generous for a SOAP call or a WSDL (spyne's calculator WSDL is about 3 KiB), small for an attack.
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_elements: 20_000,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the document has a DOCTYPE: refused (SOAP 1.1 §3 forbids a DTD; no entity is ever expanded or fetched)")]
    Doctype,
    #[error("the document has a processing instruction <?{0} ...?>: refused (SOAP 1.1 §3)")]
    ProcessingInstruction(String),
    #[error("the document is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("elements nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
    #[error("the document is not UTF-8 (sister reads SOAP and WSDL in UTF-8 only)")]
    NotUtf8,
    #[error(
        "unknown entity &{0}; (only XML's predefined entities and character references exist without a DTD)"
    )]
    UnknownEntity(String),
    #[error("the namespace prefix `{0}` is not declared")]
    UnknownPrefix(String),
    #[error("no root element")]
    Empty,
    #[error("malformed XML at byte {at}: {reason}")]
    Malformed { at: u64, reason: String },
}

/// One element: its resolved name, attributes, text and child elements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The namespace URI the element's prefix (or the default namespace) resolved to. Shared (`Arc`):
    /// a document names few namespaces, each element points at its one copy.
    pub ns: Option<Arc<str>>,
    /// The name without its prefix.
    pub local: String,
    /// Attributes other than namespace declarations, with their resolved namespaces.
    pub attrs: Vec<Attribute>,
    /// The element's own text (all text children joined, entities resolved; CDATA included).
    pub text: String,
    pub children: Vec<Element>,
}

/// One attribute, resolved like an element name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<Arc<str>>,
    pub local: String,
    pub value: String,
}

/// The XML Schema instance namespace (`xsi:nil`, `xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

impl Element {
    /// True when the element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// The first child `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The unqualified attribute `name` (WSDL and schema attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == name)
            .map(|a| a.value.as_str())
    }

    /// The attribute `{ns}name`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == name)
            .map(|a| a.value.as_str())
    }

    /// `xsi:nil="true"`: the element is present but has no value.
    pub fn is_nil(&self) -> bool {
        matches!(self.attr_ns(XSI_NS, "nil"), Some("true") | Some("1"))
    }

    /// The name as `{ns}local`, for messages.
    pub fn qname(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }
}

/// Read `input` into a tree, refusing DTDs, processing instructions, unknown entities, and anything past
/// `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    // A byte-order mark is allowed before the XML declaration.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;

    // Sized for a SOAP call up front (a handful of levels and declarations) rather than grown a step
    // at a time: a server parses one document per request.
    let mut stack: Vec<Element> = Vec::with_capacity(8);
    let mut root: Option<Element> = None;
    let mut scopes = Scopes {
        bindings: Vec::with_capacity(8),
        prefixes: String::with_capacity(64),
        declared: Vec::with_capacity(8),
        interned: Vec::with_capacity(4),
    };
    let mut elements = 0usize;
    loop {
        let at = reader.buffer_position();
        let malformed = |e: quick_xml::Error| XmlError::Malformed {
            at,
            reason: e.to_string(),
        };
        match reader.read_event().map_err(malformed)? {
            Event::Start(start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                if root.is_some() {
                    return Err(XmlError::Malformed {
                        at,
                        reason: "a second root element".into(),
                    });
                }
                let element = start_element(&mut scopes, &start, at)?;
                stack.push(element);
            }
            Event::End(_) => {
                scopes.close();
                let Some(done) = stack.pop() else {
                    return Err(XmlError::Malformed {
                        at,
                        reason: "an end tag without a start".into(),
                    });
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| XmlError::Malformed {
                    at,
                    reason: e.to_string(),
                })?;
                push_text(&mut stack, &s, at)?;
            }
            Event::CData(c) => {
                let s = c.xml10_content().map_err(|e| XmlError::Malformed {
                    at,
                    reason: e.to_string(),
                })?;
                push_text(&mut stack, &s, at)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = String::from_utf8_lossy(&r).into_owned();
                        match predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => return Err(XmlError::UnknownEntity(name)),
                        }
                    }
                    Err(e) => return Err(malformed(e)),
                };
                push_text(&mut stack, &resolved, at)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(pi) => {
                return Err(XmlError::ProcessingInstruction(
                    String::from_utf8_lossy(pi.target()).into_owned(),
                ))
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Empty(_) => {
                // expand_empty_elements turns `<a/>` into Start + End; never reached.
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed {
            at: reader.buffer_position(),
            reason: format!("the document ends inside <{}>", stack.len()),
        });
    }
    root.ok_or(XmlError::Empty)
}

/// The namespace of the reserved `xml:` prefix (Namespaces in XML §3), bound without a declaration.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Namespace declarations in scope (Namespaces in XML §6): each `xmlns:p="uri"` (or `xmlns="uri"`, the
/// default namespace) holds from its element to that element's end tag; an inner declaration of the same
/// prefix hides an outer one. Resolving a name looks for its prefix from the innermost declaration out.
struct Scopes {
    /// (prefix, namespace) in declaration order; the prefix is a range of `prefixes`, `""` is the
    /// default namespace, `None` undeclares it.
    bindings: Vec<(Range<usize>, Option<Arc<str>>)>,
    /// The declared prefixes one after another (one buffer rather than a string per declaration: this
    /// runs for every SOAP call a server reads).
    prefixes: String,
    /// How many bindings each open element declared, to drop them at its end tag.
    declared: Vec<usize>,
    /// Each namespace URI of the document once, shared by every element in it.
    interned: Vec<Arc<str>>,
}

impl Scopes {
    fn intern(&mut self, uri: &str) -> Arc<str> {
        if let Some(known) = self.interned.iter().find(|k| &***k == uri) {
            return known.clone();
        }
        let new: Arc<str> = uri.into();
        self.interned.push(new.clone());
        new
    }

    /// An element starts: the declarations it makes come next.
    fn open(&mut self) {
        self.declared.push(0);
    }

    fn declare(&mut self, prefix: &str, uri: Option<Arc<str>>) {
        let start = self.prefixes.len();
        self.prefixes.push_str(prefix);
        self.bindings.push((start..self.prefixes.len(), uri));
        if let Some(n) = self.declared.last_mut() {
            *n += 1;
        }
    }

    fn close(&mut self) {
        let n = self.declared.pop().unwrap_or(0);
        let keep = self.bindings.len().saturating_sub(n);
        self.bindings.truncate(keep);
        self.prefixes
            .truncate(self.bindings.last().map_or(0, |(p, _)| p.end));
    }

    /// The namespace of `prefix` (`None`: no prefix). Unprefixed attributes have no namespace, so
    /// `default` says whether the default namespace applies (elements) or not (attributes).
    fn resolve(&self, prefix: Option<&str>, default: bool) -> Result<Option<Arc<str>>, XmlError> {
        let p = match prefix {
            Some("xml") => return Ok(Some(XML_NS.into())),
            Some(p) => p,
            None if default => "",
            None => return Ok(None),
        };
        match self
            .bindings
            .iter()
            .rev()
            .find(|(bp, _)| &self.prefixes[bp.clone()] == p)
        {
            Some((_, uri)) => Ok(uri.clone()),
            None if p.is_empty() => Ok(None),
            None => Err(XmlError::UnknownPrefix(p.to_string())),
        }
    }
}

fn utf8(bytes: &[u8]) -> &str {
    // The input was checked to be UTF-8 as a whole and quick-xml splits it at ASCII delimiters only.
    std::str::from_utf8(bytes).unwrap_or("\u{fffd}")
}

fn start_element(scopes: &mut Scopes, start: &BytesStart<'_>, at: u64) -> Result<Element, XmlError> {
    let bad_attr = |e: quick_xml::Error| match e {
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            XmlError::UnknownEntity(name)
        }
        e => XmlError::Malformed {
            at,
            reason: e.to_string(),
        },
    };
    // First the declarations, which apply to this element's own name and attributes too.
    scopes.open();
    let mut plain = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed {
            at,
            reason: e.to_string(),
        })?;
        let key = attr.key.as_ref();
        let value = attr.unescape_value().map_err(bad_attr)?;
        if key == b"xmlns" {
            let uri = (!value.is_empty()).then(|| scopes.intern(&value));
            scopes.declare("", uri);
        } else if let Some(p) = key.strip_prefix(b"xmlns:") {
            if value.is_empty() {
                return Err(XmlError::Malformed {
                    at,
                    reason: format!("the prefix `{}` is declared empty", utf8(p)),
                });
            }
            let uri = scopes.intern(&value);
            scopes.declare(utf8(p), Some(uri));
        } else {
            plain.push((attr.key, value));
        }
    }
    let name = start.name();
    let ns = scopes.resolve(name.prefix().map(|p| utf8(p.into_inner())), true)?;
    let mut attrs = Vec::with_capacity(plain.len());
    for (key, value) in plain {
        attrs.push(Attribute {
            ns: scopes.resolve(key.prefix().map(|p| utf8(p.into_inner())), false)?,
            local: utf8(key.local_name().into_inner()).to_string(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        local: utf8(name.local_name().into_inner()).to_string(),
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

fn push_text(stack: &mut [Element], s: &str, at: u64) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(e) => {
            e.text.push_str(s);
            Ok(())
        }
        // Whitespace around the root element is fine; anything else is not XML.
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed {
            at,
            reason: "text outside the root element".into(),
        }),
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// Escape text for an element's content or an attribute value (`&`, `<`, `>`, `'`, `"`).
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

impl fmt::Display for Element {
    /// `{ns}local` with its text, for log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.qname())
    }
}

/// Split a QName-valued attribute (`tns:add`) into prefix and local part.
pub fn split_qname(value: &str) -> (Option<&str>, &str) {
    match value.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_prefixes_to_namespaces() {
        let doc = parse_str(
            r#"<?xml version='1.0' encoding='UTF-8'?>
<e:Envelope xmlns:e="urn:env" xmlns:t="urn:t"><e:Body><t:add><t:a>10</t:a><b>5</b></t:add></e:Body></e:Envelope>"#,
        )
        .unwrap();
        assert!(doc.is("urn:env", "Envelope"));
        let add = &doc.child("urn:env", "Body").unwrap().children[0];
        assert!(add.is("urn:t", "add"));
        assert_eq!(add.children[0].text, "10");
        assert_eq!(add.children[1].ns, None);
        assert!(Arc::ptr_eq(
            add.ns.as_ref().unwrap(),
            add.children[0].ns.as_ref().unwrap()
        ));
        assert_eq!(add.children[1].local, "b");
    }

    #[test]
    fn scopes_nest_and_end() {
        let doc = parse_str(
            r#"<a xmlns="urn:d" xmlns:p="urn:1"><p:b xmlns:p="urn:2" p:x="1" y="2"><c xmlns=""/></p:b><p:e/></a>"#,
        )
        .unwrap();
        assert!(doc.is("urn:d", "a"));
        let b = &doc.children[0];
        assert!(b.is("urn:2", "b"), "the inner declaration hides the outer");
        assert_eq!(b.attr_ns("urn:2", "x"), Some("1"));
        assert_eq!(b.attr("y"), Some("2"), "unprefixed attributes have no namespace");
        assert_eq!(b.children[0].ns, None, "xmlns=\"\" undeclares the default");
        assert!(
            doc.children[1].is("urn:1", "e"),
            "the outer binding is back after </p:b>"
        );
        assert_eq!(
            parse_str(r#"<a><p:b xmlns:p="urn:1"/><p:c/></a>"#),
            Err(XmlError::UnknownPrefix("p".into()))
        );
        assert!(
            parse_str(r#"<a xml:lang="id"/>"#)
                .unwrap()
                .attr_ns(XML_NS, "lang")
                == Some("id")
        );
    }

    #[test]
    fn default_namespace_and_empty_elements() {
        let doc = parse_str(r#"<a xmlns="urn:x"><b/><c x="1 &amp; 2"/></a>"#).unwrap();
        assert!(doc.children[0].is("urn:x", "b"));
        assert_eq!(doc.children[1].attr("x"), Some("1 & 2"));
    }

    #[test]
    fn entities_and_cdata() {
        let doc = parse_str("<a>&lt;x&gt; &#65;&#x42; <![CDATA[<raw>]]></a>").unwrap();
        assert_eq!(doc.text, "<x> AB <raw>");
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#;
        assert_eq!(parse_str(bomb), Err(XmlError::Doctype));
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert_eq!(parse_str(xxe), Err(XmlError::Doctype));
        assert_eq!(parse_str("<a>&x;</a>"), Err(XmlError::UnknownEntity("x".into())));
        assert_eq!(
            parse_str(r#"<a b="&x;"/>"#),
            Err(XmlError::UnknownEntity("x".into()))
        );
    }

    #[test]
    fn refuses_processing_instructions() {
        assert!(matches!(
            parse_str("<?xml-stylesheet href='x'?><a/>"),
            Err(XmlError::ProcessingInstruction(_))
        ));
    }

    #[test]
    fn enforces_limits() {
        let limits = Limits {
            max_bytes: 100,
            max_depth: 3,
            max_elements: 5,
        };
        assert!(matches!(
            parse(&[b' '; 101], &limits),
            Err(XmlError::TooLarge { .. })
        ));
        assert_eq!(
            parse(b"<a><a><a><a/></a></a></a>", &limits),
            Err(XmlError::TooDeep(3))
        );
        assert_eq!(
            parse(b"<a><b/><b/><b/><b/><b/></a>", &limits),
            Err(XmlError::TooManyElements(5))
        );
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        for bad in [
            "",
            "   ",
            "<a>",
            "</a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<x:a/>",
            "<a>&#0;</a>",
            "<a>&#xFFFFFFFF;</a>",
            "<a b='1' b='2'/>",
            "<a",
            "<!-- only a comment -->",
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(parse(b"<a>\xff</a>", &Limits::default()), Err(XmlError::NotUtf8));
    }
}
