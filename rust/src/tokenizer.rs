//! The AT stream tokenizer: module-to-host bytes in, events out.
//!
//! No I/O and no clock (like h11 and atat's digest): `feed` takes whatever
//! bytes the serial port returned and reports every event they complete;
//! state carries across calls so that any split of a stream gives the same
//! events. Owns line framing, echo and final/URC classification (design §2,
//! §3); bodies are framed by `body`, line predicates live in `urc`.

use memchr::memchr2;

use crate::body::{Body, End};
use crate::command::{self, Command, Phase};
use crate::event::{Event, Kind, OwnedEvent};
use crate::urc::{self, UrcTable};

/// Limits and modes (design §3 constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Longest line; a longer one is reported `invalid` (wire rule 11).
    pub max_line: usize,
    /// Largest body delivered in one event when not streaming, and largest
    /// `+QCOAPRECV` payload.
    pub max_body: usize,
    /// Deliver body bytes as they arrive, one event per `feed` call.
    pub stream_bodies: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_line: 4096,
            max_body: 2 * 1_048_576,
            stream_bodies: false,
        }
    }
}

/// What the bytes being fed belong to.
#[derive(Clone, Debug)]
enum Mode {
    /// Lines, prompts, echoes.
    Lines,
    /// The binary payload after a `+QCOAPRECV` line.
    Payload(Payload),
    /// A data phase (QHTTPREAD, QFDWL, QFREAD, QIRD).
    Body(Body),
}

/// `+QCOAPRECV: …,<payload_length>` then that many raw bytes (wire rule 7).
#[derive(Clone, Debug)]
struct Payload {
    line: Vec<u8>,
    kind: Kind,
    want: usize,
    data: Vec<u8>,
}

/// The tokenizer (design §3).
#[derive(Clone, Debug)]
pub struct Tokenizer {
    config: Config,
    urcs: UrcTable,
    mode: Mode,
    /// The partial line (line mode).
    line: Vec<u8>,
    /// Dropping the rest of an over-long line up to its terminator.
    discarding: bool,
    /// An over-long `+QCOAPRECV` line being dropped: its first `max_line`
    /// bytes and its last bytes (which hold the payload length).
    overlong: Option<(Vec<u8>, Vec<u8>)>,
    /// The last terminator was `\r`: a `\n` right after it belongs to it.
    skip_lf: bool,
    /// The echo of the last `sent()` command, until it comes back.
    echo: Option<Vec<u8>>,
    in_flight: Option<Command>,
    /// An error trailer inside a known body length ends the body (see
    /// [`Tokenizer::set_early_errors`]).
    early_errors: bool,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer::new(Config::default())
    }
}

impl Tokenizer {
    pub fn new(config: Config) -> Tokenizer {
        Tokenizer {
            config: Config {
                max_line: config.max_line.max(1),
                max_body: config.max_body.max(1),
                ..config
            },
            urcs: UrcTable::default(),
            mode: Mode::Lines,
            line: Vec::new(),
            discarding: false,
            overlong: None,
            skip_lf: false,
            echo: None,
            in_flight: None,
            early_errors: false,
        }
    }

    /// Extend the URC table (`+NAME` matches `+NAME:` lines, anything else is
    /// a line prefix).
    pub fn add_urc(&mut self, entry: &[u8]) {
        self.urcs.add(entry);
    }

    pub fn config(&self) -> Config {
        self.config
    }

    pub fn set_stream_bodies(&mut self, stream: bool) {
        self.config.stream_bodies = stream;
    }

    /// Off (the default, for a live channel): within a known QHTTPREAD length
    /// every byte is body, since a server can send `\r\n+CME ERROR: 717\r\n`.
    /// On (for archived captures, where the module's own broken reads must
    /// decode as such): an error trailer ends the body where it appears.
    pub fn set_early_errors(&mut self, early: bool) {
        self.early_errors = early;
    }

    pub fn early_errors(&self) -> bool {
        self.early_errors
    }

    /// Declare the command line just written (design §3 `sent`): the echo to
    /// expect and, for an `AT…` line, the command in flight and its data
    /// phase. Any other line (data) only sets the echo to expect.
    pub fn sent(&mut self, command: &[u8], body_length: Option<u64>, response_header: bool) {
        let line = command::strip_line_end(command);
        if let Some(command) = command::parse(line, body_length, response_header) {
            self.in_flight = Some(command);
        }
        self.echo = (!line.is_empty()).then(|| line.to_vec());
    }

