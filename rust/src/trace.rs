//! `lpwa trace` in Rust: a captured module-to-host byte stream in, JSON lines
//! (or a `--stats` summary) out, byte for byte what the Python reference
//! (`python/lpwa/cli/trace.py`: `CaptureDecoder`, `record`, `Stats`) writes.
//!
//! Owns the capture replay (the echoes stand in for the host's `sent()`),
//! the JSON writer and the counts; framing is the tokenizer's. Memory is
//! bounded by the tokenizer's limits plus one read's worth of output.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::{self, Read, Write};

use memchr::memmem;

use crate::dialect::{Dialect, LogDecoder, Piece};
use crate::event::{name_of, Event, Kind};
use crate::tokenizer::Tokenizer;
use crate::urc::Fnv1a;

/// The echo whose body framing depends on what came before it.
const READ_ECHO: &[u8] = b"AT+QHTTPREAD";
/// An echo longer than this is not waited for (as the Python reference).
const MAX_ECHO: usize = 1024;
/// Bytes asked of the input per read.
pub const READ_SIZE: usize = 1 << 18;

/// Replays a capture into a [`Tokenizer`], declaring each `AT+QHTTPREAD`
/// echo with what the host knew when it wrote it: the `<content_length>` of
/// the `+QHTTPGET`/`+QHTTPPOST` URC before it, or response headers on after
/// `AT+QHTTPCFG="responseheader",1`.
#[derive(Clone, Debug)]
pub struct CaptureDecoder {
    tok: Tokenizer,
    held: Vec<u8>,
    content_length: Option<u64>,
    response_header: bool,
}

/// What the decoder learns from the events it sees.
#[derive(Clone, Copy, Debug, Default)]
struct Learned {
    content_length: Option<u64>,
    response_header: bool,
}

impl Default for CaptureDecoder {
    fn default() -> Self {
        CaptureDecoder::new(Tokenizer::default())
    }
}

impl CaptureDecoder {
    /// A decoder around `tok`, which it switches to early errors: an archive
    /// holds the module's own broken reads, so a 717 trailer inside the
    /// announced length ends the body there, as it did on the wire. (Set from
    /// the start, so that every idle state equals a fresh decoder's.)
    pub fn new(mut tok: Tokenizer) -> CaptureDecoder {
        tok.set_early_errors(true);
        CaptureDecoder {
            tok,
            held: Vec::new(),
            content_length: None,
            response_header: false,
        }
    }

    /// Feed the next bytes of the capture; `emit` sees each completed event.
    pub fn feed<F: FnMut(Event<'_>)>(&mut self, data: &[u8], mut emit: F) {
        let mut buf = std::mem::take(&mut self.held);
        let owned;
        let buf: &[u8] = if buf.is_empty() {
            data
        } else {
            buf.extend_from_slice(data);
            owned = buf;
            &owned
        };
        let finder = memmem::Finder::new(READ_ECHO);
        let mut pos = 0;
        while let Some(found) = finder.find(&buf[pos..]) {
            let mark = pos + found;
            let end = memchr::memchr(b'\r', &buf[mark..]).map(|e| mark + e);
            if end.is_none() && buf.len() - mark <= MAX_ECHO {
                // The echo may go on in the next piece: hold it until it ends.
                self.push(&buf[pos..mark], &mut emit);
                self.held = buf[mark..].to_vec();
                return;
            }
            self.push(&buf[pos..mark], &mut emit);
            if let Some(end) = end {
                if self.tok.in_flight().is_none() && self.tok.buffered() == 0 {
                    self.declare(&buf[mark..=end]);
                }
            }
            pos = mark + READ_ECHO.len();
            self.push(&buf[mark..pos], &mut emit);
        }
        let tail = partial_mark(&buf[pos..]);
        self.push(&buf[pos..buf.len() - tail], &mut emit);
        self.held = buf[buf.len() - tail..].to_vec();
    }

