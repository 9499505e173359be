//! A lecturer's own expectations, on top of the worksheet's: `sister check --expect FILE`.
//!
//! The file is TOML; every key is optional, and a key sister does not know is an error (a typo must
//! not silently check nothing):
//!
//! ```toml
//! # worksheet step 2 and 3: the student's own channel, and the changed SOAP operation
//! pattern = "mqtt"                 # the pattern the capture must hold
//! port = 1883                      # the server's (broker's) port, instead of the course's
//! topic = "sister/channel/*"       # a topic that must be published to (or `topics = [...]`)
//! soap_result = -500               # a SOAP response must carry this result ((20 + 30) * (20 - 30))
//! min_messages = 10                # at least this many messages in the pattern's conversations
//! ```
//!
//! Topic patterns are MQTT filters (`+` one level, `#` every level below, MQTT 3.1.1 §4.7.1) where
//! `*` also stands for any run of characters, `/` included: `sister/channel/*` matches
//! `sister/channel/gaming`, `sister/*` matches `sister/channel/gaming` too.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::detect::Detection;
use super::faults::list;
use super::{Check, Lang, Pattern};
use crate::report::{Direction, Report};

/// What `--expect FILE` asks for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The pattern the capture must hold.
    pub pattern: Option<Pattern>,
    /// The server's port, which replaces the course's in the `port` check.
    pub port: Option<u16>,
    /// A topic (pattern) that must be published to.
    pub topic: Option<String>,
    /// Several topics, each of which must be published to.
    #[serde(default)]
    pub topics: Vec<String>,
    /// A result a SOAP response must carry (`-500`), compared as a number when both are numbers.
    #[serde(default, deserialize_with = "number_or_string")]
    pub soap_result: Option<String>,
    /// The least number of messages the pattern's conversations must carry (both ways, as `sister
    /// analyze` counts them).
    pub min_messages: Option<u64>,
}

/// Why an `--expect` file was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExpectError(String);

impl Expect {
    /// Read an `--expect` file's text. Errors name the line and the column, as the `toml` crate does.
    pub fn parse(text: &str) -> Result<Expect, ExpectError> {
        let e: Expect =
            toml::from_str(text).map_err(|e| ExpectError(e.to_string().trim_end().to_string()))?;
        for t in e.topics() {
            if t.is_empty() {
                return Err(ExpectError("a topic may not be empty".into()));
            }
        }
        if e.port == Some(0) {
            return Err(ExpectError("port 0 is not a port a server can listen on".into()));
        }
        Ok(e)
    }

    /// Every topic asked for (`topic` and `topics`).
    pub fn topics(&self) -> Vec<&str> {
        self.topic
            .iter()
            .chain(self.topics.iter())
            .map(String::as_str)
            .collect()
    }