    /// Forget all state (after a reboot or a reconnect); the configuration
    /// and the URC table stay.
    pub fn reset(&mut self) {
        self.mode = Mode::Lines;
        self.line = Vec::new();
        self.discarding = false;
        self.overlong = None;
        self.skip_lf = false;
        self.echo = None;
        self.in_flight = None;
    }

    /// The name of the command in flight (`+QHTTPREAD`, `ATI`…).
    pub fn in_flight(&self) -> Option<&str> {
        self.in_flight.as_ref().map(|c| c.name.as_str())
    }

    /// Bytes held until more arrive.
    pub fn buffered(&self) -> usize {
        self.line.len()
            + match &self.mode {
                Mode::Lines => 0,
                Mode::Payload(p) => p.line.len() + p.data.len(),
                Mode::Body(b) => b.held(),
            }
    }

    /// Feed bytes and collect owned events.
    pub fn feed(&mut self, data: &[u8]) -> Vec<OwnedEvent> {
        let mut events = Vec::new();
        self.feed_with(data, |e| events.push(e.to_owned()));
        events
    }

    /// Feed bytes; `emit` sees each event, in stream order, borrowing its
    /// bytes. Never panics on any input.
    pub fn feed_with<F: FnMut(Event<'_>)>(&mut self, mut data: &[u8], mut emit: F) {
        while let Some(&first) = data.first() {
            if self.skip_lf {
                self.skip_lf = false;
                if first == b'\n' {
                    data = &data[1..];
                    continue;
                }
            }
            let used = match &mut self.mode {
                Mode::Lines => self.feed_lines(data, &mut emit),
                Mode::Payload(payload) => {
                    let take = (payload.want - payload.data.len()).min(data.len());
                    payload.data.extend_from_slice(&data[..take]);
                    if payload.data.len() == payload.want {
                        emit(Event {
                            kind: payload.kind,
                            data: &payload.line,
                            code: None,
                            payload: Some(&payload.data),
                            more: false,
                        });
                        self.mode = Mode::Lines;
                    }
                    take
                }
                Mode::Body(body) => {
                    let Config {
                        stream_bodies,
                        max_body,
                        ..
                    } = self.config;
                    let (used, end) = body.feed(data, stream_bodies, max_body, &mut emit);
                    if let Some(end) = end {
                        self.mode = Mode::Lines;
                        self.body_ended(end, &mut emit);
                    }
                    used
                }
            };
            data = &data[used..];
        }
        if self.config.stream_bodies {
            if let Mode::Body(body) = &mut self.mode {
                body.flush(&mut emit);
            }
        }
    }

    /// Line mode: frame lines and prompts until the data ends or a data phase
    /// starts; returns the bytes used.
    fn feed_lines<F: FnMut(Event<'_>)>(&mut self, data: &[u8], emit: &mut F) -> usize {
        let max_line = self.config.max_line;
        let mut i = 0;
        while i < data.len() {
            if self.skip_lf {
                self.skip_lf = false;
                if data[i] == b'\n' {
                    i += 1;
                    continue;
                }
            }
            let rest = &data[i..];
            // `> ` at the start of a line, with no line end (wire rule 4).
            if !self.discarding {
                let prompt = match self.line.as_slice() {
                    [] => rest.starts_with(b"> "),
                    [b'>'] => rest[0] == b' ',
                    _ => false,
                };
                if prompt {
                    i += 2 - self.line.len();
                    self.line.clear();
                    emit(simple(Kind::Prompt, b"> ", None));
                    continue;
                }
            }
            let Some(j) = memchr2(b'\r', b'\n', rest) else {
                // A partial line: keep it, up to one byte past the limit.
                if !self.discarding {
                    let room = (max_line + 1).saturating_sub(self.line.len());
                    let take = room.min(rest.len());
                    self.line.extend_from_slice(&rest[..take]);
                    if self.line.len() > max_line {
                        if self.line.starts_with(COAP_RECV) {
                            let head = self.line[..max_line].to_vec();
                            let tail = keep_tail(&self.line, &rest[take..]);
                            self.overlong = Some((head, tail));
                        } else {
                            emit(simple(Kind::Invalid, &self.line[..max_line], None));
                        }
                        self.line.clear();
                        self.discarding = true;
                    }
                } else if let Some((_, tail)) = &mut self.overlong {
                    *tail = keep_tail(tail, rest);
                }
                return data.len();
            };
            // Decide at the terminator itself; a `\n` after `\r` is swallowed.
            self.skip_lf = rest[j] == b'\r';
            i += j + 1;
            if self.discarding {
                self.discarding = false;
                if let Some((head, tail)) = self.overlong.take() {
                    let tail = keep_tail(&tail, &rest[..j]);
                    if self.overlong_payload(head, &tail, emit) {
                        return i;
                    }
                }
                continue;
            }
            if self.line.len() + j > max_line {
                // Over-long, ending in this read: decided on its first
                // `max_line + 1` bytes, as when it ends in a later read.
                let mut head = std::mem::take(&mut self.line);
                let tail = keep_tail(&head, &rest[..j]);
                let room = (max_line + 1).saturating_sub(head.len());
                head.extend_from_slice(&rest[..j.min(room)]);
                if head.starts_with(COAP_RECV) {
                    head.truncate(max_line);
                    if self.overlong_payload(head, &tail, emit) {
                        return i;
                    }
                } else {
                    emit(simple(Kind::Invalid, &head[..max_line], None));
                }
                continue;
            }
            let switched = if self.line.is_empty() {
                self.on_line(&rest[..j], emit)
            } else {
                let mut line = std::mem::take(&mut self.line);
                let room = (max_line + 1).saturating_sub(line.len());
                line.extend_from_slice(&rest[..j.min(room)]);
                let switched = self.on_line(&line, emit);
                line.clear();
                self.line = line;
                switched
            };
            if switched {
                return i;
            }
        }
        i
    }