    /// A line the host wrote (a log with directions): declared to the
    /// tokenizer as the module's echo of it would declare it in a raw capture
    /// (so an `AT+QHTTPREAD` gets the body length learnt before it). Lines
    /// that are not commands (data after a prompt) are not declared.
    pub fn sent_line<F: FnMut(Event<'_>)>(&mut self, line: &[u8], mut emit: F) {
        let line = crate::command::strip_line_end(line);
        if line.len() < 2 || !line[..2].eq_ignore_ascii_case(b"AT") {
            return;
        }
        // Bytes held for an echo mark belong before this line.
        let held = std::mem::take(&mut self.held);
        self.push(&held, &mut emit);
        if let Some(on) = response_header_cfg(line) {
            self.response_header = on;
        }
        let mut command = line.to_vec();
        command.push(b'\r');
        let name = READ_ECHO.len();
        if command.len() > name
            && command[..name].eq_ignore_ascii_case(READ_ECHO)
            && matches!(command[name], b'=' | b'\r')
        {
            self.declare(&command);
            return;
        }
        self.tok.sent(&command, None, false);
    }

    /// The events of bytes held back waiting for more (end of the capture).
    pub fn close<F: FnMut(Event<'_>)>(&mut self, mut emit: F) {
        let held = std::mem::take(&mut self.held);
        self.push(&held, &mut emit);
    }

    /// A fresh decoder guessing the state at an idle point of the same
    /// capture: nothing held or in flight, our response-header setting.
    pub(crate) fn idle_guess(&self) -> CaptureDecoder {
        CaptureDecoder {
            response_header: self.response_header,
            ..CaptureDecoder::default()
        }
    }

    /// Exactly the same state, so the same bytes give the same events. The
    /// tokenizer has no `PartialEq`; its derived `Debug` shows every field.
    pub(crate) fn same_state(&self, other: &CaptureDecoder) -> bool {
        self.held == other.held
            && self.content_length == other.content_length
            && self.response_header == other.response_header
            && format!("{:?}", self.tok) == format!("{:?}", other.tok)
    }

    fn declare(&mut self, command: &[u8]) {
        if !matches!(command.get(READ_ECHO.len()), Some(b'=' | b'\r')) {
            return; // AT+QHTTPREADFILE and the like: nothing to frame
        }
        if self.response_header {
            self.tok.sent(command, None, true);
        } else {
            self.tok.sent(command, self.content_length, false);
        }
        self.content_length = None;
    }

    fn push<F: FnMut(Event<'_>)>(&mut self, data: &[u8], emit: &mut F) {
        if data.is_empty() {
            return;
        }
        let mut learned = Learned {
            content_length: self.content_length,
            response_header: self.response_header,
        };
        self.tok.feed_with(data, |event| {
            observe(&mut learned, &event);
            emit(event);
        });
        self.content_length = learned.content_length;
        self.response_header = learned.response_header;
    }
}

/// The Python reference's `_observe`: a reboot forgets QHTTPCFG; a
/// successful `+QHTTPGET/POST/POSTFILE: 0,<code>,<length>` gives the next
/// read's length; `AT+QHTTPCFG="responseheader",<0|1>` sets headers.
fn observe(learned: &mut Learned, event: &Event<'_>) {
    match event.kind {
        Kind::Urc | Kind::Line => {
            if event.data == b"RDY" || event.data == b"POWERED DOWN" {
                *learned = Learned::default();
            } else if let Some((ok, length)) = http_result(event.data) {
                // A length past u64 is no length (Python's int would overflow
                // in `sent()`); the body is then framed by its trailer.
                learned.content_length = if ok { length } else { None };
            }
        }
        Kind::Echo => {
            if let Some(on) = response_header_cfg(event.data) {
                learned.response_header = on;
            }
        }
        _ => {}
    }
}

/// `re.match(rb"\+QHTTP(?:GET|POST|POSTFILE): (\d+),\d+,(\d+)\s*$", line)`:
/// (err is exactly `0`, the length).
fn http_result(line: &[u8]) -> Option<(bool, Option<u64>)> {
    let rest = line.strip_prefix(b"+QHTTP")?;
    let rest = [&b"GET: "[..], b"POST: ", b"POSTFILE: "]
        .iter()
        .find_map(|p| rest.strip_prefix(*p))?;
    let (err, rest) = digits(rest)?;
    let (_, rest) = digits(rest.strip_prefix(b",")?)?;
    let (length, rest) = digits(rest.strip_prefix(b",")?)?;
    if !rest.iter().all(|b| is_py_space(*b)) {
        return None;
    }
    Some((err == b"0", parse_u64(length)))
}

