"""Issue 15: the simulator does what real modules do in public logs, and the client copes.

Each test names its public source. Simulator tests speak raw AT over the TCP
port (bytes, not our client); client tests drive ``Modem`` against the profile.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lpwa import Modem, errors
from lpwa.network import NetworkError
from lpwa.sim import Simulator

BG95 = "BG95M3LAR02A03_01.204.01.204"


def _rx(sim: Simulator) -> bytes:
    return sim.transcript_bytes("out", port="socket")


# -- boot after AT+CFUN=1,1 -------------------------------------------------------


def test_cfun_reboot_prints_powered_down_and_stale_pdpdeact_then_ignores_input(
    make_sim: Callable[..., Simulator], at: Callable[..., object]
) -> None:
    # vshymanskyy/TinyGSM issue #157 (BG96MAR02A07M1G): "AT+CFUN=1,1" -> OK,
    # POWERED DOWN, +QIURC: "pdpdeact",1, a run of unanswered "AT", then RDY.
    sim = make_sim(boot_delay=40)  # 2 s real at the fixture's time scale
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"
    client.send(b"AT+CFUN=1,1\r")
    client.expect(b'\r\nOK\r\n\r\nPOWERED DOWN\r\n\r\n+QIURC: "pdpdeact",1\r\n')
    for _ in range(3):
        client.send(b"AT\r")  # no echo, no answer: the next bytes are the boot's
    client.expect(
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n",
        timeout=10,
    )
    assert client.command("AT") == b"AT\r\r\nOK\r\n"  # BG96: no APP RDY, ready at RDY
    assert client.command("AT+QIACT?") == b"AT+QIACT?\r\r\nOK\r\n"  # the context is gone


def test_bg95_refuses_commands_between_rdy_and_app_rdy(
    make_sim: Callable[..., Simulator], at: Callable[..., object]
) -> None:
    # zephyrproject-rtos/zephyr PR #57110: a BG95 "replies with RDY when it's not
    # fully initialized and AT commands sent ... after this point would result
    # in modem reply of ERROR"; APP RDY says it is ready (issue 15: APP RDY last).
    sim = make_sim(firmware=BG95, app_rdy_delay=60)  # 3 s real
    client = at(sim)
    client.command("AT")
    sim.reboot()
    client.expect(
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n",
        timeout=10,
    )
    assert not sim.ready
    # A plain ERROR although AT+CMEE is 1 at power-up.
    assert client.command("AT+CPIN?") == b"AT+CPIN?\r\r\nERROR\r\n"
    assert client.command("ATI") == b"ATI\r\r\nERROR\r\n"
    assert client.command("AT") == b"AT\r\r\nOK\r\n"
    client.expect(b"\r\nAPP RDY\r\n", timeout=10)
    assert sim.ready
    assert client.command("AT+CPIN?") == b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_bg96_build_with_app_rdy_is_a_profile_option(
    make_sim: Callable[..., Simulator], at: Callable[..., object]
) -> None:
    # FreeRTOS-Cellular-Interface-Reference-Quectel-BG96 issue #17: newer BG96
    # manuals say to wait for APP RDY, older BG96 builds never print it.
    sim = make_sim(app_rdy=True)
    client = at(sim)
    client.command("AT")
    sim.reboot()
    client.expect(
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"
        b"\r\nAPP RDY\r\n",
        timeout=10,
    )


def test_simulator_is_ready_when_start_returns(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(firmware=BG95, app_rdy_delay=600)
    assert sim.ready and not sim.booting
    with Modem.open(sim.url) as modem:
        assert modem.network.sim_status() == "READY"


# -- the client copes ---------------------------------------------------------------


def test_modem_opens_a_bg95_between_rdy_and_app_rdy(make_sim: Callable[..., Simulator]) -> None:
    # Issue 15 "Shows": a BG95 that prints APP RDY 2 s after RDY.
    sim = make_sim(firmware=BG95, app_rdy_delay=100)  # 5 s real
    sim.reboot()
    with Modem.open(sim.url) as modem:
        assert sim.ready
        # AT+CMEE=1 got ERROR while booting and was tried again.
        assert sim.transcript_bytes("in").count(b"AT+CMEE=1\r") >= 2
        assert b"\r\nERROR\r\n" in _rx(sim)
        assert (modem.model, modem.variant, modem.revision) == ("BG95", "BG95-M3", BG95[:14])
        assert modem.firmware == BG95
        assert modem.network.sim_status() == "READY"


def test_modem_open_waits_for_a_module_that_ignores_input(
    make_sim: Callable[..., Simulator],
) -> None:
    # TinyGSM issue #157 / zephyr issue #88686: no echo, no answer while booting.
    sim = make_sim(boot_delay=80)  # 4 s real of silence
    sim.reboot()
    with Modem.open(sim.url) as modem:
        assert not sim.booting
        assert modem.network.sim_status() == "READY"


def test_modem_reboot_of_a_bg95_waits_for_app_rdy(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(firmware=BG95, app_rdy_delay=60)  # 3 s real
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        before = sim.transcript_bytes("in").count(b"AT+CMEE=1\r")
        modem.reboot()
        # Set-up ran to the end only after APP RDY; refusals were retried.
        assert sim.ready
        assert sim.transcript_bytes("in").count(b"AT+CMEE=1\r") - before >= 2
        assert modem.network.status() == []


def test_setup_does_not_retry_what_a_ready_module_refuses(
    make_sim: Callable[..., Simulator],
) -> None:
    # AT+CMEE=1 was accepted, so the module is up: the ERROR to a bad URC port
    # is its answer and is raised at once, not retried for READY_TIMEOUT.
    sim = make_sim()
    with pytest.raises(errors.CommandError):
        Modem.open(sim.url, urc_port="nowhere")
    sent = sim.transcript_bytes("in")
    assert sent.count(b'AT+QURCCFG="urcport","nowhere"\r') == 1


# -- state-dependent answers ----------------------------------------------------------


@pytest.mark.parametrize("cmee", [1, 2])
def test_qidnscfg_on_an_inactive_context_is_a_plain_error(
    make_sim: Callable[..., Simulator], at: Callable[..., object], cmee: int
) -> None:
    # Azure/embedded-wireless-framework issue #20 (BG96, CMEE=1 set earlier):
    # [SEND] AT+QIDNSCFG=1\r  [RECV] \r\nERROR\r\n; the write form failed too.
    client = at(make_sim(cmee=cmee, echo=False))
    assert client.command("AT+QIDNSCFG=1") == b"\r\nERROR\r\n"
    assert client.command('AT+QIDNSCFG=1,"8.8.8.8","8.8.4.4"') == b"\r\nERROR\r\n"
    # The same log: AT+QIACT? with nothing active is a bare OK.
    assert client.command("AT+QIACT?") == b"\r\nOK\r\n"
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"
    assert client.command("AT+QIDNSCFG=1") == (
        b'\r\n+QIDNSCFG: 1,"10.7.0.53","10.7.0.54"\r\n\r\nOK\r\n'
    )
    assert client.command("AT+QIACT=1") == b"\r\nERROR\r\n"  # already active


def test_cgdcont_cgact_and_nccconf(
    make_sim: Callable[..., Simulator], at: Callable[..., object]
) -> None:
    # Captures C11 (the 719 reproduction) sets AT+CGDCONT=1,"IPV4V6","TM";
    # HTTP note 4.3 solution 3 is AT+QCFG="nccconf",201.
    client = at(make_sim(echo=False))
    assert client.command('AT+CGDCONT=1,"IPV4V6","TM"') == b"\r\nOK\r\n"
    assert client.command("AT+CGDCONT?") == (
        b'\r\n+CGDCONT: 1,"IPV4V6","TM","0.0.0.0",0,0,0,0\r\n\r\nOK\r\n'
    )
    assert client.command("AT+QICSGP=1") == b'\r\n+QICSGP: 3,"TM","","",0\r\n\r\nOK\r\n'
    assert client.command('AT+CGDCONT=1,"X25","TM"') == b"\r\nERROR\r\n"
    assert client.command("AT+CGACT=1,1") == b"\r\nOK\r\n"
    assert client.command("AT+CGACT?") == b"\r\n+CGACT: 1,1\r\n\r\nOK\r\n"
    assert client.command("AT+QIACT?") == b'\r\n+QIACT: 1,1,3,"10.7.157.1"\r\n\r\nOK\r\n'
    assert client.command("AT+CGACT=0,1") == b"\r\nOK\r\n"
    assert client.command("AT+QIACT?") == b"\r\nOK\r\n"
    assert client.command('AT+QCFG="nccconf",201') == b"\r\nOK\r\n"
    assert client.command('AT+QCFG="nccconf"') == b'\r\n+QCFG: "nccconf",201\r\n\r\nOK\r\n'
    assert client.command('AT+QCFG="nccconf",XYZ') == b"\r\nERROR\r\n"


def test_client_activate_is_idempotent_on_a_module_refusing_reactivation(
    sim: Simulator,
) -> None:
    with Modem.open(sim.url) as modem:
        first = modem.network.activate(1)
        assert modem.network.activate(1) == first  # no second AT+QIACT=1 (-> ERROR)


# -- HTTP as real modules and servers do it -------------------------------------------


class _PausingServer:
    """A loopback HTTP server answering every GET with a chunked body (no
    Content-Length) that pauses ``pause`` seconds between its two halves:
    the shape of captures C12. One socket, bound once; bounded threads."""

    def __init__(self, body: bytes, pause: float) -> None:
        import socket
        import threading

        self.body, self.pause = body, pause
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        data = conn.recv(4096)
                        if not data:
                            break
                        request += data
                    half = len(self.body) // 2
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    conn.sendall(b"%x\r\n%s\r\n" % (half, self.body[:half]))
                    self._stop.wait(self.pause)
                    rest = self.body[half:]
                    conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
                except OSError:
                    continue

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(5)


@pytest.fixture
def pausing_server() -> object:
    server = _PausingServer(bytes(range(256)) * 16, pause=1.5)
    yield server
    server.close()


def test_sim_get_without_length_and_a_pausing_body(
    sim: Simulator, at: Callable[..., object], pausing_server: object
) -> None:
    # Captures C12 (SeeedJP/WioLTEforArduino issue #14, an EC21-J on the same
    # QHTTP stack): "+QHTTPGET: 0,200" with no length, then a QHTTPREAD whose
    # body pauses mid-stream. The pause here is the server's own.
    client = _ready(sim, at)
    assert _get(client, pausing_server.url("/x")) == b"\r\n+QHTTPGET: 0,200\r\n"  # type: ignore[attr-defined]
    client.send(b"AT+QHTTPREAD=80\r")  # type: ignore[attr-defined]
    got = client.read_until(b"+QHTTPREAD: 0\r\n", timeout=10)  # type: ignore[attr-defined]
    assert got == (b"\r\nCONNECT\r\n" + bytes(range(256)) * 16 + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_client_reads_a_body_without_length_that_pauses_within_wait_time(
    sim: Simulator, pausing_server: object
) -> None:
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        response = modem.http.get(pausing_server.url("/x"), wait_time=30)  # type: ignore[attr-defined]
        assert response.status_code == 200
        assert response.content_length is None
        assert response.content == bytes(range(256)) * 16


def test_client_reads_a_body_that_pauses_within_wait_time(
    sim: Simulator, http_server: object
) -> None:
    # The same pause with a Content-Length (read with AT+QHTTPREAD): 4 pieces 0.5 s apart.
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        url = http_server.url("/slow/4000?delay=0.5")  # type: ignore[attr-defined]
        response = modem.http.get(url, wait_time=30)
        assert response.status_code == 200
        assert len(response.content) == 4000


class _PtyAT:
    """A raw AT client on the simulator's pty (the second port)."""

    def __init__(self, path: str) -> None:
        import os
        import termios
        import tty

        self._os = os
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)

    def send(self, data: bytes) -> None:
        self._os.write(self.fd, data)

    def read_until(self, end: bytes, timeout: float = 5.0) -> bytes:
        import select
        import time

        got = b""
        deadline = time.monotonic() + timeout
        while end not in got:
            left = deadline - time.monotonic()
            assert left > 0, f"no {end!r} in {got!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                got += self._os.read(self.fd, 4096)
        return got

    def close(self) -> None:
        self._os.close(self.fd)


