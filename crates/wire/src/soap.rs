//! SOAP 1.1 envelopes, document/literal: the codec of `sister soap` and of the analyzer.
//!
//! A SOAP 1.1 message is an XML document (SOAP 1.1 §4):
//! ```text
//! <soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"
//!                     xmlns:tns="spyne.examples.calculator">
//!   <soap11env:Header> ...optional header entries... </soap11env:Header>
//!   <soap11env:Body>
//!     <tns:add><tns:a>10</tns:a><tns:b>5</tns:b></tns:add>        <- the call (document/literal)
//!   </soap11env:Body>
//! </soap11env:Envelope>
//! ```
//! In the *document/literal* style the WSDL describes, the Body holds one element named after the
//! operation (`add`), in the service's target namespace, whose children are the arguments; the answer
//! holds `addResponse` with one child `addResult`. What to notice in a capture: the operation is named
//! twice, once in the HTTP header `SOAPAction: "add"` and once as the Body's element; the server here
//! trusts the Body.
//!
//! Errors travel as a Fault in the Body (§4.4) with HTTP status 500 (§6.2): a `faultcode` (`Client`: the
//! message was wrong, do not resend it unchanged; `Server`: the server failed, a retry may work;
//! `VersionMismatch`: not a SOAP 1.1 envelope; `MustUnderstand`: a header the server must obey but does
//! not know), a `faultstring` for humans, and an optional `detail`.
//!
//! Safety: documents are read by [`crate::xml`], which refuses any DOCTYPE (SOAP 1.1 §3 forbids DTDs;
//! refusing them shuts out entity expansion and external fetches), processing instructions, and anything
//! past its size, depth and element-count limits.

use std::fmt;

use crate::xml::{self, escape, Element, Limits, XmlError};

/// The SOAP 1.1 envelope namespace (SOAP 1.1 §4.1.2). A different one means another SOAP version.
pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace, recognised only to say so in the VersionMismatch fault.
pub const ENVELOPE_NS_12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The prefix sister writes for the envelope namespace: spyne's, so captures of both look alike.
pub const ENV_PREFIX: &str = "soap11env";

/// The four fault classes of SOAP 1.1 §4.4.1, plus any other code a peer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultClass {
    VersionMismatch,
    MustUnderstand,
    /// The message was wrong (bad XML, unknown operation, missing or invalid argument).
    Client,
    /// The server could not process a correct message.
    Server,
    /// A code outside the four, kept as written.
    Other(String),
}

impl FaultClass {
    fn as_str(&self) -> &str {
        match self {
            FaultClass::VersionMismatch => "VersionMismatch",
            FaultClass::MustUnderstand => "MustUnderstand",
            FaultClass::Client => "Client",
            FaultClass::Server => "Server",
            FaultClass::Other(s) => s,
        }
    }

    fn from_str(s: &str) -> FaultClass {
        match s {
            "VersionMismatch" => FaultClass::VersionMismatch,
            "MustUnderstand" => FaultClass::MustUnderstand,
            "Client" => FaultClass::Client,
            "Server" => FaultClass::Server,
            other => FaultClass::Other(other.to_string()),
        }
    }
}

/// A SOAP 1.1 Fault (§4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub class: FaultClass,
    /// The dotted refinement after the class (`Client.SchemaValidationError` has `SchemaValidationError`),
    /// as §4.4.1 allows.
    pub subcode: Option<String>,
    /// The explanation for a human (`faultstring`).
    pub string: String,
    /// Application-specific detail about the Body's content (`detail`, as text).
    pub detail: Option<String>,
}

impl Fault {
    pub fn client(string: impl Into<String>) -> Fault {
        Fault {
            class: FaultClass::Client,
            subcode: None,
            string: string.into(),
            detail: None,
        }
    }

    pub fn server(string: impl Into<String>) -> Fault {
        Fault {
            class: FaultClass::Server,
            subcode: None,
            string: string.into(),
            detail: None,
        }
    }

    /// The same fault with a dotted subcode (`Client.DivisionByZero`).
    pub fn with_subcode(mut self, subcode: impl Into<String>) -> Fault {
        self.subcode = Some(subcode.into());
        self
    }

