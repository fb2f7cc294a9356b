//! `lpwa trace` on a regular file, two blocks at a time on two cores.
//!
//! A capture is one sequential state machine, so the second block of each
//! pair is decoded *speculatively*: from a fresh decoder, as if the first
//! block ended at an idle point (blocks are cut right after an `OK` line,
//! where a capture usually is idle). When the first block is done, its end
//! state is compared with the guess, field for field: equal, the second
//! block's output and counts are exactly what sequential decoding gives and
//! are used; different, the second block is decoded again from the true
//! state. Either way the output is byte-identical to [`crate::trace::run`];
//! memory stays bounded by two blocks' output. Pipes, small files and
//! one-core machines take the sequential path.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use memchr::memmem;

use crate::dialect::Dialect;
use crate::trace::{self, Output, Stats, Trace, READ_SIZE};

/// Input bytes per block.
const BLOCK: u64 = 4 << 20;
/// How far past a block's nominal end to look for an idle point.
const LOOKAHEAD: usize = 256 << 10;

/// Run `lpwa trace` on `file` (from its current offset) to `output`; see
/// [`crate::trace::run`] for `interrupted`. Returns the counts.
/// Logs of other dialects than raw (given, or detected from the first
/// bytes) are decoded sequentially ([`trace::run_log`]). Returns the counts
/// and the dialect.
pub fn run_file<W: Write>(
    file: &File,
    output: W,
    mode: Output,
    dialect: Option<Dialect>,
    interrupted: impl FnMut() -> io::Result<()>,
) -> io::Result<(Stats, Dialect)> {
    let dialect = match dialect {
        Some(d) => Some(d),
        None => peek_dialect(file)?,
    };
    match dialect {
        Some(Dialect::Raw) => {
            run_blocks(file, output, mode, interrupted, BLOCK).map(|(s, _)| (s, Dialect::Raw))
        }
        other => trace::run_log(file, output, mode, other, interrupted),
    }
}

/// The dialect of a regular file from its first bytes (read without moving
/// the offset); None for anything else (a pipe: the first read decides).
fn peek_dialect(file: &File) -> io::Result<Option<Dialect>> {
    let mut reader = file;
    let (Ok(pos), true) = (reader.stream_position(), file.metadata()?.is_file()) else {
        return Ok(None);
    };
    let mut head = vec![0u8; READ_SIZE];
    let n = read_at(file, &mut head, pos)?;
    Ok((n > 0).then(|| Dialect::detect(&head[..n])))
}

/// How the speculation went: second blocks used, and decoded again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Speculation {
    used: u32,
    redone: u32,
}

fn run_blocks<W: Write>(
    file: &File,
    mut output: W,
    mode: Output,
    mut interrupted: impl FnMut() -> io::Result<()>,
    block: u64,
) -> io::Result<(Stats, Speculation)> {
    let mut speculation = Speculation::default();
    let sequential = |output, interrupted| {
        trace::run(file, output, mode, interrupted).map(|stats| (stats, Speculation::default()))
    };
    let start_time = Instant::now();
    let meta = file.metadata()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut reader = file;
    let start = match reader.stream_position() {
        Ok(pos) if meta.is_file() => pos,
        _ => return sequential(output, interrupted),
    };
    let size = meta.len();
    if cores < 2 || size.saturating_sub(start) < 4 * block {
        return sequential(output, interrupted);
    }
    let mut trace = Trace::new(mode);
    let mut out = Vec::new();
    let mut pos = start;
    while pos < size {
        let first_end = idle_point(file, pos + block, size)?;
        if first_end >= size {
            decode_range(&mut trace, file, pos, size, &mut out)?;
            trace::write_retrying(&mut output, &out, &mut interrupted)?;
            out.clear();
            pos = size;
            break;
        }
        let second_end = idle_point(file, first_end + block, size)?;
        let guess = trace.speculate();
        let (first, second) = std::thread::scope(|scope| {
            let mut next = guess.clone();
            let helper = scope.spawn(move || {
                let mut next_out = Vec::new();
                decode_range(&mut next, file, first_end, second_end, &mut next_out)
                    .map(|()| (next, next_out))
            });
            let first = decode_range(&mut trace, file, pos, first_end, &mut out);
            let second = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (first, second)
        });
        first?;
        trace::write_retrying(&mut output, &out, &mut interrupted)?;
        out.clear();
        pos = first_end;
        if trace.decoder().same_state(guess.decoder()) {
            let (next, next_out) = second?;
            trace::write_retrying(&mut output, &next_out, &mut interrupted)?;
            trace.adopt(next);
            pos = second_end;
            speculation.used += 1;
        } else {
            speculation.redone += 1;
        }
    }
    // Bytes appended since the size was taken (a capture still being written).
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let n = read_at(file, &mut buf, pos)?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        trace.feed(&buf[..n], &mut out);
        trace::write_retrying(&mut output, &out, &mut interrupted)?;
        out.clear();
    }
    trace.finish(&mut out, start_time.elapsed().as_secs_f64());
    trace::write_retrying(&mut output, &out, &mut interrupted)?;
    // Leave the offset where sequential reading would have left it.
    reader.seek(SeekFrom::Start(pos))?;
    Ok((trace.stats().clone(), speculation))
}

