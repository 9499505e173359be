//! Object references: IORs (`IOR:0100...`), their IIOP profiles, and the `corbaloc:` and
//! `corbaname:` URLs people type instead.
//!
//! An Interoperable Object Reference (CORBA 3.0, §13.6.2) is what a CORBA client holds: the
//! object's type (its repository id, `IDL:HelloApp/Hello:1.0`) and one or more *profiles*, each a way
//! to reach it. The IIOP profile (§15.7.2) says host, port and the *object key*, the bytes the server
//! uses to find the servant, which every Request then carries:
//!
//! ```text
//!   struct IOR { string type_id; sequence<TaggedProfile> profiles; };
//!   struct TaggedProfile { ulong tag; sequence<octet> profile_data; };   tag 0 = TAG_INTERNET_IOP
//!   profile_data = encapsulation of
//!     struct ProfileBody_1_1 { Version iiop_version; string host; ushort port;
//!                              sequence<octet> object_key;
//!                              sequence<TaggedComponent> components; };   (1.1 and later)
//! ```
//!
//! A stringified IOR (§13.6.10) is `IOR:` and the hex of an encapsulation of that struct, so it
//! carries its own byte order: `IOR:01...` was written little-endian, `IOR:00...` big-endian.
//!
//! `corbaloc::host:2809/NameService` (§13.6.10.1) says the same with no type: IIOP to host (port
//! 2809 when none is given, GIOP 1.0 when no `iiop:1.2@` says otherwise) and the key after the `/`.
//! `corbaname::host:2809#Hello` (§2.5.3 of the Naming Service) adds a name to resolve in the naming
//! context found there.

use std::fmt;

use super::cdr::{Reader, Writer};
use super::header::{Version, GIOP_1_0, GIOP_1_2};
use crate::DecodeError;

/// Profile tag of an IIOP profile (§15.7.2).
pub const TAG_INTERNET_IOP: u32 = 0;
/// Profile tag of a profile made only of components (§13.6.3).
pub const TAG_MULTIPLE_COMPONENTS: u32 = 1;
/// Component tags (§13.6.6): which ORB made the reference, and which character sets it speaks.
pub const TAG_ORB_TYPE: u32 = 0;
pub const TAG_CODE_SETS: u32 = 1;
pub const TAG_ALTERNATE_IIOP_ADDRESS: u32 = 3;

/// The port a corbaloc URL means when it gives none (§13.6.10.3; IANA's "corba-iiop").
pub const DEFAULT_CORBALOC_PORT: u16 = 2809;

/// Code sets (§13.10.2.5): ISO 8859-1 (CORBA's default for `char`), UTF-8, UTF-16.
pub const CODESET_ISO_8859_1: u32 = 0x0001_0001;
pub const CODESET_UTF8: u32 = 0x0501_0001;
pub const CODESET_UTF16: u32 = 0x0001_0109;

/// A profile as it travels: a tag and opaque bytes (an encapsulation for the tags sister knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedProfile {
    pub tag: u32,
    pub data: Vec<u8>,
}

/// A component of an IIOP 1.1+ profile (§13.6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedComponent {
    pub tag: u32,
    pub data: Vec<u8>,
}

/// An interoperable object reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ior {
    /// The most derived interface's repository id; "" in a nil reference.
    pub type_id: String,
    pub profiles: Vec<TaggedProfile>,
}

/// The IIOP profile's body: where the object is, and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IiopProfile {
    pub version: Version,
    pub host: String,
    pub port: u16,
    pub object_key: Vec<u8>,
    pub components: Vec<TaggedComponent>,
}

impl IiopProfile {
    fn read(data: &[u8]) -> Result<IiopProfile, DecodeError> {
        let mut r = Reader::encapsulation(data)?;
        let version = Version::new(r.octet("the IIOP version")?, r.octet("the IIOP version")?);
        let host = r.string("the IIOP profile's host")?;
        let port = r.ushort("the IIOP profile's port")?;
        let object_key = r.octets("the object key")?.to_vec();
        let mut components = Vec::new();
        // IIOP 1.0 profiles end after the key; 1.1 added components (§15.7.2).
        if version.minor >= 1 && !r.is_empty() {
            let n = r.count(8, "the number of tagged components")?;
            for _ in 0..n {
                let tag = r.ulong("a component tag")?;
                let data = r.octets("a component's data")?.to_vec();
                components.push(TaggedComponent { tag, data });
            }
        }
        Ok(IiopProfile {
            version,
            host,
            port,
            object_key,
            components,
        })
    }

