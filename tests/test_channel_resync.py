"""The AT channel under faults, against a fake module that misbehaves on purpose
(tests/fakemodule.py shares no code with lpwa): late answers, a reboot whose RDY
comes with a partial line, abandoned bodies, reboots inside a body, and bodies
that forge RDY. Issue 10 items 1, 4, 10, 11; each test says what main did before.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakemodule import Body, FakeModule
from lpwa import errors
from lpwa.at import ATChannel, Urc
from lpwa.files import checksum

ICCID = b"\r\n+QCCID: 89860000000000000001\r\n\r\nOK\r\n"
IMEI = b"\r\n867698040000001\r\n\r\nOK\r\n"


@contextmanager
def fake_channel() -> Iterator[tuple[ATChannel, FakeModule]]:
    fake = FakeModule()
    ch = ATChannel.open(fake.url)
    try:
        yield ch, fake
    finally:
        ch.close()
        fake.close()


def drain(q: queue.Queue[Urc]) -> list[Urc]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


@pytest.mark.parametrize("echo", [True, False])
def test_a_late_info_line_never_answers_the_next_command(echo: bool) -> None:
    # Before: AT+CGSN returned the +QCCID line of the command that timed out.
    with fake_channel() as (ch, fake):
        if not echo:
            ch.command("ATE0")
        fake.answers["AT+QCCID"] = lambda _: ICCID
        fake.answers["AT+CGSN"] = lambda _: IMEI
        fake.delays["AT+QCCID"] = 0.8
        with pytest.raises(errors.ATTimeout):
            ch.command("AT+QCCID", timeout=0.2)
        assert ch.command("AT+CGSN").lines == ("867698040000001",)
        assert fake.echo is echo  # the session's echo setting is restored
        assert ch.command("AT+QCCID").lines == ("+QCCID: 89860000000000000001",)


def test_a_late_cme_error_does_not_fail_the_next_command() -> None:
    # Before: the late +CME ERROR: 3 of AT+QIACT=1 failed AT+QHTTPCFG.
    with fake_channel() as (ch, fake):
        fake.answers["AT+QIACT"] = lambda _: b"\r\n+CME ERROR: 3\r\n"
        fake.delays["AT+QIACT"] = 0.8
        with pytest.raises(errors.ATTimeout):
            ch.command("AT+QIACT=1", timeout=0.2)
        assert ch.command('AT+QHTTPCFG="contextid",1').final == "OK"


def test_rdy_and_a_partial_boot_urc_in_one_read_lose_no_byte() -> None:
    # Before: the tokenizer reset at RDY dropped "\r\n+CF"; "UN: 1" came out.
    with fake_channel() as (ch, fake):
        ch.command("AT")
        fake.reboot(partial=b"\r\n+CF")
        assert ch.urcs.get(timeout=5).text == "RDY"
        fake.send(b"UN: 1\r\n")
        assert ch.urcs.get(timeout=5).text == "+CFUN: 1"
        assert ch.reboots == 1


HOSTILE = (
    b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    + b"\r\nRDY\r\n"
    + b'\r\n+QIURC: "pdpdeact",1\r\n'
    + b"\r\n+CME ERROR: 717\r\n"
)


def test_an_abandoned_body_leaves_data_mode_and_becomes_no_event() -> None:
    # Before: closing the stream read the whole body to its end (no +++).
    # (Without a length no framing is safe from a forged trailer: modem.http
    # reads such bodies through the UFS instead, see test_http_hostile.)
    body = (b"x" * 200 + HOSTILE) * 40
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.bodies["AT+QHTTPREAD"] = Body(body, gap=0.1)
        stream = ch.stream(
            "AT+QHTTPREAD=60",
            timeout=None,
            idle_timeout=62,
            body_length=len(body),
        )
        chunks = iter(stream)
        assert next(chunks)
        chunks.close()  # type: ignore[attr-defined]
        fake.answers["AT+CGSN"] = lambda _: IMEI
        assert ch.command("AT+CGSN").lines == ("867698040000001",)
        assert fake.escapes == 1
        assert ch.reboots == 0
        assert [u for u in drain(ch.urcs)] == []


def test_a_reboot_inside_a_body_is_proven_by_a_probe_not_by_bytes() -> None:
    # Before: found only when <wait_time> of silence ran out (here 60 s).
    body = bytes(range(256)) * 64
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.bodies["AT+QHTTPREAD"] = Body(body, reboot_at=5000)
        with pytest.raises(errors.ModuleRebooted):
            ch.command("AT+QHTTPREAD=60", timeout=None, idle_timeout=60, body_length=len(body))
        assert ch.reboots == 1
        names = [u.text for u in drain(ch.urcs)]
        assert names == ["RDY", "+CFUN: 1", "+CPIN: READY"]
        fake.answers["AT+CGSN"] = lambda _: IMEI
        assert ch.command("AT+CGSN").lines == ("867698040000001",)


def test_a_body_that_forges_rdy_and_stalls_is_returned_whole() -> None:
    # A server sends RDY-shaped bytes, then pauses longer than the probe delay.
    body = b"a" * 1000 + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n" + b"b" * 1000
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.bodies["AT+QHTTPREAD"] = Body(body, stall_at=1030, stall=3.0)
        reply = ch.command("AT+QHTTPREAD=60", timeout=None, idle_timeout=60, body_length=len(body))
        assert reply.body == body
        assert ch.reboots == 0
        assert drain(ch.urcs) == []
        # The probe reached a module in data mode; its late answer must not
        # become the next command's.
        fake.answers["AT+CGSN"] = lambda _: IMEI
        assert ch.command("AT+CGSN").lines == ("867698040000001",)


# -- any interleaving ------------------------------------------------------------

STEP = st.tuples(
    st.sampled_from([0.0, 0.0, 0.05, 0.5]),  # the module's delay
    st.booleans(),  # a URC just before the answer
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=6), st.booleans())
def test_any_interleaving_gives_each_command_its_own_answer(
    steps: list[tuple[float, bool]], echo: bool
) -> None:
    """Commands, timeouts, late answers and URCs: an answer is its command's own,
    and every URC arrives once, in order."""
    with fake_channel() as (ch, fake):
        if not echo:
            ch.command("ATE0")
        plan = dict(enumerate(steps))
        sent_urcs: list[str] = []

        def answer(line: str) -> bytes:
            n = int(line.split("=")[1])
            _, urc = plan[n]
            out = b""
            if urc:
                text = f'+QIURC: "recv",{n}'
                sent_urcs.append(text)
                out += b"\r\n" + text.encode() + b"\r\n"
            return out + b"\r\n+QTEST: %d\r\n\r\nOK\r\n" % n

        fake.answers["AT+QTEST"] = answer
        for n, (delay, _) in plan.items():
            fake.delays["AT+QTEST"] = delay
            try:
                reply = ch.command(f"AT+QTEST={n}", timeout=0.25)
            except errors.ATTimeout:
                continue
            assert reply.lines == (f"+QTEST: {n}",)
        ch.command("AT")  # the last late answer, if any, is resynchronised away
        got = [u.text for u in drain(ch.urcs)]
        assert got == sent_urcs


def test_a_read_that_breaks_inside_its_length_raises_the_modules_error() -> None:
    # Within a known length the 717 trailer is body (a server could send it); the
    # stall after it is probed, and only the module can echo the probe.
    body = bytes(range(256)) * 64
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.bodies["AT+QHTTPREAD"] = Body(body, end_at=3000)
        with pytest.raises(errors.HTTPSocketReadError):
            ch.command("AT+QHTTPREAD=60", timeout=None, idle_timeout=60, body_length=len(body))
        assert ch.reboots == 0
        fake.answers["AT+CGSN"] = lambda _: IMEI
        assert ch.command("AT+CGSN").lines == ("867698040000001",)
        assert fake.echo is False


def test_a_body_that_forges_a_717_trailer_and_stalls_is_returned_whole() -> None:
    body = b"a" * 1000 + b"\r\nOK\r\n\r\n+QHTTPREAD: 717\r\n" + b"b" * 1000
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.bodies["AT+QHTTPREAD"] = Body(body, stall_at=1030, stall=4.5)
        reply = ch.command("AT+QHTTPREAD=60", timeout=None, idle_timeout=60, body_length=len(body))
        assert reply.body == body
        fake.answers["AT+CGSN"] = lambda _: IMEI
        assert ch.command("AT+CGSN").lines == ("867698040000001",)
        assert drain(ch.urcs) == []


def test_urcs_flow_after_a_stream_closed_once_its_final_had_come() -> None:
    # Review finding: the final was already queued when the stream was closed;
    # the channel then dropped every later URC until some command resynced.
    data = b"0123456789"
    qfdwl = b"\r\nCONNECT\r\n" + data + b"\r\n+QFDWL: 10,%s\r\n\r\nOK\r\n" % checksum(data).encode()
    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.answers["AT+QFDWL"] = lambda _: qfdwl
        stream = iter(ch.stream('AT+QFDWL="a.bin"', timeout=5))
        assert next(stream) == data
        time.sleep(0.3)  # the trailer and OK arrive meanwhile, unread
        stream.close()  # type: ignore[attr-defined]
        fake.urc('+QIURC: "pdpdeact",1')
        assert ch.urcs.get(timeout=5).text == '+QIURC: "pdpdeact",1'


def test_a_marker_whose_final_comes_late_is_no_proof() -> None:
    # Review finding: the echo came, its OK only after the wait; the late OK
    # then answered the next command (which the module refuses).
    late = [1.8]

    def qflst(_: str) -> bytes:
        if late:
            time.sleep(late.pop())
        return b"\r\nOK\r\n"

    with fake_channel() as (ch, fake):
        ch.command("ATE0")
        fake.answers["AT+QFLST"] = qflst
        fake.answers["AT+QFDEL"] = lambda _: b"\r\n+CME ERROR: 405\r\n"
        fake.delays["AT+QIACT"] = 0.5
        with pytest.raises(errors.ATTimeout):
            ch.command("AT+QIACT=1", timeout=0.2)
        with pytest.raises(errors.CMEError):
            ch.command('AT+QFDEL="x"')
