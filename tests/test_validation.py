"""Caller mistakes in files, network and ssl are refused before a byte is written
(issue 10, items 3 and 13): ``ParameterError``, and ``ParameterTypeError`` (also a
``TypeError``) for a wrong type; the module stays usable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aio_bridge import open_blocking
from lpwa import Modem
from lpwa.errors import ParameterError, ParameterTypeError
from lpwa.files import checksum
from lpwa.sim import Simulator

FAST = 0.05
# Each check runs against both shells (conftest.py): the procedures are one.
SHELLS = ("sync", "aio")


@pytest.fixture(scope="module")
def idle(shell: str) -> Iterator[tuple[Simulator, Modem]]:
    """One simulator and modem shared by the tests that must send nothing."""
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(Simulator(time_scale=FAST))
        opener = open_blocking if shell == "aio" else Modem.open
        modem = stack.enter_context(opener(sim.url))
        yield sim, modem


@pytest.fixture
def unsent(idle: tuple[Simulator, Modem]) -> Iterator[Modem]:
    """The shared modem; the test fails if anything was written to the module
    (the channel's trace sees every write, the simulator's transcript every byte
    that arrived), or if the module is not usable afterwards."""
    sim, modem = idle
    written: list[bytes] = []
    modem.channel.on_trace = lambda way, kind, data: written.append(data) if way == ">" else None
    before = sim.transcript_bytes("in")
    try:
        yield modem
    finally:
        modem.channel.on_trace = None
    assert written == [], f"bytes were written to the module: {written!r}"
    assert sim.transcript_bytes("in") == before, "bytes reached the module"
    assert modem.network.sim_status() == "READY"


Call = Callable[[Modem], Any]

TYPE_MISTAKES: list[tuple[str, Call]] = [
    # Item 3: a str as data wrote AT+QFUPL, then failed in data mode.
    ("upload str data", lambda m: m.files.upload("a.txt", "text")),
    ("upload int data", lambda m: m.files.upload("a.txt", 123)),
    ("upload None data", lambda m: m.files.upload("a.txt", None)),
    ("upload list data", lambda m: m.files.upload("a.txt", [1, 2])),
    ("upload bytes name", lambda m: m.files.upload(b"a.txt", b"x")),
    ("upload bool timeout", lambda m: m.files.upload("a.txt", b"x", timeout=True)),
    ("upload str timeout", lambda m: m.files.upload("a.txt", b"x", timeout="60")),
    ("upload float timeout", lambda m: m.files.upload("a.txt", b"x", timeout=1.5)),
    ("download bytes name", lambda m: m.files.download(b"a.txt")),
    ("download None name", lambda m: m.files.download(None)),
    ("delete int name", lambda m: m.files.delete(5)),
    ("exists bytes name", lambda m: m.files.exists(b"a")),
    ("list bytes pattern", lambda m: m.files.list(b"*")),
    ("read_chunks str size", lambda m: m.files.read_chunks("a", "16")),
    ("read_chunks bool size", lambda m: m.files.read_chunks("a", True)),
    ("configure str context", lambda m: m.network.configure("1", apn="internet")),
    ("configure bool context", lambda m: m.network.configure(True, apn="internet")),
    ("configure bytes apn", lambda m: m.network.configure(1, apn=b"internet")),
    ("configure int password", lambda m: m.network.configure(1, apn="a", password=1234)),
    ("configure bool auth", lambda m: m.network.configure(1, apn="a", auth=True)),
    ("configure bool type", lambda m: m.network.configure(1, apn="a", context_type=True)),
    ("configure float type", lambda m: m.network.configure(1, apn="a", context_type=1.0)),
    ("activate str context", lambda m: m.network.activate("1")),
    ("activate bytes apn", lambda m: m.network.activate(1, apn=b"internet")),
    ("activate bytes password, no apn", lambda m: m.network.activate(1, password=b"pw")),
    ("deactivate bool", lambda m: m.network.deactivate(True)),
    ("context str", lambda m: m.network.context("1")),
    ("dns_servers bool", lambda m: m.network.dns_servers(False)),
    ("set_dns bytes", lambda m: m.network.set_dns_servers(1, b"8.8.8.8")),
    ("set_dns None secondary", lambda m: m.network.set_dns_servers(1, "8.8.8.8", None)),
    ("ssl str context", lambda m: m.ssl.configure("1", seclevel=1)),
    ("ssl bool context", lambda m: m.ssl.configure(True, seclevel=1)),
    ("ssl bool seclevel", lambda m: m.ssl.configure(1, seclevel=True)),
    ("ssl str seclevel", lambda m: m.ssl.configure(1, seclevel="1")),
    ("ssl str ciphersuite", lambda m: m.ssl.configure(1, ciphersuite="0x0035")),
    ("ssl bytes cacert", lambda m: m.ssl.configure(1, cacert=b"ca.pem")),
    ("ssl int cacert", lambda m: m.ssl.configure(1, cacert=1)),
    ("ssl float negotiatetime", lambda m: m.ssl.configure(1, negotiatetime=30.0)),
    ("ssl query bool context", lambda m: m.ssl.query(False, "seclevel")),
]

RANGE_MISTAKES: list[tuple[str, Call]] = [
    ("upload empty data", lambda m: m.files.upload("a.txt", b"")),
    ("upload empty name", lambda m: m.files.upload("", b"x")),
    ("upload long name", lambda m: m.files.upload("n" * 81, b"x")),
    ("upload name with quote", lambda m: m.files.upload('a".txt', b"x")),
    ("upload name with slash", lambda m: m.files.upload("a/b.txt", b"x")),
    ("upload name with CR", lambda m: m.files.upload("a\r.txt", b"x")),
    ("upload non-ascii name", lambda m: m.files.upload("é.txt", b"x")),
    ("upload wildcard name", lambda m: m.files.upload("*.txt", b"x")),
    ("upload timeout 0", lambda m: m.files.upload("a.txt", b"x", timeout=0)),
    ("upload timeout 65536", lambda m: m.files.upload("a.txt", b"x", timeout=65536)),
    ("read_chunks size 0", lambda m: m.files.read_chunks("a", 0)),
    ("read_chunks size -1", lambda m: m.files.read_chunks("a", -1)),
    ("list pattern with quote", lambda m: m.files.list('a"')),
    ("configure context 0", lambda m: m.network.configure(0, apn="a")),
    ("configure context 17", lambda m: m.network.configure(17, apn="a")),
    ("configure apn with quote", lambda m: m.network.configure(1, apn='a"b')),
    ("configure password with LF", lambda m: m.network.configure(1, apn="a", password="p\n")),
    ("configure non-ascii user", lambda m: m.network.configure(1, apn="a", username="ü")),
    ("configure auth name", lambda m: m.network.configure(1, apn="a", auth="MSCHAP")),
    ("configure auth 4", lambda m: m.network.configure(1, apn="a", auth=4)),
    ("configure type 0", lambda m: m.network.configure(1, apn="a", context_type=0)),
    # activate checks the QICSGP arguments before its first command (AT+QIACT?).
    ("activate bad password", lambda m: m.network.activate(1, apn="a", password='p"')),
    ("activate context 99", lambda m: m.network.activate(99)),
    ("activate password, no apn", lambda m: m.network.activate(1, password="pw")),
    ("activate auth, no apn", lambda m: m.network.activate(1, auth="PAP")),
    ("set_dns empty primary", lambda m: m.network.set_dns_servers(1, "")),
    ("ssl context 6", lambda m: m.ssl.configure(6, seclevel=1)),
    ("ssl seclevel 3", lambda m: m.ssl.configure(1, seclevel=3)),
    ("ssl unknown key", lambda m: m.ssl.configure(1, bogus=1)),
    ("ssl late bad key", lambda m: m.ssl.configure(1, seclevel=1, cacert="")),
    ("ssl ciphersuite 0x10000", lambda m: m.ssl.configure(1, ciphersuite=0x10000)),
    ("ssl query unknown key", lambda m: m.ssl.query(1, "bogus")),
    ("ssl query context -1", lambda m: m.ssl.query(-1, "seclevel")),
]


@pytest.mark.parametrize(("what", "call"), TYPE_MISTAKES, ids=[t[0] for t in TYPE_MISTAKES])
def test_wrong_type_is_a_parameter_type_error_and_nothing_is_sent(
    unsent: Modem, what: str, call: Call
) -> None:
    with pytest.raises(ParameterTypeError) as info:
        call(unsent)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ParameterError)


@pytest.mark.parametrize(("what", "call"), RANGE_MISTAKES, ids=[t[0] for t in RANGE_MISTAKES])
def test_value_out_of_range_is_a_parameter_error_and_nothing_is_sent(
    unsent: Modem, what: str, call: Call
) -> None:
    with pytest.raises(ParameterError):
        call(unsent)


def test_read_chunks_refuses_at_the_call_not_at_the_first_piece(unsent: Modem) -> None:
    # A generator would only check when iterated; the mistake shows at the call.
    with pytest.raises(ParameterError):
        unsent.files.read_chunks("log.bin", chunk_size=0)


def test_str_data_names_the_fix(unsent: Modem) -> None:
    with pytest.raises(ParameterTypeError, match=r"encode"):
        unsent.files.upload("a.txt", "text")


def test_ssl_flags_accept_bool(sim: Simulator) -> None:
    with Modem.open(sim.url) as modem:
        modem.ssl.configure(1, sni=True, checkhost=False, ignorelocaltime=True)
        assert modem.ssl.query(1, "sni") == ["1"]
        assert modem.ssl.query(1, "checkhost") == ["0"]


@pytest.mark.parametrize("data", [b"abc", bytearray(b"abc"), memoryview(b"xabcx")[1:4]], ids=type)
def test_upload_takes_any_bytes_like(sim: Simulator, data: bytes) -> None:
    with Modem.open(sim.url) as modem:
        assert modem.files.upload("b.bin", data).size == 3
    assert sim.ufs["b.bin"] == b"abc"


def test_checksum_refuses_str_and_int() -> None:
    with pytest.raises(ParameterTypeError):
        checksum("abc")  # type: ignore[arg-type]
    with pytest.raises(ParameterTypeError):
        checksum(3)  # type: ignore[arg-type]
    assert checksum(bytearray(b"\x12")) == "1200"


def test_a_refused_password_is_not_in_the_error_message(unsent: Modem) -> None:
    with pytest.raises(ParameterError) as info:
        unsent.network.configure(1, apn="a", password='Secret"Pw')
    assert "Secret" not in str(info.value)
    with pytest.raises(ParameterTypeError) as typed:
        unsent.network.configure(1, apn="a", password=b"SecretPw")
    assert "Secret" not in str(typed.value)


def test_a_failed_command_does_not_carry_the_password_in_its_message(sim: Simulator) -> None:
    from lpwa.errors import CommandError

    with Modem.open(sim.url) as modem, pytest.raises(CommandError) as info:
        # Auth 3 with context type 9: refused by the module, after sending.
        modem.command('AT+QICSGP=1,9,"apn","user","SecretPw",3')
    assert "SecretPw" not in str(info.value)
    assert '"***"' in str(info.value)


# -- the checks themselves, on any input ------------------------------------------

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=100),
    st.binary(max_size=100),
    st.lists(st.integers(), max_size=3),
)


@given(_ANY)
def test_checks_return_or_raise_parameter_errors_only(value: object) -> None:
    from lpwa import validate

    checks = [
        lambda v: validate.integer("n", v, 0, 10),
        lambda v: validate.seconds("t", v, 0, 60),
        lambda v: validate.at_string("s", v),
        lambda v: validate.ufs_name(v),
        lambda v: validate.data("d", v),
    ]
    for check in checks:
        with contextlib.suppress(ParameterError):
            check(value)


@given(st.text(max_size=100))
def test_a_quoted_at_string_is_printable_ascii_without_inner_quotes(value: str) -> None:
    from lpwa import validate

    try:
        quoted = validate.at_string("s", value)
    except ParameterError:
        return
    inner = quoted[1:-1]
    assert quoted == f'"{value}"' and '"' not in inner
    assert all(" " <= c <= "~" for c in inner)


def test_integer_refuses_an_index_that_raises() -> None:
    from lpwa import validate

    class Refusing:
        def __index__(self) -> int:
            raise TypeError("no")

    with pytest.raises(ParameterTypeError):
        validate.integer("n", Refusing(), 0, 1)
