//! What can be wrong with a capture itself, whatever pattern it holds: an empty or unreadable file, a
//! capture on the wrong interface (only ARP, nothing on the lab's ports), a file named after another
//! protocol than it holds; and what is worth knowing without being a fault (`tcpdump -i any` shows
//! every packet twice).
//!
//! The worksheet's step 4 (LAB.md) is where the capture is made: "Find the Docker bridge (`ip a`,
//! `br-…`), capture on it with `tcpdump -nvi br-… -w mqtt.pcap`".

use capture::read::ReadError;

use super::detect::{self, Detection};
use super::{Check, Lang, Note, Pattern};
use crate::report::{Report, Transport};

/// `readable`: the file holds packets, and all of it could be read.
pub(super) fn readable(report: &Report, lang: Lang) -> Check {
    let title = tr!(lang, "the file holds packets", "file berisi paket");
    let packets = report.capture.packets;
    if packets == 0 {
        return Check::fail(
            "readable",
            title,
            tr!(lang, "no packets", "tidak ada paket"),
            tr!(
                lang,
                "the file is a capture without a single packet: tcpdump was stopped before anything passed, or listened where the lab's traffic does not pass; start tcpdump, then run the pattern's programs, and stop it with Ctrl+C only when they are done (it prints how many packets it captured)",
                "file ini capture tanpa satu paket pun: tcpdump dihentikan sebelum ada lalu lintas, atau mendengarkan di tempat yang tidak dilewati lalu lintas lab; jalankan tcpdump, lalu program-program pola itu, dan hentikan dengan Ctrl+C setelah selesai (tcpdump menyebut berapa paket yang tertangkap)"
            ),
        );
    }
    if let Some(problem) = report.problems.first() {
        return Check::fail(
            "readable",
            title,
            tr!(lang, "file damaged or cut short", "file rusak atau terpotong"),
            tr!(
                lang,
                "{packets} packets could be read, but {problem}: stop tcpdump with Ctrl+C (it then writes its last packets) and copy the file only after it stopped",
                "{packets} paket terbaca, tetapi {problem}: hentikan tcpdump dengan Ctrl+C (agar paket terakhir ditulis) dan salin file setelah tcpdump berhenti"
            ),
        );
    }
    let seconds = report.capture.duration;
    Check::pass(
        "readable",
        title,
        tr!(
            lang,
            "{packets} packets over {seconds:.1} s",
            "{packets} paket selama {seconds:.1} detik"
        ),
    )
}