    /// The checks of these expectations (the port is checked by the pattern's `port` check).
    pub fn checks(&self, report: &Report, det: &Detection, lang: Lang) -> Vec<Check> {
        let mut out = Vec::new();
        if let Some(p) = self.pattern {
            let title = tr!(lang, "the pattern {p}", "pola {p}");
            let got = det.pattern;
            out.push(if got == p {
                Check::pass(
                    "expect-pattern",
                    title,
                    tr!(
                        lang,
                        "the capture holds {p}, as expected",
                        "capture berisi {p}, sesuai harapan"
                    ),
                )
            } else {
                Check::fail(
                    "expect-pattern",
                    title,
                    tr!(
                        lang,
                        "another pattern than expected",
                        "pola lain dari yang diharapkan"
                    ),
                    tr!(
                        lang,
                        "the capture holds {got} ({}), not {p}: hand in the capture of the {p} step",
                        "capture berisi {got} ({}), bukan {p}: kumpulkan capture langkah {p}",
                        got.title(lang)
                    ),
                )
            });
        }
        if let (Some(port), Pattern::None) = (self.port, det.pattern) {
            out.push(Check::fail(
                "expect-port",
                tr!(lang, "port {port}", "port {port}"),
                tr!(lang, "port {port} not seen", "port {port} tidak terlihat"),
                tr!(
                    lang,
                    "no lab pattern in the capture, so nothing listens on port {port}",
                    "tidak ada pola lab di capture, jadi tidak ada yang listen di port {port}"
                ),
            ));
        }
        let published: Vec<&str> = report
            .conversations
            .iter()
            .flat_map(|c| c.messages.iter())
            .filter(|m| m.protocol == "MQTT" && m.fields.get("type").map(String::as_str) == Some("PUBLISH"))
            .filter_map(|m| m.fields.get("topic").map(String::as_str))
            .collect();
        let mut names: Vec<String> = Vec::new();
        for t in &published {
            if !names.iter().any(|n| n == t) {
                names.push((*t).to_string());
            }
        }
        for want in self.topics() {
            let title = tr!(lang, "a PUBLISH to {want}", "PUBLISH ke {want}");
            let hits = published.iter().filter(|t| topic_matches(want, t)).count();
            let matching: Vec<String> = names.iter().filter(|n| topic_matches(want, n)).cloned().collect();
            out.push(if hits > 0 {
                let matching = list(&matching, 3, lang);
                Check::pass(
                    "expect-topic",
                    title,
                    tr!(lang, "{hits} PUBLISH on {matching}", "{hits} PUBLISH di {matching}"),
                )
            } else {
                let seen = if names.is_empty() {
                    tr!(lang, "no PUBLISH at all", "tidak ada PUBLISH sama sekali")
                } else {
                    tr!(lang, "published: {}", "yang di-publish: {}", list(&names, 3, lang))
                };
                Check::fail(
                    "expect-topic",
                    title,
                    tr!(lang, "expected topic missing", "topik yang diharapkan tidak ada"),
                    tr!(
                        lang,
                        "no PUBLISH to a topic matching {want} ({seen}): publish on the topic the worksheet asks for (step 2)",
                        "tidak ada PUBLISH ke topik yang cocok dengan {want} ({seen}): publish di topik yang diminta lembar kerja (langkah 2)"
                    ),
                )
            });
        }
        if let Some(want) = &self.soap_result {
            let title = tr!(lang, "the SOAP result {want}", "hasil SOAP {want}");
            let results: Vec<&str> = report
                .conversations
                .iter()
                .flat_map(|c| c.messages.iter())
                .filter(|m| m.protocol == "SOAP" && m.direction == Direction::ServerToClient)
                .flat_map(|m| {
                    m.fields
                        .iter()
                        .filter(|(k, _)| k.starts_with("arg."))
                        .map(|(_, v)| v.as_str())
                })
                .collect();
            out.push(if results.iter().any(|r| same_value(r, want)) {
                Check::pass(
                    "expect-soap-result",
                    title,
                    tr!(lang, "a SOAP response carries {want}", "sebuah respons SOAP membawa {want}"),
                )
            } else {
                let got = if results.is_empty() {
                    tr!(lang, "no SOAP result at all", "tidak ada hasil SOAP sama sekali")
                } else {
                    let mut seen: Vec<String> = Vec::new();
                    for r in &results {
                        if !seen.iter().any(|s| s == r) {
                            seen.push((*r).to_string());
                        }
                    }
                    tr!(lang, "results: {}", "hasil: {}", list(&seen, 3, lang))
                };
                Check::fail(
                    "expect-soap-result",
                    title,
                    tr!(lang, "expected SOAP result missing", "hasil SOAP yang diharapkan tidak ada"),
                    tr!(
                        lang,
                        "no SOAP response carries {want} ({got}): change the operation as the worksheet asks (step 2) and call it with its numbers",
                        "tidak ada respons SOAP yang membawa {want} ({got}): ubah operasinya sesuai lembar kerja (langkah 2) dan panggil dengan angkanya"
                    ),
                )
            });
        }
        if let Some(min) = self.min_messages {
            let title = tr!(lang, "at least {min} messages", "paling sedikit {min} pesan");
            let n: u64 = det
                .conversations(report)
                .map(|c| c.client_to_server.messages + c.server_to_client.messages)
                .sum();
            out.push(if n >= min {
                Check::pass(
                    "expect-min-messages",
                    title,
                    tr!(lang, "{n} messages", "{n} pesan"),
                )
            } else {
                Check::fail(
                    "expect-min-messages",
                    title,
                    tr!(lang, "too few messages", "pesan terlalu sedikit"),
                    tr!(
                        lang,
                        "only {n} messages, fewer than {min}: capture for longer, until the programs have exchanged more",
                        "hanya {n} pesan, kurang dari {min}: capture lebih lama, sampai program bertukar lebih banyak pesan"
                    ),
                )
            });
        }
        out
    }
}

