//! Byte-exact tokenizer tests: the spec's example sessions (HTTP note ch. 3,
//! CoAP note §5), design §2's wire facts, and split invariance (every script
//! is also fed byte by byte and split at every position).

use lpwa::{Config, Kind, OwnedEvent, Tokenizer};

/// One step of a session: a command line written, or bytes read.
#[derive(Clone, Debug)]
enum Step<'a> {
    Sent(&'a [u8], Option<u64>, bool),
    Read(&'a [u8]),
}
use Step::{Read, Sent};

fn sent(cmd: &[u8]) -> Step<'_> {
    Sent(cmd, None, false)
}

fn ev(kind: Kind, data: &[u8]) -> OwnedEvent {
    OwnedEvent {
        kind,
        data: data.to_vec(),
        code: None,
        payload: None,
        more: false,
    }
}

fn coded(kind: Kind, data: &[u8], code: i64) -> OwnedEvent {
    OwnedEvent {
        code: Some(code),
        ..ev(kind, data)
    }
}

fn echo(d: &[u8]) -> OwnedEvent {
    ev(Kind::Echo, d)
}
fn line(d: &[u8]) -> OwnedEvent {
    ev(Kind::Line, d)
}
fn urc(d: &[u8]) -> OwnedEvent {
    ev(Kind::Urc, d)
}
fn ok() -> OwnedEvent {
    ev(Kind::Final, b"OK")
}
fn connect() -> OwnedEvent {
    ev(Kind::Connect, b"CONNECT")
}
fn body(d: &[u8], code: Option<i64>) -> OwnedEvent {
    OwnedEvent {
        code,
        ..ev(Kind::Body, d)
    }
}

/// Run a script, splitting every read with `split` (chunk lengths, cycled).
fn run_split(config: Config, script: &[Step], split: &[usize]) -> Vec<OwnedEvent> {
    let mut tok = Tokenizer::new(config);
    let mut events = Vec::new();
    let mut sizes = split.iter().copied().cycle();
    for step in script {
        match *step {
            Sent(cmd, len, hdr) => tok.sent(cmd, len, hdr),
            Read(mut bytes) => {
                while !bytes.is_empty() {
                    let n = sizes.next().unwrap_or(usize::MAX).clamp(1, bytes.len());
                    events.extend(tok.feed(&bytes[..n]));
                    bytes = &bytes[n..];
                }
            }
        }
    }
    events
}

/// The events of a script fed whole, after checking that feeding it byte by
/// byte, in odd chunk sizes, and split once at every position gives the same.
fn run_with(config: Config, script: &[Step]) -> Vec<OwnedEvent> {
    let whole = run_split(config, script, &[usize::MAX]);
    for split in [&[1][..], &[2], &[3, 1, 7], &[5, 64, 2]] {
        assert_eq!(run_split(config, script, split), whole, "split {split:?}");
    }
    let longest = script
        .iter()
        .map(|s| if let Read(b) = s { b.len() } else { 0 })
        .max()
        .unwrap_or(0);
    for at in 1..longest {
        assert_eq!(
            run_split(config, script, &[at, usize::MAX]),
            whole,
            "split at {at}"
        );
    }
    whole
}

fn run(script: &[Step]) -> Vec<OwnedEvent> {
    run_with(Config::default(), script)
}

// ---- HTTP note chapter 3 ------------------------------------------------------

#[test]
fn qhttpcfg_echo_then_ok() {
    let events = run(&[
        sent(b"AT+QHTTPCFG=\"contextid\",1\r"),
        Read(b"AT+QHTTPCFG=\"contextid\",1\r\r\nOK\r\n"),
    ]);
    assert_eq!(events, [echo(b"AT+QHTTPCFG=\"contextid\",1"), ok()]);
}