def test_second_port_gets_704_while_the_first_is_in_data_mode(
    sim: Simulator, at: Callable[..., object]
) -> None:
    # HTTP note 4.4: "+CME ERROR: 704 ... the module only supports one port in
    # data mode at a time". The socket port enters data mode (QHTTPURL waits for
    # the URL); the pty's QHTTPURL is refused at once instead of hanging.
    socket_port = at(sim)
    socket_port.send(b"ATE0\r")  # type: ignore[attr-defined]
    socket_port.read_final()  # type: ignore[attr-defined]
    socket_port.send(b"AT+QHTTPURL=22,60\r")  # type: ignore[attr-defined]
    socket_port.expect(b"\r\nCONNECT\r\n")  # type: ignore[attr-defined]
    pty = _PtyAT(sim.pty)
    try:
        pty.send(b"AT+QHTTPURL=10,5\r")
        assert pty.read_until(b"704\r\n").endswith(b"\r\n+CME ERROR: 704\r\n")
        socket_port.send(b"http://127.0.0.1:9/x/y")  # type: ignore[attr-defined]
        socket_port.expect(b"\r\nOK\r\n")  # type: ignore[attr-defined]
        pty.send(b"AT+QHTTPURL?\r")
        assert b"+QHTTPURL: http://127.0.0.1:9/x/y" in pty.read_until(b"OK\r\n")
    finally:
        pty.close()