    fn write(&self, little_endian: bool) -> Vec<u8> {
        let mut w = Writer::encapsulation(little_endian);
        w.octet(self.version.major);
        w.octet(self.version.minor);
        w.string(&self.host);
        w.ushort(self.port);
        w.octets(&self.object_key);
        if self.version.minor >= 1 {
            w.ulong(self.components.len() as u32);
            for c in &self.components {
                w.ulong(c.tag);
                w.octets(&c.data);
            }
        }
        w.into_bytes()
    }

    /// The native `char` code set the profile's TAG_CODE_SETS component announces, if any.
    pub fn char_codeset(&self) -> Option<u32> {
        let c = self.components.iter().find(|c| c.tag == TAG_CODE_SETS)?;
        let mut r = Reader::encapsulation(&c.data).ok()?;
        r.ulong("native char code set").ok()
    }
}

/// A TAG_CODE_SETS component (§13.10.2.4): native `char` set UTF-8 (ISO 8859-1 by conversion) and
/// native `wchar` set UTF-16. What sister's own references announce.
pub fn code_sets_component(little_endian: bool) -> TaggedComponent {
    let mut w = Writer::encapsulation(little_endian);
    w.ulong(CODESET_UTF8);
    w.ulong(1);
    w.ulong(CODESET_ISO_8859_1);
    w.ulong(CODESET_UTF16);
    w.ulong(0);
    TaggedComponent {
        tag: TAG_CODE_SETS,
        data: w.into_bytes(),
    }
}

impl Ior {
    /// The nil reference: no type, no profiles (§13.6.2.3).
    pub fn nil() -> Ior {
        Ior {
            type_id: String::new(),
            profiles: Vec::new(),
        }
    }

    pub fn is_nil(&self) -> bool {
        self.profiles.is_empty()
    }

    /// A reference with one IIOP profile.
    pub fn iiop(type_id: &str, profile: &IiopProfile, little_endian: bool) -> Ior {
        Ior {
            type_id: type_id.to_owned(),
            profiles: vec![TaggedProfile {
                tag: TAG_INTERNET_IOP,
                data: profile.write(little_endian),
            }],
        }
    }

    /// Reads an IOR where one sits in CDR (a reply's `Object` result, a LOCATION_FORWARD body).
    pub fn read(r: &mut Reader) -> Result<Ior, DecodeError> {
        let type_id = r.string("the IOR's type id")?;
        let n = r.count(8, "the IOR's number of profiles")?;
        let mut profiles = Vec::with_capacity(n);
        for _ in 0..n {
            let tag = r.ulong("a profile tag")?;
            let data = r.octets("a profile's data")?.to_vec();
            profiles.push(TaggedProfile { tag, data });
        }
        Ok(Ior { type_id, profiles })
    }

    pub fn write(&self, w: &mut Writer) {
        w.string(&self.type_id);
        w.ulong(self.profiles.len() as u32);
        for p in &self.profiles {
            w.ulong(p.tag);
            w.octets(&p.data);
        }
    }

    /// The first IIOP profile, decoded (None when there is none).
    pub fn iiop_profile(&self) -> Option<Result<IiopProfile, DecodeError>> {
        self.profiles
            .iter()
            .find(|p| p.tag == TAG_INTERNET_IOP)
            .map(|p| IiopProfile::read(&p.data))
    }

    /// Parses a stringified `IOR:` (hex of an encapsulation, either case, §13.6.10).
    pub fn parse(s: &str) -> Result<Ior, String> {
        let s = s.trim();
        let hex = s
            .strip_prefix("IOR:")
            .or_else(|| s.strip_prefix("ior:"))
            .ok_or_else(|| "an IOR starts with IOR:".to_owned())?;
        if hex.len() % 2 != 0 {
            return Err(format!(
                "an IOR's hex has an odd number of digits ({})",
                hex.len()
            ));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| "an IOR's text after IOR: must be hexadecimal digits".to_owned())?;
        let mut r = Reader::encapsulation(&bytes).map_err(|e| format!("not a valid IOR: {}", reason(&e)))?;
        Ior::read(&mut r).map_err(|e| format!("not a valid IOR: {}", reason(&e)))
    }

    /// `IOR:` and the hex of the reference written in `little_endian` order.
    pub fn to_string_in(&self, little_endian: bool) -> String {
        let mut w = Writer::encapsulation(little_endian);
        self.write(&mut w);
        let mut s = String::from("IOR:");
        for b in w.into_bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl fmt::Display for Ior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_in(true))
    }
}

fn reason(e: &DecodeError) -> String {
    match e {
        DecodeError::Invalid(r) => r.clone(),
        other => other.to_string(),
    }
}

