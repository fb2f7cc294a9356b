"""UFS file commands on the simulator: QFUPL/QFDWL checksums, QFLST, QFDEL, QFOPEN..."""

from __future__ import annotations

import pytest

from lpwa.sim import checksum_hex

CERT_LINE = b"-----BEGIN CERTIFICATE-----\r"


@pytest.fixture
def client(sim, at):
    c = at(sim)
    c.send(b"ATE0\r")
    c.read_final()
    return c


def test_checksum_of_the_design_example():
    assert len(CERT_LINE) == 28
    assert checksum_hex(CERT_LINE) == "6c53"
    assert checksum_hex(b"\x12") == "1200"  # odd last byte is the high byte
    assert checksum_hex(b"") == "0"


def test_qfupl_reports_size_and_checksum(sim, client):
    client.send(b'AT+QFUPL="cert.pem",28,10\r')
    client.expect(b"\r\nCONNECT\r\n")
    client.send(CERT_LINE)
    client.expect(b"\r\n+QFUPL: 28,6c53\r\n\r\nOK\r\n")
    assert sim.ufs["cert.pem"] == CERT_LINE


def test_qfdwl_returns_the_bytes_and_checksum(sim, client):
    sim.ufs["cert.pem"] = CERT_LINE
    client.send(b'AT+QFDWL="cert.pem"\r')
    client.expect(b"\r\nCONNECT\r\n" + CERT_LINE + b"\r\n+QFDWL: 28,6c53\r\n\r\nOK\r\n")


def test_qfupl_of_the_coap_note_psk_file_ends_at_its_timeout(sim, at):
    # CoAP note 5.2 declares 39 bytes and sends 34; the module stores what came when
    # the timeout (default 5 s, scaled) ran out. (The note's checksum 2802 does not
    # match the printed content; the simulator prints the real one.)
    client = at(sim)
    psk = b"864508030012428&313233343446473839"
    client.send(b'AT+QFUPL="UFS:0_server.psk",39\r')
    client.expect(b'AT+QFUPL="UFS:0_server.psk",39\r\r\nCONNECT\r\n')
    client.send(psk)
    client.expect(f"\r\n+QFUPL: 34,{checksum_hex(psk)}\r\n\r\nOK\r\n".encode(), timeout=5)
    assert sim.ufs["0_server.psk"] == psk


