//! Events: what the tokenizer reports for each framed piece of the stream.
//!
//! Owns the event vocabulary only (design §3); framing lives in `tokenizer`
//! and `body`, classification in `urc`.

/// The class of a framed piece of module output (design §3, `Event.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The module's echo of a command line (`ATE1`).
    Echo,
    /// An information line of the command in flight.
    Line,
    /// An unsolicited result code.
    Urc,
    /// A final result code: it ends the command in flight.
    Final,
    /// `CONNECT` / `CONNECT <n>`: a data phase starts, the command goes on.
    Connect,
    /// `> ` with no line end: the module waits for input.
    Prompt,
    /// Raw data of a data phase (QHTTPREAD, QFDWL, QFREAD, QIRD).
    Body,
    /// Bytes that could not be framed: reported, never dropped silently.
    Invalid,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 8] = [
        Kind::Echo,
        Kind::Line,
        Kind::Urc,
        Kind::Final,
        Kind::Connect,
        Kind::Prompt,
        Kind::Body,
        Kind::Invalid,
    ];

    /// The name Python sees in `Event.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::Line => "line",
            Kind::Urc => "urc",
            Kind::Final => "final",
            Kind::Connect => "connect",
            Kind::Prompt => "prompt",
            Kind::Body => "body",
            Kind::Invalid => "invalid",
        }
    }

    /// The inverse of [`Kind::as_str`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One event, borrowing its bytes from the tokenizer (valid during the
/// callback of [`crate::Tokenizer::feed_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: Kind,
    /// The line without its framing CR/LF, the body bytes, or `> `.
    pub data: &'a [u8],
    /// `+CME ERROR: <n>`, `CONNECT <n>`, a body's trailer `<err>`; else None.
    pub code: Option<i64>,
    /// The binary payload of `+QCOAPRECV`; else None.
    pub payload: Option<&'a [u8]>,
    /// True on a body chunk that is not the last one of its body.
    pub more: bool,
}

impl Event<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> OwnedEvent {
        OwnedEvent {
            kind: self.kind,
            data: self.data.to_vec(),
            code: self.code,
            payload: self.payload.map(<[u8]>::to_vec),
            more: self.more,
        }
    }

    /// See [`name_of`].
    pub fn name(&self) -> Option<&[u8]> {
        name_of(self.kind, self.data)
    }
}

/// An event that owns its bytes (what [`crate::Tokenizer::feed`] returns).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedEvent {
    pub kind: Kind,
    pub data: Vec<u8>,
    pub code: Option<i64>,
    pub payload: Option<Vec<u8>>,
    pub more: bool,
}

impl OwnedEvent {
    /// See [`name_of`].
    pub fn name(&self) -> Option<&[u8]> {
        name_of(self.kind, &self.data)
    }
}

/// The `+NAME` of a `+NAME: …` response line: the text before the first `:`
/// (the whole line when it has none). None for lines not starting with `+`
/// and for echo, connect, prompt, body and invalid events.
pub fn name_of(kind: Kind, data: &[u8]) -> Option<&[u8]> {
    match kind {
        Kind::Line | Kind::Urc | Kind::Final if data.first() == Some(&b'+') => {
            let end = memchr::memchr(b':', data).unwrap_or(data.len());
            Some(&data[..end])
        }
        _ => None,
    }
}
