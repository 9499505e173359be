//! A tcpdump-like capture filter, parsed by hand and evaluated in user space.
//!
//! tcpdump compiles its filter to BPF bytecode that the kernel runs on every packet; we keep things
//! readable instead: a small recursive-descent parser builds an [`Expr`] tree, and [`Filter::matches`]
//! walks it over the decoded headers of each packet ([`Fields`]). The subset understood is the one the
//! course's worksheet uses (see `pcap-filter(7)` for the full language):
//!
//! ```text
//! tcp  udp  arp  icmp  icmp6  ip  ip6           protocol
//! host A  src host A  dst host A  A             an IPv4/IPv6 address, either side (ARP sender/target too)
//! port N  src port N  dst port N                a TCP or UDP port; `tcp port N`, `udp dst port N`
//! net 172.18.0.0/16  src net …  dst net …       an address block (CIDR)
//! and  or  not  &&  ||  !  ( )                  combinations
//! port 80 or 443                                a bare value repeats the last qualifiers, as in tcpdump
//! ```
//!
//! What to notice: as in tcpdump, `and` and `or` have the SAME precedence and group from the left, so
//! `tcp or udp and port 53` means `(tcp or udp) and port 53`. `not` binds tighter than both. Use
//! parentheses when in doubt.

use std::fmt;
use std::net::IpAddr;

/// Which side of the packet an address or port must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Either source or destination (tcpdump's default).
    Any,
    Src,
    Dst,
}

/// A protocol keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Ip,
    Ip6,
    Arp,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
}

/// An address block: `172.18.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    /// Does `ip` lie inside this block? (An IPv4 block never contains an IPv6 address.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Proto(Proto),
    /// `[tcp|udp] [src|dst] port N`; `proto` limits it to one transport.
    Port {
        proto: Option<Proto>,
        dir: Dir,
        port: u16,
    },
    Host {
        dir: Dir,
        addr: IpAddr,
    },
    Net {
        dir: Dir,
        net: Net,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// What the filter looks at in a packet: the decoded network and transport headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fields {
    pub network: Network,
    pub transport: Transport,
}

/// The network layer of a packet, as far as the filter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Not decoded (another EtherType, or a broken header).
    #[default]
    Other,
    Ipv4 {
        src: IpAddr,
        dst: IpAddr,
    },
    Ipv6 {
        src: IpAddr,
        dst: IpAddr,
    },
    /// ARP: the sender and target protocol (IPv4) addresses.
    Arp {
        sender: IpAddr,
        target: IpAddr,
    },
}

/// The transport layer of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Other,
    Tcp {
        src: u16,
        dst: u16,
    },
    Udp {
        src: u16,
        dst: u16,
    },
    Icmp,
    Icmp6,
}

impl Fields {
    fn addrs(&self) -> Option<(IpAddr, IpAddr)> {
        match self.network {
            Network::Ipv4 { src, dst } | Network::Ipv6 { src, dst } => Some((src, dst)),
            Network::Arp { sender, target } => Some((sender, target)),
            Network::Other => None,
        }
    }

    fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Tcp { src, dst } | Transport::Udp { src, dst } => Some((src, dst)),
            _ => None,
        }
    }
}

impl Fields {
    /// The fields of a frame decoded by [`wire::net::decode`].
    pub fn from_decoded(d: &wire::net::Decoded<'_>) -> Fields {
        use wire::net::{IpRepr, Network as N, Transport as T};
        let network = match &d.network {
            N::Ip(IpRepr::V4(ip)) => Network::Ipv4 {
                src: IpAddr::V4(ip.src),
                dst: IpAddr::V4(ip.dst),
            },
            N::Ip(IpRepr::V6(ip)) => Network::Ipv6 {
                src: IpAddr::V6(ip.src),
                dst: IpAddr::V6(ip.dst),
            },
            N::Arp(a) => Network::Arp {
                sender: IpAddr::V4(a.sender_ip),
                target: IpAddr::V4(a.target_ip),
            },
            N::Other(_) | N::None => Network::Other,
        };
        let transport = match &d.transport {
            T::Tcp(t) => Transport::Tcp {
                src: t.src_port,
                dst: t.dst_port,
            },
            T::Udp(u) => Transport::Udp {
                src: u.src_port,
                dst: u.dst_port,
            },
            T::Icmp(i) if i.v6 => Transport::Icmp6,
            T::Icmp(_) => Transport::Icmp,
            T::Other(_) | T::None => Transport::Other,
        };
        Fields { network, transport }
    }