    /// The `faultcode` text without a prefix: `Client` or `Client.SchemaValidationError`.
    pub fn code(&self) -> String {
        match &self.subcode {
            Some(s) => format!("{}.{s}", self.class.as_str()),
            None => self.class.as_str().to_string(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SOAP fault {}: {}", self.code(), self.string)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// A document/literal call as a server receives it: the Body's element and its simple children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The namespace of the Body's element (the service's target namespace).
    pub ns: Option<String>,
    /// The operation: the Body element's local name (`add`).
    pub operation: String,
    /// The arguments in document order: local name and text (`None` for `xsi:nil="true"`).
    pub args: Vec<(String, Option<String>)>,
}

impl Call {
    /// The argument named `name` (local name), if present and not nil.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

impl fmt::Display for Call {
    /// `add(a=10, b=5)`: the line the server logs and the analyzer prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.operation)?;
        for (i, (name, value)) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match value {
                Some(v) => write!(f, "{name}={v}")?,
                None => write!(f, "{name}=nil")?,
            }
        }
        write!(f, ")")
    }
}

/// What a client receives: the Body's element, or a Fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The response element (`addResponse`) with its children.
    Response(Element),
    Fault(Fault),
}

/// Why a reply could not be read (a broken or non-SOAP answer; a Fault is a [`Reply`], not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("the root element is {0}, not a SOAP 1.1 Envelope ({{{ENVELOPE_NS}}}Envelope)")]
    NotEnvelope(String),
    #[error("the Envelope has no Body (SOAP 1.1 §4.3 requires one)")]
    NoBody,
    #[error("the Body is empty")]
    EmptyBody,
    #[error("the Fault has no faultcode (SOAP 1.1 §4.4 requires one)")]
    FaultWithoutCode,
}

/// A header entry the receiver must obey (`mustUnderstand="1"`, SOAP 1.1 §4.2.3).
fn must_understand(entry: &Element) -> bool {
    matches!(entry.attr_ns(ENVELOPE_NS, "mustUnderstand"), Some("1"))
}

/// Read the Envelope and return its Body's children, checking the rules every receiver applies.
///
/// Errors are returned as the Fault a server sends back (a client turns them into a [`SoapError`]).
fn open_envelope(input: &[u8], limits: &Limits) -> Result<Element, Fault> {
    let root = xml::parse(input, limits).map_err(|e| Fault::client(e.to_string()))?;
    if root.local == "Envelope" && root.ns.as_deref() != Some(ENVELOPE_NS) {
        // §4.4.1: "The processing party found an invalid namespace for the SOAP Envelope element".
        let which = match root.ns.as_deref() {
            Some(ENVELOPE_NS_12) => "a SOAP 1.2 envelope; this server speaks SOAP 1.1".to_string(),
            Some(ns) => format!("envelope namespace {ns}, expected {ENVELOPE_NS}"),
            None => format!("an Envelope in no namespace, expected {ENVELOPE_NS}"),
        };
        return Err(Fault {
            class: FaultClass::VersionMismatch,
            subcode: None,
            string: which,
            detail: None,
        });
    }
    if !root.is(ENVELOPE_NS, "Envelope") {
        return Err(Fault::client(SoapError::NotEnvelope(root.qname()).to_string()));
    }
    if let Some(header) = root.child(ENVELOPE_NS, "Header") {
        // sister understands no header entry, so any that must be understood is a fault (§4.2.3).
        if let Some(entry) = header.children.iter().find(|e| must_understand(e)) {
            return Err(Fault {
                class: FaultClass::MustUnderstand,
                subcode: None,
                string: format!(
                    "header entry {} has mustUnderstand=\"1\" and this server does not understand it",
                    entry.qname()
                ),
                detail: None,
            });
        }
    }
    let mut root = root;
    let body_index = root
        .children
        .iter()
        .position(|c| c.is(ENVELOPE_NS, "Body"))
        .ok_or_else(|| Fault::client(SoapError::NoBody.to_string()))?;
    Ok(root.children.swap_remove(body_index))
}