/// `re.match(rb'AT\+QHTTPCFG="responseheader",([01])\s*$', line, re.I)`.
fn response_header_cfg(line: &[u8]) -> Option<bool> {
    const HEAD: &[u8] = b"AT+QHTTPCFG=\"responseheader\",";
    if line.len() <= HEAD.len() || !line[..HEAD.len()].eq_ignore_ascii_case(HEAD) {
        return None;
    }
    let on = match line[HEAD.len()] {
        b'0' => false,
        b'1' => true,
        _ => return None,
    };
    line[HEAD.len() + 1..]
        .iter()
        .all(|b| is_py_space(*b))
        .then_some(on)
}

/// One or more ASCII digits, and what follows them.
fn digits(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    (n > 0).then(|| s.split_at(n))
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Python's bytes-regex `\s`.
fn is_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// How many bytes at the end of `buf` could begin an echo mark.
fn partial_mark(buf: &[u8]) -> usize {
    (1..READ_ECHO.len().min(buf.len() + 1))
        .rev()
        .find(|&size| READ_ECHO.starts_with(&buf[buf.len() - size..]))
        .unwrap_or(0)
}

// ---- JSON -----------------------------------------------------------------------------

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes `json.dumps` writes as they are: printable ASCII but `"` and `\\`.
static PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

/// Append `"text"` as Python's `json.dumps` writes it (ensure_ascii): the
/// bytes decoded as UTF-8 with invalid sequences replaced by U+FFFD.
pub fn write_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if PLAIN[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if b >= 0x80 {
            // Everything before is ASCII, so `i` is a character boundary.
            write_json_chars(out, &String::from_utf8_lossy(&bytes[i..]));
            out.push(b'"');
            return;
        }
        write_json_char(out, char::from(b));
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_json_chars(out: &mut Vec<u8>, text: &str) {
    for c in text.chars() {
        write_json_char(out, c);
    }
}

fn write_json_char(out: &mut Vec<u8>, c: char) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        ' '..='~' => out.push(c as u8),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let u = *unit;
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[usize::from((u >> shift) & 0xf)]);
                }
            }
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Append the standard base64 of `data` (with padding).
pub fn write_base64(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            B64[(n >> 6) as usize & 63],
            B64[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[B64[(n >> 18) as usize], B64[(n >> 12) as usize & 63]]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                B64[(n >> 18) as usize],
                B64[(n >> 12) as usize & 63],
                B64[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

fn write_int(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    // Vec<u8> as io::Write never fails.
    let _ = write!(out, "{n}");
}

/// The start of each kind's record, up to its first value (`text` for
/// lines, prompts and connects; `length` for bodies and invalid bytes).
const RECORD_HEAD: [&[u8]; Kind::ALL.len()] = [
    b"{\"kind\": \"echo\", \"text\": ",
    b"{\"kind\": \"line\", \"text\": ",
    b"{\"kind\": \"urc\", \"text\": ",
    b"{\"kind\": \"final\", \"text\": ",
    b"{\"kind\": \"connect\", \"text\": ",
    b"{\"kind\": \"prompt\", \"text\": ",
    b"{\"kind\": \"body\"",
    b"{\"kind\": \"invalid\"",
];

/// Append one event's JSON line (the Python reference's `json.dumps(record(e))`).
pub fn write_record(out: &mut Vec<u8>, event: &Event<'_>, brief: bool) {
    out.extend_from_slice(RECORD_HEAD[event.kind as usize]);
    if matches!(event.kind, Kind::Body | Kind::Invalid) {
        out.extend_from_slice(b", \"length\": ");
        write_int(out, event.data.len());
        if event.more {
            out.extend_from_slice(b", \"more\": true");
        }
        if !brief {
            out.extend_from_slice(b", \"data_b64\": \"");
            write_base64(out, event.data);
            out.push(b'"');
        }
    } else {
        write_json_str(out, event.data);
        if let Some(name) = name_of(event.kind, event.data) {
            out.extend_from_slice(b", \"name\": ");
            write_json_str(out, name);
        }
    }
    if let Some(code) = event.code {
        out.extend_from_slice(b", \"code\": ");
        write_int(out, code);
    }
    if let Some(payload) = event.payload {
        out.extend_from_slice(b", \"payload_length\": ");
        write_int(out, payload.len());
        if !brief {
            out.extend_from_slice(b", \"payload_b64\": \"");
            write_base64(out, payload);
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"}\n");
}

// ---- stats ----------------------------------------------------------------------------

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

/// `--stats` counts: events by kind, URCs by name, body and input bytes.
#[derive(Clone, Debug)]
pub struct Stats {
    kinds: [u64; Kind::ALL.len()],
    /// The order each kind was first seen (Counter keeps insertion order).
    kind_order: Vec<Kind>,
    /// URC keys (the raw name, or the whole line) by first sighting.
    urcs: FastMap<Vec<u8>, usize>,
    urc_counts: Vec<(Vec<u8>, u64)>,
    /// Indexes into `urc_counts` by [`cache_slot`].
    cache: [Option<usize>; CACHE_SLOTS],
    pub body_bytes: u64,
    pub input_bytes: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            kinds: [0; Kind::ALL.len()],
            kind_order: Vec::new(),
            urcs: FastMap::default(),
            urc_counts: Vec::new(),
            cache: [None; CACHE_SLOTS],
            body_bytes: 0,
            input_bytes: 0,
        }
    }
}

impl Stats {
    /// Count one event.
    pub fn add(&mut self, event: &Event<'_>) {
        let slot = &mut self.kinds[event.kind as usize];
        if *slot == 0 {
            self.kind_order.push(event.kind);
        }
        *slot += 1;
        match event.kind {
            Kind::Urc => {
                let key = name_of(event.kind, event.data).unwrap_or(event.data);
                // A direct-mapped cache in front of the map: a capture has a
                // handful of URC names, each seen millions of times.
                let slot = cache_slot(key);
                if let Some(i) = self.cache[slot] {
                    if self.urc_counts[i].0 == key {
                        self.urc_counts[i].1 += 1;
                        return;
                    }
                }
                let i = match self.urcs.get(key) {
                    Some(&i) => i,
                    None => {
                        self.urcs.insert(key.to_vec(), self.urc_counts.len());
                        self.urc_counts.push((key.to_vec(), 0));
                        self.urc_counts.len() - 1
                    }
                };
                self.urc_counts[i].1 += 1;
                self.cache[slot] = Some(i);
            }
            Kind::Body => self.body_bytes += event.data.len() as u64,
            _ => {}
        }
    }

    /// Add another file's counts (a reduce step); first sightings of `self` first.
    pub fn merge(&mut self, other: &Stats) {
        for &kind in &other.kind_order {
            if self.kinds[kind as usize] == 0 {
                self.kind_order.push(kind);
            }
            self.kinds[kind as usize] += other.kinds[kind as usize];
        }
        for (key, count) in &other.urc_counts {
            if let Some(&i) = self.urcs.get(key) {
                self.urc_counts[i].1 += count;
            } else {
                self.urcs.insert(key.clone(), self.urc_counts.len());
                self.urc_counts.push((key.clone(), *count));
            }
        }
        self.body_bytes += other.body_bytes;
        self.input_bytes += other.input_bytes;
    }

    /// Total events.
    pub fn events(&self) -> u64 {
        self.kinds.iter().sum()
    }

    /// Events by kind, most common first, ties in first-seen order
    /// (`Counter.most_common()`).
    pub fn by_kind(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<_> = self
            .kind_order
            .iter()
            .map(|&k| (k.as_str(), self.kinds[k as usize]))
            .collect();
        out.sort_by_key(|item| std::cmp::Reverse(item.1));
        out
    }

    /// URCs by name (decoded as UTF-8 with replacement, as Python counts
    /// them: raw keys that decode alike are one), most common first.
    pub fn urcs_by_name(&self) -> Vec<(String, u64)> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut out: Vec<(String, u64)> = Vec::new();
        for (key, count) in &self.urc_counts {
            let name = String::from_utf8_lossy(key).into_owned();
            if let Some(&i) = index.get(&name) {
                out[i].1 += count;
            } else {
                index.insert(name.clone(), out.len());
                out.push((name, *count));
            }
        }
        out.sort_by_key(|item| std::cmp::Reverse(item.1));
        out
    }

    /// The `--stats` JSON (`json.dumps(summary, indent=2)` of the reference).
    pub fn summary_json(&self, seconds: f64) -> String {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\n  \"events\": ");
        write_int(&mut out, self.events());
        out.extend_from_slice(b",\n  \"by_kind\": ");
        write_object(
            &mut out,
            self.by_kind().iter().map(|(k, n)| (k.as_bytes(), *n)),
        );
        out.extend_from_slice(b",\n  \"urcs_by_name\": ");
        let urcs = self.urcs_by_name();
        write_object(&mut out, urcs.iter().map(|(k, n)| (k.as_bytes(), *n)));
        out.extend_from_slice(b",\n  \"body_bytes\": ");
        write_int(&mut out, self.body_bytes);
        out.extend_from_slice(b",\n  \"input_bytes\": ");
        write_int(&mut out, self.input_bytes);
        out.extend_from_slice(b",\n  \"seconds\": ");
        out.extend_from_slice(py_float(round_to(seconds, 6)).as_bytes());
        out.extend_from_slice(b",\n  \"mb_per_s\": ");
        if seconds > 0.0 {
            let mb = self.input_bytes as f64 / 1e6;
            out.extend_from_slice(py_float(round_to(mb / seconds, 1)).as_bytes());
        } else {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b"\n}");
        String::from_utf8(out).unwrap_or_default()
    }
}