/// `readable`, failed: `sister analyze` could not read the file at all.
pub(super) fn unreadable(error: &crate::Error, lang: Lang) -> Check {
    let title = tr!(lang, "the file holds packets", "file berisi paket");
    let source = match error {
        crate::Error::Read { source, .. } => Some(source),
        crate::Error::StreamDir { .. } => None,
    };
    match source {
        Some(ReadError::Empty) => Check::fail(
            "readable",
            title,
            tr!(lang, "empty file", "file kosong"),
            tr!(
                lang,
                "the file is empty (0 bytes): tcpdump did not write to it, or was killed before it did; capture with `tcpdump -nvi br-… -w FILE.pcap`, stop it with Ctrl+C, and check the file's size before handing it in",
                "file kosong (0 byte): tcpdump tidak menulis ke file ini, atau dihentikan paksa sebelum menulis; capture dengan `tcpdump -nvi br-… -w FILE.pcap`, hentikan dengan Ctrl+C, dan periksa ukuran file sebelum dikumpulkan"
            ),
        ),
        Some(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Check::fail(
            "readable",
            title,
            tr!(lang, "file not found", "file tidak ditemukan"),
            tr!(
                lang,
                "there is no such file: check its name and folder",
                "file itu tidak ada: periksa nama dan foldernya"
            ),
        ),
        _ => Check::fail(
            "readable",
            title,
            tr!(lang, "not a readable capture", "bukan capture yang terbaca"),
            tr!(
                lang,
                "{error}: hand in the file tcpdump -w (or Wireshark's File > Save) wrote, as it is (not a screenshot, a text export or a renamed file)",
                "{error}: kumpulkan file yang ditulis tcpdump -w (atau File > Save di Wireshark) apa adanya (bukan screenshot, ekspor teks, atau file yang diganti namanya)"
            ),
        ),
    }
}

/// `lab-traffic`: the capture holds one of the lab's patterns. When it does not, it was taken on the
/// wrong interface (worksheet step 4: capture on the Docker bridge).
pub(super) fn lab_traffic(report: &Report, det: &Detection, file: &str, lang: Lang) -> Check {
    let title = tr!(lang, "traffic of a lab pattern", "lalu lintas pola lab");
    if det.pattern != Pattern::None {
        let convs: Vec<_> = det
            .conversations(report)
            .filter(|c| detect::carries_data(c))
            .collect();
        let n = convs.len();
        let mut ports: Vec<String> = convs
            .iter()
            .map(|c| port_name(c.server.port, c.transport))
            .collect();
        ports.sort();
        ports.dedup();
        let ports = ports.join(", ");
        let what = det.pattern.title(lang);
        let detail = if n == 0 {
            tr!(
                lang,
                "{what}: connection attempts to port {}, none of which carried data",
                "{what}: percobaan koneksi ke port {}, tidak ada yang membawa data",
                attempt_ports(report, det)
            )
        } else {
            tr!(
                lang,
                "{what}: {n} conversation(s) on port {ports}",
                "{what}: {n} percakapan di port {ports}"
            )
        };
        return Check::pass("lab-traffic", title, detail);
    }
    let named = name_claims(file)
        .first()
        .map(|p| {
            tr!(
                lang,
                " (the file is named after {p}, but holds none of it)",
                " (nama file menyebut {p}, tetapi isinya bukan {p})"
            )
        })
        .unwrap_or_default();
    let other: Vec<String> = report
        .other_traffic
        .iter()
        .fold(Vec::<(String, u64)>::new(), |mut acc, o| {
            match acc.iter_mut().find(|(p, _)| *p == o.protocol) {
                Some((_, n)) => *n += o.count,
                None => acc.push((o.protocol.clone(), o.count)),
            }
            acc
        })
        .into_iter()
        .map(|(p, n)| tr!(lang, "{p} ({n} frames)", "{p} ({n} frame)"))
        .collect();
    if report.conversations.is_empty() {
        let only = if other.is_empty() {
            tr!(lang, "no TCP or UDP at all", "tidak ada TCP atau UDP sama sekali")
        } else {
            tr!(
                lang,
                "only {} and no TCP or UDP",
                "hanya {} dan tidak ada TCP atau UDP",
                other.join(", ")
            )
        };
        let arp_only = report.other_traffic.iter().all(|o| o.protocol == "ARP") && !other.is_empty();
        return Check::fail(
            "lab-traffic",
            title,
            if arp_only {
                tr!(lang, "only ARP (wrong interface)", "hanya ARP (interface salah)")
            } else {
                tr!(lang, "no lab traffic (wrong interface)", "tidak ada lalu lintas lab (interface salah)")
            },
            tr!(
                lang,
                "the capture holds {only}{named}: tcpdump listened on the wrong interface, or stopped before the programs ran; find the lab's bridge with `ip a` (br-…, the network of the pattern's containers) or let `sister capture --network sister-<pattern>` find it, and run the programs while it captures",
                "capture ini berisi {only}{named}: tcpdump mendengarkan di interface yang salah, atau berhenti sebelum program berjalan; cari bridge lab dengan `ip a` (br-…, jaringan container pola itu) atau biarkan `sister capture --network sister-<pattern>` menemukannya, lalu jalankan program selama capture berjalan"
            ),
        );
    }
    let mut ports: Vec<String> = det
        .unattributed
        .iter()
        .chain(det.conversations.iter())
        .filter_map(|&i| report.conversations.get(i))
        .map(|c| port_name(c.server.port, c.transport))
        .collect();
    if ports.is_empty() {
        ports = report
            .conversations
            .iter()
            .map(|c| port_name(c.server.port, c.transport))
            .collect();
    }
    ports.sort();
    ports.dedup();
    let n = report.conversations.len();
    let ports = list(&ports, 6, lang);
    Check::fail(
        "lab-traffic",
        title,
        tr!(lang, "nothing on the lab's ports (wrong interface)", "tidak ada di port lab (interface salah)"),
        tr!(
            lang,
            "{n} conversation(s) (port {ports}), none of them one of the lab's patterns{named}: tcpdump listened on the wrong interface (eth0 or wlan0 carry the computer's own traffic); capture on the lab's bridge (`ip a`: br-…) while the pattern's programs run",
            "{n} percakapan (port {ports}), tidak ada yang termasuk pola lab{named}: tcpdump mendengarkan di interface yang salah (eth0 atau wlan0 membawa lalu lintas komputer sendiri); capture di bridge lab (`ip a`: br-…) selama program pola itu berjalan"
        ),
    )
}

/// `file-name`: a file named after a protocol holds that protocol (`mqtt.pcap` holds MQTT). Only
/// for files whose name names one, and captures that hold a pattern (else `lab-traffic` says it).
pub(super) fn file_name(file: &str, report: &Report, det: &Detection, lang: Lang) -> Option<Check> {
    let claims = name_claims(file);
    if claims.is_empty() || det.pattern == Pattern::None {
        return None;
    }
    let title = tr!(
        lang,
        "the file's name matches its content",
        "nama file sesuai isinya"
    );
    let holds = det.pattern;
    let udp_oneway =
        holds == Pattern::Oneway && det.conversations(report).any(|c| c.transport == Transport::Udp);
    let named: Vec<&str> = claims.iter().map(|p| p.name()).collect();
    let named = named.join("/");
    if claims.contains(&holds) || (udp_oneway && claims.contains(&Pattern::Udp)) {
        return Some(Check::pass(
            "file-name",
            title,
            tr!(
                lang,
                "named after {named}, holds {holds}",
                "nama menyebut {named}, isinya {holds}"
            ),
        ));
    }
    let base = base_name(file);
    Some(Check::fail(
        "file-name",
        title,
        tr!(lang, "file named after another protocol", "nama file menyebut protokol lain"),
        tr!(
            lang,
            "{base} is named after {named} but holds {holds} ({}): hand in the capture of the pattern the name says, or name the file after what it holds ({holds}.pcap)",
            "{base} menyebut {named} tetapi isinya {holds} ({}): kumpulkan capture pola yang disebut namanya, atau beri nama sesuai isinya ({holds}.pcap)",
            holds.title(lang)
        ),
    ))
}

/// Notes: `tcpdump -i any` (Linux cooked) and its duplicates; other patterns in the same capture.
pub(super) fn notes(report: &Report, det: &Detection, lang: Lang) -> Vec<Note> {
    let mut notes = Vec::new();
    let cooked = report.capture.link_types.iter().any(|l| l.contains("LINUX_SLL"));
    let dups = report.capture.duplicates;
    if cooked && dups > 0 {
        notes.push(Note {
            name: "cooked-duplicates",
            short: tr!(lang, "-i any: every packet twice", "-i any: setiap paket dua kali"),
            detail: tr!(
                lang,
                "captured with `tcpdump -i any` (Linux cooked): every packet appears twice, once on the container's veth and once on the bridge ({dups} copies); sister drops the copies, Wireshark shows them as retransmissions and duplicate ACKs; capture on the bridge instead: `tcpdump -nvi br-… -w FILE.pcap`",
                "di-capture dengan `tcpdump -i any` (Linux cooked): setiap paket muncul dua kali, sekali di veth container dan sekali di bridge ({dups} salinan); sister membuang salinannya, Wireshark menampilkannya sebagai retransmission dan duplicate ACK; capture di bridge saja: `tcpdump -nvi br-… -w FILE.pcap`"
            ),
        });
    } else if cooked {
        notes.push(Note {
            name: "cooked",
            short: tr!(lang, "-i any", "-i any"),
            detail: tr!(
                lang,
                "captured with `tcpdump -i any` (Linux cooked): no MAC addresses are recorded, and on a Docker host each packet would be seen twice; capture on the bridge instead: `tcpdump -nvi br-… -w FILE.pcap`",
                "di-capture dengan `tcpdump -i any` (Linux cooked): alamat MAC tidak tercatat, dan di host Docker setiap paket akan terlihat dua kali; capture di bridge saja: `tcpdump -nvi br-… -w FILE.pcap`"
            ),
        });
    }
    if det.pattern != Pattern::None && !det.others.is_empty() {
        let others: Vec<String> = det
            .others
            .iter()
            .map(|(p, n)| tr!(lang, "{p} ({n} conversation(s))", "{p} ({n} percakapan)"))
            .collect();
        let others = others.join(", ");
        notes.push(Note {
            name: "other-patterns",
            short: tr!(lang, "also {others}", "juga {others}"),
            detail: tr!(
                lang,
                "the capture also holds {others}; only {} is checked: one capture per pattern keeps the worksheet's analysis clear",
                "capture ini juga berisi {others}; hanya {} yang diperiksa: satu capture per pola membuat analisis lembar kerja lebih jelas",
                det.pattern
            ),
        });
    }
    notes
}

/// The patterns a file's name names: `mqtt__RahmatAramadhan__captureMQTT.pcap` → mqtt,
/// `udp__aryobagus-RAZ__oneway-coba-aryo.pcap` → udp and oneway. Long words are found anywhere in
/// the name (`tcpreqresp`, `captureMQTT`); short ones (`udp`, `rpc`, `ice`, `rest`, `zk`) only as
/// words of their own, so that `interest` is not REST nor `device` Ice.
pub(super) fn name_claims(file: &str) -> Vec<Pattern> {
    let base = base_name(file);
    let stem = base.split('.').next().unwrap_or(base).to_string();
    let joined: String = stem
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let words = words(&stem);
    const ANYWHERE: [(&str, Pattern); 17] = [
        ("mqtt", Pattern::Mqtt),
        ("mosquitto", Pattern::Mqtt),
        ("reqresp", Pattern::Reqresp),
        ("reqres", Pattern::Reqresp),
        ("oneway", Pattern::Oneway),
        ("upcall", Pattern::Upcall),
        ("jsonrpc", Pattern::Rpc),
        ("soap", Pattern::Soap),
        ("wsdl", Pattern::Soap),
        ("zeromq", Pattern::Zmq),
        ("zmq", Pattern::Zmq),
        ("zookeeper", Pattern::Zk),
        ("lamport", Pattern::Lamport),
        ("zeroc", Pattern::Ice),
        ("corba", Pattern::Corba),
        ("omniorb", Pattern::Corba),
        ("giop", Pattern::Corba),
    ];
    const WORDS: [(&str, Pattern); 7] = [
        ("udp", Pattern::Udp),
        ("echo", Pattern::Reqresp),
        ("rest", Pattern::Rest),
        ("rpc", Pattern::Rpc),
        ("zk", Pattern::Zk),
        ("ice", Pattern::Ice),
        ("http", Pattern::Rest),
    ];
    let mut claims = Vec::new();
    for (word, p) in ANYWHERE {
        if joined.contains(word) && !claims.contains(&p) {
            claims.push(p);
        }
    }
    for (word, p) in WORDS {
        if words.iter().any(|w| w == word) && !claims.contains(&p) {
            claims.push(p);
        }
    }
    claims
}

/// A name's words, lower case: split at anything not a letter or digit, between a lower-case and an
/// upper-case letter (`captureMQTT`), and between letters and digits (`udp4`).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for ch in s.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let boundary = (p.is_ascii_lowercase() && ch.is_ascii_uppercase())
                || (p.is_ascii_alphabetic() != ch.is_ascii_alphabetic());
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(ch.to_ascii_lowercase());
        prev = Some(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The file name without its folders.
pub(super) fn base_name(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}

/// `1883/tcp`, `12345/udp`.
pub(super) fn port_name(port: u16, transport: Transport) -> String {
    match transport {
        Transport::Tcp => format!("{port}/tcp"),
        Transport::Udp => format!("{port}/udp"),
    }
}

/// The ports of the pattern's attempts without data.
fn attempt_ports(report: &Report, det: &Detection) -> String {
    let mut ports: Vec<String> = det
        .conversations(report)
        .map(|c| port_name(c.server.port, c.transport))
        .collect();
    ports.sort();
    ports.dedup();
    ports.join(", ")
}

/// At most `max` items, then "and N more".
pub(super) fn list(items: &[String], max: usize, lang: Lang) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    let more = items.len() - max;
    let shown = items[..max].join(", ");
    tr!(lang, "{shown} and {more} more", "{shown} dan {more} lainnya")
}
