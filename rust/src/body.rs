//! Data-phase framing: the raw bytes a module sends after `CONNECT` (or after
//! `+QIRD: <n>`), up to their end (design §2, wire rules 8–10).
//!
//! Owns body buffering, trailer matching and body events (chunked, streamed
//! or whole). It does not classify lines and does not touch the command in
//! flight: it reports how the body ended ([`End`]) and the tokenizer acts.

use std::sync::OnceLock;

use memchr::memmem;

use crate::event::{Event, Kind};

/// How the end of the body is found.
#[derive(Clone, Debug)]
enum Framing {
    /// QFREAD (`CONNECT <n>`) and QIRD (`+QIRD: <n>`): exactly `total` bytes.
    Exact,
    /// QHTTPREAD: by length when known (`total`), else by the trailer
    /// `\r\nOK\r\n\r\n+QHTTPREAD: <err>\r\n`; an error trailer ends it anywhere.
    HttpRead(Headers),
    /// QFDWL: by `\r\n+QFDWL: <n>,<checksum>\r\n` where n is the body length.
    Qfdwl,
}

/// QHTTPREAD with `responseheader=1`: the status line and header block come
/// first; the body length counts after them.
#[derive(Clone, Debug)]
enum Headers {
    /// No header block, or its end is known.
    Done,
    /// Still looking for the `\r\n\r\n` that ends the header block.
    Pending {
        /// Absolute offset where the search resumes.
        scan: u64,
        /// `body_length` from `sent()` (else the Content-Length header).
        body_length: Option<u64>,
    },
}

/// How a body ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// An exact-length body is complete.
    Length,
    /// `\r\nOK\r\n\r\n+QHTTPREAD: <err>\r\n` (err 0: complete; else broken).
    HttpRead(i64),
    /// `\r\n+QFDWL: <n>,<checksum>\r\n`: the line, for a `line` event.
    Qfdwl(Vec<u8>),
    /// `\r\n+CME ERROR: <n>\r\n`: the line and n, for a `final` event.
    Cme(Vec<u8>, i64),
}

/// A body being framed. Offsets are absolute from the first body byte;
/// `buf` holds the bytes from `base` on (earlier ones were emitted).
#[derive(Clone, Debug)]
pub struct Body {
    framing: Framing,
    /// The body length when framing by length.
    total: Option<u64>,
    buf: Vec<u8>,
    base: u64,
    /// Trailer candidates (`\r\n+` occurrences) before this were rejected.
    scan: u64,
    /// Error trailers end a length-framed body early (archived captures).
    pub early_errors: bool,
}

/// Longest trailer after its `\r\n+`: `QHTTPREAD: ` / `CME ERROR: ` / `QFDWL: `
/// plus numbers of at most [`crate::urc::MAX_DIGITS`] digits; a bound on what a
/// length-framed body reads past its end before giving up on a trailer there.
const TRAILER_SLACK: u64 = 64;

/// `\r\n+` starts every trailer's status line (QHTTPREAD, CME ERROR, QFDWL).
fn plus_line() -> &'static memmem::Finder<'static> {
    static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memmem::Finder::new(b"\r\n+"))
}

/// The result of matching a trailer at one position.
enum Probe {
    /// Not a trailer.
    No,
    /// A prefix of a trailer: wait for more bytes.
    More,
    /// A trailer line ending `end` bytes after the probe position, with its
    /// number.
    Hit { end: usize, value: i64 },
}

/// Does `s` start with `prefix`, 1..=MAX_DIGITS digits and CRLF?
fn probe_number_line(s: &[u8], prefix: &[u8]) -> Probe {
    let n = prefix.len().min(s.len());
    if s[..n] != prefix[..n] {
        return Probe::No;
    }
    let mut i = prefix.len();
    let mut value: i64 = 0;
    while let Some(&b) = s.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        if i - prefix.len() == crate::urc::MAX_DIGITS {
            return Probe::No;
        }
        value = value * 10 + i64::from(b - b'0');
        i += 1;
    }
    probe_crlf(s, i, i > prefix.len(), value)
}

