//! AT logs as people keep them, turned back into module bytes and host lines.
//!
//! Owns the log dialects of `lpwa trace` (issue 14): their detection and the
//! decoding of each log line into [`Piece`]s: bytes the module sent (`Rx`)
//! and command lines the host wrote (`Tx`, which drive `sent()` as an echo
//! does in a raw capture). Framing stays the tokenizer's.
//!
//! The dialects, none of them specified anywhere; each rule says what it
//! rests on:
//! - `raw`: the bytes as captured.
//! - `escaped`: `[SEND][  3][AT\r]` / `[RECV][  9][AT\r\r\nOK\r\n]`, C escapes
//!   (`\r \n \t \0 \\ \" \xHH`) in the last bracket; the count is not trusted.
//! - `tagged`: `TX: AT+CSQ<cr>` / `RX: <cr><lf>OK<cr><lf>` (the direction word
//!   may follow a timestamp); `<cr>` is CR, `<lf>` and `<ln>` are LF (the
//!   loggers that print `<ln>` use it for the line feed they saw).
//! - `dots`: CR and LF printed as `.`; a run of two or more dots is line ends
//!   (n dots: an odd run starts with the echo's lone CR, the rest CR LF
//!   pairs), a single dot is a dot (`10.11.32.148`). Approximate.
//! - `hex`: hex dumps (`0D 0A 2B 51 …`, `xxd`, `hexdump -C`): an offset column
//!   and an ASCII column are skipped; a `TX`/`RX` prefix gives a direction.
//! - `text`: one line per line (`AT+CSQ`, `+CSQ: 20,99`, `OK`): each `AT` line
//!   is an echo, every other line is framed `\r\n…\r\n`, the lines after a
//!   `CONNECT` up to `OK` (or an error or read trailer) are a body joined by
//!   CR LF. Approximate: binary bodies and payloads cannot be recovered.

/// A log dialect (`lpwa trace --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Raw,
    Escaped,
    Tagged,
    Dots,
    Hex,
    Text,
}

impl Dialect {
    pub const ALL: [Dialect; 6] = [
        Dialect::Raw,
        Dialect::Escaped,
        Dialect::Tagged,
        Dialect::Dots,
        Dialect::Hex,
        Dialect::Text,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Raw => "raw",
            Dialect::Escaped => "escaped",
            Dialect::Tagged => "tagged",
            Dialect::Dots => "dots",
            Dialect::Hex => "hex",
            Dialect::Text => "text",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The framing is reconstructed, not recorded: say so to the user.
    pub const fn approximate(self) -> bool {
        matches!(self, Dialect::Dots | Dialect::Text)
    }

    /// The dialect of a log from its first bytes.
    pub fn detect(head: &[u8]) -> Dialect {
        let lines: Vec<&[u8]> = head
            .split(|&b| b == b'\n')
            .map(trim_cr)
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .take(64)
            .collect();
        if lines.iter().any(|l| escaped_line(l).is_some()) {
            return Dialect::Escaped;
        }
        let lower = head.to_ascii_lowercase();
        let has = |needle: &[u8]| memchr::memmem::find(&lower, needle).is_some();
        if has(b"<cr>") || has(b"<lf>") || has(b"<ln>") {
            return Dialect::Tagged;
        }
        // A capture's lines start with CR LF; a log without a line feed in
        // its first read is no log of lines.
        if has(b"\r\r\n") || has(b"\r\n\r\n") || head.starts_with(b"\r\n") || !has(b"\n") {
            return Dialect::Raw;
        }
        let binary = head
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'));
        // A cut multi-byte character at the end of the head is not binary.
        let text = std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true);
        if binary || !text {
            return Dialect::Raw;
        }
        let complete = if head.ends_with(b"\n") {
            &lines[..]
        } else {
            &lines[..lines.len().saturating_sub(1)]
        };
        let hex = complete.iter().filter(|l| hex_line(l).is_some()).count();
        if !complete.is_empty() && hex * 5 >= complete.len() * 4 {
            return Dialect::Hex;
        }
        if has(b"ok..") || has(b"..ok") {
            return Dialect::Dots;
        }
        if memchr::memchr(b'\r', head).is_some() && !head.ends_with(b"\r\n") {
            return Dialect::Raw;
        }
        Dialect::Text
    }
}

/// One decoded piece of a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes the module sent.
    Rx(Vec<u8>),
    /// A line the host wrote.
    Tx(Vec<u8>),
}

/// Longest log line kept whole; the rest of a longer one is decoded on its
/// own (a log line that long is not a line of any of these dialects).
const MAX_LOG_LINE: usize = 1 << 20;

/// Splits a log into lines and decodes each (not for [`Dialect::Raw`]).
#[derive(Clone, Debug)]
pub struct LogDecoder {
    dialect: Dialect,
    partial: Vec<u8>,
    text: TextState,
}