const CACHE_SLOTS: usize = 64;

/// A cheap hash of a URC key: its length and its first and last bytes.
fn cache_slot(key: &[u8]) -> usize {
    let (Some(&first), Some(&last)) = (key.get(1), key.last()) else {
        return key.len() % CACHE_SLOTS;
    };
    let mix = key.len() * 31 + usize::from(first) * 7 + usize::from(last) * 131;
    mix % CACHE_SLOTS
}

/// A nested object at indent level 1 (`{}` when empty).
fn write_object<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = (&'a [u8], u64)>) {
    let mut any = false;
    for (key, n) in items {
        out.extend_from_slice(if any { b",\n    " } else { b"{\n    " });
        any = true;
        write_json_str(out, key);
        out.extend_from_slice(b": ");
        write_int(out, n);
    }
    out.extend_from_slice(if any { b"\n  }" } else { b"{}" });
}

fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// A float as Python's `repr` writes it (shortest digits; `1e-05`, `2.0`).
fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return "NaN".into(); // json.dumps writes NaN/Infinity; never reached here
    }
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e16) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        s + ".0"
    }
}

// ---- the whole command ------------------------------------------------------------------

/// What `lpwa trace` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One JSON object per event; `brief` leaves the base64 out.
    Json { brief: bool },
    /// Counts only (`--stats`).
    Stats,
}