/// One address of a corbaloc URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IiopAddress {
    pub version: Version,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for IiopAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Something a user can hand a client to name an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectUrl {
    /// `IOR:...`
    Ior(Ior),
    /// `corbaloc:iiop:1.2@host:port,:host2/key` (the key percent-decoded).
    Corbaloc {
        addresses: Vec<IiopAddress>,
        key: Vec<u8>,
    },
    /// `corbaname::host:port/key#a/b.kind`: the naming context at the corbaloc part, then the name.
    Corbaname {
        addresses: Vec<IiopAddress>,
        key: Vec<u8>,
        name: String,
    },
}

impl ObjectUrl {
    /// Parses `IOR:`, `corbaloc:` or `corbaname:` (§13.6.10, and the Naming Service's §2.5.3).
    pub fn parse(s: &str) -> Result<ObjectUrl, String> {
        let s = s.trim();
        let lower = s.get(..10).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("ior:") {
            return Ior::parse(s).map(ObjectUrl::Ior);
        }
        if lower.starts_with("corbaloc:") {
            let (addresses, key) = parse_loc(&s[9..], None)?;
            return Ok(ObjectUrl::Corbaloc { addresses, key });
        }
        if lower.starts_with("corbaname:") {
            let rest = &s[10..];
            let (loc, name) = match rest.split_once('#') {
                Some((l, n)) => (l, percent_decode(n)?),
                None => (rest, Vec::new()),
            };
            let (addresses, key) = parse_loc(loc, Some(b"NameService"))?;
            let name = String::from_utf8(name).map_err(|_| "the name after # is not UTF-8".to_owned())?;
            return Ok(ObjectUrl::Corbaname { addresses, key, name });
        }
        Err(format!("{s:?} is not an object reference: give IOR:..., corbaloc::host:port/key or corbaname::host:port#name"))
    }
}

/// `obj_addr_list "/" key_string` (§13.6.10.1); `default_key` is corbaname's `NameService`.
fn parse_loc(s: &str, default_key: Option<&[u8]>) -> Result<(Vec<IiopAddress>, Vec<u8>), String> {
    let (addrs, key) = match s.split_once('/') {
        Some((a, k)) => (a, percent_decode(k)?),
        None => match default_key {
            Some(k) => (s, k.to_vec()),
            None => {
                return Err(
                    "a corbaloc URL needs /KEY after the address (corbaloc::host:2809/NameService)".into(),
                )
            }
        },
    };
    let key = if key.is_empty() {
        default_key.map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        key
    };
    let mut addresses = Vec::new();
    for a in addrs.split(',') {
        let a = if let Some(r) = a.strip_prefix("iiop:") {
            r
        } else if let Some(r) = a.strip_prefix(':') {
            r
        } else if a.starts_with("rir:") {
            return Err(
                "corbaloc:rir: (resolve_initial_references) names a local service; give an iiop address"
                    .into(),
            );
        } else {
            return Err(format!(
                "{a:?} is not an IIOP address (iiop:host:port or :host:port)"
            ));
        };
        let (version, hostport) = match a.split_once('@') {
            Some((v, hp)) => {
                let (maj, min) = v
                    .split_once('.')
                    .ok_or_else(|| format!("{v:?} is not a version like 1.2"))?;
                let major = maj
                    .parse::<u8>()
                    .map_err(|_| format!("{v:?} is not a version like 1.2"))?;
                let minor = min
                    .parse::<u8>()
                    .map_err(|_| format!("{v:?} is not a version like 1.2"))?;
                if major != 1 || minor > 3 {
                    return Err(format!("IIOP version {v} is not 1.0 to 1.3"));
                }
                (Version::new(major, minor), hp)
            }
            // "If the version is absent, 1.0 is assumed" (§13.6.10.3).
            None => (GIOP_1_0, a),
        };
        let (host, port) = split_host_port(hostport)?;
        addresses.push(IiopAddress { version, host, port });
    }
    Ok((addresses, key))
}

fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: an IPv6 address needs its ]"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{s:?} has no host (corbaloc::HOST:PORT/KEY)"));
    }
    let port = match port {
        None | Some("") => DEFAULT_CORBALOC_PORT,
        Some(p) => p.parse().map_err(|_| format!("{p:?} is not a port number"))?,
    };
    Ok((host, port))
}