/// Decode `file[from..to]` into `trace`, appending output to `out`.
fn decode_range(
    trace: &mut Trace,
    file: &File,
    mut from: u64,
    to: u64,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    while from < to {
        let want = (to - from).min(READ_SIZE as u64) as usize;
        let n = read_at(file, &mut buf[..want], from)?;
        if n == 0 {
            break; // the file shrank: what is there is all there is
        }
        trace.feed(&buf[..n], out);
        from += n as u64;
    }
    Ok(())
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Where to cut near `nominal`: right after the first `\r\nOK\r\n` line at or
/// past it (and after a `+QHTTPREAD: <err>` line that follows it), else
/// `nominal` itself. Only a guess: the state comparison decides.
fn idle_point(file: &File, nominal: u64, size: u64) -> io::Result<u64> {
    if nominal >= size {
        return Ok(size);
    }
    let mut window = vec![0u8; LOOKAHEAD.min((size - nominal) as usize)];
    let mut filled = 0;
    while filled < window.len() {
        let n = read_at(file, &mut window[filled..], nominal + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let window = &window[..filled];
    let Some(ok) = memmem::find(window, b"\r\nOK\r\n") else {
        return Ok(nominal);
    };
    let mut cut = ok + 6;
    if window[cut..].starts_with(b"\r\n+QHTTPREAD: ") {
        if let Some(end) = memmem::find(&window[cut + 2..], b"\r\n") {
            cut += 2 + end + 2;
        }
    }
    Ok(nominal + cut as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const TEST_BLOCK: u64 = 256 << 10;

    fn sequential(capture: &[u8], mode: Output) -> Vec<u8> {
        let mut out = Vec::new();
        trace::run(capture, &mut out, mode, || Ok(())).unwrap();
        out
    }

    fn by_blocks(capture: &[u8], mode: Output) -> (Vec<u8>, Speculation) {
        let dir = std::env::temp_dir().join(format!("lpwa-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{mode:?}.bin"));
        std::fs::write(&path, capture).unwrap();
        let file = File::open(&path).unwrap();
        let mut out = Vec::new();
        let (_, speculation) = run_blocks(&file, &mut out, mode, || Ok(()), TEST_BLOCK).unwrap();
        let mut rest = Vec::new();
        (&file).read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the offset is left at the end");
        std::fs::remove_file(&path).unwrap();
        (out, speculation)
    }

    fn without_clock(out: Vec<u8>) -> String {
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .filter(|l| !l.contains("\"seconds\"") && !l.contains("\"mb_per_s\""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Idle stretches, and bodies that straddle block ends, are sent with
    /// headers (responseheader set once for the whole capture) and hold
    /// `\r\nOK\r\n` (a wrong idle point); a CoAP payload holding one too.
    fn capture(blocks: u64) -> Vec<u8> {
        let mut capture = b"AT+QHTTPCFG=\"responseheader\",1\r\r\nOK\r\n".to_vec();
        let mut i = 0u64;
        while (capture.len() as u64) < blocks * TEST_BLOCK {
            let body_len = 300 + (i * 7919) % 20_000;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n");
            capture.extend_from_slice(b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,9\r\n");
            capture.extend_from_slice(b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n");
            capture.extend_from_slice(head.as_bytes());
            capture.extend((0..body_len).map(|k| b"\r\nOK\r\nxy"[(k % 8) as usize]));
            capture.extend_from_slice(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n");
            for _ in 0..(i % 7) * 400 {
                capture.extend_from_slice(b"\r\n+CEREG: 1\r\nAT+CSQ\r\r\n+CSQ: 9,9\r\n\r\nOK\r\n");
            }
            capture.extend_from_slice(b"\r\n+QCOAPRECV: 0,1,2.05,2,ab,1,\"x\",6\r\n\r\nOK\r\n");
            i += 1;
        }
        capture
    }

    #[test]
    fn blocks_decode_byte_identically_to_one_sequential_pass() {
        let capture = capture(12);
        for mode in [Output::Json { brief: false }, Output::Stats] {
            let expected = sequential(&capture, mode);
            let (got, speculation) = by_blocks(&capture, mode);
            if mode == Output::Stats {
                assert_eq!(without_clock(got), without_clock(expected));
            } else {
                assert_eq!(got, expected);
            }
            // Both paths were taken (on a machine with two cores).
            if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
                assert!(speculation.used > 0, "{speculation:?}");
                assert!(speculation.redone > 0, "{speculation:?}");
            }
        }
    }
}
