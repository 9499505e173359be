//! WSDL 1.1 for a document/literal SOAP 1.1 service with simple types: written by `sister soap server`,
//! read by `sister soap client` (and by zeep, which builds its calls from nothing else).
//!
//! A WSDL answers, in layers (WSDL 1.1 §2), what a client needs to call a service:
//! ```text
//!   types      the XML Schema of each message's Body element: add = sequence(a: integer, b: integer)
//!   message    a named message and the element it carries:      message "add" -> element tns:add
//!   portType   the abstract operations:                         add: input "add", output "addResponse"
//!   binding    how they travel: SOAP 1.1 over HTTP, style=document, use=literal, soapAction="add"
//!   service    where: port "Application" at http://host:8000/
//! ```
//! [`render`] writes the same shape, names and prefixes as spyne 2.14 serves for the course's calculator
//! (target namespace `spyne.examples.calculator`, service `CalculatorService`, port and binding
//! `Application`), so a zeep client written for the course's server works with sister's unchanged.
//! [`parse`] reads any WSDL of this kind back into a [`Service`].

use crate::xml::{self, escape, split_qname, Element, Limits, XmlError};

pub const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
pub const WSDL_SOAP11_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
pub const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// The transport URI of SOAP over HTTP (WSDL 1.1 §3.3).
pub const SOAP_HTTP_TRANSPORT: &str = "http://schemas.xmlsoap.org/soap/http";

/// A document/literal SOAP service, as far as a simple-typed calculator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The target namespace of the schema and of every Body element.
    pub tns: String,
    /// `wsdl:service/@name` (`CalculatorService`).
    pub name: String,
    /// `wsdl:port/@name`, also used as binding and portType name, as spyne does (`Application`).
    pub port: String,
    /// `soap:address/@location`: where to POST.
    pub location: String,
    pub operations: Vec<Operation>,
}

/// One operation: `add(a: integer, b: integer) -> addResult: integer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    /// The HTTP `SOAPAction` header value (without the quotes the header puts around it).
    pub soap_action: String,
    /// The input element's children, in order.
    pub inputs: Vec<Field>,
    /// The output element's name (`addResponse`) and children (`addResult`).
    pub output_element: String,
    pub outputs: Vec<Field>,
}

/// One simple-typed field of a message element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The XML Schema type's local name (`integer`, `string`, `double`...).
    pub xsd_type: String,
}

impl Field {
    pub fn new(name: &str, xsd_type: &str) -> Field {
        Field {
            name: name.to_string(),
            xsd_type: xsd_type.to_string(),
        }
    }
}

impl Service {
    /// The operation named `name`.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.name == name)
    }
}