/// RFC 2396 escapes, as corbaloc keys use them (`%ff%00` for binary keys).
pub fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("{s:?}: % must be followed by two hex digits"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("{s:?}: %{hex} is not hexadecimal"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// An object key as a person can read it and as corbaloc would spell it: printable ASCII as it is,
/// anything else `%xx`. `NameService` stays `NameService`; omniORB's binary POA keys become
/// `%ff%00...`-like runs, which are still what `corbaloc::host:port/` needs after the slash.
pub fn key_to_string(key: &[u8]) -> String {
    let mut s = String::with_capacity(key.len());
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()/;:@&=+$,".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s
}

/// Is the key text (so showing it as text tells a student something)?
pub fn key_is_printable(key: &[u8]) -> bool {
    !key.is_empty() && key.iter().all(|b| (0x20..0x7f).contains(b))
}

/// The newest GIOP both sides speak for a profile of IIOP version `v` (sister speaks up to 1.2).
pub fn giop_for(v: Version) -> Version {
    if v > GIOP_1_2 {
        GIOP_1_2
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello_profile() -> IiopProfile {
        IiopProfile {
            version: GIOP_1_2,
            host: "127.0.0.1".into(),
            port: 2809,
            object_key: b"Hello".to_vec(),
            components: vec![code_sets_component(true)],
        }
    }

    #[test]
    fn an_ior_survives_its_string_in_both_byte_orders() {
        for le in [true, false] {
            let ior = Ior::iiop("IDL:HelloApp/Hello:1.0", &hello_profile(), le);
            let s = ior.to_string_in(le);
            assert!(s.starts_with(if le { "IOR:01" } else { "IOR:00" }), "{s}");
            let back = Ior::parse(&s).unwrap();
            assert_eq!(back.type_id, "IDL:HelloApp/Hello:1.0");
            let p = back.iiop_profile().unwrap().unwrap();
            assert_eq!(
                (p.host.as_str(), p.port, p.object_key.as_slice()),
                ("127.0.0.1", 2809, &b"Hello"[..])
            );
            assert_eq!(p.char_codeset(), Some(CODESET_UTF8));
        }
        assert!(Ior::nil().is_nil());
    }

    #[test]
    fn reads_an_omniorb_ior() {
        // omniNames 4.2's root context, as `omniNames -start 29809` printed it on this lab's machine.
        let s = "IOR:010000002b00000049444c3a6f6d672e6f72672f436f734e616d696e672f4e616d696e67436f6e746578744578743a312e30000001000000000000006c000000010102000a0000003132372e302e302e310071740b0000004e616d6553657276696365000300000000000000080000000100000000545441010000001c000000010000000100010001000000010001050901010001000000090101000354544108000000135a166b01000bf3";
        let ior = Ior::parse(s).unwrap();
        assert_eq!(ior.type_id, "IDL:omg.org/CosNaming/NamingContextExt:1.0");
        let p = ior.iiop_profile().unwrap().unwrap();
        assert_eq!(
            (p.version, p.host.as_str(), p.port),
            (GIOP_1_2, "127.0.0.1", 29809)
        );
        // omniORB's native char set is ISO 8859-1 (it converts to UTF-8 when asked).
        assert_eq!(p.char_codeset(), Some(CODESET_ISO_8859_1));
        assert_eq!(key_to_string(&p.object_key), "NameService");
    }

    #[test]
    fn corbaloc_and_corbaname() {
        let u = ObjectUrl::parse("corbaloc::corba-server:2809/NameService").unwrap();
        assert_eq!(
            u,
            ObjectUrl::Corbaloc {
                addresses: vec![IiopAddress {
                    version: GIOP_1_0,
                    host: "corba-server".into(),
                    port: 2809
                }],
                key: b"NameService".to_vec()
            }
        );
        let u = ObjectUrl::parse("corbaloc:iiop:1.2@[::1]/%ff%00ab").unwrap();
        let ObjectUrl::Corbaloc { addresses, key } = u else {
            panic!()
        };
        assert_eq!(
            (
                addresses[0].version,
                addresses[0].host.as_str(),
                addresses[0].port
            ),
            (GIOP_1_2, "::1", 2809)
        );
        assert_eq!(key, [0xff, 0, b'a', b'b']);
        let u = ObjectUrl::parse("corbaname::localhost:2809#Hello").unwrap();
        let ObjectUrl::Corbaname { key, name, .. } = u else {
            panic!()
        };
        assert_eq!((key.as_slice(), name.as_str()), (&b"NameService"[..], "Hello"));
        for bad in [
            "corbaloc::host",
            "corbaloc:rir:/NameService",
            "corbaloc::h:99999/k",
            "IOR:0",
            "IOR:zz",
            "http://x",
        ] {
            assert!(ObjectUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(key_to_string(&[0xff, b'a', b' ']), "%ffa%20");
    }
}