/// A capture decoder with its writer: bytes in, output bytes out.
#[derive(Clone, Debug)]
pub struct Trace {
    decoder: CaptureDecoder,
    output: Output,
    stats: Stats,
}

impl Trace {
    pub fn new(output: Output) -> Trace {
        Trace {
            decoder: CaptureDecoder::default(),
            output,
            stats: Stats::default(),
        }
    }

    /// Decode the next bytes of the capture, appending output to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.stats.input_bytes += data.len() as u64;
        self.decode(data, out);
    }

    /// Count `n` bytes of input that [`Trace::feed_piece`] decoded.
    pub fn count_input(&mut self, n: usize) {
        self.stats.input_bytes += n as u64;
    }

    /// [`Trace::feed`] without counting input bytes (a log's decoded bytes).
    fn decode(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Trace {
            decoder,
            output,
            stats,
        } = self;
        match *output {
            Output::Json { brief } => decoder.feed(data, |e| write_record(out, &e, brief)),
            Output::Stats => decoder.feed(data, |e| stats.add(&e)),
        }
    }

    /// A line the host wrote (see [`CaptureDecoder::sent_line`]).
    pub fn sent_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Trace {
            decoder,
            output,
            stats,
        } = self;
        match *output {
            Output::Json { brief } => decoder.sent_line(line, |e| write_record(out, &e, brief)),
            Output::Stats => decoder.sent_line(line, |e| stats.add(&e)),
        }
    }

    /// Decode one piece of a log: the module's bytes or the host's line.
    pub fn feed_piece(&mut self, piece: &Piece, out: &mut Vec<u8>) {
        match piece {
            Piece::Rx(bytes) => self.decode(bytes, out),
            Piece::Tx(line) => self.sent_line(line, out),
        }
    }

    /// The end of the capture: the events held back.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        let Trace {
            decoder,
            output,
            stats,
        } = self;
        match *output {
            Output::Json { brief } => decoder.close(|e| write_record(out, &e, brief)),
            Output::Stats => decoder.close(|e| stats.add(&e)),
        }
    }

    /// The counts so far (`--stats` only; input bytes always).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn output(&self) -> Output {
        self.output
    }

    /// A trace for the next part of the capture, guessing that this one
    /// ends at an idle point (see [`CaptureDecoder::idle_guess`]).
    pub(crate) fn speculate(&self) -> Trace {
        Trace {
            decoder: self.decoder.idle_guess(),
            output: self.output,
            stats: Stats::default(),
        }
    }

    pub(crate) fn decoder(&self) -> &CaptureDecoder {
        &self.decoder
    }

    /// Go on as `next`, which decoded the following bytes from a state equal
    /// to ours: its decoder state, and our counts plus its.
    pub(crate) fn adopt(&mut self, next: Trace) {
        self.stats.merge(&next.stats);
        self.decoder = next.decoder;
    }

    /// The end of the capture: the held events, then the `--stats` summary
    /// (`seconds` since the start) in `--stats` mode.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, seconds: f64) {
        self.close(out);
        if self.output == Output::Stats {
            out.extend_from_slice(self.stats.summary_json(seconds).as_bytes());
            out.push(b'\n');
        }
    }
}