def test_client_gets_a_typed_704_from_a_busy_module(
    sim: Simulator, at: Callable[..., object]
) -> None:
    # Another program on the other port is in data mode (a long input time):
    # the client gets the typed 704 at once, which modem.http retries (note 4.4).
    with Modem.open(sim.pty) as modem:
        socket_port = at(sim)
        socket_port.send(b"AT+QHTTPURL=22,65535\r")  # type: ignore[attr-defined]
        socket_port.read_until(b"CONNECT\r\n")  # type: ignore[attr-defined]
        with pytest.raises(errors.HTTPUARTBusyError):
            modem.command("AT+QHTTPURL=10,5", data=b"http://x/y")
        socket_port.send(b"http://127.0.0.1:9/x/y")  # type: ignore[attr-defined]
        socket_port.read_until(b"OK\r\n")  # type: ignore[attr-defined]
        assert modem.command("AT+QHTTPURL?").lines == ("+QHTTPURL: http://127.0.0.1:9/x/y",)


# -- a wedged HTTP stack, module state across a host restart -------------------------


def _ready(sim: Simulator, at: Callable[..., object]) -> object:
    client = at(sim)
    client.send(b"ATE0\r")  # type: ignore[attr-defined]
    client.read_final()  # type: ignore[attr-defined]
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    return client