/// Decode a request envelope into a [`Call`], or the Fault to answer with.
///
/// Each argument must be a simple element (text only): this is document/literal with simple types, as
/// the calculator's WSDL describes.
pub fn decode_call(input: &[u8], limits: &Limits) -> Result<Call, Fault> {
    match plain_call(input, limits) {
        Some(call) => Ok(call),
        None => call_from_tree(input, limits),
    }
}

/// [`decode_call`] the general way: the whole document as a tree, then every rule.
fn call_from_tree(input: &[u8], limits: &Limits) -> Result<Call, Fault> {
    let body = open_envelope(input, limits)?;
    let mut entries = body.children.into_iter();
    let Some(op) = entries.next() else {
        return Err(Fault::client(SoapError::EmptyBody.to_string()));
    };
    if entries.next().is_some() {
        return Err(Fault::client(
            "the Body holds more than one element; document/literal wraps the call in one element named after the operation",
        ));
    }
    let mut args = Vec::with_capacity(op.children.len());
    for arg in op.children {
        if !arg.children.is_empty() {
            return Err(Fault::client(format!(
                "argument {} has child elements; this service takes simple values only",
                arg.qname()
            )));
        }
        let value = if arg.is_nil() { None } else { Some(arg.text) };
        args.push((arg.local, value));
    }
    Ok(Call {
        ns: op.ns.map(|ns| ns.to_string()),
        operation: op.local,
        args,
    })
}

/// The common case, quickly: a call shaped as zeep sends it (an Envelope holding only a Body, the Body
/// one operation element, each argument a text-only element, no attributes other than namespace
/// declarations, no entities, comments or CDATA), read from the XML events without building a tree
/// (a server reads one per request, and building the tree was most of its work). `None` for anything
/// else: [`decode_call`] then reads the document the general way, which applies every rule and says what
/// is wrong. So this changes no answer, only the time to reach it (`tests::quick_and_general_agree`).
fn plain_call(input: &[u8], limits: &Limits) -> Option<Call> {
    use quick_xml::events::Event;
    if input.len() > limits.max_bytes {
        return None;
    }
    let text = std::str::from_utf8(input).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Namespace declarations in scope: (depth of the declaring element, prefix, URI), borrowed from the
    // document; `""` is the default namespace.
    let mut scopes: Vec<(usize, &str, &str)> = Vec::new();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut seen_root = false;
    let mut body_done = false;
    let mut op: Option<(Option<&str>, &str)> = None;
    let mut args: Vec<(String, Option<String>)> = Vec::new();
    let mut arg_name: Option<&str> = None;
    let mut arg_text: Option<String> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Decl(_) => {}
            Event::Text(t) => {
                if depth == 4 {
                    // An argument's value; a second piece of text would need joining: the general way.
                    if arg_text.is_some() {
                        return None;
                    }
                    arg_text = Some(t.xml10_content().ok()?.into_owned());
                } else if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
            }
            Event::Start(start) => {
                depth += 1;
                elements += 1;
                if depth > 4 || depth > limits.max_depth || elements > limits.max_elements {
                    return None;
                }
                for attr in start.attributes() {
                    let attr = attr.ok()?;
                    let key = within(text, attr.key.as_ref())?;
                    let value = within(text, &attr.value)?;
                    let prefix = match key.strip_prefix("xmlns") {
                        Some("") => "",
                        Some(p) => p
                            .strip_prefix(':')
                            .filter(|p| !p.is_empty() && !value.is_empty())?,
                        None => return None,
                    };
                    if value.contains('&') {
                        return None;
                    }
                    scopes.push((depth, prefix, value));
                }
                let name = within(text, start.name().as_ref())?;
                let (prefix, local) = match name.split_once(':') {
                    Some((p, l)) => (p, l),
                    None => ("", name),
                };
                if prefix == "xml" || prefix == "xmlns" {
                    return None;
                }
                let ns = match scopes.iter().rev().find(|(_, p, _)| *p == prefix) {
                    Some((_, _, uri)) if !uri.is_empty() => Some(*uri),
                    Some(_) => None,
                    None if prefix.is_empty() => None,
                    None => return None,
                };
                match depth {
                    1 if !seen_root && ns == Some(ENVELOPE_NS) && local == "Envelope" => seen_root = true,
                    2 if !body_done && ns == Some(ENVELOPE_NS) && local == "Body" => {}
                    3 if op.is_none() => op = Some((ns, local)),
                    4 => {
                        arg_name = Some(local);
                        arg_text = None;
                    }
                    _ => return None,
                }
            }
            Event::End(_) => {
                match depth {
                    4 => {
                        let name = arg_name.take()?;
                        args.push((name.to_string(), Some(arg_text.take().unwrap_or_default())));
                    }
                    2 => body_done = true,
                    _ => {}
                }
                scopes.retain(|(d, _, _)| *d < depth);
                depth = depth.checked_sub(1)?;
            }
            Event::Eof => break,
            _ => return None,
        }
    }
    let (ns, operation) = op?;
    if depth != 0 || !body_done {
        return None;
    }
    Some(Call {
        ns: ns.map(str::to_string),
        operation: operation.to_string(),
        args,
    })
}

