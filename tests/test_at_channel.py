"""The AT channel over a real socket and a real pty, against a scripted module peer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lpwa import errors
from lpwa.at import ATChannel, Urc
from peer import ScriptedModule, Step


@contextmanager
def channel(
    steps: list[Step], *, link: str = "socket"
) -> Iterator[tuple[ATChannel, ScriptedModule]]:
    peer = ScriptedModule(steps)
    url = peer.serve_socket() if link == "socket" else peer.serve_pty()
    ch = ATChannel.open(url)
    try:
        yield ch, peer
    finally:
        ch.close()
        peer.stop()
        peer.join()
    assert not peer.errors, peer.errors


@pytest.mark.parametrize("link", ["socket", "pty"])
def test_command_with_echo_on_returns_ok(link: str) -> None:
    with channel([("expect", b"AT\r"), ("send", b"AT\r\r\nOK\r\n")], link=link) as (ch, _):
        reply = ch.command("AT")
    assert reply.final == "OK"
    assert reply.lines == ()


@pytest.mark.parametrize("link", ["socket", "pty"])
def test_information_line_then_blank_line_then_ok(link: str) -> None:
    steps: list[Step] = [("expect", b"AT+CPIN?\r"), ("send", b"\r\n+CPIN: READY\r\n\r\nOK\r\n")]
    with channel(steps, link=link) as (ch, _):
        reply = ch.command("AT+CPIN?")
    assert reply.lines == ("+CPIN: READY",)
    assert reply.fields("+CPIN") == ["READY"]


def test_consecutive_info_lines_and_quoted_fields() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QIACT?\r"),
        ("send", b'\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n+QIACT: 2,1,1,"10.7.157.2"\r\n\r\nOK\r\n'),
    ]
    with channel(steps) as (ch, _):
        reply = ch.command("AT+QIACT?")
    assert reply.all_fields("+QIACT") == [
        ["1", "1", "1", "10.7.157.1"],
        ["2", "1", "1", "10.7.157.2"],
    ]


def test_cme_error_raises_the_typed_http_error() -> None:
    steps: list[Step] = [("expect", b"AT+QHTTPGET=80\r"), ("send", b"\r\n+CME ERROR: 714\r\n")]
    with channel(steps) as (ch, _), pytest.raises(errors.HTTPDNSError) as info:
        ch.command("AT+QHTTPGET=80")
    assert info.value.code == 714


def test_plain_error_raises_command_error() -> None:
    steps: list[Step] = [("expect", b"AT+BOGUS\r"), ("send", b"\r\nERROR\r\n")]
    with channel(steps) as (ch, _), pytest.raises(errors.CommandError) as info:
        ch.command("AT+BOGUS")
    assert info.value.result == "ERROR"
    assert not isinstance(info.value, errors.CMEError)


def test_host_data_is_written_after_connect_exactly() -> None:
    url = b"http://127.0.0.1:8080/a"
    steps: list[Step] = [
        ("expect", b"AT+QHTTPURL=23,80\r"),
        ("send", b"\r\nCONNECT\r\n"),
        ("read", len(url)),
        ("send", b"\r\nOK\r\n"),
    ]
    with channel(steps) as (ch, peer):
        reply = ch.command("AT+QHTTPURL=23,80", data=url)
    assert peer.data == [url]
    assert reply.final == "OK"


def test_prompt_data_is_written_after_the_prompt() -> None:
    payload = b"Hello\r\nCoAP\x00\x1a!"
    steps: list[Step] = [
        ("expect", b"AT+QCOAPSEND=0,1,2,1,14\r"),
        ("send", b"\r\n> "),
        ("read", len(payload)),
        ("send", b"\r\nOK\r\n"),
    ]
    with channel(steps) as (ch, peer):
        ch.command("AT+QCOAPSEND=0,1,2,1,14", data=payload)
    assert peer.data == [payload]


def test_body_containing_ok_lines_arrives_intact() -> None:
    body = b"a\r\nOK\r\nb\r\nOK\r\n\r\n+QHTTPREAD: 0\r\nc"
    steps: list[Step] = [
        ("expect", b"AT+QHTTPREAD=80\r"),
        ("send", b"\r\nCONNECT\r\n" + body + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"),
    ]
    with channel(steps) as (ch, _):
        reply = ch.command("AT+QHTTPREAD=80", body_length=len(body))
    assert reply.body == body
    assert reply.body_code == 0


def test_body_chunks_stream_to_on_body() -> None:
    body = bytes(range(256)) * 512
    steps: list[Step] = [
        ("expect", b"AT+QHTTPREAD=80\r"),
        ("send", b"\r\nCONNECT\r\n" + body[:40000]),
        ("sleep", 0.05),
        ("send", body[40000:] + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"),
    ]
    chunks: list[bytes] = []
    with channel(steps) as (ch, _):
        reply = ch.command("AT+QHTTPREAD=80", on_body=chunks.append)
    assert b"".join(chunks) == body
    assert len(chunks) >= 2
    assert reply.body is None


def test_broken_read_raises_with_the_module_code() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QHTTPREAD=80\r"),
        ("send", b"\r\nCONNECT\r\npartial\r\n+CME ERROR: 717\r\n"),
    ]
    # Without a known length; within one, those bytes would be body (issue 10).
    with channel(steps) as (ch, _), pytest.raises(errors.HTTPSocketReadError):
        ch.command("AT+QHTTPREAD=80")


def test_urc_before_the_echo_is_a_urc_and_the_read_still_works() -> None:
    # Captured on a real BG95 (design §2).
    steps: list[Step] = [
        ("expect", b"AT+QHTTPREAD=60\r"),
        ("send", b"\r\n+QHTTPPOST: 0,200\r\nAT+QHTTPREAD=60\r\r\nCONNECT\r\nhello"),
        ("send", b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"),
    ]
    with channel(steps) as (ch, _):
        reply = ch.command("AT+QHTTPREAD=60")
        urc = ch.urcs.get(timeout=2)
    assert reply.body == b"hello"
    assert urc.name == "+QHTTPPOST"
    assert urc.fields == ["0", "200"]


def test_urcs_reach_queue_and_subscribers_in_order() -> None:
    urcs = [b'\r\n+QIURC: "pdpdeact",%d\r\n' % i for i in range(50)]
    steps: list[Step] = [
        ("expect", b"AT\r"),
        ("send", b"".join(urcs[:25]) + b"\r\nOK\r\n" + b"".join(urcs[25:])),
    ]
    seen: list[Urc] = []
    done = threading.Event()

    def on_urc(urc: Urc) -> None:
        seen.append(urc)
        if len(seen) == 50:
            done.set()

    with channel(steps) as (ch, _):
        ch.subscribe(on_urc)
        ch.command("AT")
        queued = [ch.urcs.get(timeout=2) for _ in range(50)]
        assert done.wait(2)
    expected = [["pdpdeact", str(i)] for i in range(50)]
    assert [u.fields for u in queued] == expected
    assert [u.fields for u in seen] == expected


def test_a_waiter_claims_its_urc_and_the_queue_keeps_the_rest() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QHTTPGET=80\r"),
        ("send", b"\r\nOK\r\n"),
        ("send", b'\r\n+QIURC: "pdpdeact",1\r\n\r\n+QHTTPGET: 0,200,547256\r\n'),
    ]
    with channel(steps) as (ch, _):
        with ch.expect_urc("+QHTTPGET") as waiter:
            ch.command("AT+QHTTPGET=80")
            urc = waiter.wait(2)
        other = ch.urcs.get(timeout=2)
    assert urc.fields == ["0", "200", "547256"]
    assert other.name == "+QIURC"
    assert ch.urcs.empty()


def test_a_urc_claimed_after_the_wait_gave_up_goes_back_to_the_queue() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QHTTPGET=80\r"),
        ("send", b"\r\nOK\r\n"),
        ("sleep", 0.4),
        ("send", b"\r\n+QHTTPGET: 0,200,10\r\n"),
        ("expect", b"AT\r"),
        ("send", b"\r\nOK\r\n"),
    ]
    with channel(steps) as (ch, _):
        with ch.expect_urc("+QHTTPGET") as waiter:
            ch.command("AT+QHTTPGET=80")
            with pytest.raises(errors.ATTimeout):
                waiter.wait(0.1)
            time.sleep(0.6)  # the URC arrives while the waiter is still registered
        ch.command("AT")
        late = ch.urcs.get(timeout=2)
    assert late.fields == ["0", "200", "10"]


def test_no_final_within_the_timeout_raises_at_timeout() -> None:
    with channel([("expect", b"AT+QIACT=1\r")]) as (ch, _), pytest.raises(errors.ATTimeout):
        ch.command("AT+QIACT=1", timeout=0.3)


def test_idle_timeout_fires_on_a_stalled_body_not_before() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QHTTPREAD=1\r"),
        ("send", b"\r\nCONNECT\r\nabc"),
        ("sleep", 0.3),
        ("send", b"def"),
    ]
    with channel(steps) as (ch, _), pytest.raises(errors.ATTimeout) as info:
        ch.command("AT+QHTTPREAD=1", timeout=None, idle_timeout=0.6, body_length=10)
    assert "silent" in str(info.value)


def test_reboot_mid_command_raises_module_rebooted() -> None:
    steps: list[Step] = [
        ("expect", b"AT+QIACT=1\r"),
        ("send", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n"),
    ]
    with channel(steps) as (ch, _):
        with pytest.raises(errors.ModuleRebooted):
            ch.command("AT+QIACT=1", timeout=3)
        assert ch.reboots == 1
        names = [ch.urcs.get(timeout=2).name for _ in range(2)]
    assert names == ["RDY", "+CFUN"]


def test_lost_link_fails_the_command_and_every_later_one() -> None:
    with channel([("expect", b"AT+QIACT=1\r"), ("close", None)]) as (ch, _):
        with pytest.raises(errors.TransportError):
            ch.command("AT+QIACT=1", timeout=3)
        with pytest.raises(errors.TransportError):
            ch.command("AT")


def test_garbage_is_reported_not_dropped() -> None:
    steps: list[Step] = [("expect", b"AT\r"), ("send", b"\r\n\x00\xff\x07junk\r\n\r\nOK\r\n")]
    with channel(steps) as (ch, _):
        ch.command("AT")
        urc = ch.urcs.get(timeout=2)
    assert urc.invalid
    assert "junk" in urc.text


def test_loop_url_transport_carries_bytes_both_ways() -> None:
    # loop:// returns what is written: a URC written raw comes back as a URC.
    with ATChannel.open("loop://") as ch:
        ch.write_raw(b'\r\n+QIURC: "pdpdeact",1\r\n')
        urc = ch.urcs.get(timeout=2)
    assert urc.fields == ["pdpdeact", "1"]


def test_unopenable_port_raises_transport_error() -> None:
    with pytest.raises(errors.TransportError):
        ATChannel.open("/dev/nonexistent-lpwa-port")