/// At `s[i]`: CRLF ends a trailer (if `ok` so far), else no trailer.
fn probe_crlf(s: &[u8], i: usize, ok: bool, value: i64) -> Probe {
    match (s.get(i), s.get(i + 1)) {
        _ if i > s.len() => Probe::More,
        (None, _) => Probe::More,
        (Some(b'\r'), None) if ok => Probe::More,
        (Some(b'\r'), Some(b'\n')) if ok => Probe::Hit { end: i + 2, value },
        _ => Probe::No,
    }
}

/// `\r\n+QFDWL: <n>,<hex checksum>\r\n`; value is n.
fn probe_qfdwl(s: &[u8]) -> Probe {
    const PREFIX: &[u8] = b"\r\n+QFDWL: ";
    let n = PREFIX.len().min(s.len());
    if s[..n] != PREFIX[..n] {
        return Probe::No;
    }
    let rest = &s[n..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > crate::urc::MAX_DIGITS {
        return Probe::No;
    }
    match rest.get(digits) {
        None => return Probe::More,
        Some(b',') if digits > 0 => {}
        Some(_) => return Probe::No,
    }
    let value = rest[..digits]
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    let hex = rest[digits + 1..]
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if hex > 8 {
        return Probe::No;
    }
    probe_crlf(s, n + digits + 1 + hex, hex > 0, value)
}

impl Body {
    /// Exactly `n` bytes (QFREAD, QIRD). `n` must be > 0.
    pub fn exact(n: u64, stream: bool, max_body: usize) -> Body {
        Body::new(Framing::Exact, Some(n), stream, max_body)
    }

    /// A QHTTPREAD body (wire rule 8).
    pub fn http_read(
        body_length: Option<u64>,
        response_header: bool,
        stream: bool,
        max_body: usize,
    ) -> Body {
        if response_header {
            let headers = Headers::Pending {
                scan: 0,
                body_length,
            };
            Body::new(Framing::HttpRead(headers), None, stream, max_body)
        } else {
            Body::new(
                Framing::HttpRead(Headers::Done),
                body_length,
                stream,
                max_body,
            )
        }
    }

    /// A QFDWL body (wire rule 9).
    pub fn qfdwl() -> Body {
        Body::new(Framing::Qfdwl, None, false, 0)
    }

    fn new(framing: Framing, total: Option<u64>, stream: bool, max_body: usize) -> Body {
        let mut body = Body {
            framing,
            total: None,
            buf: Vec::new(),
            base: 0,
            scan: 0,
            early_errors: false,
        };
        body.set_total(total, stream, max_body);
        body
    }

    /// Frame by length from now on; reserve the body once so that it is
    /// copied once (design §3), but never more than one chunk.
    fn set_total(&mut self, total: Option<u64>, stream: bool, max_body: usize) {
        self.total = total;
        if let (Some(total), false) = (total, stream) {
            let want = total
                .saturating_add(TRAILER_SLACK)
                .min(max_body as u64 + TRAILER_SLACK);
            // Only a hint: a length the wire announced may be absurd (10^12);
            // then the buffer grows with the bytes that really arrive.
            let want = usize::try_from(want.saturating_sub(self.end())).unwrap_or(usize::MAX);
            let _ = self.buf.try_reserve(want);
        }
    }

    /// Bytes held (not yet emitted).
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Absolute offset just past the last byte received.
    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Take body bytes from `data`: how many were consumed, and how the body
    /// ended if it did (its last `body` event is then emitted). Bytes past the
    /// end are left for line mode.
    pub fn feed<F: FnMut(Event<'_>)>(
        &mut self,
        data: &[u8],
        stream: bool,
        max_body: usize,
        emit: &mut F,
    ) -> (usize, Option<End>) {
        let start = self.end();
        let take = match (&self.framing, self.total) {
            (Framing::Exact, Some(total)) => total - start,
            // Near a known length only read as far as a trailer can reach, so
            // the reservation holds; past it, the length was wrong.
            (_, Some(total)) if start < total.saturating_add(TRAILER_SLACK) => {
                total.saturating_add(TRAILER_SLACK) - start
            }
            _ => u64::MAX,
        };
        let take = take.min(data.len() as u64) as usize;
        self.buf.extend_from_slice(&data[..take]);
        match self.find_end(stream, max_body) {
            Some((at, end, how)) => {
                let code = match &how {
                    End::Length | End::Qfdwl(_) => None,
                    End::HttpRead(err) => Some(*err),
                    End::Cme(_, code) => Some(*code),
                };
                self.emit_last(at, code, stream, max_body, emit);
                // A trailer is found once its last byte arrives, in this read.
                (end.saturating_sub(start) as usize, Some(how))
            }
            None => {
                if !stream {
                    self.emit_chunks(max_body, emit);
                }
                (take, None)
            }
        }
    }

    /// Streaming: at the end of a feed call, emit the body bytes that cannot
    /// be part of a trailer (`more=True`).
    pub fn flush<F: FnMut(Event<'_>)>(&mut self, emit: &mut F) {
        let safe = (self.safe() - self.base) as usize;
        if safe > 0 {
            emit(body_event(&self.buf[..safe], None, true));
            self.buf.drain(..safe);
            self.base += safe as u64;
        }
    }

    /// Non-streaming: emit whole chunks of `max_body` bytes, each followed by
    /// at least one more body byte (so the chunking does not depend on how
    /// the stream was split).
    fn emit_chunks<F: FnMut(Event<'_>)>(&mut self, max_body: usize, emit: &mut F) {
        let max_body = max_body.max(1);
        let safe = (self.safe() - self.base) as usize;
        let mut off = 0;
        while safe - off > max_body {
            emit(body_event(&self.buf[off..off + max_body], None, true));
            off += max_body;
        }
        if off > 0 {
            self.buf.drain(..off);
            self.base += off as u64;
        }
    }

    /// The body ends at absolute `at`: emit what is left as the last event(s).
    fn emit_last<F: FnMut(Event<'_>)>(
        &mut self,
        at: u64,
        code: Option<i64>,
        stream: bool,
        max_body: usize,
        emit: &mut F,
    ) {
        let rest = &self.buf[..(at - self.base) as usize];
        let piece = if stream { rest.len() } else { max_body.max(1) };
        let mut chunks = rest.chunks(piece.max(1)).peekable();
        if chunks.peek().is_none() {
            emit(body_event(b"", code, false));
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            emit(body_event(chunk, if last { code } else { None }, !last));
        }
        self.buf.clear();
        self.base = at;
    }

    /// Absolute offset below which every byte is body for sure: the first
    /// position from which a trailer not yet ruled out could start.
    fn safe(&self) -> u64 {
        let (from, starts): (u64, &[&[u8]]) = match &self.framing {
            Framing::Exact => return self.end(),
            // The header block is parsed from `buf`: keep it until it ends.
            Framing::HttpRead(Headers::Pending { .. }) => return self.base,
            // An OK trailer starts 6 bytes (`\r\nOK\r\n`) before its `\r\n+`;
            // trailers whose `\r\n+` is before `scan` were ruled out.
            Framing::HttpRead(Headers::Done) => (
                self.scan.saturating_sub(6),
                &[b"\r\nOK\r\n\r\n+QHTTPREAD: ", b"\r\n+CME ERROR: "],
            ),
            Framing::Qfdwl => (self.scan, &[b"\r\n+QFDWL: ", b"\r\n+CME ERROR: "]),
        };
        let from = from.max(self.base);
        let tail = &self.buf[(from - self.base) as usize..];
        let could_start = |p: usize| {
            let s = &tail[p..];
            starts
                .iter()
                .any(|t| s[..s.len().min(t.len())] == t[..s.len().min(t.len())])
        };
        let p = memchr::memchr_iter(b'\r', tail)
            .find(|&p| could_start(p))
            .unwrap_or(tail.len());
        from + p as u64
    }

    /// Find where the body ends in what has arrived: (first trailer byte,
    /// byte after the trailer, how).
    fn find_end(&mut self, stream: bool, max_body: usize) -> Option<(u64, u64, End)> {
        if let (Framing::Exact, Some(total)) = (&self.framing, self.total) {
            return (self.end() == total).then_some((total, total, End::Length));
        }
        self.find_header_end(stream, max_body);
        // Emitted bytes were ruled out as trailer starts (see `safe`).
        self.scan = self.scan.max(self.base);
        loop {
            let from = (self.scan - self.base) as usize;
            let Some(i) = plus_line().find(&self.buf[from..]) else {
                // A `\r\n+` may begin in the last two bytes.
                self.scan = self.scan.max(self.end().saturating_sub(2));
                return None;
            };
            let q = from + i;
            let q_abs = self.base + q as u64;
            match self.probe(q, q_abs) {
                Probe::More => {
                    self.scan = q_abs;
                    return None;
                }
                Probe::No => self.scan = q_abs + 1,
                Probe::Hit { end, value } => {
                    let end_abs = q_abs + end as u64;
                    let line = &self.buf[q + 2..q + end - 2];
                    match (&self.framing, line.starts_with(b"+CME")) {
                        // Within a known length every byte is body: a server
                        // can put `+CME ERROR: 717` in its body (issue 10).
                        (_, true)
                            if !self.early_errors && self.total.is_some_and(|t| q_abs < t) =>
                        {
                            self.scan = q_abs + 1
                        }
                        // Else an error trailer ends the body where it appears.
                        (_, true) => return Some((q_abs, end_abs, End::Cme(line.to_vec(), value))),
                        (Framing::Qfdwl, false) => {
                            return Some((q_abs, end_abs, End::Qfdwl(line.to_vec())))
                        }
                        (_, false) => {
                            let at = q_abs - 6;
                            // By length, an OK trailer before the end is body
                            // content (with early errors: unless err != 0).
                            let early = self.early_errors && value != 0;
                            if early || self.total.map_or(true, |t| at >= t) {
                                return Some((at, end_abs, End::HttpRead(value)));
                            }
                            self.scan = q_abs + 1;
                        }
                    }
                }
            }
        }
    }

    /// Match a trailer whose `\r\n+` is at `buf[q]`.
    fn probe(&self, q: usize, q_abs: u64) -> Probe {
        let s = &self.buf[q..];
        let cme = probe_number_line(s, b"\r\n+CME ERROR: ");
        let other = match self.framing {
            Framing::Qfdwl => match probe_qfdwl(s) {
                // n must be the number of body bytes before the trailer.
                Probe::Hit { value, .. } if value as u64 != q_abs => Probe::No,
                probe => probe,
            },
            _ if q >= 6 && &self.buf[q - 6..q] == b"\r\nOK\r\n" => {
                probe_number_line(s, b"\r\n+QHTTPREAD: ")
            }
            _ => Probe::No,
        };
        match (cme, other) {
            (hit @ Probe::Hit { .. }, _) | (_, hit @ Probe::Hit { .. }) => hit,
            (Probe::More, _) | (_, Probe::More) => Probe::More,
            _ => Probe::No,
        }
    }

    /// QHTTPREAD with response headers: find the end of the header block and
    /// from it the body length (design §2: `body_length`, else the
    /// Content-Length header).
    fn find_header_end(&mut self, stream: bool, max_body: usize) {
        let Framing::HttpRead(Headers::Pending { scan, body_length }) = self.framing else {
            return;
        };
        // Nothing is emitted while the headers are pending, so base is 0.
        // A header block must end within the first chunk (`max_body`): the
        // limit is a position, so the outcome does not depend on the split.
        let limit = max_body.max(4);
        let from = scan as usize;
        let window = &self.buf[from.min(limit)..self.buf.len().min(limit)];
        match memmem::find(window, b"\r\n\r\n") {
            Some(i) => {
                let header_end = (from + i + 4) as u64;
                let length =
                    body_length.or_else(|| crate::urc::content_length(&self.buf[..from + i + 2]));
                self.framing = Framing::HttpRead(Headers::Done);
                self.set_total(
                    length.and_then(|n| n.checked_add(header_end)),
                    stream,
                    max_body,
                );
            }
            // No header block: frame by trailer alone.
            None if self.buf.len() >= limit => self.framing = Framing::HttpRead(Headers::Done),
            None => {
                let scan = self.buf.len().saturating_sub(3) as u64;
                self.framing = Framing::HttpRead(Headers::Pending { scan, body_length });
            }
        }
    }
}

fn body_event(data: &[u8], code: Option<i64>, more: bool) -> Event<'_> {
    Event {
        kind: Kind::Body,
        data,
        code,
        payload: None,
        more,
    }
}
