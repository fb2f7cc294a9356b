"""Smoke check of an installed lpwa wheel, run by .ci/wheels on the wheel's own CPU
(an ARM CPython under qemu user-mode emulation): the package and its Rust
extension come from the install directory, the extension is an ELF for the
expected machine, and the tokenizer frames the spec's bytes the same way whole
and split one byte at a time.

Usage: python wheel_smoke.py SITE_DIR MACHINE   (MACHINE as platform.machine()
prints it: aarch64, armv7l, x86_64). Stdlib only; prints one line and exits 0.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

# ELF e_machine for each platform.machine() name.
E_MACHINE = {"x86_64": 62, "aarch64": 183, "armv7l": 40}


def fail(message: str) -> None:
    print(f"wheel_smoke: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    site, machine = Path(sys.argv[1]).resolve(), sys.argv[2]
    if platform.machine() != machine:
        fail(f"running on {platform.machine()}, expected {machine}")

    import lpwa
    from lpwa import _lpwa
    from lpwa.tokenizer import Event, Tokenizer

    for module in (lpwa, _lpwa):
        where = Path(module.__file__ or "").resolve()
        if site not in where.parents:
            fail(f"{module.__name__} imported from {where}, not from {site}")
    header = Path(_lpwa.__file__ or "").read_bytes()[:20]
    found = int.from_bytes(header[18:20], "little")
    if header[:4] != b"\x7fELF" or found != E_MACHINE[machine]:
        fail(f"{_lpwa.__file__} is not an ELF for {machine} (e_machine {found})")

    # The spec's QHTTPREAD session (echo on), then a +QCOAPRECV whose binary
    # payload holds CR LF "OK" CR LF: the bytes a module sends, the events expected.
    read = b"AT+QHTTPREAD=80\r\r\nCONNECT\r\nhello\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    recv_line = b"+QCOAPRECV: 0,1234,2.05,4,A1B2C3D4,0,10"
    payload = b"\x00\r\nOK\r\n\x1a\x1b\xff"
    stream = read + b"\r\n" + recv_line + b"\r\n" + payload
    expected = [
        Event("echo", b"AT+QHTTPREAD=80"),
        Event("connect", b"CONNECT"),
        Event("body", b"hello", code=0),
        Event("final", b"OK"),
        Event("urc", recv_line, payload=payload),
    ]
    for chunk in (len(stream), 1):
        tok = Tokenizer()
        tok.sent(b"AT+QHTTPREAD=80\r", body_length=5)
        events = [e for i in range(0, len(stream), chunk) for e in tok.feed(stream[i : i + chunk])]
        if events != expected:
            fail(f"split {chunk}: {events!r}")
        if tok.in_flight is not None or tok.buffered != 0:
            fail(f"split {chunk}: tokenizer not idle ({tok.in_flight!r}, {tok.buffered})")

    print(
        f"wheel_smoke: lpwa {lpwa.__version__} on {platform.machine()} "
        f"(CPython {platform.python_version()}): {len(expected)} events, whole and "
        "byte by byte, as expected"
    )


if __name__ == "__main__":
    main()