/// Write the WSDL of `service`, in spyne's shape (prefixes `wsdl`, `xs`, `tns`, `wsdlsoap11`).
pub fn render(service: &Service) -> String {
    let tns = escape(&service.tns);
    let port = escape(&service.port);
    let mut s = String::with_capacity(2048 + 1024 * service.operations.len());
    s.push_str("<?xml version='1.0' encoding='UTF-8'?>\n");
    s.push_str(&format!(
        "<wsdl:definitions xmlns:xs=\"{XSD_NS}\" xmlns:xsi=\"{xsi}\" xmlns:wsdlsoap11=\"{WSDL_SOAP11_NS}\" \
xmlns:wsdl=\"{WSDL_NS}\" xmlns:soap11env=\"{env}\" xmlns:tns=\"{tns}\" targetNamespace=\"{tns}\" name=\"{port}\">",
        xsi = xml::XSI_NS,
        env = crate::soap::ENVELOPE_NS,
    ));

    // types: one complexType and one element per message, as spyne writes them.
    s.push_str(&format!(
        "<wsdl:types><xs:schema targetNamespace=\"{tns}\" elementFormDefault=\"qualified\">"
    ));
    for op in &service.operations {
        for (element, fields) in [
            (op.name.as_str(), &op.inputs),
            (op.output_element.as_str(), &op.outputs),
        ] {
            s.push_str(&format!(
                "<xs:complexType name=\"{}\"><xs:sequence>",
                escape(element)
            ));
            for f in fields {
                s.push_str(&format!(
                    "<xs:element name=\"{}\" type=\"xs:{}\" minOccurs=\"0\" nillable=\"true\"/>",
                    escape(&f.name),
                    escape(&f.xsd_type)
                ));
            }
            s.push_str("</xs:sequence></xs:complexType>");
        }
    }
    for op in &service.operations {
        for element in [op.name.as_str(), op.output_element.as_str()] {
            let e = escape(element);
            s.push_str(&format!("<xs:element name=\"{e}\" type=\"tns:{e}\"/>"));
        }
    }
    s.push_str("</xs:schema></wsdl:types>");

    // messages: one per element.
    for op in &service.operations {
        for element in [op.name.as_str(), op.output_element.as_str()] {
            let e = escape(element);
            s.push_str(&format!(
                "<wsdl:message name=\"{e}\"><wsdl:part name=\"{e}\" element=\"tns:{e}\"/></wsdl:message>"
            ));
        }
    }

    // service: where to send.
    s.push_str(&format!(
        "<wsdl:service name=\"{}\"><wsdl:port name=\"{port}\" binding=\"tns:{port}\">\
<wsdlsoap11:address location=\"{}\"/></wsdl:port></wsdl:service>",
        escape(&service.name),
        escape(&service.location)
    ));

    // portType: the abstract operations.
    s.push_str(&format!("<wsdl:portType name=\"{port}\">"));
    for op in &service.operations {
        let (n, o) = (escape(&op.name), escape(&op.output_element));
        s.push_str(&format!(
            "<wsdl:operation name=\"{n}\" parameterOrder=\"{n}\"><wsdl:input name=\"{n}\" message=\"tns:{n}\"/>\
<wsdl:output name=\"{o}\" message=\"tns:{o}\"/></wsdl:operation>"
        ));
    }
    s.push_str("</wsdl:portType>");

    // binding: SOAP 1.1 over HTTP, document/literal, with each operation's soapAction.
    s.push_str(&format!(
        "<wsdl:binding name=\"{port}\" type=\"tns:{port}\"><wsdlsoap11:binding style=\"document\" transport=\"{SOAP_HTTP_TRANSPORT}\"/>"
    ));
    for op in &service.operations {
        let (n, o) = (escape(&op.name), escape(&op.output_element));
        s.push_str(&format!(
            "<wsdl:operation name=\"{n}\"><wsdlsoap11:operation soapAction=\"{}\" style=\"document\"/>\
<wsdl:input name=\"{n}\"><wsdlsoap11:body use=\"literal\"/></wsdl:input>\
<wsdl:output name=\"{o}\"><wsdlsoap11:body use=\"literal\"/></wsdl:output></wsdl:operation>",
            escape(&op.soap_action)
        ));
    }
    s.push_str("</wsdl:binding></wsdl:definitions>");
    s
}

/// Why a WSDL could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsdlError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("the root element is {0}, not wsdl:definitions")]
    NotWsdl(String),
    #[error("the WSDL has no targetNamespace")]
    NoTargetNamespace,
    #[error("the WSDL has no service with a SOAP 1.1 port (soap:address)")]
    NoSoapPort,
    #[error("binding `{0}` is not in the WSDL")]
    MissingBinding(String),
    #[error("binding `{binding}` is {style}; sister's client speaks document/literal only")]
    NotDocumentLiteral { binding: String, style: String },
    #[error("operation `{op}`: {what}")]
    Operation { op: String, what: String },
}