    /// An over-long `+QCOAPRECV` line is `invalid`, but its payload (length in
    /// its last field) is still read, into that event: payload bytes must never
    /// be framed as AT lines. True when the payload is being read.
    fn overlong_payload<F: FnMut(Event<'_>)>(
        &mut self,
        head: Vec<u8>,
        tail: &[u8],
        emit: &mut F,
    ) -> bool {
        match urc::coap_payload_length(tail) {
            Some(n) if n > 0 && n <= self.config.max_body as u64 => {
                let mut data = Vec::new();
                if data.try_reserve_exact(n as usize).is_err() {
                    emit(simple(Kind::Invalid, &head, None));
                    return false;
                }
                self.mode = Mode::Payload(Payload {
                    line: head,
                    kind: Kind::Invalid,
                    want: n as usize,
                    data,
                });
                true
            }
            Some(0) => {
                emit(Event {
                    kind: Kind::Invalid,
                    data: &head,
                    code: None,
                    payload: Some(b""),
                    more: false,
                });
                false
            }
            _ => {
                emit(simple(Kind::Invalid, &head, None));
                false
            }
        }
    }

    /// One complete line (no terminator). True when a data phase started.
    fn on_line<F: FnMut(Event<'_>)>(&mut self, line: &[u8], emit: &mut F) -> bool {
        if line.is_empty() {
            return false;
        }
        if line.len() > self.config.max_line {
            emit(simple(Kind::Invalid, &line[..self.config.max_line], None));
            return false;
        }
        if urc::has_control_bytes(line) {
            emit(simple(Kind::Invalid, line, None));
            return false;
        }
        if self.echo.as_deref() == Some(line) {
            self.echo = None;
            emit(simple(Kind::Echo, line, None));
            return false;
        }
        if line.len() >= 2 && line[..2].eq_ignore_ascii_case(b"AT") {
            // An echo nobody declared (a captured stream): it declares its
            // command, which then drives classification and framing.
            self.in_flight = command::parse(line, None, false);
            self.echo = None;
            emit(simple(Kind::Echo, line, None));
            return false;
        }
        if let Some(code) = urc::final_code(line) {
            self.in_flight = None;
            self.echo = None;
            emit(simple(Kind::Final, line, code));
            return false;
        }
        if let Some(code) = urc::connect_code(line) {
            emit(simple(Kind::Connect, line, code));
            let Config {
                stream_bodies,
                max_body,
                ..
            } = self.config;
            match self.in_flight.as_ref() {
                Some(c) if c.phase == Phase::HttpRead => {
                    let mut body =
                        Body::http_read(c.body_length, c.response_header, stream_bodies, max_body);
                    body.early_errors = self.early_errors;
                    self.mode = Mode::Body(body);
                }
                Some(c) if c.phase == Phase::Qfdwl => self.mode = Mode::Body(Body::qfdwl()),
                Some(c) if c.phase == Phase::QfRead => {
                    if let Some(n) = code {
                        self.start_exact(n as u64, emit);
                    }
                }
                _ => {}
            }
            return !matches!(self.mode, Mode::Lines);
        }
        let kind = self.classify(line);
        if kind == Kind::Urc && line == b"RDY" {
            // The module restarted: whatever was in flight will never finish
            // and its echo will never come. The bytes after RDY stay buffered:
            // they are boot URCs (issue 10 item 4).
            self.in_flight = None;
            self.echo = None;
        }
        if line.starts_with(b"+QCOAPRECV:") {
            return self.start_payload(kind, line, emit);
        }
        emit(simple(kind, line, None));
        if kind == Kind::Line && self.in_flight.as_ref().map(|c| c.phase) == Some(Phase::Qird) {
            if let Some(n) = urc::qird_length(line) {
                self.start_exact(n, emit);
            }
        }
        !matches!(self.mode, Mode::Lines)
    }