/// Where a plain transcript is: between lines, or in the lines after a
/// `CONNECT` (a body: its lines are joined by CR LF with no framing of
/// their own, so a body framed by its announced length comes out whole).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TextState {
    #[default]
    Lines,
    BodyStart,
    Body,
}

impl LogDecoder {
    pub fn new(dialect: Dialect) -> LogDecoder {
        LogDecoder {
            dialect,
            partial: Vec::new(),
            text: TextState::Lines,
        }
    }

    /// Decode the complete lines of `data` (with what was held before).
    pub fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(Piece)) {
        while let Some(nl) = memchr::memchr(b'\n', data) {
            if self.partial.is_empty() {
                self.line(trim_cr(&data[..nl]), emit);
            } else {
                self.partial.extend_from_slice(&data[..nl]);
                let line = std::mem::take(&mut self.partial);
                self.line(trim_cr(&line), emit);
            }
            data = &data[nl + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() > MAX_LOG_LINE {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, emit);
        }
    }

    /// The last line, when the log does not end with a line feed.
    pub fn close(&mut self, emit: &mut impl FnMut(Piece)) {
        let line = std::mem::take(&mut self.partial);
        if !line.is_empty() {
            self.line(trim_cr(&line), emit);
        }
    }

    fn line(&mut self, line: &[u8], emit: &mut impl FnMut(Piece)) {
        if self.dialect == Dialect::Text {
            self.text = text_line(self.text, line, emit);
        } else {
            decode_line(self.dialect, line, emit);
        }
    }
}