/// Read a document/literal WSDL (SOAP 1.1 binding, simple types) into a [`Service`].
///
/// QName-valued attributes (`element="tns:add"`, `type="xs:integer"`) are matched by their local part:
/// in the single-schema WSDLs this client reads, names are unique within their kind.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Service, WsdlError> {
    let root = xml::parse(input, limits)?;
    if !root.is(WSDL_NS, "definitions") {
        return Err(WsdlError::NotWsdl(root.qname()));
    }
    let tns = root
        .attr("targetNamespace")
        .ok_or(WsdlError::NoTargetNamespace)?
        .to_string();

    // service -> the first port with a SOAP 1.1 address.
    let (service_name, port_el, location) = root
        .children_named(WSDL_NS, "service")
        .flat_map(|svc| {
            svc.children_named(WSDL_NS, "port").filter_map(move |p| {
                p.child(WSDL_SOAP11_NS, "address")
                    .and_then(|a| a.attr("location"))
                    .map(|loc| (svc.attr("name").unwrap_or(""), p, loc))
            })
        })
        .next()
        .ok_or(WsdlError::NoSoapPort)?;
    let port = port_el.attr("name").unwrap_or("").to_string();
    let binding_name = local_of(port_el.attr("binding").unwrap_or("")).to_string();
    let binding = root
        .children_named(WSDL_NS, "binding")
        .find(|b| b.attr("name") == Some(binding_name.as_str()))
        .ok_or_else(|| WsdlError::MissingBinding(binding_name.clone()))?;
    let default_style = binding
        .child(WSDL_SOAP11_NS, "binding")
        .and_then(|b| b.attr("style"))
        .unwrap_or("document");
    let port_type_name = local_of(binding.attr("type").unwrap_or(""));
    let port_type = root
        .children_named(WSDL_NS, "portType")
        .find(|p| p.attr("name") == Some(port_type_name));

    let schemas: Vec<&Element> = root
        .child(WSDL_NS, "types")
        .map(|t| t.children_named(XSD_NS, "schema").collect())
        .unwrap_or_default();

    let mut operations = Vec::new();
    for bop in binding.children_named(WSDL_NS, "operation") {
        let name = bop.attr("name").unwrap_or("").to_string();
        let soap_op = bop.child(WSDL_SOAP11_NS, "operation");
        let style = soap_op.and_then(|o| o.attr("style")).unwrap_or(default_style);
        let use_ = bop
            .child(WSDL_NS, "input")
            .and_then(|i| i.child(WSDL_SOAP11_NS, "body"))
            .and_then(|b| b.attr("use"))
            .unwrap_or("literal");
        if style != "document" || use_ != "literal" {
            return Err(WsdlError::NotDocumentLiteral {
                binding: binding_name,
                style: format!("{style}/{use_}"),
            });
        }
        let soap_action = soap_op
            .and_then(|o| o.attr("soapAction"))
            .unwrap_or("")
            .to_string();
        let op_err = |what: String| WsdlError::Operation {
            op: name.clone(),
            what,
        };
        let abstract_op = port_type
            .and_then(|pt| {
                pt.children_named(WSDL_NS, "operation")
                    .find(|o| o.attr("name") == Some(name.as_str()))
            })
            .ok_or_else(|| op_err("not in the portType".into()))?;
        let message_of = |dir: &str| -> Result<(String, Vec<Field>), WsdlError> {
            let msg_name = abstract_op
                .child(WSDL_NS, dir)
                .and_then(|i| i.attr("message"))
                .map(local_of)
                .ok_or_else(|| op_err(format!("no {dir} message")))?;
            let message = root
                .children_named(WSDL_NS, "message")
                .find(|m| m.attr("name") == Some(msg_name))
                .ok_or_else(|| op_err(format!("message `{msg_name}` is missing")))?;
            let element_name = message
                .child(WSDL_NS, "part")
                .and_then(|p| p.attr("element"))
                .map(local_of)
                .ok_or_else(|| {
                    op_err(format!(
                        "message `{msg_name}` has no part with an element (not document/literal)"
                    ))
                })?;
            let fields = schema_fields(&schemas, element_name).ok_or_else(|| {
                op_err(format!(
                    "element `{element_name}` is not a sequence of simple types in the schema"
                ))
            })?;
            Ok((element_name.to_string(), fields))
        };
        let (_, inputs) = message_of("input")?;
        let (output_element, outputs) = message_of("output")?;
        operations.push(Operation {
            name,
            soap_action,
            inputs,
            output_element,
            outputs,
        });
    }
    Ok(Service {
        tns,
        name: service_name.to_string(),
        port,
        location: location.to_string(),
        operations,
    })
}

fn local_of(qname: &str) -> &str {
    split_qname(qname).1
}

