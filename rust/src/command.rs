//! The command in flight, as declared by `sent()` or seen in an echo.
//!
//! Owns the parsing of a command line into its name and data phase (design
//! §3 `sent`); it does not frame anything.

/// What follows `CONNECT` (or `+QIRD: <n>`) for this command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No module-to-host data: the host writes after `CONNECT` (QHTTPURL,
    /// QHTTPPOST, QFUPL…) or there is no data phase at all.
    None,
    /// AT+QHTTPREAD: body framed by length or by `OK` + `+QHTTPREAD: <err>`.
    HttpRead,
    /// AT+QFDWL: body framed by `+QFDWL: <n>,<checksum>`.
    Qfdwl,
    /// AT+QFREAD: `CONNECT <n>` then n bytes.
    QfRead,
    /// AT+QIRD: `+QIRD: <n>` then n bytes.
    Qird,
}

/// A command in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// `+QHTTPREAD` for extended commands; `ATI`, `ATE`, `AT&F`, `AT` for
    /// basic ones (upper case, parameters dropped).
    pub name: String,
    pub phase: Phase,
    /// QHTTPREAD: the body length when known (the `<content_length>` of
    /// `+QHTTPGET`/`+QHTTPPOST`).
    pub body_length: Option<u64>,
    /// QHTTPREAD with `responseheader=1`: status line and headers come first.
    pub response_header: bool,
}

/// The command line without its trailing CR/LF: the echo to expect.
pub fn strip_line_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = line {
        line = rest;
    }
    line
}

/// Parse a command line (without CR/LF). None when it does not start with
/// `AT` (case-insensitive): then it is data, not a command.
pub fn parse(line: &[u8], body_length: Option<u64>, response_header: bool) -> Option<Command> {
    if line.len() < 2 || !line[..2].eq_ignore_ascii_case(b"AT") {
        return None;
    }
    let rest = &line[2..];
    let (name, args) = match rest.first() {
        Some(b'+') => {
            let end = 1 + rest[1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            (&rest[..end], &rest[end..])
        }
        // Basic command: one letter, `&` + one letter, or none (plain `AT`).
        Some(b'&') if rest.len() >= 2 && rest[1].is_ascii_alphabetic() => (&rest[..2], &rest[2..]),
        Some(b) if b.is_ascii_alphabetic() => (&rest[..1], &rest[1..]),
        _ => (&rest[..0], rest),
    };
    let mut text = String::with_capacity(name.len() + 2);
    if name.first() != Some(&b'+') {
        text.push_str("AT");
    }
    // `name` is ASCII by construction (`+`, `&`, letters, digits, `_`).
    text.extend(name.iter().map(|b| char::from(b.to_ascii_uppercase())));
    // The read (`?`) and test (`=?`) forms have no data phase.
    let query = args.first() == Some(&b'?') || args.starts_with(b"=?");
    let phase = match text.as_str() {
        _ if query => Phase::None,
        "+QHTTPREAD" => Phase::HttpRead,
        "+QFDWL" => Phase::Qfdwl,
        "+QFREAD" => Phase::QfRead,
        "+QIRD" => Phase::Qird,
        _ => Phase::None,
    };
    Some(Command {
        name: text,
        phase,
        body_length,
        response_header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(line: &[u8]) -> Option<String> {
        parse(strip_line_end(line), None, false).map(|c| c.name)
    }

    #[test]
    fn names() {
        assert_eq!(name(b"AT+QHTTPREAD=80\r").as_deref(), Some("+QHTTPREAD"));
        assert_eq!(name(b"at+cereg?\r\n").as_deref(), Some("+CEREG"));
        assert_eq!(name(b"ATI\r").as_deref(), Some("ATI"));
        assert_eq!(name(b"ATE0\r").as_deref(), Some("ATE"));
        assert_eq!(name(b"AT&F0\r").as_deref(), Some("AT&F"));
        assert_eq!(name(b"AT\r").as_deref(), Some("AT"));
        assert_eq!(name(b"Hello"), None);
    }

    #[test]
    fn data_phases() {
        let phase = |line: &[u8]| parse(line, None, false).unwrap().phase;
        assert_eq!(phase(b"AT+QHTTPREAD=80"), Phase::HttpRead);
        assert_eq!(phase(b"AT+QHTTPREAD"), Phase::HttpRead);
        assert_eq!(phase(b"AT+QHTTPREAD=?"), Phase::None);
        assert_eq!(phase(b"AT+QFDWL=\"a.txt\""), Phase::Qfdwl);
        assert_eq!(phase(b"AT+QFREAD=1,100"), Phase::QfRead);
        assert_eq!(phase(b"AT+QIRD=0,1500"), Phase::Qird);
        assert_eq!(phase(b"AT+QHTTPURL=23,80"), Phase::None);
        assert_eq!(phase(b"AT+QFUPL=\"cacert.pem\""), Phase::None);
    }
}