/// One transcript line (see [`TextState`]).
fn text_line(state: TextState, line: &[u8], emit: &mut impl FnMut(Piece)) -> TextState {
    let trimmed = crate::urc::trim(line);
    let ends_body = trimmed == b"OK"
        || trimmed.starts_with(b"+CME ERROR:")
        || trimmed.starts_with(b"+QHTTPREAD:")
        || trimmed.starts_with(b"+QFDWL:");
    match state {
        TextState::BodyStart | TextState::Body if !ends_body => {
            let sep: &[u8] = if state == TextState::Body {
                b"\r\n"
            } else {
                b""
            };
            emit(Piece::Rx([sep, line].concat()));
            TextState::Body
        }
        _ => {
            decode_line(Dialect::Text, line, emit);
            if trimmed.starts_with(b"CONNECT") {
                TextState::BodyStart
            } else {
                TextState::Lines
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Decode one log line (without its line end).
pub fn decode_line(dialect: Dialect, line: &[u8], emit: &mut impl FnMut(Piece)) {
    match dialect {
        Dialect::Raw => emit(Piece::Rx(line.to_vec())),
        Dialect::Escaped => {
            if let Some((tx, content)) = escaped_line(line) {
                let bytes = unescape(content);
                emit(if tx {
                    Piece::Tx(bytes)
                } else {
                    Piece::Rx(bytes)
                });
            }
        }
        Dialect::Tagged => {
            if let Some((tx, content)) = directed(line, 64) {
                let bytes = untag(content);
                emit(if tx {
                    Piece::Tx(bytes)
                } else {
                    Piece::Rx(bytes)
                });
            }
        }
        Dialect::Dots => {
            if !line.is_empty() {
                emit(Piece::Rx(undot(line)));
            }
        }
        Dialect::Hex => {
            if let Some((tx, bytes)) = hex_line(line) {
                emit(if tx {
                    Piece::Tx(bytes)
                } else {
                    Piece::Rx(bytes)
                });
            }
        }
        Dialect::Text => {
            let line = crate::urc::trim(line);
            if line.is_empty() {
            } else if line.len() >= 2 && line[..2].eq_ignore_ascii_case(b"AT") {
                emit(Piece::Rx([line, b"\r"].concat()));
            } else if line == b">" || line == b"> " {
                emit(Piece::Rx(b"\r\n> ".to_vec()));
            } else {
                emit(Piece::Rx([b"\r\n", line, b"\r\n"].concat()));
            }
        }
    }
}

/// `[SEND][  3][AT\r]` → (is the host's, `AT\r` still escaped).
fn escaped_line(line: &[u8]) -> Option<(bool, &[u8])> {
    let start = memchr::memchr(b'[', line)?;
    let rest = &line[start..];
    let (tx, rest) = if let Some(r) = rest.strip_prefix(b"[SEND]") {
        (true, r)
    } else {
        (false, rest.strip_prefix(b"[RECV]")?)
    };
    let rest = rest.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', rest)?;
    if !crate::urc::trim(&rest[..close])
        .iter()
        .all(u8::is_ascii_digit)
    {
        return None;
    }
    let rest = rest[close + 1..].strip_prefix(b"[")?;
    let end = memchr::memrchr(b']', rest)?;
    Some((tx, &rest[..end]))
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 == s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let (byte, used) = match s[i + 1] {
            b'r' => (b'\r', 2),
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'0' => (0, 2),
            b'\\' => (b'\\', 2),
            b'"' => (b'"', 2),
            b'x' if s.len() >= i + 4 => match hex_byte(&s[i + 2..i + 4]) {
                Some(b) => (b, 4),
                None => (b'\\', 1),
            },
            _ => (b'\\', 1), // unknown: kept as written
        };
        out.push(byte);
        i += used;
    }
    out
}

/// The direction word (`TX`/`RX`, also `SEND`/`RECV`, `>>`/`<<`) and what
/// follows it (`: `, `> ` or spaces skipped), in the line's first `window`
/// bytes (a timestamp may come first).
fn directed(line: &[u8], window: usize) -> Option<(bool, &[u8])> {
    const WORDS: [(&[u8], bool); 6] = [
        (b"TX", true),
        (b"RX", false),
        (b"SEND", true),
        (b"RECV", false),
        (b">>", true),
        (b"<<", false),
    ];
    let head = &line[..line.len().min(window)];
    let (at, word, tx) = WORDS
        .iter()
        .filter_map(|&(w, tx)| {
            let lower = w.to_ascii_lowercase();
            memchr::memmem::find(head, w)
                .or_else(|| memchr::memmem::find(head, &lower))
                .map(|at| (at, w, tx))
        })
        .filter(|&(at, w, _)| {
            let before = at.checked_sub(1).map(|i| head[i]);
            let after = head.get(at + w.len()).copied();
            let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
            !alnum(before) && !alnum(after)
        })
        .min_by_key(|&(at, _, _)| at)?;
    let mut rest = &line[at + word.len()..];
    while let [b':' | b']' | b'>' | b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    Some((tx, rest))
}

fn untag(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let tag = s.get(i..i + 4).map(<[u8]>::to_ascii_lowercase);
        match tag.as_deref() {
            Some(b"<cr>") => out.push(b'\r'),
            Some(b"<lf>" | b"<ln>") => out.push(b'\n'),
            _ => {
                out.push(s[i]);
                i += 1;
                continue;
            }
        }
        i += 4;
    }
    out
}

fn undot(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let run = s[i..].iter().take_while(|&&b| b == b'.').count();
        match run {
            0 => {
                out.push(s[i]);
                i += 1;
            }
            1 => {
                out.push(b'.');
                i += 1;
            }
            n => {
                if n % 2 == 1 {
                    out.push(b'\r');
                }
                for _ in 0..n / 2 {
                    out.extend_from_slice(b"\r\n");
                }
                i += n;
            }
        }
    }
    out
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// A hex dump line → (is the host's, its bytes); None when it holds none.
fn hex_line(line: &[u8]) -> Option<(bool, Vec<u8>)> {
    // Only near the start: an ASCII column may hold the letters `TX` too.
    let (tx, body) = match directed(line, 24) {
        Some((tx, rest)) if rest.len() < line.len() => (tx, rest),
        _ => (false, line),
    };
    // hexdump -C's ASCII column.
    let mut body = &body[..memchr::memchr(b'|', body).unwrap_or(body.len())];
    // xxd's (after `offset:`) follows the hex after two spaces or more.
    let trimmed = crate::urc::trim(body);
    if let Some(colon) = memchr::memchr(b':', trimmed) {
        let groups = &trimmed[colon + 1..];
        let start = groups.iter().take_while(|b| **b == b' ').count();
        if let Some(gap) = memchr::memmem::find(&groups[start..], b"  ") {
            body = &trimmed[..colon + 1 + start + gap];
        }
    }
    let mut out = Vec::new();
    for (n, token) in body
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let offset = n == 0 && (token.ends_with(b":") || token.len() >= 6);
        if offset {
            continue;
        }
        if token.len() % 2 != 0 || !token.iter().all(u8::is_ascii_hexdigit) {
            break; // xxd's ASCII column
        }
        out.extend(token.chunks(2).filter_map(hex_byte));
    }
    (!out.is_empty()).then_some((tx, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(dialect: Dialect, log: &[u8]) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut dec = LogDecoder::new(dialect);
        dec.feed(log, &mut |p| out.push(p));
        dec.close(&mut |p| out.push(p));
        out
    }

    use Piece::{Rx, Tx};

    #[test]
    fn escaped_logs() {
        let log = b"[SEND][  3][AT\\r]\n[RECV][  9][AT\\r\\r\\nOK\\r\\n]\n[RECV][3][a]b\\x00]\n";
        assert_eq!(
            pieces(Dialect::Escaped, log),
            [
                Tx(b"AT\r".to_vec()),
                Rx(b"AT\r\r\nOK\r\n".to_vec()),
                Rx(b"a]b\x00".to_vec())
            ]
        );
        assert_eq!(Dialect::detect(log), Dialect::Escaped);
    }

    #[test]
    fn tagged_logs() {
        let log = b"12:00:01.5 TX: AT+CSQ<cr>\r\n12:00:01.6 RX: <CR><LF>+CSQ: 20,99<cr><ln>\r\n";
        assert_eq!(
            pieces(Dialect::Tagged, log),
            [
                Tx(b"AT+CSQ\r".to_vec()),
                Rx(b"\r\n+CSQ: 20,99\r\n".to_vec())
            ]
        );
        assert_eq!(Dialect::detect(log), Dialect::Tagged);
    }

    #[test]
    fn dots_are_line_ends_only_in_runs() {
        let log = b"AT+QIACT?...+QIACT: 1,1,1,\"10.11.32.148\"....OK..\n";
        assert_eq!(
            pieces(Dialect::Dots, log),
            [Rx(
                b"AT+QIACT?\r\r\n+QIACT: 1,1,1,\"10.11.32.148\"\r\n\r\nOK\r\n".to_vec()
            )]
        );
        assert_eq!(Dialect::detect(log), Dialect::Dots);
    }

    #[test]
    fn hex_dumps_in_three_layouts() {
        let plain = b"0D 0A 4F 4B 0D 0A\n";
        let xxd = b"00000000: 0d0a 4f4b 0d0a                           ..OK..\n";
        let hexdump = b"00000000  0d 0a 4f 4b 0d 0a                                 |..OK..|\n";
        for log in [&plain[..], xxd, hexdump] {
            assert_eq!(pieces(Dialect::Hex, log), [Rx(b"\r\nOK\r\n".to_vec())]);
            assert_eq!(Dialect::detect(log), Dialect::Hex, "{log:?}");
        }
        assert_eq!(
            pieces(Dialect::Hex, b"TX: 41 54 0D\n"),
            [Tx(b"AT\r".to_vec())]
        );
        let ascii_hex = b"00000010: 6162 6364  abcd\n";
        assert_eq!(pieces(Dialect::Hex, ascii_hex), [Rx(b"abcd".to_vec())]);
        let ascii_tx = b"00000000: 5458 2054 5820 5458 2054 5820 5458 2054  TX TX TX TX TX T\n";
        assert_eq!(
            pieces(Dialect::Hex, ascii_tx),
            [Rx(b"TX TX TX TX TX T".to_vec())]
        );
    }

    #[test]
    fn text_transcripts_are_reframed() {
        let log = b"AT+CSQ\n+CSQ: 20,99\n\nOK\n";
        assert_eq!(
            pieces(Dialect::Text, log),
            [
                Rx(b"AT+CSQ\r".to_vec()),
                Rx(b"\r\n+CSQ: 20,99\r\n".to_vec()),
                Rx(b"\r\nOK\r\n".to_vec())
            ]
        );
        assert_eq!(Dialect::detect(log), Dialect::Text);
    }

    #[test]
    fn transcript_bodies_are_joined_without_framing() {
        let log = b"CONNECT\nline 1\nline 2\nOK\n";
        assert_eq!(
            pieces(Dialect::Text, log),
            [
                Rx(b"\r\nCONNECT\r\n".to_vec()),
                Rx(b"line 1".to_vec()),
                Rx(b"\r\nline 2".to_vec()),
                Rx(b"\r\nOK\r\n".to_vec())
            ]
        );
    }

    #[test]
    fn raw_captures_are_detected() {
        assert_eq!(
            Dialect::detect(b"AT+CSQ\r\r\n+CSQ: 1,2\r\n\r\nOK\r\n"),
            Dialect::Raw
        );
        assert_eq!(
            Dialect::detect(b"\r\nCONNECT\r\n\x00\x01\x02"),
            Dialect::Raw
        );
        assert_eq!(Dialect::detect(b"AT\r"), Dialect::Raw);
        assert_eq!(Dialect::detect(b"!"), Dialect::Raw);
        assert_eq!(Dialect::detect(b"\r\n+CEREG: 1\r\n"), Dialect::Raw);
    }

    #[test]
    fn lines_split_anywhere_decode_the_same() {
        let log: &[u8] = b"[SEND][  3][AT\\r]\n[RECV][  9][AT\\r\\r\\nOK\\r\\n]";
        let whole = pieces(Dialect::Escaped, log);
        for cut in 0..=log.len() {
            let mut out = Vec::new();
            let mut dec = LogDecoder::new(Dialect::Escaped);
            dec.feed(&log[..cut], &mut |p| out.push(p));
            dec.feed(&log[cut..], &mut |p| out.push(p));
            dec.close(&mut |p| out.push(p));
            assert_eq!(out, whole);
        }
    }
}
