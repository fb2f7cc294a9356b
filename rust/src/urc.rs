//! Line classification: final result codes, `CONNECT`, and the URC table.
//!
//! Pure functions over one framed line (no CR/LF). Owns the default URC
//! table (design §2, wire rule 6); it does not know about the stream or the
//! command in flight (that is `tokenizer`).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The default URC table: every URC in `spec/` and design §2. `+NAME` entries
/// match a line that starts with `+NAME:`; bare entries are line prefixes.
pub const DEFAULT_URCS: &[&str] = &[
    // Boot and power (design §2 "Boot URCs").
    "RDY",
    "APP RDY",
    "POWERED DOWN",
    "NORMAL POWER DOWN",
    "UNDER_VOLTAGE POWER DOWN",
    "OVER_VOLTAGE POWER DOWN",
    "+CFUN",
    "+CPIN",
    "+QUSIM",
    "+QIND",
    "+QIURC",
    // HTTP note §2: results that follow `OK`.
    "+QHTTPGET",
    "+QHTTPPOST",
    "+QHTTPPOSTFILE",
    "+QHTTPREADFILE",
    // CoAP note §3.4; the note's examples print `+COAPACK`.
    "+QCOAPOPEN",
    "+QCOAPCLOSE",
    "+QCOAPRECV",
    "+QCOAPACK",
    "+COAPACK",
    "+QCOAPIND",
    // Network, sockets, TLS, MQTT, time, FOTA, GNSS.
    "+CEREG",
    "+CREG",
    "+CGREG",
    "+CGEV",
    "+QSSLURC",
    "+QMTSTAT",
    "+QMTRECV",
    "+QPSMTIMER",
    "+CTZV",
    "+CTZE",
    "+QNTP",
    "+QIOPEN",
    "+QFOTADL",
    "+QGPSURC",
];

/// FNV-1a: URC names are short keys looked up once per line, where SipHash's
/// setup dominates; the table is fixed by us and the caller, so flooding
/// resistance buys nothing here.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The URC table: `+NAME` entries by name, other entries as line prefixes.
#[derive(Clone, Debug)]
pub struct UrcTable {
    names: HashSet<Vec<u8>, BuildHasherDefault<Fnv1a>>,
    prefixes: Vec<Vec<u8>>,
}

impl Default for UrcTable {
    fn default() -> Self {
        let mut table = UrcTable {
            names: HashSet::default(),
            prefixes: Vec::new(),
        };
        for urc in DEFAULT_URCS {
            table.add(urc.as_bytes());
        }
        table
    }
}

impl UrcTable {
    /// Add one entry: `+NAME` (no colon) matches `+NAME:` lines; anything
    /// else is a plain prefix. Empty entries are ignored (they would match
    /// every line).
    pub fn add(&mut self, entry: &[u8]) {
        if entry.is_empty() {
            return;
        }
        if entry[0] == b'+' && memchr::memchr(b':', entry).is_none() {
            self.names.insert(entry.to_ascii_uppercase());
        } else if !self.prefixes.iter().any(|p| p == entry) {
            self.prefixes.push(entry.to_vec());
        }
    }

    /// Is this line a URC?
    pub fn matches(&self, line: &[u8]) -> bool {
        if line.first() == Some(&b'+') {
            if let Some(colon) = memchr::memchr(b':', line) {
                let name = &line[..colon];
                let hit = if name.iter().any(u8::is_ascii_lowercase) {
                    self.names.contains(&name.to_ascii_uppercase())
                } else {
                    self.names.contains(name)
                };
                if hit {
                    return true;
                }
            }
        }
        self.prefixes.iter().any(|p| line.starts_with(p))
    }
}

/// Bare final result codes (design §2; `NO DIALTONE`, `BUSY`, `NO ANSWER`
/// are the V.250 finals the module may also print).
const FINALS: &[&[u8]] = &[
    b"OK",
    b"ERROR",
    b"NO CARRIER",
    b"SEND OK",
    b"SEND FAIL",
    b"NO DIALTONE",
    b"BUSY",
    b"NO ANSWER",
];

/// If the line is a final result code, its code: `Some(Some(n))` for
/// `+CME ERROR: n` / `+CMS ERROR: n`, `Some(None)` for the others (and for a
/// verbose, non-numeric CME/CMS text). None when it is not a final.
pub fn final_code(line: &[u8]) -> Option<Option<i64>> {
    if let Some(rest) = line
        .strip_prefix(b"+CME ERROR:")
        .or_else(|| line.strip_prefix(b"+CMS ERROR:"))
    {
        return Some(parse_int(rest));
    }
    FINALS.contains(&line).then_some(None)
}