def _get(client: object, url: str) -> bytes:
    raw = url.encode()
    client.send(f"AT+QHTTPURL={len(raw)},80\r".encode())  # type: ignore[attr-defined]
    client.expect(b"\r\nCONNECT\r\n")  # type: ignore[attr-defined]
    client.send(raw)  # type: ignore[attr-defined]
    client.expect(b"\r\nOK\r\n")  # type: ignore[attr-defined]
    client.send(b"AT+QHTTPGET=80\r")  # type: ignore[attr-defined]
    client.expect(b"\r\nOK\r\n")  # type: ignore[attr-defined]
    return client.read_until(b"\r\n", timeout=10) + client.read_until(b"\r\n", timeout=10)  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("cure", ["reactivate", "reboot"])
def test_wedged_stack_fails_until_the_chapter_4_cure(
    make_sim: Callable[..., Simulator], at: Callable[..., object], http_server: object, cure: str
) -> None:
    # Captures C13 (SeeedJP/WioLTEforArduino issue #38): after 20-300 requests the
    # stack fails every request until reset + re-activation; HTTP note 4.5: the
    # cure for failing requests is AT+QIDEACT + AT+QIACT, 4.2: else reboot.
    sim = make_sim(http_wedge_after=2, http_wedge_cure=cure)
    client = _ready(sim, at)
    url = http_server.url("/bytes/3")  # type: ignore[attr-defined]
    assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
    assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
    assert _get(client, url) == b"\r\n+QHTTPGET: 710\r\n"
    assert client.command("AT+QHTTPPOST=3,80,80") == b"\r\n+CME ERROR: 710\r\n"  # type: ignore[attr-defined]
    assert client.command("AT+QIDEACT=1") == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    if cure == "reactivate":
        assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
        return
    assert _get(client, url) == b"\r\n+QHTTPGET: 710\r\n"
    sim.reboot()
    assert sim.wait_booted(10)
    client = _ready(sim, at)
    assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"