    /// Wire rule 5: a `+NAME:` line is the in-flight command's own response;
    /// else the URC table decides; with nothing in flight, everything is a URC.
    fn classify(&self, line: &[u8]) -> Kind {
        let Some(command) = &self.in_flight else {
            return Kind::Urc;
        };
        if line[0] == b'+' {
            let name = &line[..memchr::memchr(b':', line).unwrap_or(line.len())];
            if name.eq_ignore_ascii_case(command.name.as_bytes()) {
                return Kind::Line;
            }
        }
        if self.urcs.matches(line) {
            Kind::Urc
        } else {
            Kind::Line
        }
    }

    /// `+QCOAPRECV`: read the payload whose length is the last field.
    fn start_payload<F: FnMut(Event<'_>)>(
        &mut self,
        kind: Kind,
        line: &[u8],
        emit: &mut F,
    ) -> bool {
        match urc::coap_payload_length(line) {
            Some(0) => {
                emit(Event {
                    kind,
                    data: line,
                    code: None,
                    payload: Some(b""),
                    more: false,
                });
                false
            }
            Some(n) if n <= self.config.max_body as u64 => {
                // An allocation the machine cannot make is the wire's fault,
                // never an abort of the process.
                let mut data = Vec::new();
                if data.try_reserve_exact(n as usize).is_err() {
                    emit(simple(Kind::Invalid, line, None));
                    return false;
                }
                self.mode = Mode::Payload(Payload {
                    line: line.to_vec(),
                    kind,
                    want: n as usize,
                    data,
                });
                true
            }
            _ => {
                emit(simple(Kind::Invalid, line, None));
                false
            }
        }
    }

    /// QFREAD / QIRD: exactly n bytes of body (an empty body at once).
    fn start_exact<F: FnMut(Event<'_>)>(&mut self, n: u64, emit: &mut F) {
        if n == 0 {
            emit(simple(Kind::Body, b"", None));
        } else {
            let Config {
                stream_bodies,
                max_body,
                ..
            } = self.config;
            self.mode = Mode::Body(Body::exact(n, stream_bodies, max_body));
        }
    }

    /// After the last `body` event: the trailer's own event.
    fn body_ended<F: FnMut(Event<'_>)>(&mut self, end: End, emit: &mut F) {
        match end {
            End::Length => {}
            End::HttpRead(_) => {
                self.in_flight = None;
                self.echo = None;
                emit(simple(Kind::Final, b"OK", None));
            }
            End::Qfdwl(line) => emit(simple(Kind::Line, &line, None)),
            End::Cme(line, code) => {
                self.in_flight = None;
                self.echo = None;
                emit(simple(Kind::Final, &line, Some(code)));
            }
        }
    }
}

const COAP_RECV: &[u8] = b"+QCOAPRECV:";
/// Bytes of an over-long line's end kept to read its last field.
const TAIL_KEEP: usize = 32;

/// The last [`TAIL_KEEP`] bytes of `a` followed by `b`.
fn keep_tail(a: &[u8], b: &[u8]) -> Vec<u8> {
    let from_b = b.len().min(TAIL_KEEP);
    let from_a = (TAIL_KEEP - from_b).min(a.len());
    let mut out = Vec::with_capacity(from_a + from_b);
    out.extend_from_slice(&a[a.len() - from_a..]);
    out.extend_from_slice(&b[b.len() - from_b..]);
    out
}

fn simple(kind: Kind, data: &[u8], code: Option<i64>) -> Event<'_> {
    Event {
        kind,
        data,
        code,
        payload: None,
        more: false,
    }
}