/// Run `lpwa trace` from `input` to `output`: JSON lines written after each
/// read (so a live pipe is decoded as it arrives), or the `--stats` summary
/// at the end. `interrupted` runs the caller's signal handlers (Err stops
/// the run): before each write of output, so a long decode answers Ctrl-C,
/// and when a read or write is interrupted by a signal. Returns the counts.
pub fn run<R: Read, W: Write>(
    mut input: R,
    mut output: W,
    mode: Output,
    mut interrupted: impl FnMut() -> io::Result<()>,
) -> io::Result<Stats> {
    let start = std::time::Instant::now();
    let mut trace = Trace::new(mode);
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(READ_SIZE * 2);
    loop {
        interrupted()?; // a signal that came between reads
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                interrupted()?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        trace.feed(&buf[..n], &mut out);
        write_retrying(&mut output, &out, &mut interrupted)?;
        out.clear();
    }
    trace.finish(&mut out, start.elapsed().as_secs_f64());
    write_retrying(&mut output, &out, &mut interrupted)?;
    Ok(trace.stats)
}

/// Run `lpwa trace` on a log of any dialect (`None`: detected from the
/// first read). Returns the counts and the dialect.
pub fn run_log<R: Read, W: Write>(
    mut input: R,
    mut output: W,
    mode: Output,
    dialect: Option<Dialect>,
    mut interrupted: impl FnMut() -> io::Result<()>,
) -> io::Result<(Stats, Dialect)> {
    let start = std::time::Instant::now();
    let mut trace = Trace::new(mode);
    let mut buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(READ_SIZE * 2);
    let mut chosen = dialect;
    let mut log: Option<LogDecoder> = None;
    loop {
        interrupted()?; // a signal that came between reads
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                interrupted()?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        let dialect = *chosen.get_or_insert_with(|| Dialect::detect(&buf[..n]));
        if dialect == Dialect::Raw {
            trace.feed(&buf[..n], &mut out);
        } else {
            let decoder = log.get_or_insert_with(|| LogDecoder::new(dialect));
            decoder.feed(&buf[..n], &mut |piece| trace.feed_piece(&piece, &mut out));
            trace.count_input(n);
        }
        write_retrying(&mut output, &out, &mut interrupted)?;
        out.clear();
    }
    if let Some(decoder) = log.as_mut() {
        decoder.close(&mut |piece| trace.feed_piece(&piece, &mut out));
    }
    trace.finish(&mut out, start.elapsed().as_secs_f64());
    write_retrying(&mut output, &out, &mut interrupted)?;
    Ok((trace.stats, chosen.unwrap_or(Dialect::Raw)))
}