#[test]
fn qiact_query_info_line_then_ok() {
    let events = run(&[
        sent(b"AT+QIACT?\r"),
        Read(b"AT+QIACT?\r\r\n+QIACT: 1,1,1,\"10.7.157.1\"\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(
        events,
        [
            echo(b"AT+QIACT?"),
            line(b"+QIACT: 1,1,1,\"10.7.157.1\""),
            ok()
        ]
    );
    assert_eq!(events[1].name(), Some(&b"+QIACT"[..]));
}

#[test]
fn qiact_query_with_no_context_is_just_ok() {
    let events = run(&[sent(b"AT+QIACT?\r"), Read(b"\r\nOK\r\n")]);
    assert_eq!(events, [ok()]);
}

#[test]
fn qhttpurl_connect_then_host_writes_then_ok() {
    // Host-to-module data: no body mode, the URL the host writes is not echoed.
    let events = run(&[
        sent(b"AT+QHTTPURL=23,80\r"),
        Read(b"AT+QHTTPURL=23,80\r\r\nCONNECT\r\n"),
        Sent(b"http://www.sina.com.cn/", None, false),
        Read(b"\r\nOK\r\n"),
    ]);
    assert_eq!(events, [echo(b"AT+QHTTPURL=23,80"), connect(), ok()]);
}

#[test]
fn qhttpget_ok_then_urc() {
    let mut tok = Tokenizer::default();
    tok.sent(b"AT+QHTTPGET=80\r", None, false);
    assert_eq!(tok.in_flight(), Some("+QHTTPGET"));
    let events = tok.feed(b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,547256\r\n");
    assert_eq!(events, [ok(), urc(b"+QHTTPGET: 0,200,547256")]);
    assert_eq!(tok.in_flight(), None);
}

const HEADERS: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nVary: Accept-Encoding\r\n\
X-Powered-By: shci_v1.03\r\nServer: nginx\r\nDate: Fri, 27 Dec 2013 02:21:43 GMT\r\n\
Content-Length: 23\r\nX-Cache: HIT from xd33-85.sina.com.cn\r\n\r\n";
const BODY: &[u8] = b"<html>\r\nOK\r\n</html>\r\n\r\n";

fn qhttpread_wire(content: &[u8], err: &str) -> Vec<u8> {
    let mut wire = b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n".to_vec();
    wire.extend_from_slice(content);
    wire.extend_from_slice(b"\r\nOK\r\n\r\n+QHTTPREAD: ");
    wire.extend_from_slice(err.as_bytes());
    wire.extend_from_slice(b"\r\n");
    wire
}

#[test]
fn qhttpread_with_response_header_frames_by_content_length() {
    assert_eq!(BODY.len(), 23);
    let content = [HEADERS, BODY].concat();
    let wire = qhttpread_wire(&content, "0");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", None, true), Read(&wire)]);
    assert_eq!(
        events,
        [
            echo(b"AT+QHTTPREAD=80"),
            connect(),
            body(&content, Some(0)),
            ok()
        ]
    );
}

#[test]
fn qhttpread_body_length_counts_after_the_headers() {
    // The header block says 999, the caller's body_length wins.
    let headers = b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";
    let content = [&headers[..], BODY].concat();
    let wire = qhttpread_wire(&content, "0");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", Some(23), true), Read(&wire)]);
    assert_eq!(events[2], body(&content, Some(0)));
}

#[test]
fn qhttppost_connect_ok_urc_then_read_by_length() {
    let xml =
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<string>Message=HelloQuectel</string>";
    let mut wire = b"\r\nCONNECT\r\n".to_vec();
    wire.extend_from_slice(xml);
    wire.extend_from_slice(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n");
    let events = run(&[
        sent(b"AT+QHTTPPOST=20,80,80\r"),
        Read(b"\r\nCONNECT\r\n"),
        Sent(b"Message=HelloQuectel", None, false),
        Read(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,77\r\n"),
        Sent(b"AT+QHTTPREAD=80\r", Some(xml.len() as u64), false),
        Read(&wire),
    ]);
    assert_eq!(
        events,
        [
            connect(),
            ok(),
            urc(b"+QHTTPPOST: 0,200,77"),
            connect(),
            body(xml, Some(0)),
            ok()
        ]
    );
}

#[test]
fn qfupl_result_line_without_space() {
    // The note prints `+QFUPL:1216,7648` with no space after the colon.
    let events = run(&[
        sent(b"AT+QFUPL=\"cacert.pem\"\r"),
        Read(b"\r\nCONNECT\r\n"),
        Read(b"\r\n+QFUPL:1216,7648\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(events, [connect(), line(b"+QFUPL:1216,7648"), ok()]);
    assert_eq!(events[1].name(), Some(&b"+QFUPL"[..]));
}

#[test]
fn qhttpreadfile_ok_then_urc() {
    let events = run(&[
        sent(b"AT+QHTTPREADFILE=\"1.txt\",80\r"),
        Read(b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n"),
    ]);
    assert_eq!(events, [ok(), urc(b"+QHTTPREADFILE: 0")]);
}

// ---- CoAP note section 5 ------------------------------------------------------

#[test]
fn qcoapsend_prompt_ok_then_ack_spelled_coapack() {
    let events = run(&[
        sent(b"AT+QCOAPSEND=0,1,2,1,20\r"),
        Read(b"AT+QCOAPSEND=0,1,2,1,20\r\r\n> "),
        Sent(b"Hello, CoAP Message!", None, false),
        Read(b"\r\nOK\r\n\r\n+COAPACK: 0,1,1234,0\r\n"),
    ]);
    assert_eq!(
        events,
        [
            echo(b"AT+QCOAPSEND=0,1,2,1,20"),
            ev(Kind::Prompt, b"> "),
            ok(),
            urc(b"+COAPACK: 0,1,1234,0")
        ]
    );
}

#[test]
fn qcooprecv_payload_follows_its_line() {
    let events = run(&[Read(
        b"\r\n+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9\r\nNot Found\r\n+QCOAPCLOSE: 0,0\r\n",
    )]);
    let recv = OwnedEvent {
        payload: Some(b"Not Found".to_vec()),
        ..urc(b"+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9")
    };
    assert_eq!(events, [recv, urc(b"+QCOAPCLOSE: 0,0")]);
    assert_eq!(events[0].name(), Some(&b"+QCOAPRECV"[..]));
}

#[test]
fn qcoaprecv_binary_payload_and_commas_in_options() {
    let payload = b"\r\nOK\r\n\x00\xff,9\r\n";
    let mut wire = b"+QCOAPRECV: 0,7,2.05,0,,1,\"a,b\",12\r\n".to_vec();
    wire.extend_from_slice(payload);
    wire.extend_from_slice(b"\r\nOK\r\n");
    let events = run(&[sent(b"AT+QCOAPCFG=\"trans\",0,4,5\r"), Read(&wire)]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, Kind::Urc);
    assert_eq!(events[0].payload.as_deref(), Some(&payload[..]));
    assert_eq!(events[1], ok());
}

#[test]
fn qcoaprecv_empty_payload_and_bad_lengths() {
    let config = Config {
        max_body: 100,
        ..Config::default()
    };
    let events = run_with(
        config,
        &[Read(
            b"+QCOAPRECV: 0,1,2.05,0,,0,0\r\n+QCOAPRECV: 0,1,2.05,0,,0,x\r\n+QCOAPRECV: 0,1,2.05,0,,0,101\r\n",
        )],
    );
    assert_eq!(events[0].payload.as_deref(), Some(&b""[..]));
    assert_eq!(events[1], ev(Kind::Invalid, b"+QCOAPRECV: 0,1,2.05,0,,0,x"));
    assert_eq!(
        events[2],
        ev(Kind::Invalid, b"+QCOAPRECV: 0,1,2.05,0,,0,101")
    );
}

// ---- design §2: echo, URCs, finals ----------------------------------------------

#[test]
fn echo_off_gives_the_same_responses() {
    let events = run(&[sent(b"AT+CPIN?\r"), Read(b"\r\n+CPIN: READY\r\n\r\nOK\r\n")]);
    assert_eq!(events, [line(b"+CPIN: READY"), ok()]);
}

#[test]
fn urc_between_write_and_echo_captured_on_bg95() {
    let events = run(&[
        sent(b"AT+QHTTPREAD=60\r"),
        Read(b"\r\n+QHTTPPOST: 0,200\r\nAT+QHTTPREAD=60\r\r\nCONNECT\r\nhello\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"),
    ]);
    assert_eq!(
        events,
        [
            urc(b"+QHTTPPOST: 0,200"),
            echo(b"AT+QHTTPREAD=60"),
            connect(),
            body(b"hello", Some(0)),
            ok()
        ]
    );
}

#[test]
fn undeclared_echo_drives_framing_of_a_captured_stream() {
    // `lpwa trace`: no sent() at all, echo on.
    let events = run(&[Read(
        b"AT+QHTTPREAD=80\r\r\nCONNECT\r\nab\r\nOK\r\ncd\r\nOK\r\n\r\n+QHTTPREAD: 0\r\nAT\r\r\nOK\r\n",
    )]);
    assert_eq!(
        events,
        [
            echo(b"AT+QHTTPREAD=80"),
            connect(),
            body(b"ab\r\nOK\r\ncd", Some(0)),
            ok(),
            echo(b"AT"),
            ok()
        ]
    );
}

#[test]
fn info_lines_of_basic_commands_are_lines() {
    let mut tok = Tokenizer::default();
    tok.sent(b"ATI\r", None, false);
    assert_eq!(tok.in_flight(), Some("ATI"));
    let events =
        tok.feed(b"ATI\r\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nRDY\r\nOK\r\n");
    assert_eq!(
        events,
        [
            echo(b"ATI"),
            line(b"Quectel"),
            line(b"BG96"),
            line(b"Revision: BG96MAR02A07M1G"),
            urc(b"RDY"),
            ok()
        ]
    );
}

#[test]
fn urc_named_like_the_command_is_its_response_only_while_in_flight() {
    let events = run(&[
        sent(b"AT+CEREG?\r"),
        Read(b"\r\n+CEREG: 2,1\r\n\r\n+QIURC: \"pdpdeact\",1\r\n\r\nOK\r\n\r\n+CEREG: 1\r\n"),
    ]);
    assert_eq!(
        events,
        [
            line(b"+CEREG: 2,1"),
            urc(b"+QIURC: \"pdpdeact\",1"),
            ok(),
            urc(b"+CEREG: 1")
        ]
    );
}

#[test]
fn unknown_plus_line_while_in_flight_is_a_line_and_bare_urcs_match() {
    let events = run(&[
        sent(b"AT+QGMR\r"),
        Read(b"\r\nBG96MAR02A07M1G_01.016.01.016\r\n+FOO: 1\r\nPOWERED DOWN\r\n"),
    ]);
    assert_eq!(
        events,
        [
            line(b"BG96MAR02A07M1G_01.016.01.016"),
            line(b"+FOO: 1"),
            urc(b"POWERED DOWN")
        ]
    );
}

#[test]
fn extra_urc_prefixes_extend_the_table() {
    let mut tok = Tokenizer::default();
    tok.add_urc(b"+FOO");
    tok.add_urc(b"HELLO");
    tok.sent(b"AT+X\r", None, false);
    let events = tok.feed(b"\r\n+FOO: 1\r\nHELLO WORLD\r\n+CPIN: READY\r\n");
    assert_eq!(
        events,
        [urc(b"+FOO: 1"), urc(b"HELLO WORLD"), urc(b"+CPIN: READY")]
    );
}

#[test]
fn every_final_code_ends_the_command() {
    for (wire, code) in [
        (&b"OK"[..], None),
        (b"ERROR", None),
        (b"+CME ERROR: 703", Some(703)),
        (b"+CMS ERROR: 500", Some(500)),
        (b"+CME ERROR: SIM failure", None),
        (b"NO CARRIER", None),
        (b"SEND OK", None),
        (b"SEND FAIL", None),
        (b"NO DIALTONE", None),
        (b"BUSY", None),
        (b"NO ANSWER", None),
    ] {
        let mut tok = Tokenizer::default();
        tok.sent(b"AT+QISEND=0,5\r", None, false);
        let events = tok.feed(&[b"\r\n", wire, b"\r\n"].concat());
        let expect = OwnedEvent {
            code,
            ..ev(Kind::Final, wire)
        };
        assert_eq!(events, [expect]);
        assert_eq!(tok.in_flight(), None);
    }
}

#[test]
fn nothing_in_flight_every_line_is_a_urc() {
    let events = run(&[Read(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\nhello\r\n")]);
    assert_eq!(events, [urc(b"RDY"), urc(b"+CFUN: 1"), urc(b"hello")]);
}

#[test]
fn lone_cr_and_lone_lf_terminate_lines() {
    let events = run(&[sent(b"AT+X\r"), Read(b"a\rb\nc\r\n\n\rd\r")]);
    assert_eq!(events, [line(b"a"), line(b"b"), line(b"c"), line(b"d")]);
}

#[test]
fn connect_codes_and_huge_numbers() {
    let events = run(&[Read(b"CONNECT 99999999999999999999\r\nCONNECT 1024\r\n")]);
    assert_eq!(
        events,
        [
            ev(Kind::Connect, b"CONNECT 99999999999999999999"),
            coded(Kind::Connect, b"CONNECT 1024", 1024)
        ]
    );
}

// ---- prompts ---------------------------------------------------------------------

#[test]
fn prompt_only_at_line_start() {
    let events = run(&[sent(b"AT+QISEND=0\r"), Read(b"a> b\r\n> \r\n>x\r\n")]);
    assert_eq!(
        events,
        [line(b"a> b"), ev(Kind::Prompt, b"> "), line(b">x")]
    );
}

#[test]
fn prompt_at_stream_start_byte_by_byte() {
    let mut tok = Tokenizer::default();
    assert_eq!(tok.feed(b">"), []);
    assert_eq!(tok.buffered(), 1);
    assert_eq!(tok.feed(b" "), [ev(Kind::Prompt, b"> ")]);
    assert_eq!(tok.buffered(), 0);
}

// ---- QHTTPREAD bodies ------------------------------------------------------------

#[test]
fn trailer_framed_body_may_contain_ok_lines() {
    let content = b"a\r\nOK\r\n\r\n+QHTTPREAD\r\nOK\r\n\r\n+QHTTPREAD: x\r\nend";
    let wire = qhttpread_wire(content, "0");
    let events = run(&[sent(b"AT+QHTTPREAD=80\r"), Read(&wire)]);
    assert_eq!(events[2], body(content, Some(0)));
    assert_eq!(events.len(), 4);
}

#[test]
fn length_framed_body_may_contain_a_whole_ok_trailer() {
    let content = b"x\r\nOK\r\n\r\n+QHTTPREAD: 0\r\ny";
    let wire = qhttpread_wire(content, "0");
    let events = run(&[
        Sent(b"AT+QHTTPREAD=80\r", Some(content.len() as u64), false),
        Read(&wire),
    ]);
    assert_eq!(events[2], body(content, Some(0)));
    assert_eq!(events[3], ok());
}

#[test]
fn empty_body() {
    let wire = qhttpread_wire(b"", "0");
    for len in [None, Some(0)] {
        let events = run(&[Sent(b"AT+QHTTPREAD=80\r", len, false), Read(&wire)]);
        assert_eq!(events[2..], [body(b"", Some(0)), ok()]);
    }
}

#[test]
fn error_trailer_within_the_announced_length_is_body() {
    // Issue 10: a server can put any bytes in its body, a forged 717 trailer
    // too; within a known length they are body, and the body is not over.
    let wire = qhttpread_wire(b"partial", "717");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", Some(1000), false), Read(&wire)]);
    assert_eq!(events[1..], [connect()]);
    let cme = b"\r\nCONNECT\r\npart\r\nial\r\n+CME ERROR: 717\r\n\r\nRDY\r\n";
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", Some(1000), false), Read(cme)]);
    assert_eq!(events, [connect()]);
}

#[test]
fn with_early_errors_an_error_trailer_ends_a_length_framed_body() {
    // Archived captures: the module's own broken reads decode as such.
    let mut tok = Tokenizer::default();
    tok.set_early_errors(true);
    tok.sent(b"AT+QHTTPREAD=80\r", Some(1000), false);
    let events = tok.feed(&qhttpread_wire(b"partial", "717"));
    assert_eq!(events[2..], [body(b"partial", Some(717)), ok()]);
    tok.sent(b"AT+QHTTPREAD=80\r", Some(1000), false);
    let events = tok.feed(b"\r\nCONNECT\r\npart\r\n+CME ERROR: 717\r\n");
    assert_eq!(
        events,
        [
            connect(),
            body(b"part", Some(717)),
            coded(Kind::Final, b"+CME ERROR: 717", 717)
        ]
    );
}

#[test]
fn broken_read_717_trailer_ends_a_body_of_unknown_length() {
    let wire = qhttpread_wire(b"partial", "717");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", None, false), Read(&wire)]);
    assert_eq!(events[2..], [body(b"partial", Some(717)), ok()]);
}

#[test]
fn broken_read_cme_error_ends_a_body_of_unknown_length() {
    let wire = b"\r\nCONNECT\r\npart\r\nial\r\n+CME ERROR: 717\r\n\r\nOK\r\n";
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", None, false), Read(wire)]);
    assert_eq!(
        events,
        [
            connect(),
            body(b"part\r\nial", Some(717)),
            coded(Kind::Final, b"+CME ERROR: 717", 717),
            ok()
        ]
    );
}

#[test]
fn rdy_keeps_the_partial_line_after_it() {
    // Issue 10 item 4: RDY and the start of the next boot URC in one read.
    let events = run(&[
        sent(b"AT+CFUN=1,1\r"),
        Read(b"\r\nRDY\r\n\r\n+CF"),
        Read(b"UN: 1\r\n"),
    ]);
    assert_eq!(events, [urc(b"RDY"), urc(b"+CFUN: 1")]);
}

#[test]
fn absurd_wire_lengths_never_abort() {
    // Issue 10 item 12: a wire-supplied 10^12 with a huge max_body.
    let mut tok = Tokenizer::new(Config {
        max_body: 1 << 40,
        ..Config::default()
    });
    let events = tok.feed(b"\r\n+QCOAPRECV: 0,1,2.05,0,,0,1000000000000\r\nab\r\n");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, Kind::Invalid);
    tok.sent(b"AT+QHTTPREAD=80\r", Some(1_000_000_000_000), false);
    let events = tok.feed(b"\r\nCONNECT\r\nabc");
    assert_eq!(events[0].kind, Kind::Connect);
}

#[test]
fn read_without_connect_is_a_plain_final() {
    let events = run(&[sent(b"AT+QHTTPREAD=80\r"), Read(b"\r\n+CME ERROR: 703\r\n")]);
    assert_eq!(events, [coded(Kind::Final, b"+CME ERROR: 703", 703)]);
}

#[test]
fn bytes_past_a_wrong_length_stay_in_the_body() {
    let content = b"0123456789abc";
    let wire = qhttpread_wire(content, "0");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", Some(10), false), Read(&wire)]);
    assert_eq!(events[2..], [body(content, Some(0)), ok()]);
}

#[test]
fn lines_after_the_body_are_lines_again() {
    let mut wire = qhttpread_wire(b"abc", "0");
    wire.extend_from_slice(b"\r\n+QIURC: \"closed\",0\r\n");
    let events = run(&[Sent(b"AT+QHTTPREAD=80\r", Some(3), false), Read(&wire)]);
    assert_eq!(events[4], urc(b"+QIURC: \"closed\",0"));
}

#[test]
fn non_streaming_body_over_max_body_comes_in_chunks() {
    let content: Vec<u8> = (0..25u8).collect();
    let wire = qhttpread_wire(&content, "0");
    let config = Config {
        max_body: 10,
        ..Config::default()
    };
    for len in [None, Some(25)] {
        let events = run_with(
            config,
            &[Sent(b"AT+QHTTPREAD=80\r", len, false), Read(&wire)],
        );
        let chunk = |r: std::ops::Range<usize>, more, code| OwnedEvent {
            more,
            ..body(&content[r], code)
        };
        assert_eq!(
            events[2..],
            [
                chunk(0..10, true, None),
                chunk(10..20, true, None),
                chunk(20..25, false, Some(0)),
                ok()
            ]
        );
    }
}

#[test]
fn streamed_body_one_event_per_feed_holding_back_a_trailer_start() {
    let config = Config {
        stream_bodies: true,
        ..Config::default()
    };
    let mut tok = Tokenizer::new(config);
    tok.sent(b"AT+QHTTPREAD=80\r", None, false);
    assert_eq!(
        tok.feed(b"\r\nCONNECT\r\nhello "),
        [
            connect(),
            OwnedEvent {
                more: true,
                ..body(b"hello ", None)
            }
        ]
    );
    // `\r\nOK\r\n` could begin a trailer: held back.
    assert_eq!(
        tok.feed(b"world\r\nOK\r\n"),
        [OwnedEvent {
            more: true,
            ..body(b"world", None)
        }]
    );
    assert_eq!(tok.buffered(), 6);
    assert_eq!(tok.feed(b"\r\n+QHTTPREAD: 0\r"), []);
    assert_eq!(tok.feed(b"\n"), [body(b"", Some(0)), ok()]);
}

// ---- QFDWL, QFREAD, QIRD -----------------------------------------------------------

#[test]
fn qfdwl_frames_by_the_trailer_whose_length_matches() {
    let content = b"ab\r\n+QFDWL: 9,ab\r\ncd";
    let mut wire = b"\r\nCONNECT\r\n".to_vec();
    wire.extend_from_slice(content);
    assert_eq!(content.len(), 20);
    wire.extend_from_slice(b"\r\n+QFDWL: 20,6c53\r\n\r\nOK\r\n");
    let events = run(&[sent(b"AT+QFDWL=\"cacert.pem\"\r"), Read(&wire)]);
    assert_eq!(
        events,
        [
            connect(),
            body(content, None),
            line(b"+QFDWL: 20,6c53"),
            ok()
        ]
    );
}

#[test]
fn qfdwl_cme_error_ends_the_body() {
    let events = run(&[
        sent(b"AT+QFDWL=\"x\"\r"),
        Read(b"\r\nCONNECT\r\nabc\r\n+CME ERROR: 409\r\n"),
    ]);
    assert_eq!(
        events,
        [
            connect(),
            body(b"abc", Some(409)),
            coded(Kind::Final, b"+CME ERROR: 409", 409)
        ]
    );
}

#[test]
fn qfread_connect_n_then_n_raw_bytes() {
    let events = run(&[
        sent(b"AT+QFREAD=1027,10\r"),
        Read(b"\r\nCONNECT 10\r\n\r\nOK\r\n\x00\x1a\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(
        events,
        [
            coded(Kind::Connect, b"CONNECT 10", 10),
            body(b"\r\nOK\r\n\x00\x1a\r\n", None),
            ok()
        ]
    );
}

#[test]
fn qfread_connect_0_is_an_empty_body() {
    let events = run(&[
        sent(b"AT+QFREAD=1027,10\r"),
        Read(b"\r\nCONNECT 0\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(
        events,
        [coded(Kind::Connect, b"CONNECT 0", 0), body(b"", None), ok()]
    );
}

#[test]
fn qird_length_line_then_n_raw_bytes() {
    let events = run(&[
        sent(b"AT+QIRD=0,1500\r"),
        Read(b"\r\n+QIRD: 5\r\nOK\r\n\n\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(events, [line(b"+QIRD: 5"), body(b"OK\r\n\n", None), ok()]);
}

#[test]
fn qird_query_answer_has_no_data() {
    let events = run(&[
        sent(b"AT+QIRD=0,0\r"),
        Read(b"\r\n+QIRD: 10,0,10\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(events, [line(b"+QIRD: 10,0,10"), ok()]);
}

// ---- garbage ---------------------------------------------------------------------------

#[test]
fn over_long_line_is_one_invalid_event_then_resume() {
    let config = Config {
        max_line: 8,
        ..Config::default()
    };
    let events = run_with(config, &[Read(b"0123456789abcdef\r\n12345678\r\nOK\r\n")]);
    assert_eq!(
        events,
        [ev(Kind::Invalid, b"01234567"), urc(b"12345678"), ok()]
    );
}

#[test]
fn over_long_line_reported_as_soon_as_it_overflows() {
    let mut tok = Tokenizer::new(Config {
        max_line: 4,
        ..Config::default()
    });
    assert_eq!(tok.feed(b"abcd"), []);
    assert_eq!(tok.feed(b"e"), [ev(Kind::Invalid, b"abcd")]);
    assert_eq!(tok.buffered(), 0);
    assert_eq!(tok.feed(b"fgh"), []);
    assert_eq!(tok.feed(b"\r\nOK\r\n"), [ok()]);
}

#[test]
fn control_bytes_make_a_line_invalid() {
    let events = run(&[sent(b"AT\r"), Read(b"\r\nO\x00K\r\n\x1b[0m\r\nOK\r\n")]);
    assert_eq!(
        events,
        [
            ev(Kind::Invalid, b"O\x00K"),
            ev(Kind::Invalid, b"\x1b[0m"),
            ok()
        ]
    );
}

// ---- byte at a time, atat style: events per step ------------------------------------------

#[test]
fn byte_at_a_time_events_at_the_terminator() {
    let mut tok = Tokenizer::default();
    tok.sent(b"AT+CPIN?\r", None, false);
    let wire = b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n";
    let mut per_step = Vec::new();
    for b in wire.iter() {
        per_step.push(tok.feed(std::slice::from_ref(b)));
    }
    let at = |i: usize| per_step[i].clone();
    // The echo is reported at its `\r` (index 8), the info line at its `\r`
    // (index 23), `OK` at its `\r` (index 29); every other step reports nothing.
    assert_eq!(at(8), [echo(b"AT+CPIN?")]);
    assert_eq!(at(23), [line(b"+CPIN: READY")]);
    assert_eq!(at(29), [ok()]);
    let quiet = per_step
        .iter()
        .enumerate()
        .filter(|(i, e)| ![8, 23, 29].contains(i) && !e.is_empty());
    assert_eq!(quiet.count(), 0);
    assert_eq!(tok.buffered(), 0);
}

#[test]
fn byte_at_a_time_body_buffered_counts() {
    let mut tok = Tokenizer::default();
    tok.sent(b"AT+QHTTPREAD=80\r", Some(3), false);
    assert_eq!(tok.feed(b"\r\nCONNECT\r"), [connect()]);
    assert_eq!(tok.feed(b"\n"), []);
    assert_eq!(tok.buffered(), 0);
    for (i, b) in b"abc".iter().enumerate() {
        assert_eq!(tok.feed(std::slice::from_ref(b)), []);
        assert_eq!(tok.buffered(), i + 1);
    }
    let trailer = b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n";
    for b in &trailer[..trailer.len() - 1] {
        assert_eq!(tok.feed(std::slice::from_ref(b)), []);
    }
    assert_eq!(tok.feed(b"\n"), [body(b"abc", Some(0)), ok()]);
    assert_eq!(tok.buffered(), 0);
    assert_eq!(tok.in_flight(), None);
}

// ---- reset ------------------------------------------------------------------------------

#[test]
fn reset_forgets_a_body_in_progress() {
    let mut tok = Tokenizer::default();
    tok.sent(b"AT+QHTTPREAD=80\r", None, false);
    tok.feed(b"\r\nCONNECT\r\npartial body");
    assert!(tok.buffered() > 0);
    tok.reset();
    assert_eq!(tok.buffered(), 0);
    assert_eq!(tok.in_flight(), None);
    assert_eq!(tok.feed(b"\r\nRDY\r\n"), [urc(b"RDY")]);
}

// ---- split invariance on generated streams (stable-Rust stand-in for the fuzzer) ----------

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"\r\n",
    b"\r",
    b"\n",
    b"OK",
    b"> ",
    b">",
    b"CONNECT",
    b"CONNECT 5",
    b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n",
    b"\r\nOK\r\n\r\n+QHTTPREAD: 717\r\n",
    b"\r\n+CME ERROR: 717\r\n",
    b"+QCOAPRECV: 0,1,2.05,0,,0,3\r\n",
    b"+QIRD: 4\r\n",
    b"\r\n+QFDWL: 3,ab\r\n",
    b"AT+QHTTPREAD=80\r",
    b"ATI\r",
    b"AT+QFREAD=1,5\r",
    b"+CPIN: READY",
    b"RDY",
    b"\x00",
    b"\xff",
    b"abc",
    b"x,9",
    b"+QHTTPREAD: 0",
];

const COMMANDS: &[&[u8]] = &[
    b"AT+QHTTPREAD=80\r",
    b"AT+QFDWL=\"a\"\r",
    b"AT+QFREAD=1,5\r",
    b"AT+QIRD=0,1500\r",
    b"ATI\r",
    b"AT+CPIN?\r",
];

/// Rounds of the generated-stream test; `LPWA_SPLIT_ROUNDS` runs more.
fn rounds() -> usize {
    std::env::var("LPWA_SPLIT_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

#[test]
fn random_streams_split_anywhere_give_the_same_events() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..rounds() {
        let mut wires: Vec<Vec<u8>> = Vec::new();
        let mut commands = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let mut wire = Vec::new();
            for _ in 0..rng.below(30) {
                if rng.below(4) == 0 {
                    wire.push(rng.next() as u8);
                } else {
                    wire.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
            }
            wires.push(wire);
            let length = (rng.below(3) > 0).then(|| rng.below(20) as u64);
            commands.push((
                COMMANDS[rng.below(COMMANDS.len())],
                length,
                rng.below(2) == 0,
            ));
        }
        let script: Vec<Step> = commands
            .iter()
            .zip(&wires)
            .flat_map(|(&(cmd, len, hdr), wire)| [Sent(cmd, len, hdr), Read(wire)])
            .collect();
        let config = Config {
            max_line: 1 + rng.below(40),
            max_body: 1 + rng.below(16),
            stream_bodies: false,
        };
        let whole = run_split(config, &script, &[usize::MAX]);
        let split: Vec<usize> = (0..8).map(|_| 1 + rng.below(9)).collect();
        assert_eq!(run_split(config, &script, &split), whole, "round {round}");
        // Streaming: same events but body chunks, whose concatenation matches.
        let streamed = run_split(
            Config {
                stream_bodies: true,
                ..config
            },
            &script,
            &split,
        );
        assert_same_bodies(&merge_bodies(&streamed), &merge_bodies(&whole), round);
    }
}

/// Equal events, except that a body still open when the stream ends may have
/// emitted less in one mode (streaming holds back a possible trailer start,
/// chunking holds back up to a chunk).
fn assert_same_bodies(a: &[OwnedEvent], b: &[OwnedEvent], round: usize) {
    let split_open = |e: &[OwnedEvent]| match e.last() {
        Some(l) if l.kind == Kind::Body && l.more => (e.len() - 1, l.data.clone()),
        _ => (e.len(), Vec::new()),
    };
    let ((na, x), (nb, y)) = (split_open(a), split_open(b));
    assert_eq!(a[..na], b[..nb], "round {round} streamed");
    assert!(
        x.starts_with(&y) || y.starts_with(&x),
        "round {round} open body"
    );
}

/// Concatenate consecutive body chunks (`more=True` then the last).
fn merge_bodies(events: &[OwnedEvent]) -> Vec<OwnedEvent> {
    let mut out: Vec<OwnedEvent> = Vec::new();
    let mut open = false;
    for e in events {
        match out.last_mut() {
            Some(last) if open && e.kind == Kind::Body => {
                last.data.extend_from_slice(&e.data);
                last.code = e.code;
                last.more = e.more;
            }
            _ => out.push(e.clone()),
        }
        open = e.kind == Kind::Body && e.more;
    }
    out
}

#[test]
fn an_overlong_coaprecv_line_takes_its_payload_into_the_invalid_event() {
    // A server's 2 KB option makes the line longer than max_line: the line is
    // invalid, but its payload (length in the last field) must not be framed
    // as AT lines, whatever the split.
    let option = "AB".repeat(1024);
    let line = format!("+QCOAPRECV: 0,7,2.05,0,,1,\"2048:{option}\",9");
    let mut wire = b"\r\n".to_vec();
    wire.extend_from_slice(line.as_bytes());
    wire.extend_from_slice(b"\r\n\r\nOK\r\nRDY\r\n+QIURC: \"x\"\r\n");
    let config = Config {
        max_line: 256,
        ..Config::default()
    };
    let whole = Tokenizer::new(config).feed(&wire);
    assert_eq!(whole.len(), 2, "{whole:?}");
    assert_eq!(whole[0].kind, Kind::Invalid);
    assert_eq!(whole[0].data, line.as_bytes()[..256].to_vec());
    assert_eq!(whole[0].payload.as_deref(), Some(&b"\r\nOK\r\nRDY"[..]));
    assert_eq!(whole[1].data, b"+QIURC: \"x\"".to_vec());
    for cut in 0..wire.len() {
        let mut tok = Tokenizer::new(config);
        let mut events = tok.feed(&wire[..cut]);
        events.extend(tok.feed(&wire[cut..]));
        assert_eq!(events, whole, "cut at {cut}");
    }
    let mut tok = Tokenizer::new(config);
    let bytewise: Vec<_> = wire.iter().flat_map(|b| tok.feed(&[*b])).collect();
    assert_eq!(bytewise, whole);
}