/// `CONNECT` or `CONNECT <n>`: Some(code) (code None when there is no
/// number or it does not parse). None when the line is not a CONNECT.
pub fn connect_code(line: &[u8]) -> Option<Option<i64>> {
    if line == b"CONNECT" {
        return Some(None);
    }
    line.strip_prefix(b"CONNECT ").map(parse_int)
}

/// Longest number we accept in a field: anything longer is garbage, not a
/// length or a code (wire rule 12: never overflow).
pub const MAX_DIGITS: usize = 12;

/// A decimal field, surrounding spaces allowed: None if empty, not all
/// digits, or longer than [`MAX_DIGITS`].
pub fn parse_int(field: &[u8]) -> Option<i64> {
    let field = trim(field);
    if field.is_empty() || field.len() > MAX_DIGITS || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(field.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// ASCII whitespace trimmed at both ends (`<[u8]>::trim_ascii` needs
/// Rust 1.80; the crate's MSRV is 1.75).
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

/// Does the line hold bytes that never occur in module text (NUL and other
/// controls but TAB, and DEL)? Such a line is garbage (wire rule 11).
pub fn has_control_bytes(line: &[u8]) -> bool {
    // A fold with no early exit: the compiler vectorises it.
    line.iter().fold(false, |bad, &b| {
        bad | ((b < 0x20 && b != b'\t') | (b == 0x7f))
    })
}

/// The payload length of `+QCOAPRECV: …,<payload_length>` (CoAP note
/// §3.4.1): the digits after the LAST comma, since option values may hold
/// commas themselves.
pub fn coap_payload_length(line: &[u8]) -> Option<u64> {
    let comma = memchr::memrchr(b',', line)?;
    parse_int(&line[comma + 1..]).map(|n| n as u64)
}

/// The `<n>` of a single-field `+QIRD: <n>` (the data header of AT+QIRD);
/// None for the multi-field query answer `+QIRD: <total>,<read>,<unread>`.
pub fn qird_length(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"+QIRD:")?;
    parse_int(rest).map(|n| n as u64)
}

/// The value of a `Content-Length` header (case-insensitive name) in an
/// HTTP header block (status line first, CRLF separated).
pub fn content_length(headers: &[u8]) -> Option<u64> {
    headers
        .split(|&b| b == b'\n')
        .skip(1)
        .find_map(|line| {
            let colon = memchr::memchr(b':', line)?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            trim(name)
                .eq_ignore_ascii_case(b"content-length")
                .then(|| parse_int(value))
        })
        .flatten()
        .map(|n| n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_entries_match_only_the_whole_name() {
        let table = UrcTable::default();
        assert!(table.matches(b"+CEREG: 1"));
        assert!(!table.matches(b"+CEREGX: 1"));
        assert!(!table.matches(b"+CERE: 1"));
        assert!(table.matches(b"APP RDY"));
        assert!(table.matches(b"+qind: SMS DONE"));
    }

    #[test]
    fn finals_and_their_codes() {
        assert_eq!(final_code(b"OK"), Some(None));
        assert_eq!(final_code(b"+CME ERROR: 717"), Some(Some(717)));
        assert_eq!(final_code(b"+CMS ERROR: 500"), Some(Some(500)));
        assert_eq!(final_code(b"+CME ERROR: SIM not inserted"), Some(None));
        assert_eq!(final_code(b"OK "), None);
        assert_eq!(final_code(b"NO CARRIER"), Some(None));
    }

    #[test]
    fn numbers_never_overflow() {
        assert_eq!(parse_int(b"99999999999999999999"), None);
        assert_eq!(connect_code(b"CONNECT 99999999999999999999"), Some(None));
        assert_eq!(connect_code(b"CONNECT 1024"), Some(Some(1024)));
        assert_eq!(parse_int(b" 12 "), Some(12));
        assert_eq!(parse_int(b"-1"), None);
    }

    #[test]
    fn coap_length_is_the_last_field() {
        assert_eq!(
            coap_payload_length(b"+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9"),
            Some(9)
        );
        assert_eq!(
            coap_payload_length(b"+QCOAPRECV: 0,1,2.05,0,,1,\"a,b\",3"),
            Some(3)
        );
        assert_eq!(coap_payload_length(b"+QCOAPRECV: 0,1,x"), None);
    }

    #[test]
    fn content_length_header_is_case_insensitive() {
        let h = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\ncontent-LENGTH:  42\r\n\r\n";
        assert_eq!(content_length(h), Some(42));
        assert_eq!(content_length(b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n"), None);
    }

    #[test]
    fn control_bytes() {
        assert!(has_control_bytes(b"a\0b"));
        assert!(has_control_bytes(b"\x7f"));
        assert!(!has_control_bytes(b"a\tb \xc3\xa9"));
    }
}