def test_module_state_survives_a_host_restart(
    sim: Simulator, at: Callable[..., object], http_server: object, coap_server: object
) -> None:
    # The module keeps its sessions when the host program dies: a response not
    # yet read is still there for the next connection, and a CoAP client id
    # still open answers -10 (CoAP note table 5, "identifier occupied").
    first = _ready(sim, at)
    assert _get(first, http_server.url("/bytes/5")) == b"\r\n+QHTTPGET: 0,200,5\r\n"  # type: ignore[attr-defined]
    host, port = "127.0.0.1", coap_server.port  # type: ignore[attr-defined]
    first.send(f'AT+QCOAPOPEN=0,"{host}",{port}\r'.encode())  # type: ignore[attr-defined]
    first.expect(b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n")  # type: ignore[attr-defined]
    first.close()  # type: ignore[attr-defined]
    second = at(sim)
    second.send(b"ATE0\r")  # type: ignore[attr-defined]
    second.read_final()  # type: ignore[attr-defined]
    second.send(b"AT+QHTTPREAD=80\r")  # type: ignore[attr-defined]
    body = second.read_until(b"+QHTTPREAD: 0\r\n")  # type: ignore[attr-defined]
    assert body.startswith(b"\r\nCONNECT\r\n") and body.endswith(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    second.send(f'AT+QCOAPOPEN=0,"{host}",{port}\r'.encode())  # type: ignore[attr-defined]
    second.expect(b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,-10\r\n")  # type: ignore[attr-defined]


def test_restarted_gateway_recovers_its_own_coap_client_only(
    sim: Simulator, coap_server: object
) -> None:
    host, port = "127.0.0.1", coap_server.port  # type: ignore[attr-defined]
    with Modem.open(sim.url) as first:
        first.network.activate(1)
        first.coap.client(0).open(host, port)  # type: ignore[attr-defined]
        first.coap.client(1).open(host, port)  # type: ignore[attr-defined]
    # The program restarts and names its own id: 0 is closed, 1 (another
    # program's) is left alone.
    with Modem.open(sim.url, recover_coap=[0]) as second:
        assert second.health().recoveries == {"coap_close": 1}
        second.coap.client(0).open(host, port)  # type: ignore[attr-defined]
    assert sim.module.coap.slots[1].session is not None


def test_health_counts_errors_by_code_and_reboots(sim: Simulator) -> None:
    with Modem.open(sim.url) as modem:
        with pytest.raises(errors.CommandError):
            modem.command("AT+QHTTPREAD=80")  # 705: no request yet
        with pytest.raises(errors.CommandError):
            modem.command("AT+NOSUCH")
        modem.reboot()
        report = modem.health()
        assert report.reboots == 1
        assert report.errors == {"705": 1, "ERROR": 1}
        assert report.error_count == 2


def test_python_m_lpwa_sim_is_ready_when_it_prints_its_url() -> None:
    # Issue 15: a BG95 profile prints APP RDY last; the URL is printed only
    # once the module is ready, so the first extended command is answered.
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa.sim", "--no-pty", "--firmware", BG95],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("url: "):
                url = line.split("url: ", 1)[1].strip()
                break
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"AT+CPIN?\r")
            got = b""
            while b"OK\r\n" not in got and b"ERROR" not in got:
                chunk = conn.recv(4096)
                assert chunk, got
                got += chunk
        assert got == b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"
    finally:
        proc.terminate()
        proc.wait(10)


# -- TLS as configured -------------------------------------------------------------------


@pytest.fixture
def virtual_host(server_cert: object) -> object:
    """An HTTPS server that, like a virtual-hosting front end, refuses a
    handshake without SNI (unrecognized_name), certificate for localhost."""
    import ssl

    from servers import HTTPTestServer

    def require_sni(_sock: object, name: str | None, _ctx: object) -> int | None:
        return None if name else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)  # type: ignore[attr-defined]
    context.sni_callback = require_sni  # type: ignore[assignment]
    server = HTTPTestServer(context)
    yield server
    server.close()


def test_bg95_default_sni_0_breaks_a_virtual_hosted_server(
    make_sim: Callable[..., Simulator], at: Callable[..., object], virtual_host: object
) -> None:
    # Issue 15: SNI is off by default on BG95 (AT+QSSLCFG="sni",<ctx>,(0,1),
    # captures C16), which breaks virtual-hosted servers; the module sends the
    # name only with sni 1.
    sim = make_sim(firmware=BG95, hosts={"localhost": "127.0.0.1"})
    client = _ready(sim, at)
    assert client.command('AT+QHTTPCFG="sslctxid",1') == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    url = virtual_host.url("/bytes/2", host="localhost")  # type: ignore[attr-defined]
    assert _get(client, url) == b"\r\n+QHTTPGET: 701\r\n"
    assert client.command('AT+QSSLCFG="sni",1,1') == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,2\r\n"


def test_client_sends_sni_to_a_virtual_hosted_server(
    make_sim: Callable[..., Simulator], virtual_host: object, ca_pem: bytes
) -> None:
    sim = make_sim(firmware=BG95, hosts={"localhost": "127.0.0.1"})
    sim.ufs["cacert.pem"] = ca_pem
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        modem.ssl.configure(1, seclevel=1, cacert="cacert.pem")  # sets sni=1 too
        url = virtual_host.url("/bytes/2", host="localhost")  # type: ignore[attr-defined]
        assert modem.http.get(url).status_code == 200


def test_unrequested_bg95_reboot_is_waited_out_before_the_next_command(
    make_sim: Callable[..., Simulator],
) -> None:
    # A brown-out reboot (no AT+CFUN): the next command sets the session up
    # again, waiting through RDY -> APP RDY instead of failing with ERROR.
    sim = make_sim(firmware=BG95, app_rdy_delay=60)
    with Modem.open(sim.url) as modem:
        with modem.channel.expect_urc("RDY") as rdy:
            sim.reboot()
            rdy.wait(10)
        assert not sim.ready
        assert modem.network.sim_status() == "READY"
        assert sim.ready
        assert modem.health().reboots == 1


def test_tls_the_host_cannot_do_is_substituted_once_and_flagged(
    sim: Simulator,
    at: Callable[..., object],
    https_server: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The HTTP note's own examples configure TLS 1.0 and RC4-SHA (0x0005):
    # a modern OpenSSL cannot negotiate either. The simulator negotiates what it
    # can, but says so once per kind and flags it, so nobody takes its
    # handshake for the module's.
    client = _ready(sim, at)
    for line in (
        b'AT+QHTTPCFG="sslctxid",1',
        b'AT+QSSLCFG="sslversion",1,1',
        b'AT+QSSLCFG="ciphersuite",1,0x0005',
        b'AT+QSSLCFG="seclevel",1,0',
    ):
        assert client.command(line) == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    assert sim.tls_substitutions == []
    url = https_server.url("/bytes/3")  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="lpwa.sim"):
        assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
        assert _get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
    flagged = sim.tls_substitutions
    assert len(flagged) == 2
    assert any("sslversion 1" in text for text in flagged)
    assert any("0x0005" in text for text in flagged)
    warnings = [r for r in caplog.records if "TLS differs" in r.getMessage()]
    assert len(warnings) == 2  # once per kind, not per handshake


def test_tls_as_configured_is_not_flagged(
    sim: Simulator, at: Callable[..., object], https_server: object
) -> None:
    client = _ready(sim, at)
    for line in (
        b'AT+QHTTPCFG="sslctxid",1',
        b'AT+QSSLCFG="sslversion",1,3',
        b'AT+QSSLCFG="ciphersuite",1,0XC02B',  # trustme keys are ECDSA
        b'AT+QSSLCFG="seclevel",1,0',
    ):
        assert client.command(line) == b"\r\nOK\r\n"  # type: ignore[attr-defined]
    assert _get(client, https_server.url("/bytes/3")) == b"\r\n+QHTTPGET: 0,200,3\r\n"  # type: ignore[attr-defined]
    assert sim.tls_substitutions == []


def test_client_on_a_tls_1_0_context_works_and_the_simulator_says_so(
    sim: Simulator, https_server: object, ca_pem: bytes
) -> None:
    sim.ufs["cacert.pem"] = ca_pem
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        modem.ssl.configure(1, sslversion=1, ciphersuite=0x0005, seclevel=1, cacert="cacert.pem")
        response = modem.http.get(https_server.url("/bytes/2"))  # type: ignore[attr-defined]
        assert (response.status_code, len(response.content)) == (200, 2)
    assert sim.tls_substitutions


def test_client_dns_servers_of_an_inactive_context_is_a_clear_network_error(
    sim: Simulator,
) -> None:
    # The module answers a plain ERROR there (Azure/embedded-wireless-framework
    # issue #20); the client says why instead of passing "ERROR" on.
    with Modem.open(sim.url) as modem:
        with pytest.raises(NetworkError, match="not active"):
            modem.network.dns_servers(1)
        modem.network.activate(1)
        assert modem.network.dns_servers(1) == ["10.7.0.53", "10.7.0.54"]


# -- modem.http's chapter-4 ladder on a wedged stack ------------------------------------


def test_http_reactivates_a_wedged_stack_and_counts_it(
    make_sim: Callable[..., Simulator], http_server: object
) -> None:
    sim = make_sim(http_wedge_after=1, http_wedge_cure="reactivate")
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        url = http_server.url("/bytes/4")  # type: ignore[attr-defined]
        assert modem.http.get(url).status_code == 200
        assert modem.http.get(url).status_code == 200  # 710, AT+QIDEACT/QIACT, again
        report = modem.health()
        assert report.errors == {"710": 1}
        assert report.recoveries == {"reactivate": 1}
        assert report.reboots == 0


def test_http_reboots_a_stack_that_re_activation_does_not_cure(
    make_sim: Callable[..., Simulator], http_server: object
) -> None:
    # Captures C13: only a reset and re-activation brought the stack back; HTTP
    # note 4.2 ends with "please reboot the module". A reboot is a bigger step:
    # it needs retries >= 2 and happens at most once per request.
    sim = make_sim(firmware=BG95, http_wedge_after=1, http_wedge_cure="reboot")
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        url = http_server.url("/bytes/4")  # type: ignore[attr-defined]
        assert modem.http.get(url).status_code == 200
        with pytest.raises(errors.HTTPNetworkError):
            modem.http.get(url, retries=1)  # re-activation alone does not cure it
        assert len(modem.http.get(url, retries=2).content) == 4
        report = modem.health()
        assert report.recoveries == {"reactivate": 2, "reboot": 1}
        assert report.reboots == 1
        assert report.errors["710"] == 4


def test_the_reboot_rung_puts_the_callers_qhttpcfg_back(
    make_sim: Callable[..., Simulator], http_server: object
) -> None:
    # Review finding: after the reboot only the request's own keys were set
    # again; the caller's sslctxid fell back to the default, and stayed there.
    sim = make_sim(firmware=BG95, http_wedge_after=1, http_wedge_cure="reboot")
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        modem.http.config(sslctxid=2)
        url = http_server.url("/bytes/4")  # type: ignore[attr-defined]
        assert modem.http.get(url).status_code == 200
        assert len(modem.http.get(url, retries=2).content) == 4
        assert modem.health().recoveries["reboot"] == 1
        assert '+QHTTPCFG: "sslctxid",2' in modem.command("AT+QHTTPCFG?").lines


def test_an_https_request_is_not_resent_after_the_reboot_rung(
    make_sim: Callable[..., Simulator], https_server: object
) -> None:
    # A reboot may reset the SSL contexts, which lpwa cannot set up again for the
    # caller: the request fails instead of going out on an unverified context.
    sim = make_sim(firmware=BG95, http_wedge_after=0, http_wedge_cure="reboot")
    with Modem.open(sim.url) as modem:
        modem.network.activate(1)
        url = https_server.url("/bytes/4")  # type: ignore[attr-defined]
        with pytest.raises(errors.HTTPNetworkError):
            modem.http.get(url, retries=2)
        assert modem.health().recoveries.get("reboot", 0) == 0
