"""CoAP codec throughput: lpwa.coap against aiocoap on the same message, in one group.

Run: ``pytest benches/bench_coap.py --benchmark-group-by=group``. Each round encodes a
CON GET with two Uri-Path segments, a Content-Format and a 20-byte payload, then
decodes the bytes; ``extra_info["msgs_per_s"]`` is encode+decode pairs per second.
The target is lpwa at least 4x aiocoap.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import aiocoap
import pytest

from lpwa.coap import Code, ContentFormat, Message, Type

PAYLOAD = b"temperature=21.5C;ok"  # 20 bytes
TOKEN = b"\x5a\x17"
MID = 0x1234


def lpwa_message() -> Message:
    return Message.request(
        Code.GET,
        "sensors/temp",
        type=Type.CON,
        mid=MID,
        token=TOKEN,
        content_format=ContentFormat.JSON,
        payload=PAYLOAD,
    )


def aiocoap_message() -> aiocoap.Message:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        msg = aiocoap.Message(code=aiocoap.Code.GET, payload=PAYLOAD)
    msg.mtype = aiocoap.Type.CON
    msg.mid = MID
    msg.token = TOKEN
    msg.opt.uri_path = ("sensors", "temp")
    msg.opt.content_format = aiocoap.numbers.ContentFormat(50)
    return msg


def test_both_encode_the_same_bytes() -> None:
    assert lpwa_message().encode() == aiocoap_message().encode()


def _record(benchmark: Any) -> None:
    stats = benchmark.stats.stats if benchmark.stats is not None else None
    if stats is not None and stats.mean > 0:
        benchmark.extra_info["msgs_per_s"] = round(1.0 / stats.mean)


def _run(benchmark: Any, roundtrip: Callable[[], object]) -> None:
    benchmark.group = "coap encode+decode"
    benchmark(roundtrip)
    _record(benchmark)


@pytest.mark.benchmark(group="coap encode+decode")
def test_lpwa_encode_decode(benchmark: Any) -> None:
    msg = lpwa_message()
    decode = Message.decode

    def roundtrip() -> Message:
        return decode(msg.encode())

    assert roundtrip() == msg
    _run(benchmark, roundtrip)


@pytest.mark.benchmark(group="coap encode+decode")
def test_aiocoap_encode_decode(benchmark: Any) -> None:
    msg = aiocoap_message()
    decode = aiocoap.Message.decode

    def roundtrip() -> aiocoap.Message:
        return decode(msg.encode())

    assert roundtrip().payload == PAYLOAD
    _run(benchmark, roundtrip)