/// The fields of the schema element `name`: its complexType (named or inline) must be a sequence of
/// elements with simple (`xs:`) types.
fn schema_fields(schemas: &[&Element], name: &str) -> Option<Vec<Field>> {
    let element = schemas.iter().find_map(|s| {
        s.children_named(XSD_NS, "element")
            .find(|e| e.attr("name") == Some(name))
    })?;
    let complex = match element.attr("type") {
        Some(t) => {
            let t = local_of(t);
            schemas.iter().find_map(|s| {
                s.children_named(XSD_NS, "complexType")
                    .find(|c| c.attr("name") == Some(t))
            })?
        }
        None => element.child(XSD_NS, "complexType")?,
    };
    let Some(sequence) = complex.child(XSD_NS, "sequence") else {
        // An empty complexType: an operation without arguments (or without a result).
        return complex.children.is_empty().then(Vec::new);
    };
    sequence
        .children_named(XSD_NS, "element")
        .map(|e| {
            Some(Field {
                name: e.attr("name")?.to_string(),
                xsd_type: local_of(e.attr("type").unwrap_or("string")).to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calculator(location: &str) -> Service {
        Service {
            tns: "spyne.examples.calculator".into(),
            name: "CalculatorService".into(),
            port: "Application".into(),
            location: location.into(),
            operations: vec![Operation {
                name: "add".into(),
                soap_action: "add".into(),
                inputs: vec![Field::new("a", "integer"), Field::new("b", "integer")],
                output_element: "addResponse".into(),
                outputs: vec![Field::new("addResult", "integer")],
            }],
        }
    }

    /// What spyne 2.14 serves for the course's calculator (fetched from tests/peers/course/soap_server.py).
    const SPYNE_WSDL: &str = include_str!("../../../testdata/soap/spyne-calculator.wsdl");

    #[test]
    fn reads_spynes_wsdl() {
        let svc = parse(SPYNE_WSDL.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(svc, calculator("http://127.0.0.1:18000/"));
    }

    #[test]
    fn round_trips() {
        let svc = calculator("http://127.0.0.1:8000/");
        let text = render(&svc);
        assert_eq!(parse(text.as_bytes(), &Limits::default()).unwrap(), svc);
    }

    #[test]
    fn renders_spynes_shape() {
        // Everything spyne writes for these elements, in the same order, with the same names.
        let ours = render(&calculator("http://127.0.0.1:18000/"));
        for piece in [
            "<wsdl:types><xs:schema targetNamespace=\"spyne.examples.calculator\" elementFormDefault=\"qualified\"><xs:complexType name=\"add\"><xs:sequence><xs:element name=\"a\" type=\"xs:integer\" minOccurs=\"0\" nillable=\"true\"/>",
            "<wsdl:message name=\"add\"><wsdl:part name=\"add\" element=\"tns:add\"/></wsdl:message>",
            "<wsdl:service name=\"CalculatorService\"><wsdl:port name=\"Application\" binding=\"tns:Application\"><wsdlsoap11:address location=\"http://127.0.0.1:18000/\"/></wsdl:port></wsdl:service>",
            "<wsdl:portType name=\"Application\"><wsdl:operation name=\"add\" parameterOrder=\"add\"><wsdl:input name=\"add\" message=\"tns:add\"/><wsdl:output name=\"addResponse\" message=\"tns:addResponse\"/></wsdl:operation></wsdl:portType>",
            "<wsdl:binding name=\"Application\" type=\"tns:Application\"><wsdlsoap11:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/><wsdl:operation name=\"add\"><wsdlsoap11:operation soapAction=\"add\" style=\"document\"/><wsdl:input name=\"add\"><wsdlsoap11:body use=\"literal\"/></wsdl:input><wsdl:output name=\"addResponse\"><wsdlsoap11:body use=\"literal\"/></wsdl:output></wsdl:operation></wsdl:binding></wsdl:definitions>",
        ] {
            assert!(SPYNE_WSDL.contains(piece), "fixture lacks {piece}");
            assert!(ours.contains(piece), "sister's WSDL lacks {piece}");
        }
    }

    #[test]
    fn refuses_rpc_style_and_broken_documents() {
        let rpc = render(&calculator("http://x/")).replace("style=\"document\"", "style=\"rpc\"");
        assert!(matches!(
            parse(rpc.as_bytes(), &Limits::default()),
            Err(WsdlError::NotDocumentLiteral { .. })
        ));
        assert!(matches!(
            parse(b"<a/>", &Limits::default()),
            Err(WsdlError::NotWsdl(_))
        ));
        let no_port = render(&calculator("http://x/")).replace("wsdlsoap11:address", "other");
        assert!(parse(no_port.as_bytes(), &Limits::default()).is_err());
        assert!(matches!(
            parse(b"<!DOCTYPE x><x/>", &Limits::default()),
            Err(WsdlError::Xml(XmlError::Doctype))
        ));
    }
}