/// `part` as the slice of `text` it was read from (quick-xml hands out borrowed slices of the input);
/// `None` when it is not one (an attribute value quick-xml had to rewrite).
fn within<'a>(text: &'a str, part: &[u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(start..start.checked_add(part.len())?)
        .filter(|s| s.as_bytes() == part)
}

/// Decode a response envelope: the response element, or the Fault the server sent.
pub fn decode_reply(input: &[u8], limits: &Limits) -> Result<Reply, SoapError> {
    let body = match open_envelope(input, limits) {
        Ok(body) => body,
        Err(fault) => {
            // A broken answer is the client's problem to report, not a fault from the server.
            return Err(match fault.class {
                FaultClass::VersionMismatch => SoapError::NotEnvelope(fault.string),
                _ => match xml::parse(input, limits) {
                    Err(e) => SoapError::Xml(e),
                    Ok(_) => SoapError::NoBody,
                },
            });
        }
    };
    let Some(first) = body.children.into_iter().next() else {
        return Err(SoapError::EmptyBody);
    };
    if first.is(ENVELOPE_NS, "Fault") {
        return decode_fault(&first).map(Reply::Fault);
    }
    Ok(Reply::Response(first))
}

/// Read a Fault element (§4.4): its sub-elements are unqualified.
fn decode_fault(fault: &Element) -> Result<Fault, SoapError> {
    let text_of = |name: &str| {
        fault
            .children
            .iter()
            .find(|c| c.local == name && c.ns.is_none())
            .map(|c| c.text.trim().to_string())
    };
    let code = text_of("faultcode").ok_or(SoapError::FaultWithoutCode)?;
    // The code is a QName (`soap11env:Client.SchemaValidationError`); the prefix is the envelope's.
    let (_, local) = xml::split_qname(&code);
    let (class, subcode) = match local.split_once('.') {
        Some((c, s)) => (FaultClass::from_str(c), Some(s.to_string())),
        None => (FaultClass::from_str(local), None),
    };
    let detail = fault
        .children
        .iter()
        .find(|c| c.local == "detail" && c.ns.is_none())
        .map(|d| {
            if d.children.is_empty() {
                d.text.trim().to_string()
            } else {
                d.children
                    .iter()
                    .map(|c| format!("{}: {}", c.local, c.text.trim()))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        })
        .filter(|d| !d.is_empty());
    Ok(Fault {
        class,
        subcode,
        string: text_of("faultstring").unwrap_or_default(),
        detail,
    })
}

const XML_DECL: &str = "<?xml version='1.0' encoding='UTF-8'?>\n";

/// Write a document/literal envelope whose Body holds `<tns:{element}>` with simple children.
///
/// Used both for calls (`add` with `a`, `b`) and for responses (`addResponse` with `addResult`); the
/// children are qualified with the target namespace because spyne's schema says
/// `elementFormDefault="qualified"`.
pub fn encode_document(tns: &str, element: &str, children: &[(&str, &str)]) -> Vec<u8> {
    // push_str rather than format!: this runs once per answer, and a server's answers are its hot path.
    let mut out = String::with_capacity(256 + children.len() * 32);
    out.push_str(XML_DECL);
    out.push('<');
    out.push_str(ENV_PREFIX);
    out.push_str(":Envelope xmlns:");
    out.push_str(ENV_PREFIX);
    out.push_str("=\"");
    out.push_str(ENVELOPE_NS);
    out.push_str("\" xmlns:tns=\"");
    out.push_str(&escape(tns));
    out.push_str("\"><");
    out.push_str(ENV_PREFIX);
    out.push_str(":Body><tns:");
    out.push_str(element);
    out.push('>');
    for (name, value) in children {
        out.push_str("<tns:");
        out.push_str(name);
        out.push('>');
        out.push_str(&escape(value));
        out.push_str("</tns:");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</tns:");
    out.push_str(element);
    out.push_str("></");
    out.push_str(ENV_PREFIX);
    out.push_str(":Body></");
    out.push_str(ENV_PREFIX);
    out.push_str(":Envelope>");
    out.into_bytes()
}

/// Write a Fault envelope (§4.4). The HTTP layer sends it with status 500 (§6.2).
pub fn encode_fault(fault: &Fault) -> Vec<u8> {
    let mut out = String::with_capacity(384);
    out.push_str(XML_DECL);
    out.push_str(&format!(
        "<{ENV_PREFIX}:Envelope xmlns:{ENV_PREFIX}=\"{ENVELOPE_NS}\"><{ENV_PREFIX}:Body><{ENV_PREFIX}:Fault>"
    ));
    out.push_str(&format!(
        "<faultcode>{ENV_PREFIX}:{}</faultcode><faultstring>{}</faultstring>",
        escape(&fault.code()),
        escape(&fault.string)
    ));
    if let Some(detail) = &fault.detail {
        out.push_str(&format!("<detail>{}</detail>", escape(detail)));
    }
    out.push_str(&format!(
        "</{ENV_PREFIX}:Fault></{ENV_PREFIX}:Body></{ENV_PREFIX}:Envelope>"
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TNS: &str = "spyne.examples.calculator";

    /// What zeep 4.2 sends for `client.service.add(10, 5)` (captured from zeep against spyne).
    const ZEEP_ADD: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:add xmlns:ns0="spyne.examples.calculator"><ns0:a>10</ns0:a><ns0:b>5</ns0:b></ns0:add></soap-env:Body></soap-env:Envelope>"#;

    /// What spyne 2.14 answers (see LAB.md).
    const SPYNE_ADD_RESPONSE: &str = "<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope xmlns:soap11env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tns=\"spyne.examples.calculator\"><soap11env:Body><tns:addResponse><tns:addResult>15</tns:addResult></tns:addResponse></soap11env:Body></soap11env:Envelope>";

    /// Whatever the quick reading of a call accepts, the tree reading reads the same way; what it
    /// leaves goes the tree way anyway. Over hand-picked shapes, every cut of zeep's call, and
    /// deterministic mutations of it.
    #[test]
    fn quick_and_general_agree() {
        let limits = Limits::default();
        let env = |body: &str| {
            format!("<?xml version='1.0'?>\n<s:Envelope xmlns:s=\"{ENVELOPE_NS}\"><s:Body>{body}</s:Body></s:Envelope>")
        };
        let mut docs: Vec<String> = vec![
            ZEEP_ADD.to_string(),
            format!("\u{feff}{ZEEP_ADD}"),
            env("<add xmlns=\"urn:t\"><a> 10 </a><b/></add>"),
            env("\n  <t:add xmlns:t=\"urn:t\">\n    <t:a>1</t:a>\n    <b>2</b>\n  </t:add>\n"),
            env("<add><a>1</a></add>"),
            env("<add xmlns=\"urn:t\"><a xmlns=\"\">1</a></add>"),
            env("<t:add xmlns:t=\"urn:t\"><t:a xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/></t:add>"),
            env("<t:add xmlns:t=\"urn:t\"><t:a>1&amp;2</t:a></t:add>"),
            env("<t:add xmlns:t=\"urn:t\"><t:a><![CDATA[1]]></t:a></t:add>"),
            env("<t:add xmlns:t=\"urn:t\"><t:a>1<!-- c -->2</t:a></t:add>"),
            env("<t:add xmlns:t=\"urn:t\"/><t:sub xmlns:t=\"urn:t\"/>"),
            env(""),
            env("<t:add xmlns:t=\"urn:t\"><t:a><t:x>1</t:x></t:a></t:add>"),
            env("<x:add><a>1</a></x:add>"),
            env("<t:add xmlns:t=\"\"><a>1</a></t:add>"),
            env("<t:add xmlns:t=\"urn:t\" t:x=\"1\"><a>1</a></t:add>"),
            env("text<t:add xmlns:t=\"urn:t\">more<a>1</a>text</t:add>"),
            format!("<s:Envelope xmlns:s=\"{ENVELOPE_NS}\"><s:Header/><s:Body><add/></s:Body></s:Envelope>"),
            format!("<s:Envelope xmlns:s=\"{ENVELOPE_NS_12}\"><s:Body><add/></s:Body></s:Envelope>"),
            format!("<s:Envelope xmlns:s=\"{ENVELOPE_NS}\"><s:Body><add/></s:Body><s:Body/></s:Envelope>"),
            format!("{ZEEP_ADD}<again/>"),
            format!("{ZEEP_ADD} junk"),
            format!("<!DOCTYPE x>{ZEEP_ADD}"),
            "<Envelope/>".into(),
        ];
        for cut in 0..ZEEP_ADD.len() {
            docs.push(ZEEP_ADD[..cut].to_string());
        }
        let mut rng = crate::testing::XorShift(0x9e37_79b9_7f4a_7c15u64);
        let mut next = move || rng.next();
        let mut mutated = Vec::new();
        for _ in 0..3000 {
            let mut m = ZEEP_ADD.as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % m.len();
                let pick: &[u8] = b"<>/:=\"' &;xa!?";
                let b = pick[(next() as usize) % pick.len()];
                match next() % 3 {
                    0 => m[at] = b,
                    1 => m.insert(at, b),
                    _ => {
                        m.remove(at);
                    }
                }
            }
            mutated.push(m);
        }
        let mut quick_read = 0;
        for doc in docs
            .iter()
            .map(|d| d.as_bytes())
            .chain(mutated.iter().map(Vec::as_slice))
        {
            if let Some(quick) = plain_call(doc, &limits) {
                quick_read += 1;
                let general = call_from_tree(doc, &limits);
                assert_eq!(Ok(&quick), general.as_ref(), "{}", String::from_utf8_lossy(doc));
            }
        }
        assert!(plain_call(ZEEP_ADD.as_bytes(), &limits).is_some());
        assert!(
            quick_read > 10,
            "the quick path reads the usual shapes ({quick_read})"
        );
    }

    #[test]
    fn decodes_zeeps_call() {
        let call = decode_call(ZEEP_ADD.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(call.ns.as_deref(), Some(TNS));
        assert_eq!(call.operation, "add");
        assert_eq!(call.arg("a"), Some("10"));
        assert_eq!(call.arg("b"), Some("5"));
        assert_eq!(call.to_string(), "add(a=10, b=5)");
    }

    #[test]
    fn encodes_exactly_what_spyne_answers() {
        let out = encode_document(TNS, "addResponse", &[("addResult", "15")]);
        assert_eq!(String::from_utf8(out).unwrap(), SPYNE_ADD_RESPONSE);
    }

    #[test]
    fn round_trips_a_call_and_a_reply() {
        let call = encode_document(TNS, "add", &[("a", "1 < 2"), ("b", "&")]);
        let decoded = decode_call(&call, &Limits::default()).unwrap();
        assert_eq!(decoded.arg("a"), Some("1 < 2"));
        assert_eq!(decoded.arg("b"), Some("&"));
        match decode_reply(SPYNE_ADD_RESPONSE.as_bytes(), &Limits::default()).unwrap() {
            Reply::Response(e) => {
                assert!(e.is(TNS, "addResponse"));
                assert_eq!(e.children[0].local, "addResult");
                assert_eq!(e.children[0].text, "15");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn faults_round_trip_and_read_spynes() {
        let f = Fault::client("a is not an integer").with_subcode("InvalidInput");
        let bytes = encode_fault(&f);
        assert_eq!(decode_reply(&bytes, &Limits::default()).unwrap(), Reply::Fault(f));
        let spyne = "<?xml version='1.0' encoding='UTF-8'?>\n<soap11env:Envelope xmlns:soap11env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap11env:Body><soap11env:Fault><faultcode>soap11env:Client.SchemaValidationError</faultcode><faultstring>'x' is not a valid value</faultstring><faultactor></faultactor></soap11env:Fault></soap11env:Body></soap11env:Envelope>";
        match decode_reply(spyne.as_bytes(), &Limits::default()).unwrap() {
            Reply::Fault(f) => {
                assert_eq!(f.class, FaultClass::Client);
                assert_eq!(f.subcode.as_deref(), Some("SchemaValidationError"));
                assert_eq!(f.code(), "Client.SchemaValidationError");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn doctype_is_a_client_fault() {
        let evil = format!(
            "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            &ZEEP_ADD[ZEEP_ADD.find('\n').unwrap() + 1..]
        );
        let fault = decode_call(evil.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(fault.class, FaultClass::Client);
        assert!(fault.string.contains("DOCTYPE"), "{fault}");
    }

    #[test]
    fn wrong_envelope_namespace_is_a_version_mismatch() {
        let soap12 = ZEEP_ADD.replace(ENVELOPE_NS, ENVELOPE_NS_12);
        let fault = decode_call(soap12.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(fault.class, FaultClass::VersionMismatch);
        assert!(fault.string.contains("SOAP 1.2"));
    }

    #[test]
    fn must_understand_header_is_a_fault() {
        let with_header = ZEEP_ADD.replace(
            "<soap-env:Body>",
            "<soap-env:Header><t:Auth xmlns:t=\"urn:t\" soap-env:mustUnderstand=\"1\">x</t:Auth></soap-env:Header><soap-env:Body>",
        );
        let fault = decode_call(with_header.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(fault.class, FaultClass::MustUnderstand);
        // mustUnderstand="0" may be ignored.
        let optional = with_header.replace("mustUnderstand=\"1\"", "mustUnderstand=\"0\"");
        assert!(decode_call(optional.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn broken_requests_are_client_faults() {
        for bad in [
            "",
            "garbage",
            "<a/>",
            "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
            "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body/></soap-env:Envelope>",
            "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><a/><b/></soap-env:Body></soap-env:Envelope>",
            "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><add><a><x/></a></add></soap-env:Body></soap-env:Envelope>",
        ] {
            let fault = decode_call(bad.as_bytes(), &Limits::default()).unwrap_err();
            assert_eq!(fault.class, FaultClass::Client, "{bad:?}: {fault}");
        }
    }

    #[test]
    fn too_large_is_refused() {
        let limits = Limits {
            max_bytes: 64,
            ..Limits::default()
        };
        let fault = decode_call(ZEEP_ADD.as_bytes(), &limits).unwrap_err();
        assert!(fault.string.contains("limit"), "{fault}");
    }

    #[test]
    fn nil_arguments_are_none() {
        let call = ZEEP_ADD.replace(
            "<ns0:a>10</ns0:a>",
            "<ns0:a xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\"/>",
        );
        let call = decode_call(call.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(call.arg("a"), None);
        assert_eq!(call.args[0], ("a".to_string(), None));
    }

    /// The fuzz target's invariants (fuzz/fuzz_targets/soap_decode.rs) on the seeds, every truncation of
    /// them and 8,000 deterministic mutations, on every `cargo test` without nightly.
    #[test]
    fn seeds_truncations_and_mutations_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz/soap");
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(seeds.len() >= 4);
        let limits = Limits::default();
        let check = |data: &[u8]| {
            if let Ok(call) = decode_call(data, &limits) {
                let _ = call.to_string();
            }
            let _ = decode_reply(data, &limits);
            if let Ok(service) = crate::wsdl::parse(data, &limits) {
                let again = crate::wsdl::parse(crate::wsdl::render(&service).as_bytes(), &limits).unwrap();
                assert_eq!(again.operations.len(), service.operations.len());
            }
        };
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1du64);
        let mut next = move || rng.next();
        for seed in &seeds {
            for n in 0..seed.len() {
                check(&seed[..n]);
            }
            for _ in 0..2_000 {
                let mut m = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % m.len();
                    m[i] = match next() % 4 {
                        0 => b'<',
                        1 => b'&',
                        2 => b'"',
                        _ => next() as u8,
                    };
                }
                check(&m);
            }
        }
    }
}