pub(crate) fn write_retrying<W: Write>(
    output: &mut W,
    mut data: &[u8],
    interrupted: &mut impl FnMut() -> io::Result<()>,
) -> io::Result<()> {
    interrupted()?;
    while !data.is_empty() {
        match output.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => interrupted()?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: &[u8]) -> String {
        let mut out = Vec::new();
        write_json_str(&mut out, data);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_python_json_dumps_does() {
        assert_eq!(json(b"+CSQ: 20,99"), "\"+CSQ: 20,99\"");
        assert_eq!(json(b"a\"b\\c\td"), r#""a\"b\\c\td""#);
        assert_eq!(json(b"\x7f\x01"), r#""\u007f\u0001""#);
        assert_eq!(json("é€😀".as_bytes()), r#""\u00e9\u20ac\ud83d\ude00""#);
        assert_eq!(
            json(b"a\xffb\xed\xa0\x80"),
            r#""a\ufffdb\ufffd\ufffd\ufffd""#
        );
    }

    #[test]
    fn record_heads_follow_the_kind_order() {
        for kind in Kind::ALL {
            let head = std::str::from_utf8(RECORD_HEAD[kind as usize]).unwrap();
            assert!(head.starts_with(&format!("{{\"kind\": \"{}\"", kind.as_str())));
        }
    }

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            write_base64(&mut out, plain.as_bytes());
            assert_eq!(out, coded.as_bytes());
        }
    }

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(2.0), "2.0");
        assert_eq!(py_float(0.001234), "0.001234");
        assert_eq!(py_float(1.2e-5), "1.2e-05");
        assert_eq!(py_float(1234.5), "1234.5");
    }

    #[test]
    fn http_results_and_header_config() {
        assert_eq!(http_result(b"+QHTTPGET: 0,200,36"), Some((true, Some(36))));
        assert_eq!(
            http_result(b"+QHTTPPOSTFILE: 1,200,36 "),
            Some((false, Some(36)))
        );
        assert_eq!(
            http_result(b"+QHTTPGET: 00,200,36"),
            Some((false, Some(36)))
        );
        assert_eq!(http_result(b"+QHTTPGET: 0,200"), None);
        assert_eq!(http_result(b"+QHTTPGET: 0,200,36x"), None);
        assert_eq!(
            response_header_cfg(b"at+qhttpcfg=\"ResponseHeader\",1"),
            Some(true)
        );
        assert_eq!(
            response_header_cfg(b"AT+QHTTPCFG=\"responseheader\",2"),
            None
        );
    }

    #[test]
    fn a_read_echo_split_anywhere_frames_the_body_by_length() {
        let capture: &[u8] = b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,25\r\n\
            AT+QHTTPREAD=80\r\r\nCONNECT\r\n\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n12\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n";
        let whole = {
            let mut out = Vec::new();
            let mut t = Trace::new(Output::Json { brief: false });
            t.feed(capture, &mut out);
            t.close(&mut out);
            out
        };
        let text = String::from_utf8(whole.clone()).unwrap();
        assert!(
            text.contains("{\"kind\": \"body\", \"length\": 25, "),
            "{text}"
        );
        for cut in 0..=capture.len() {
            let mut out = Vec::new();
            let mut t = Trace::new(Output::Json { brief: false });
            t.feed(&capture[..cut], &mut out);
            t.feed(&capture[cut..], &mut out);
            t.close(&mut out);
            assert_eq!(out, whole, "cut at {cut}");
        }
    }
}
