"""Deterministic module→host captures for ``bench_trace.py`` (echo on, as a fleet
collector archives them): the same seed and size give the same bytes.

``urc``: URC-heavy — network, socket, SMS and CoAP URCs (``+QCOAPRECV`` with
binary payloads) in bursts between short command exchanges, with a small HTTP
read now and then. ``download``: download-heavy — HTTP GETs whose bodies
(16 KiB to 1 MiB, binary or text) are read with ``AT+QHTTPREAD`` and framed by the
announced length, with a few URCs between them.

Run: ``python benches/gen_captures.py urc|download OUT [--mb 100] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

URCS = (
    b'+QIURC: "pdpdeact",1',
    b'+QIURC: "recv",0,128',
    b'+CEREG: 5,"1A2B","01C2D3E4",9',
    b"+CEREG: 1",
    b"+QIND: SMS DONE",
    b'+QIND: "csq",20,99',
    b"+CPIN: READY",
    b'+QNTP: 0,"2026/12/01,04:42:58+00"',
    b'+QMTRECV: 0,1,"fleet/42/cmd","{\\"op\\":\\"ping\\"}"',
    b"+QPSMTIMER: 60,3600",
)
EXCHANGES = (
    b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
    b'AT+QIACT?\r\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n\r\nOK\r\n',
    b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n",
    b"ATI\r\r\nQuectel\r\nBG95-M3\r\nRevision: BG95M3LAR02A03\r\n\r\nOK\r\n",
    b"AT+QCOAPSEND=0,0,1,0\r\r\n> \r\nOK\r\n\r\n+QCOAPACK: 0,2,1234,0\r\n",
    b'AT+CEREG?\r\r\n+CEREG: 2,1,"1A2B","01C2D3E4",9\r\n\r\nOK\r\n',
)


def _http_read(rng: random.Random, body: bytes) -> bytes:
    return (
        b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,%d\r\n" % len(body)
        + b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n"
        + body
        + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    )


def _urc_heavy(rng: random.Random) -> Iterator[bytes]:
    while True:
        for _ in range(rng.randrange(2, 12)):
            yield b"\r\n" + rng.choice(URCS) + b"\r\n"
        if rng.random() < 0.3:
            payload = rng.randbytes(rng.randrange(0, 96))
            yield (
                b'\r\n+QCOAPRECV: 0,%d,2.05,2,ab12,1,"11:sensors",%d\r\n'
                % (
                    rng.randrange(65536),
                    len(payload),
                )
                + payload
            )
        yield rng.choice(EXCHANGES)
        if rng.random() < 0.02:
            yield _http_read(rng, rng.randbytes(rng.randrange(64, 2048)))


def _download_heavy(rng: random.Random) -> Iterator[bytes]:
    text = b"".join(b"%08d,sensor-%d,%.3f\n" % (i, i % 97, i * 0.25) for i in range(40_000))
    while True:
        for _ in range(rng.randrange(0, 4)):
            yield b"\r\n" + rng.choice(URCS) + b"\r\n"
        size = rng.randrange(16 << 10, 1 << 20)
        if rng.random() < 0.5:
            body = rng.randbytes(size)
        else:
            start = rng.randrange(len(text) - size)
            body = text[start : start + size]
        yield _http_read(rng, body)
        yield rng.choice(EXCHANGES)


KINDS = {"urc": _urc_heavy, "download": _download_heavy}


def write_capture(path: Path, kind: str, size: int, seed: int = 1) -> int:
    """Write about ``size`` bytes (whole exchanges) of a ``kind`` capture; the size."""
    rng = random.Random(f"{kind}-{seed}")
    written = 0
    with path.open("wb") as out:
        buffered: list[bytes] = []
        pending = 0
        for part in KINDS[kind](rng):
            buffered.append(part)
            pending += len(part)
            if pending >= 1 << 20 or written + pending >= size:
                out.write(b"".join(buffered))
                written += pending
                buffered, pending = [], 0
                if written >= size:
                    break
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(write_capture(args.out, args.kind, int(args.mb * 1e6), args.seed))


if __name__ == "__main__":
    main()