    /// Decode a captured frame of link type `linktype` and take its fields.
    pub fn of_frame(linktype: u16, frame: &[u8]) -> Fields {
        Fields::from_decoded(&wire::net::decode(linktype, frame))
    }
}

/// A filter ready to test packets; the empty filter matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    expr: Option<Expr>,
    text: String,
}

impl Filter {
    /// Parse the words of a filter as given on the command line (`["tcp", "and", "port", "1883"]`).
    pub fn parse_words<S: AsRef<str>>(words: &[S]) -> Result<Filter, FilterError> {
        let text = words.iter().map(|w| w.as_ref()).collect::<Vec<_>>().join(" ");
        Filter::parse(&text)
    }

    /// Parse a filter expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Ok(Filter::default());
        }
        let mut p = Parser {
            text,
            tokens,
            pos: 0,
            last: None,
        };
        let expr = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(p.error_at(t, "expected `and`, `or` or the end of the filter"));
        }
        Ok(Filter {
            expr: Some(expr),
            text: text.to_string(),
        })
    }

    /// Does the packet match?
    pub fn matches(&self, f: &Fields) -> bool {
        self.expr.as_ref().is_none_or(|e| eval(e, f))
    }

    /// True if this filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// The parsed tree (None for the empty filter).
    pub fn expr(&self) -> Option<&Expr> {
        self.expr.as_ref()
    }

    /// The filter as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn side<T: PartialEq + Copy>(dir: Dir, pair: Option<(T, T)>, want: impl Fn(T) -> bool) -> bool {
    match (dir, pair) {
        (_, None) => false,
        (Dir::Any, Some((s, d))) => want(s) || want(d),
        (Dir::Src, Some((s, _))) => want(s),
        (Dir::Dst, Some((_, d))) => want(d),
    }
}

fn eval(e: &Expr, f: &Fields) -> bool {
    match e {
        Expr::Proto(p) => match p {
            Proto::Ip => matches!(f.network, Network::Ipv4 { .. }),
            Proto::Ip6 => matches!(f.network, Network::Ipv6 { .. }),
            Proto::Arp => matches!(f.network, Network::Arp { .. }),
            Proto::Tcp => matches!(f.transport, Transport::Tcp { .. }),
            Proto::Udp => matches!(f.transport, Transport::Udp { .. }),
            Proto::Icmp => matches!(f.transport, Transport::Icmp),
            Proto::Icmp6 => matches!(f.transport, Transport::Icmp6),
        },
        Expr::Port { proto, dir, port } => {
            let proto_ok = match proto {
                None => true,
                Some(p) => eval(&Expr::Proto(*p), f),
            };
            proto_ok && side(*dir, f.ports(), |p| p == *port)
        }
        Expr::Host { dir, addr } => side(*dir, f.addrs(), |a| a == *addr),
        Expr::Net { dir, net } => side(*dir, f.addrs(), |a| net.contains(a)),
        Expr::Not(e) => !eval(e, f),
        Expr::And(a, b) => eval(a, f) && eval(b, f),
        Expr::Or(a, b) => eval(a, f) || eval(b, f),
    }
}

/// A filter that could not be parsed: what was wrong and where (byte offset in the filter text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad filter: {message}\n  {text}\n  {caret}")]
pub struct FilterError {
    pub message: String,
    pub text: String,
    pub offset: usize,
    caret: String,
}

