"""Modem, network, ssl and files through the simulator over a real socket or pty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lpwa import Modem, errors
from lpwa.files import ChecksumError, checksum
from lpwa.network import NetworkError
from lpwa.sim import Simulator
from lpwa.ssl_config import SSLOptionUnsupported
from servers import pattern_bytes

# The network, ssl and files tests run against both shells (conftest.py).
SHELLS = ("sync", "aio")


def _sent_commands(modem: Modem) -> list[bytes]:
    sent: list[bytes] = []
    modem.channel.on_trace = lambda d, kind, data: sent.append(data) if kind == "command" else None
    return sent


@pytest.mark.parametrize(
    ("firmware", "model", "revision", "affected"),
    [
        ("BG96MAR02A07M1G_01.016.01.016", "BG96", "BG96MAR02A07M1G", {"QHTTPPOSTFILE"}),
        (
            "BG96MAR03A06M1G_01.005.01.005",
            "BG96",
            "BG96MAR03A06M1G",
            {"QHTTPPOST", "QHTTPPOSTFILE"},
        ),
        ("BG95M3LAR02A03_01.006.01.006", "BG95", "BG95M3LAR02A03", set()),
    ],
)
def test_identity_and_quirk_profile(
    open_shell: Callable[..., Modem],
    make_sim: Callable[..., Simulator],
    firmware: str,
    model: str,
    revision: str,
    affected: set[str],
) -> None:
    sim = make_sim(firmware=firmware)
    with open_shell(sim.url) as modem:
        assert modem.firmware == firmware
        assert modem.model == model
        assert modem.revision == revision
        assert modem.manufacturer == "Quectel"
        assert modem.quirks.https_post_719 == affected


def test_modem_opens_a_pty_path(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.pty) as modem:
        assert modem.firmware == sim.firmware
        assert modem.network.sim_status() == "READY"


def test_session_is_set_up_again_after_a_reboot(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        modem.reboot()
        assert sent[:1] == [b"AT+CFUN=1,1\r"]
        assert b"ATE0\r" in sent and b"AT+CMEE=1\r" in sent
        assert modem.channel.reboots == 1
        # The module forgot its PDP context with the reboot; the session works.
        assert modem.network.status() == []


def test_unrequested_reboot_is_noticed_before_the_next_command(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        sim.reboot()
        sim.wait_booted(10)
        # RDY reached the channel; the next command re-runs ATE0/CMEE first.
        modem.channel.urcs.get(timeout=5)
        assert modem.network.sim_status() == "READY"
        assert sent.index(b"ATE0\r") < sent.index(b"AT+CPIN?\r")


def test_check_ready_raises_without_sim(
    open_shell: Callable[..., Modem], make_sim: Callable[..., Simulator]
) -> None:
    sim = make_sim(sim_ready=False)
    with open_shell(sim.url) as modem, pytest.raises((NetworkError, errors.CommandError)):
        modem.network.check_ready()


def test_check_ready_raises_when_not_registered(
    open_shell: Callable[..., Modem], make_sim: Callable[..., Simulator]
) -> None:
    sim = make_sim(registered=False)
    with open_shell(sim.url) as modem, pytest.raises(NetworkError) as info:
        modem.network.check_ready()
    assert "not registered" in str(info.value)


def test_activate_status_deactivate(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.url) as modem:
        ctx = modem.network.activate(1, apn="internet", auth="PAP", username="u", password="p")
        assert ctx.active
        assert ctx.address == "10.7.157.1"
        assert modem.network.activate(1) == ctx  # already active: nothing to do
        modem.network.deactivate(1)
        assert modem.network.context(1) is None


def test_dns_servers_round_trip(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        modem.network.set_dns_servers(1, "127.0.0.53", "127.0.0.54")
        assert modem.network.dns_servers(1) == ["127.0.0.53", "127.0.0.54"]


def test_ssl_configure_and_query(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.url) as modem:
        modem.ssl.configure(2, sslversion=3, ciphersuite=0x0035, seclevel=1, cacert="ca.pem")
        assert modem.ssl.query(2, "seclevel") == ["1"]
        assert modem.ssl.query(2, "cacert") == ["ca.pem"]


def test_files_round_trip_list_space_delete(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    data = pattern_bytes(100_001, seed=4)
    with open_shell(sim.url) as modem:
        info = modem.files.upload("big.bin", data)
        assert info.size == len(data)
        assert modem.files.download("big.bin") == data
        assert any(f.name == "big.bin" and f.size == len(data) for f in modem.files.list())
        free, total = modem.files.space()
        assert 0 < free < total
        modem.files.delete("big.bin")
        assert not modem.files.exists("big.bin")


def test_read_chunks_reads_a_large_file_in_pieces(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    data = pattern_bytes(40_000, seed=2)
    sim.ufs["log.bin"] = data
    with open_shell(sim.url) as modem:
        pieces = list(modem.files.read_chunks("log.bin", chunk_size=16384))
    assert [len(p) for p in pieces] == [16384, 16384, 40_000 - 32768]
    assert b"".join(pieces) == data


def test_download_of_a_missing_file_is_a_cme_error(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem, pytest.raises(errors.CMEError):
        modem.files.download("missing.bin")


def test_checksum_matches_the_design_example() -> None:
    assert checksum(b"-----BEGIN CERTIFICATE-----\r") == "6c53"
    assert checksum(b"\x12") == "1200"  # odd last byte is the high byte
    assert checksum(b"") == "0"
    assert issubclass(ChecksumError, errors.LpwaError)


def test_lost_link_raises_transport_error(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.url) as modem:
        sim.faults.drop()
        with pytest.raises(errors.TransportError):
            modem.network.sim_status()


# -- uploads replace (issue 10, item 5) ---------------------------------------------


def test_upload_replaces_an_existing_file(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    # The module answers +CME ERROR: 407 to QFUPL of an existing name; the old
    # library failed here, so use_psk() failed from the second boot on.
    sim.ufs["0_server.psk"] = b"old-identity&old-key"
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        info = modem.files.upload("0_server.psk", b"id&313233")
        assert info.size == 9
        assert modem.files.download("0_server.psk") == b"id&313233"
    assert sim.ufs["0_server.psk"] == b"id&313233"
    qfdel = sent.index(b'AT+QFDEL="0_server.psk"\r')
    assert sent[qfdel + 1].startswith(b'AT+QFUPL="0_server.psk",9,')


def test_upload_of_a_new_file_deletes_nothing(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        modem.files.upload("new.bin", b"abc")
    assert not any(line.startswith(b"AT+QFDEL") for line in sent)


def test_upload_with_the_ufs_prefix_replaces_too(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    sim.ufs["ca.pem"] = b"old"
    with open_shell(sim.url) as modem:
        modem.files.upload("UFS:ca.pem", b"new!")
    assert sim.ufs["ca.pem"] == b"new!"


def test_upload_that_does_not_fit_raises_before_deleting_the_old_file(
    open_shell: Callable[..., Modem],
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim(ufs_size=1000)
    sim.ufs["keep.bin"] = b"k" * 600
    sim.ufs["cert.pem"] = b"c" * 100
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        with pytest.raises(errors.UFSFullError) as info:
            modem.files.upload("cert.pem", b"n" * 501)  # 300 free + 100 freed < 501
        assert (info.value.needed, info.value.free) == (501, 400)
        assert sim.ufs["cert.pem"] == b"c" * 100  # the old file is untouched
        assert not any(line.startswith((b"AT+QFDEL", b"AT+QFUPL")) for line in sent)
        # Exactly what fits does go through, replacing the old file.
        modem.files.upload("cert.pem", b"n" * 400)
    assert sim.ufs["cert.pem"] == b"n" * 400
    assert sim.ufs["keep.bin"] == b"k" * 600


# -- ssl: verification means the host too (issue 10, item 15) -----------------------


def test_seclevel_1_turns_checkhost_and_sni_on(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        modem.ssl.configure(1, seclevel=1, cacert="ca.pem")
        assert modem.ssl.query(1, "checkhost") == ["1"]
        assert modem.ssl.query(1, "sni") == ["1"]
    # Sent before seclevel, so a refusal comes before verification is switched on.
    assert sent[:3] == [
        b'AT+QSSLCFG="sni",1,1\r',
        b'AT+QSSLCFG="checkhost",1,1\r',
        b'AT+QSSLCFG="seclevel",1,1\r',
    ]


def test_explicit_checkhost_0_is_honoured(open_shell: Callable[..., Modem], sim: Simulator) -> None:
    with open_shell(sim.url) as modem:
        modem.ssl.configure(1, seclevel=2, checkhost=0, sni=0)
        assert modem.ssl.query(1, "checkhost") == ["0"]
        assert modem.ssl.query(1, "sni") == ["0"]


def test_seclevel_0_does_not_claim_a_host_check(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    with open_shell(sim.url) as modem:
        modem.ssl.configure(1, seclevel=0)
        assert modem.ssl.query(1, "checkhost") == ["0"]


def test_a_build_refusing_checkhost_raises_before_seclevel(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    sim.module.ssl.refused_keys.update({"checkhost", "sni"})
    with open_shell(sim.url) as modem:
        sent = _sent_commands(modem)
        with pytest.raises(SSLOptionUnsupported, match="checkhost=0") as info:
            modem.ssl.configure(1, seclevel=1, cacert="ca.pem")
        assert info.value.key == "checkhost"
        assert modem.ssl.query(1, "seclevel") == ["0"]
    assert not any(b'"seclevel",1,1' in line for line in sent)


def test_a_build_refusing_checkhost_accepts_an_explicit_checkhost_0(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    sim.module.ssl.refused_keys.update({"checkhost", "sni"})
    with open_shell(sim.url) as modem:
        modem.ssl.configure(1, seclevel=1, cacert="ca.pem", checkhost=0)
        assert modem.ssl.query(1, "seclevel") == ["1"]


def test_a_build_refusing_an_explicit_sni_raises(
    open_shell: Callable[..., Modem], sim: Simulator
) -> None:
    sim.module.ssl.refused_keys.add("sni")
    with open_shell(sim.url) as modem, pytest.raises(SSLOptionUnsupported):
        modem.ssl.configure(1, sni=1)


def test_verified_https_refuses_a_certificate_for_another_host(
    make_sim: Callable[..., Simulator], https_server: Any, ca_pem: bytes
) -> None:
    # The README's "verified server" sequence: a CA-signed certificate for
    # localhost must not be accepted for evil.test (it was with checkhost=0).
    sim = make_sim(hosts={"localhost": "127.0.0.1", "evil.test": "127.0.0.1"})
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        modem.files.upload("ca.pem", ca_pem)
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=1, cacert="ca.pem")
        modem.http.config(contextid=1, sslctxid=1)
        assert modem.http.get(https_server.url("/bytes/5", host="localhost")).content == (
            pattern_bytes(5)
        )
        with pytest.raises(errors.HTTPError):
            modem.http.get(https_server.url("/bytes/5", host="evil.test"))


def test_a_rdy_callback_that_runs_a_command_does_not_wait_for_app_rdy(
    make_sim: Callable[..., Simulator],
) -> None:
    # Review finding: on a BG95 the callback re-ran the set-up, which waits for
    # APP RDY, which only the callback's own thread delivers (30 s, then init
    # failed). A callback's command now runs at once; the set-up is the next
    # ordinary call's.
    sim = make_sim(firmware="BG95M3LAR02A03_01.204.01.204")
    answers: list[str] = []
    with Modem.open(sim.url) as modem:
        modem.channel.subscribe(
            lambda urc: answers.append(modem.command("AT").final),
            lambda urc: urc.name == "RDY",
        )
        modem.reboot()
        assert answers == ["OK"]
        assert modem.network.sim_status() == "READY"