/// `soap_result = -500` and `soap_result = "-500"` both work.
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or a string, such as -500")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.trim().to_string()))
        }
    }
    d.deserialize_any(V)
}

/// `-500` and `-500.0` are the same result; text is compared as it is.
fn same_value(got: &str, want: &str) -> bool {
    match (got.trim().parse::<f64>(), want.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => got.trim() == want.trim(),
    }
}

/// Does the topic `name` match `pattern` (an MQTT filter where `*` stands for any characters)?
pub fn topic_matches(pattern: &str, name: &str) -> bool {
    // "sport/#" matches "sport" too (MQTT 3.1.1 §4.7.1.2).
    if let Some(parent) = pattern.strip_suffix("/#") {
        if !parent.contains(['*', '+', '#']) && parent == name {
            return true;
        }
    }
    glob(pattern.as_bytes(), name.as_bytes())
}

/// `*` any run of bytes, `#` (at the end) the rest, `+` a run without `/`; anything else itself.
/// Dynamic programming over (pattern position, name position), so no pattern can take more than
/// their lengths multiplied.
fn glob(p: &[u8], n: &[u8]) -> bool {
    // next[j]: does p[i + 1..] match n[j..]? Filled from the end of the pattern backwards.
    let mut next = vec![false; n.len() + 1];
    next[n.len()] = true;
    for &pc in p.iter().rev() {
        let mut cur = vec![false; n.len() + 1];
        for j in (0..=n.len()).rev() {
            let more = j < n.len();
            cur[j] = match pc {
                b'*' | b'#' => next[j] || (more && cur[j + 1]),
                b'+' => next[j] || (more && n[j] != b'/' && cur[j + 1]),
                c => more && n[j] == c && next[j + 1],
            };
        }
        next = cur;
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns() {
        assert!(topic_matches("sister/channel/*", "sister/channel/gaming"));
        assert!(topic_matches("sister/*", "sister/channel/gaming"));
        assert!(topic_matches("sister/+/gaming", "sister/channel/gaming"));
        assert!(!topic_matches("sister/+", "sister/channel/gaming"));
        assert!(topic_matches("sister/#", "sister/channel/gaming"));
        assert!(topic_matches("sister/#", "sister"));
        assert!(topic_matches("sister/temp", "sister/temp"));
        assert!(!topic_matches("sister/temp", "sister/temp/athonk"));
        assert!(!topic_matches("sister/channel/*", "sister/temp"));
        assert!(topic_matches("sister/chan*", "sister/channel/kesehatan"));
    }

    #[test]
    fn parses_every_key() {
        let e = Expect::parse(
            "pattern = \"soap\"\nport = 8000\ntopic = \"sister/channel/*\"\ntopics = [\"a/b\"]\nsoap_result = -500\nmin_messages = 4\n",
        )
        .unwrap();
        assert_eq!(e.pattern, Some(Pattern::Soap));
        assert_eq!(e.port, Some(8000));
        assert_eq!(e.topics(), vec!["sister/channel/*", "a/b"]);
        assert_eq!(e.soap_result.as_deref(), Some("-500"));
        assert_eq!(e.min_messages, Some(4));
        assert_eq!(
            Expect::parse("soap_result = \"-500\"")
                .unwrap()
                .soap_result
                .as_deref(),
            Some("-500")
        );
        assert_eq!(Expect::parse("").unwrap(), Expect::default());
    }

    #[test]
    fn errors_name_the_line() {
        let err = Expect::parse("port = 1883\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("colour"), "{err}");
        let err = Expect::parse("port = 1883\n\nport = = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = Expect::parse("pattern = \"mqt\"").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("mqtt"), "{err}");
        let err = Expect::parse("port = 70000").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = Expect::parse("soap_result = [1]").unwrap_err().to_string();
        assert!(err.contains("a number or a string"), "{err}");
        assert!(Expect::parse("port = 0").is_err());
        assert!(same_value("-500.0", "-500"));
        assert!(!same_value("15", "-500"));
    }
}