def test_binary_round_trip_of_every_byte_value(sim, client):
    data = bytes(range(256)) * 40 + b"\x1a\x1b+++\r\nOK\r\n"
    client.send(f'AT+QFUPL="bin.dat",{len(data)},10\r'.encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(data)
    client.expect(f"\r\n+QFUPL: {len(data)},{checksum_hex(data)}\r\n\r\nOK\r\n".encode())
    client.send(b'AT+QFDWL="bin.dat"\r')
    client.expect(
        b"\r\nCONNECT\r\n"
        + data
        + f"\r\n+QFDWL: {len(data)},{checksum_hex(data)}\r\n\r\nOK\r\n".encode()
    )


def test_qfupl_errors(sim, client):
    sim.ufs["a.txt"] = b"x"
    assert client.command('AT+QFUPL="a.txt",1') == b"\r\n+CME ERROR: 407\r\n"
    assert client.command('AT+QFUPL="bad/name",1') == b"\r\n+CME ERROR: 406\r\n"
    assert client.command('AT+QFUPL="b.txt",0') == b"\r\n+CME ERROR: 400\r\n"
    assert client.command('AT+QFDWL="missing"') == b"\r\n+CME ERROR: 405\r\n"


def test_qflst_qfdel_qflds(sim, client):
    sim.ufs["a.txt"] = b"12345"
    sim.ufs["b.pem"] = b"xy"
    assert client.command("AT+QFLST") == b'\r\n+QFLST: "a.txt",5\r\n+QFLST: "b.pem",2\r\n\r\nOK\r\n'
    assert client.command('AT+QFLST="*.pem"') == b'\r\n+QFLST: "b.pem",2\r\n\r\nOK\r\n'
    assert client.command('AT+QFLST="UFS:*.txt"') == b'\r\n+QFLST: "UFS:a.txt",5\r\n\r\nOK\r\n'
    total = sim.ufs.total_size
    assert (
        client.command('AT+QFLDS="UFS"')
        == f"\r\n+QFLDS: {total - 7},{total}\r\n\r\nOK\r\n".encode()
    )
    assert client.command("AT+QFLDS") == b"\r\n+QFLDS: 7,2\r\n\r\nOK\r\n"
    assert client.command('AT+QFDEL="a.txt"') == b"\r\nOK\r\n"
    assert client.command('AT+QFDEL="a.txt"') == b"\r\n+CME ERROR: 405\r\n"
    assert client.command('AT+QFDEL="*"') == b"\r\nOK\r\n"
    assert client.command("AT+QFLST") == b"\r\nOK\r\n"


def test_qfopen_qfread_qfclose(sim, client):
    sim.ufs["r.txt"] = b"0123456789"
    assert client.command('AT+QFOPEN="r.txt",2') == b"\r\n+QFOPEN: 1024\r\n\r\nOK\r\n"
    client.send(b"AT+QFREAD=1024,4\r")
    client.expect(b"\r\nCONNECT 4\r\n0123\r\nOK\r\n")
    client.send(b"AT+QFREAD=1024\r")
    client.expect(b"\r\nCONNECT 6\r\n456789\r\nOK\r\n")
    assert client.command("AT+QFPOSITION=1024") == b"\r\n+QFPOSITION: 10\r\n\r\nOK\r\n"
    assert client.command("AT+QFSEEK=1024,2,0") == b"\r\nOK\r\n"
    client.send(b"AT+QFREAD=1024,3\r")
    client.expect(b"\r\nCONNECT 3\r\n234\r\nOK\r\n")
    assert client.command('AT+QFOPEN="r.txt"') == b"\r\n+CME ERROR: 426\r\n"
    assert client.command("AT+QFCLOSE=1024") == b"\r\nOK\r\n"
    assert client.command("AT+QFCLOSE=1024") == b"\r\n+CME ERROR: 416\r\n"
    assert client.command('AT+QFOPEN="none.txt",2') == b"\r\n+CME ERROR: 405\r\n"


def test_qfwrite(sim, client):
    assert client.command('AT+QFOPEN="w.txt",1') == b"\r\n+QFOPEN: 1024\r\n\r\nOK\r\n"
    client.send(b"AT+QFWRITE=1024,5\r")
    client.expect(b"\r\nCONNECT\r\n")
    client.send(b"hello")
    client.expect(b"\r\n+QFWRITE: 5,5\r\n\r\nOK\r\n")
    client.command("AT+QFCLOSE=1024")
    assert sim.ufs["w.txt"] == b"hello"


def test_open_handles_do_not_survive_a_reboot(sim, client):
    sim.ufs["r.txt"] = b"x"
    client.command('AT+QFOPEN="r.txt",0')
    sim.reboot()
    assert sim.wait_booted(5)
    client.drain(0.2)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QFCLOSE=1024") == b"\r\n+CME ERROR: 416\r\n"
    assert sim.ufs["r.txt"] == b"x"


def test_qfupl_of_an_existing_name_is_407_with_or_without_the_ufs_prefix(sim, client):
    # Issue 10 item 5: the module refuses to overwrite; the host deletes first.
    sim.ufs["0_server.psk"] = b"id&00"
    assert client.command('AT+QFUPL="UFS:0_server.psk",5') == b"\r\n+CME ERROR: 407\r\n"
    assert client.command('AT+QFDEL="0_server.psk"') == b"\r\nOK\r\n"
    client.send(b'AT+QFUPL="UFS:0_server.psk",5,10\r')
    client.expect(b"\r\nCONNECT\r\n")
    client.send(b"id&11")
    assert client.read_final().endswith(b"\r\nOK\r\n")
    assert sim.ufs["0_server.psk"] == b"id&11"


def test_qfupl_larger_than_the_free_space_is_refused_before_connect(make_sim, at):
    sim = make_sim(ufs_size=100)
    sim.ufs["big.bin"] = b"x" * 90
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command('AT+QFUPL="new.bin",11,5') == b"\r\n+CME ERROR: 403\r\n"
    assert client.command('AT+QFUPL="new.bin",101,5') == b"\r\n+CME ERROR: 423\r\n"
    assert client.command('AT+QFLDS="UFS"') == b"\r\n+QFLDS: 10,100\r\n\r\nOK\r\n"
