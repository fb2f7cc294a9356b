"""Fault injection on the simulator (``sim.faults``)."""

from __future__ import annotations

import os
import time

import pytest
import serial

from servers import pattern_bytes

BOOT = b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"


@pytest.fixture
def client(sim, at):
    c = at(sim)
    c.send(b"ATE0\r")
    c.read_final()
    assert c.command("AT+QIACT=1") == b"\r\nOK\r\n"
    return c


def get_ready(client, url: str, length: int) -> None:
    raw = url.encode()
    client.send(f"AT+QHTTPURL={len(raw)},80\r".encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(raw)
    client.expect(b"\r\nOK\r\n")
    client.send(b"AT+QHTTPGET=80\r")
    client.expect(f"\r\nOK\r\n\r\n+QHTTPGET: 0,200,{length}\r\n".encode())


def test_reboot_on_the_next_matching_command(sim, client):
    sim.faults.reboot_on("AT+QIACT?")
    assert sim.faults.armed == ["reboot_on 'AT+QIACT?'"]
    client.send(b"AT+QIACT?\r")
    client.expect(BOOT, timeout=5)
    client.send(b"AT\r")
    client.expect(b"AT\r\r\nOK\r\n")
    assert sim.faults.armed == []


def test_reboot_mid_read_after_n_bytes(sim, client, http_server):
    get_ready(client, http_server.url("/bytes/5000"), 5000)
    sim.faults.reboot_during_read(1234)
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(1234) + BOOT, timeout=5)


def test_truncated_body_ends_with_qhttpread_717(sim, client, http_server):
    get_ready(client, http_server.url("/bytes/5000"), 5000)
    sim.faults.truncate_read(100)
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(100) + b"\r\nOK\r\n\r\n+QHTTPREAD: 717\r\n")


def test_stall_mid_body(sim, client, http_server):
    get_ready(client, http_server.url("/bytes/3000"), 3000)
    sim.faults.stall_read(1000, 0.6)
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(1000))
    start = time.monotonic()
    client.expect(pattern_bytes(3000)[1000:] + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n", timeout=5)
    assert time.monotonic() - start >= 0.5


def test_garbage_between_echo_and_response(sim, at):
    client = at(sim)
    sim.faults.garbage(b"\x00\xfe~noise~")
    client.send(b"AT\r")
    client.expect(b"AT\r\x00\xfe~noise~\r\nOK\r\n")


def test_urc_right_before_the_echo_as_captured_on_a_bg95(sim, at, http_server):
    client = at(sim)
    client.command("AT+QIACT=1")
    url = http_server.url("/echo").encode()
    client.send(f"AT+QHTTPURL={len(url)},80\r".encode())
    client.read_until(b"CONNECT\r\n")
    client.send(url)
    client.read_final()
    client.send(b"AT+QHTTPPOST=2,80,80\r")
    client.read_until(b"CONNECT\r\n")
    client.send(b"hi")
    client.expect(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,2\r\n")
    sim.faults.urc_before_echo("+QHTTPPOST: 0,200")
    client.send(b"AT+QHTTPREAD=60\r")
    client.expect(
        b"\r\n+QHTTPPOST: 0,200\r\nAT+QHTTPREAD=60\r\r\nCONNECT\r\n"
        b"hi\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    )


def test_drop_closes_the_socket_and_reconnect_works(sim, at):
    first = at(sim)
    first.command("AT")
    sim.faults.drop("socket")
    assert first.sock.recv(10) == b""
    second = at(sim)
    assert second.command("AT") == b"AT\r\r\nOK\r\n"


def test_drop_on_the_next_matching_command(sim, at):
    client = at(sim)
    sim.faults.drop_on("AT+QGMR")
    client.send(b"AT+QGMR\r")
    client.expect(b"AT+QGMR\r")
    client.sock.settimeout(2)
    assert client.sock.recv(10) == b""


def test_drop_during_read(sim, client, http_server):
    get_ready(client, http_server.url("/bytes/5000"), 5000)
    sim.faults.drop_during_read(10)
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(10))
    client.sock.settimeout(2)
    assert client.sock.recv(10) == b""


def test_drop_of_the_pty_makes_a_new_one(sim):
    old = sim.pty
    port = serial.Serial(old, timeout=1)
    try:
        port.write(b"AT\r")
        assert port.read_until(b"OK\r\n") == b"AT\r\r\nOK\r\n"
        sim.faults.drop("pty")
        assert sim.pty != old
        with pytest.raises((serial.SerialException, OSError)):
            for _ in range(20):
                port.write(b"AT\r")
                if port.read(1) == b"":
                    raise serial.SerialException("gone")
    finally:
        port.close()
    with serial.Serial(sim.pty, timeout=2) as fresh:
        fresh.write(b"AT\r")
        assert fresh.read_until(b"OK\r\n") == b"AT\r\r\nOK\r\n"


def test_inject_writes_raw_bytes_now(sim, at):
    client = at(sim)
    client.command("AT")
    sim.faults.inject(b'\r\n+QIURC: "pdpdeact",1\r\n')
    client.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')


def test_clear_disarms_everything(sim, at):
    sim.faults.reboot_on("AT")
    sim.faults.garbage()
    sim.faults.truncate_read(5)
    sim.faults.clear()
    assert sim.faults.armed == []
    client = at(sim)
    assert client.command("AT") == b"AT\r\r\nOK\r\n"


def test_commands_during_the_reboot_are_lost(make_sim, at):
    simulator = make_sim(boot_delay=20.0)  # 1 s at time_scale 0.05
    client = at(simulator)
    simulator.reboot()
    client.send(b"AT\r")
    assert client.drain(0.3) == b""
    client.expect(BOOT, timeout=5)
    assert client.command("AT") == b"AT\r\r\nOK\r\n"


def test_the_simulator_survives_random_bytes(sim, at):
    client = at(sim)
    rnd = os.urandom(20000)
    client.send(rnd + b"\r\nAT\r")
    client.drain(0.5)
    assert client.command("AT").endswith(b"\r\nOK\r\n")
