//! Fuzz the tokenizer: arbitrary bytes, arbitrary split points, `sent()` calls
//! between reads. Asserts no panic, and that the split changes nothing (the
//! same events, in_flight and buffered as feeding each read whole), and that
//! streamed bodies concatenate to the same bodies.
//!
//! Run: `cargo +nightly fuzz run tokenizer` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpwa::{Config, Kind, OwnedEvent, Tokenizer};

const COMMANDS: &[&[u8]] = &[
    b"AT+QHTTPREAD=80\r",
    b"AT+QFDWL=\"a.bin\"\r",
    b"AT+QFREAD=1027,100\r",
    b"AT+QIRD=0,1500\r",
    b"AT+QCOAPSEND=0,1,2,1,5\r",
    b"ATI\r",
    b"AT+CPIN?\r",
    b"hello",
];

/// The input, cut into steps: a control byte chooses the command `sent()`
/// before each read, its body_length and response_header, and the read's
/// length and split points.
struct Step<'a> {
    command: &'a [u8],
    body_length: Option<u64>,
    response_header: bool,
    read: &'a [u8],
    cuts: Vec<usize>,
}

fn steps(mut data: &[u8]) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    while data.len() >= 3 {
        let (c, l, n) = (data[0], data[1], data[2] as usize);
        data = &data[3..];
        let n = n.min(data.len());
        let (read, rest) = data.split_at(n);
        data = rest;
        // Split points derived from the read's own bytes (varied, reproducible).
        let cuts = read
            .iter()
            .enumerate()
            .filter(|(i, b)| (**b as usize + i) % (1 + (l as usize % 7)) == 0)
            .map(|(i, _)| i)
            .collect();
        out.push(Step {
            command: COMMANDS[c as usize % COMMANDS.len()],
            body_length: (l & 0x80 != 0).then_some(u64::from(l & 0x3f)),
            response_header: l & 0x40 != 0,
            read,
            cuts,
        });
    }
    out
}

fn run(
    config: Config,
    steps: &[Step<'_>],
    split: bool,
) -> (Vec<OwnedEvent>, Option<String>, usize) {
    let mut tok = Tokenizer::new(config);
    let mut events = Vec::new();
    for step in steps {
        tok.sent(step.command, step.body_length, step.response_header);
        if split {
            let mut last = 0;
            for &cut in step.cuts.iter().chain([&step.read.len()]) {
                events.extend(tok.feed(&step.read[last..cut]));
                last = cut;
            }
        } else {
            events.extend(tok.feed(step.read));
        }
    }
    (events, tok.in_flight().map(str::to_owned), tok.buffered())
}

/// Join each body's chunks; drop a body still open at the end (how much of it
/// was emitted depends on the mode).
fn merged(events: Vec<OwnedEvent>) -> Vec<OwnedEvent> {
    let mut out: Vec<OwnedEvent> = Vec::new();
    let mut open = false;
    for e in events {
        let more = e.kind == Kind::Body && e.more;
        match out.last_mut() {
            Some(last) if open && e.kind == Kind::Body => {
                last.data.extend_from_slice(&e.data);
                last.code = e.code;
                last.more = e.more;
            }
            _ => out.push(e),
        }
        open = more;
    }
    if open {
        out.pop();
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&limits, data)) = data.split_first() else {
        return;
    };
    let config = Config {
        max_line: 1 + usize::from(limits & 0x1f),
        max_body: 1 + usize::from(limits >> 5) * 9,
        stream_bodies: false,
    };
    let steps = steps(data);
    let whole = run(config, &steps, false);
    let split = run(config, &steps, true);
    assert_eq!(whole, split);
    let streamed = run(
        Config {
            stream_bodies: true,
            ..config
        },
        &steps,
        true,
    );
    assert!(streamed.0.iter().all(|e| e.kind == Kind::Body || !e.more));
    assert_eq!(merged(streamed.0), merged(whole.0));
});