impl FilterError {
    fn new(text: &str, offset: usize, len: usize, message: String) -> FilterError {
        let col = text[..offset.min(text.len())].chars().count();
        let caret = format!("{}{}", " ".repeat(col), "^".repeat(len.max(1)));
        FilterError {
            message,
            text: text.to_string(),
            offset,
            caret,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token<'a> {
    word: &'a str,
    offset: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let len = match c {
            b'(' | b')' => 1,
            b'!' => 1,
            b'&' | b'|' => {
                if bytes.get(i + 1) == Some(&c) {
                    2
                } else {
                    let op = if c == b'&' { "&&" } else { "||" };
                    return Err(FilterError::new(
                        text,
                        i,
                        1,
                        format!("`{}` alone is not an operator: write `{op}`", c as char),
                    ));
                }
            }
            _ => bytes[i..]
                .iter()
                .position(|b| b.is_ascii_whitespace() || b"()!&|".contains(b))
                .unwrap_or(bytes.len() - i),
        };
        // Word boundaries are ASCII bytes, so slicing here stays on char boundaries.
        tokens.push(Token {
            word: &text[i..i + len],
            offset: i,
        });
        i += len;
    }
    Ok(tokens)
}

/// The qualifiers of the last primitive, reused by a bare value after `and`/`or` (`port 80 or 443`).
#[derive(Debug, Clone, Copy)]
enum Qual {
    Host(Dir),
    Net(Dir),
    Port(Option<Proto>, Dir),
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    last: Option<Qual>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).cloned()
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn error_at(&self, t: Token<'_>, what: &str) -> FilterError {
        FilterError::new(
            self.text,
            t.offset,
            t.word.chars().count(),
            format!("{what}, found `{}`", t.word),
        )
    }

    fn error_end(&self, what: &str) -> FilterError {
        FilterError::new(
            self.text,
            self.text.len(),
            1,
            format!("{what}, but the filter ends here"),
        )
    }

    /// expr := unary ((and | or) unary)*, left to right, one precedence level (as tcpdump).
    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while let Some(t) = self.peek() {
            let is_and = matches!(t.word, "and" | "&&");
            let is_or = matches!(t.word, "or" | "||");
            if !is_and && !is_or {
                break;
            }
            self.pos += 1;
            let right = self.unary()?;
            left = if is_and {
                Expr::And(Box::new(left), Box::new(right))
            } else {
                Expr::Or(Box::new(left), Box::new(right))
            };
        }
        Ok(left)
    }

    /// unary := (not | !) unary | '(' expr ')' | primitive
    fn unary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek() else {
            return Err(self.error_end("expected a filter term (`tcp`, `host A`, `port N`, ...)"));
        };
        match t.word {
            "not" | "!" => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            "(" => {
                self.pos += 1;
                let e = self.expr()?;
                match self.next() {
                    Some(c) if c.word == ")" => Ok(e),
                    Some(other) => Err(self.error_at(other, "expected `)`")),
                    None => Err(FilterError::new(
                        self.text,
                        t.offset,
                        1,
                        "this `(` is never closed".to_string(),
                    )),
                }
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<Expr, FilterError> {
        let Some(first) = self.next() else {
            return Err(self.error_end("expected a filter term"));
        };
        let mut t = first.clone();
        // An optional protocol: alone it is a term (`tcp`), before `port` it qualifies it (`tcp port 80`).
        let proto = match t.word {
            "ip" => Some(Proto::Ip),
            "ip6" => Some(Proto::Ip6),
            "arp" => Some(Proto::Arp),
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "icmp" => Some(Proto::Icmp),
            "icmp6" => Some(Proto::Icmp6),
            _ => None,
        };
        if let Some(p) = proto {
            match self.peek() {
                Some(n) if matches!(n.word, "src" | "dst" | "port" | "host" | "net") => {
                    t = n;
                    self.pos += 1;
                }
                _ => return Ok(Expr::Proto(p)),
            }
        }
        let dir = match t.word {
            "src" => Some(Dir::Src),
            "dst" => Some(Dir::Dst),
            _ => None,
        };
        if dir.is_some() {
            match self.next() {
                Some(n) => t = n,
                None => {
                    return Err(
                        self.error_end("expected `host`, `net`, `port` or an address after `src`/`dst`")
                    )
                }
            }
        }
        let dir = dir.unwrap_or(Dir::Any);
        let keyword = t.word;
        match keyword {
            "host" | "net" | "port" => {
                let Some(value) = self.next() else {
                    return Err(self.error_end(&format!("expected a value after `{keyword}`")));
                };
                let q = match keyword {
                    "host" => Qual::Host(dir),
                    "net" => Qual::Net(dir),
                    _ => Qual::Port(proto, dir),
                };
                if keyword != "port"
                    && proto.is_some_and(|p| !matches!(p, Proto::Ip | Proto::Ip6 | Proto::Arp))
                {
                    return Err(
                        self.error_at(first, &format!("`{keyword}` cannot follow a transport protocol"))
                    );
                }
                self.value(q, value)
            }
            _ => {
                // A bare value: after `and`/`or` it repeats the last qualifiers (`port 80 or 443`);
                // otherwise an address means `host`, as in tcpdump.
                if proto.is_none() {
                    if let Some(q) = self.last {
                        if t.word.parse::<u16>().is_ok()
                            || t.word.parse::<IpAddr>().is_ok()
                            || t.word.contains('/')
                        {
                            return self.value(q, t);
                        }
                    }
                    if t.word.parse::<IpAddr>().is_ok() {
                        return self.value(Qual::Host(dir), t);
                    }
                }
                Err(self.error_at(
                    t,
                    "expected tcp, udp, arp, icmp, ip, ip6, host, net, port, src, dst, not or `(`",
                ))
            }
        }
    }

    fn value(&mut self, q: Qual, v: Token<'_>) -> Result<Expr, FilterError> {
        self.last = Some(q);
        match q {
            Qual::Host(dir) => match v.word.parse::<IpAddr>() {
                Ok(addr) => Ok(Expr::Host { dir, addr }),
                Err(_) => Err(self.error_at(v, "expected an IP address (host names are not resolved)")),
            },
            Qual::Port(proto, dir) => match v.word.parse::<u16>() {
                Ok(port) => Ok(Expr::Port { proto, dir, port }),
                Err(_) => Err(self.error_at(v, "expected a port number 0-65535")),
            },
            Qual::Net(dir) => {
                let (addr, prefix) = match v.word.split_once('/') {
                    Some((a, p)) => (a, Some(p)),
                    None => (v.word, None),
                };
                let Ok(addr) = addr.parse::<IpAddr>() else {
                    return Err(self.error_at(v, "expected a network such as 172.18.0.0/16"));
                };
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    None => max,
                    Some(p) => match p.parse::<u8>() {
                        Ok(n) if n <= max => n,
                        _ => {
                            return Err(
                                self.error_at(v, &format!("expected a prefix length 0-{max} after `/`"))
                            )
                        }
                    },
                };
                let net = Net { addr, prefix };
                // tcpdump refuses `net 172.18.0.1/16`: host bits set usually mean a typo.
                if !net.contains(addr) || masked(addr, prefix) != addr {
                    return Err(
                        self.error_at(v, "this network has host bits set (did you mean the .0 address?)")
                    );
                }
                Ok(Expr::Net { dir, net })
            }
        }
    }
}

fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = |d: &Dir| match d {
            Dir::Any => "",
            Dir::Src => "src ",
            Dir::Dst => "dst ",
        };
        match self {
            Expr::Proto(p) => write!(f, "{}", format!("{p:?}").to_lowercase()),
            Expr::Port { proto, dir: d, port } => {
                if let Some(p) = proto {
                    write!(f, "{} ", format!("{p:?}").to_lowercase())?;
                }
                write!(f, "{}port {port}", dir(d))
            }
            Expr::Host { dir: d, addr } => write!(f, "{}host {addr}", dir(d)),
            Expr::Net { dir: d, net } => write!(f, "{}net {}/{}", dir(d), net.addr, net.prefix),
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Filter::parse(s).unwrap().expr().unwrap().to_string()
    }

    fn tcp(src: &str, sport: u16, dst: &str, dport: u16) -> Fields {
        Fields {
            network: Network::Ipv4 {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
            },
            transport: Transport::Tcp {
                src: sport,
                dst: dport,
            },
        }
    }

    fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Fields {
        Fields {
            transport: Transport::Udp {
                src: sport,
                dst: dport,
            },
            ..tcp(src, sport, dst, dport)
        }
    }

    fn arp(sender: &str, target: &str) -> Fields {
        Fields {
            network: Network::Arp {
                sender: sender.parse().unwrap(),
                target: target.parse().unwrap(),
            },
            transport: Transport::Other,
        }
    }

    #[test]
    fn parses_the_subset() {
        assert_eq!(p("tcp"), "tcp");
        assert_eq!(p("port 1883"), "port 1883");
        assert_eq!(p("tcp port 1883"), "tcp port 1883");
        assert_eq!(p("udp dst port 53"), "udp dst port 53");
        assert_eq!(p("src host 172.18.0.3"), "src host 172.18.0.3");
        assert_eq!(p("dst 172.18.0.3"), "dst host 172.18.0.3");
        assert_eq!(p("172.18.0.3"), "host 172.18.0.3");
        assert_eq!(p("net 172.18.0.0/16"), "net 172.18.0.0/16");
        assert_eq!(p("host ::1"), "host ::1");
        assert_eq!(p("not arp"), "not arp");
        assert_eq!(p("! arp && tcp || udp"), "((not arp and tcp) or udp)");
        assert_eq!(
            p("tcp and (port 80 or port 443)"),
            "(tcp and (port 80 or port 443))"
        );
    }

    #[test]
    fn and_or_group_from_the_left_like_tcpdump() {
        assert_eq!(p("tcp or udp and port 53"), "((tcp or udp) and port 53)");
        assert_eq!(p("not tcp and udp"), "(not tcp and udp)");
    }

    #[test]
    fn bare_values_repeat_the_last_qualifier() {
        assert_eq!(p("port 80 or 443"), "(port 80 or port 443)");
        assert_eq!(
            p("src host 10.0.0.1 or 10.0.0.2"),
            "(src host 10.0.0.1 or src host 10.0.0.2)"
        );
        assert_eq!(
            p("tcp dst port 1 or 2 and tcp"),
            "((tcp dst port 1 or tcp dst port 2) and tcp)"
        );
    }

    #[test]
    fn words_from_the_command_line() {
        let f = Filter::parse_words(&["tcp", "and", "port", "1883"]).unwrap();
        assert_eq!(f.text(), "tcp and port 1883");
        assert!(Filter::parse_words::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let e = Filter::parse("tcp and prot 80").unwrap_err();
        assert_eq!(e.offset, 8);
        assert!(e.to_string().contains("found `prot`"), "{e}");
        assert!(e.to_string().ends_with("        ^^^^"), "{e}");

        let e = Filter::parse("port 99999").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("port number"), "{e}");

        let e = Filter::parse("host broker").unwrap_err();
        assert!(e.message.contains("IP address"), "{e}");

        let e = Filter::parse("(tcp or udp").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("never closed"), "{e}");

        let e = Filter::parse("tcp and").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("ends here"), "{e}");

        let e = Filter::parse("tcp udp").unwrap_err();
        assert_eq!(e.offset, 4);

        let e = Filter::parse("tcp & udp").unwrap_err();
        assert!(e.message.contains("&&"), "{e}");

        let e = Filter::parse("net 172.18.0.1/16").unwrap_err();
        assert!(e.message.contains("host bits"), "{e}");

        let e = Filter::parse("net 10.0.0.0/33").unwrap_err();
        assert!(e.message.contains("0-32"), "{e}");

        let e = Filter::parse("port 80 )").unwrap_err();
        assert_eq!(e.offset, 8);

        assert!(Filter::parse("tcp host 1.2.3.4").is_err());
    }

    #[test]
    fn evaluates_protocols() {
        let f = Filter::parse("tcp").unwrap();
        assert!(f.matches(&tcp("1.1.1.1", 1, "2.2.2.2", 2)));
        assert!(!f.matches(&udp("1.1.1.1", 1, "2.2.2.2", 2)));
        assert!(!f.matches(&arp("1.1.1.1", "2.2.2.2")));
        assert!(Filter::parse("arp").unwrap().matches(&arp("1.1.1.1", "2.2.2.2")));
        assert!(Filter::parse("ip")
            .unwrap()
            .matches(&udp("1.1.1.1", 1, "2.2.2.2", 2)));
        assert!(!Filter::parse("ip6")
            .unwrap()
            .matches(&udp("1.1.1.1", 1, "2.2.2.2", 2)));
        let icmp = Fields {
            transport: Transport::Icmp,
            ..tcp("1.1.1.1", 0, "2.2.2.2", 0)
        };
        assert!(Filter::parse("icmp").unwrap().matches(&icmp));
        assert!(!Filter::parse("icmp").unwrap().matches(&Fields::default()));
        assert!(Filter::parse("").unwrap().matches(&Fields::default()));
    }

    #[test]
    fn evaluates_ports_and_directions() {
        let pkt = tcp("172.18.0.3", 41429, "172.18.0.2", 1883);
        assert!(Filter::parse("port 1883").unwrap().matches(&pkt));
        assert!(Filter::parse("dst port 1883").unwrap().matches(&pkt));
        assert!(!Filter::parse("src port 1883").unwrap().matches(&pkt));
        assert!(Filter::parse("tcp port 1883").unwrap().matches(&pkt));
        assert!(!Filter::parse("udp port 1883").unwrap().matches(&pkt));
        assert!(Filter::parse("port 80 or 1883").unwrap().matches(&pkt));
        assert!(!Filter::parse("port 1883")
            .unwrap()
            .matches(&arp("1.1.1.1", "2.2.2.2")));
    }

    #[test]
    fn evaluates_hosts_and_nets() {
        let pkt = udp("172.18.0.3", 5000, "172.18.0.2", 12345);
        assert!(Filter::parse("host 172.18.0.2").unwrap().matches(&pkt));
        assert!(Filter::parse("src host 172.18.0.3").unwrap().matches(&pkt));
        assert!(!Filter::parse("dst host 172.18.0.3").unwrap().matches(&pkt));
        assert!(Filter::parse("net 172.18.0.0/16").unwrap().matches(&pkt));
        assert!(!Filter::parse("net 172.19.0.0/16").unwrap().matches(&pkt));
        assert!(Filter::parse("src net 172.18.0.0/30").unwrap().matches(&pkt));
        assert!(Filter::parse("net 0.0.0.0/0").unwrap().matches(&pkt));
        assert!(!Filter::parse("net ::/0").unwrap().matches(&pkt));
        // ARP counts for `host`, as in tcpdump (`host A` = `ip host A or arp host A`).
        assert!(Filter::parse("host 172.18.0.2")
            .unwrap()
            .matches(&arp("172.18.0.3", "172.18.0.2")));
        let v6 = Fields {
            network: Network::Ipv6 {
                src: "::1".parse().unwrap(),
                dst: "fe80::1".parse().unwrap(),
            },
            transport: Transport::Udp { src: 1, dst: 2 },
        };
        assert!(Filter::parse("ip6 and net fe80::/10").unwrap().matches(&v6));
    }

    #[test]
    fn fields_of_a_real_frame() {
        // Ethernet + IPv4 10.0.0.1 -> 10.0.0.2 + UDP 1000 -> 2000, "hi".
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend_from_slice(&[
            0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 10, 0, 0, b'h', b'i']);
        let f = Fields::of_frame(1, &frame);
        assert_eq!(f, udp("10.0.0.1", 1000, "10.0.0.2", 2000));
        assert!(Filter::parse("udp and src host 10.0.0.1 and dst port 2000")
            .unwrap()
            .matches(&f));
        // Garbage decodes to "other" and matches nothing but `not ...`.
        let g = Fields::of_frame(1, &[0xff; 7]);
        assert!(!Filter::parse("tcp or udp or arp").unwrap().matches(&g));
        assert!(Filter::parse("not ip").unwrap().matches(&g));
    }

    #[test]
    fn evaluates_combinations() {
        let f = Filter::parse("not arp and (port 1883 or udp)").unwrap();
        assert!(f.matches(&tcp("1.1.1.1", 1, "2.2.2.2", 1883)));
        assert!(f.matches(&udp("1.1.1.1", 1, "2.2.2.2", 9)));
        assert!(!f.matches(&tcp("1.1.1.1", 1, "2.2.2.2", 80)));
        assert!(!f.matches(&arp("1.1.1.1", "2.2.2.2")));
        let g = Filter::parse("tcp or udp and port 53").unwrap();
        // (tcp or udp) and port 53: a TCP packet on port 80 does not match.
        assert!(!g.matches(&tcp("1.1.1.1", 1, "2.2.2.2", 80)));
        assert!(g.matches(&tcp("1.1.1.1", 1, "2.2.2.2", 53)));
    }
}
