"""Simulator framing (design section 2): echo, info lines, final codes, URC hold,
data phases, ``+++``, boot URCs, identity, ports."""

from __future__ import annotations

import time

import pytest
import serial

from lpwa.sim import KNOWN_FIRMWARE, Simulator
from servers import pattern_bytes


def test_echo_is_on_after_power_up(sim, at):
    client = at(sim)
    client.send(b"AT\r")
    client.expect(b"AT\r\r\nOK\r\n")


def test_ate0_turns_echo_off_and_ate1_back_on(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.expect(b"ATE0\r\r\nOK\r\n")
    client.send(b"AT\r")
    client.expect(b"\r\nOK\r\n")
    client.send(b"ATE1\r")
    client.expect(b"\r\nOK\r\n")
    client.send(b"AT\r")
    client.expect(b"AT\r\r\nOK\r\n")


def test_echo_option_sets_the_power_up_state(make_sim, at):
    client = at(make_sim(echo=False))
    client.send(b"AT\r")
    client.expect(b"\r\nOK\r\n")


def test_info_line_then_blank_line_then_ok(sim, at):
    client = at(sim)
    client.send(b"AT+CPIN?\r")
    client.expect(b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n")


def test_consecutive_info_lines_share_one_crlf(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.expect(b"ATE0\r\r\nOK\r\n")
    client.send(b"ATI\r")
    client.expect(b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n")


# Model lines per variant and base vs full revision: a real BG95-M3 answers ATI
# "Quectel / BG95-M3 / Revision: BG95M3LAR02A03" (captures C16, lukejenkins/cwd),
# AT+CGMR "BG95M3LAR02A03" and AT+QGMR "BG95M3LAR02A03_01.204.01.204" (captures
# C4, zephyrproject-rtos/zephyr PR #93068); a BG96 "BG96" (TinyGSM issue #157).
@pytest.mark.parametrize(
    ("firmware", "model", "short"),
    [
        ("BG96MAR02A07M1G_01.016.01.016", "BG96", "BG96MAR02A07M1G"),
        ("BG96MAR03A06M1G_01.005.01.005", "BG96", "BG96MAR03A06M1G"),
        ("BG95M3LAR02A03_01.006.01.006", "BG95-M3", "BG95M3LAR02A03"),
        ("BG95M3LAR02A03_01.204.01.204", "BG95-M3", "BG95M3LAR02A03"),
        ("BG77LAR02A04_01.003.01.003", "BG77", "BG77LAR02A04"),
    ],
)
def test_identity_of_each_profile(make_sim, at, firmware, model, short):
    client = at(make_sim(firmware=firmware, echo=False))
    assert client.command("ATI") == (
        f"\r\nQuectel\r\n{model}\r\nRevision: {short}\r\n\r\nOK\r\n".encode()
    )
    assert client.command("AT+CGMR") == f"\r\n{short}\r\n\r\nOK\r\n".encode()
    assert client.command("AT+QGMR") == f"\r\n{firmware}\r\n\r\nOK\r\n".encode()
    assert client.command("AT+CGMM") == f"\r\n{model}\r\n\r\nOK\r\n".encode()


def test_known_firmware_list_covers_the_brief():
    for rev in (
        "BG96MAR02A07M1G_01.011.01.011",
        "BG96MAR02A07M1G_01.016.01.016",
        "BG96MAR03A06M1G_01.005.01.005",
        "BG96MAR04A02M1G_02.002.01.002",
    ):
        assert rev in KNOWN_FIRMWARE


def test_unknown_firmware_is_a_value_error():
    with pytest.raises(ValueError, match="unknown firmware"):
        Simulator(firmware="SIM800")


def test_unknown_command_answers_error(sim, at):
    client = at(sim)
    client.send(b"AT+NOSUCH\r")
    client.expect(b"AT+NOSUCH\r\r\nERROR\r\n")


def test_garbage_line_answers_error_and_the_module_keeps_working(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(b'\x00\xffhello"world\r')
    client.expect(b"\r\nERROR\r\n")
    client.send(b'AT+QHTTPCFG="contextid\r')  # unterminated quote
    client.expect(b"\r\nERROR\r\n")
    client.send(b"A" * 5000 + b"\r")  # over-long line
    client.expect(b"\r\nERROR\r\n")
    assert client.command("AT") == b"\r\nOK\r\n"


def test_cme_error_follows_cmee(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QHTTPURL=0") == b"\r\n+CME ERROR: 730\r\n"
    assert client.command("AT+CMEE=0") == b"\r\nOK\r\n"
    assert client.command("AT+QHTTPURL=0") == b"\r\nERROR\r\n"
    assert client.command("AT+CMEE=2") == b"\r\nOK\r\n"
    assert client.command("AT+QHTTPURL=0") == b"\r\n+CME ERROR: Invalid parameter\r\n"
    assert client.command("AT+CMEE?") == b"\r\n+CMEE: 2\r\n\r\nOK\r\n"
    assert client.command("AT+CMEE=3") == b"\r\nERROR\r\n"


def test_atv0_gives_numeric_result_codes(sim, at):
    client = at(sim)
    client.send(b"ATE0V0\r")
    client.expect(b"ATE0V0\r0\r")
    client.send(b"AT+CPIN?\r")
    client.expect(b"+CPIN: READY\r\n0\r")
    client.send(b"AT+NOSUCH\r")
    client.expect(b"4\r")
    client.send(b"ATV1\r")
    client.expect(b"\r\nOK\r\n")


def test_sim_and_registration_knobs(make_sim, at):
    simulator = make_sim(sim_ready=False, registered=False)
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    assert client.command("AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"
    simulator.sim_ready = True
    assert client.command("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert client.command("AT+CEREG?") == b"\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
    assert client.command("AT+QIACT=1") == b"\r\nERROR\r\n"  # HTTP note 4.2
    simulator.registered = True
    assert client.command("AT+CEREG?") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    assert client.command("AT+COPS?") == b'\r\n+COPS: 0,0,"CHN-UNICOM",8\r\n\r\nOK\r\n'
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"


def test_losing_the_network_deactivates_pdp_with_a_urc(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"
    sim.registered = False
    client.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')
    assert client.command("AT+QIACT?") == b"\r\nOK\r\n"


def test_pdp_commands_in_quectel_formats(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QICSGP=1") == b'\r\n+QICSGP: 1,"","","",0\r\n\r\nOK\r\n'
    assert client.command('AT+QICSGP=1,1,"UNINET","","",1') == b"\r\nOK\r\n"
    assert client.command("AT+QICSGP=1") == b'\r\n+QICSGP: 1,"UNINET","","",1\r\n\r\nOK\r\n'
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"
    assert client.command("AT+QIACT?") == b'\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n\r\nOK\r\n'
    assert client.command("AT+QIACT=1") == b"\r\nERROR\r\n"  # already active
    assert client.command("AT+QIDEACT=1") == b"\r\nOK\r\n"
    assert client.command("AT+QIACT?") == b"\r\nOK\r\n"


def test_cfun_1_1_answers_ok_then_reboots_with_boot_urcs(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(b"AT+CFUN=1,1\r")
    client.expect(b"\r\nOK\r\n\r\nPOWERED DOWN\r\n")  # TinyGSM issue #157
    client.expect(
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n",
        timeout=5,
    )
    client.send(b"AT\r")
    client.expect(b"AT\r\r\nOK\r\n")  # echo is back on after the reboot


def test_bg95_boot_urcs_end_with_app_rdy(make_sim, at):
    # Issue 15: BG95/BG77 print APP RDY last.
    simulator = make_sim(firmware="BG95M3LAR02A03_01.006.01.006")
    client = at(simulator)
    simulator.reboot()
    client.expect(
        b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
        b"\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\nAPP RDY\r\n",
        timeout=5,
    )


def test_reboot_resets_settings_but_keeps_the_ufs(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    client.command("AT+CMEE=0")
    client.command('AT+QHTTPCFG="responseheader",1')
    client.command("AT+QIACT=1")
    sim.ufs["keep.txt"] = b"kept"
    sim.reboot()
    client.read_until(b"+QIND: SMS DONE\r\n", timeout=5)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+CMEE?") == b"\r\n+CMEE: 1\r\n\r\nOK\r\n"
    assert client.command('AT+QHTTPCFG="responseheader"') == (
        b'\r\n+QHTTPCFG: "responseheader",0\r\n\r\nOK\r\n'
    )
    assert client.command("AT+QIACT?") == b"\r\nOK\r\n"
    assert client.command('AT+QFLST="*"') == b'\r\n+QFLST: "keep.txt",4\r\n\r\nOK\r\n'


def test_host_data_phase_reads_exactly_n_bytes_without_echo(sim, at):
    client = at(sim)
    client.send(b"AT+QHTTPURL=22,80\r")
    client.expect(b"AT+QHTTPURL=22,80\r\r\nCONNECT\r\n")
    client.send(b"https://www.alipay.com")
    client.expect(b"\r\nOK\r\n")
    client.send(b"AT+QHTTPURL?\r")
    client.expect(b"AT+QHTTPURL?\r\r\n+QHTTPURL: https://www.alipay.com\r\n\r\nOK\r\n")


def test_input_time_expiry_is_cme_726(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(b"AT+QHTTPURL=30,1\r")
    client.expect(b"\r\nCONNECT\r\n")
    client.send(b"http://short")
    start = time.monotonic()
    client.expect(b"\r\n+CME ERROR: 726\r\n", timeout=5)  # HTTP note ch.5: Input timeout
    assert time.monotonic() - start < 2  # 1 s scaled by 0.05


def test_plus_plus_plus_with_guard_times_leaves_data_mode(make_sim, at):
    simulator = make_sim(time_scale=0.2)  # guard time 0.2 s
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(b"AT+QHTTPURL=50,80\r")
    client.expect(b"\r\nCONNECT\r\n")
    client.send(b"http://x")
    time.sleep(0.35)
    client.send(b"+++")
    time.sleep(0.35)
    client.expect(b"\r\nOK\r\n", timeout=3)
    assert client.command("AT+QHTTPURL?") == b"\r\nOK\r\n"  # nothing was set


def test_plus_plus_plus_without_guard_time_is_data(make_sim, at):
    simulator = make_sim(time_scale=0.2)
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(b"AT+QHTTPURL=11,80\r")
    client.expect(b"\r\nCONNECT\r\n")
    client.send(b"http://a+++")
    client.expect(b"\r\nOK\r\n")
    assert client.command("AT+QHTTPURL?") == b"\r\n+QHTTPURL: http://a+++\r\n\r\nOK\r\n"


def test_urcs_are_held_during_a_data_block_then_flushed(sim, at):
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    sim.ufs["big.bin"] = b"\x00" * 200_000
    client.send(b'AT+QFDWL="big.bin"\r')
    client.expect(b"\r\nCONNECT\r\n")
    sim.module.emit_urc('+QIURC: "pdpdeact",1')
    body = client.read_exact(200_000)
    assert body == b"\x00" * 200_000
    client.expect(b"\r\n+QFDWL: 200000,0\r\n\r\nOK\r\n")
    client.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')


def test_urcs_follow_the_port_of_the_last_command(sim, at):
    tcp = at(sim)
    tcp.send(b"ATE0\r")
    tcp.read_final()
    with serial.Serial(sim.pty, timeout=2) as pty:
        pty.write(b"ATE0\r")
        assert pty.read_until(b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
        sim.module.emit_urc("+TEST: 1")
        assert pty.read_until(b"+TEST: 1\r\n") == b"\r\n+TEST: 1\r\n"
        tcp.command("AT")
        sim.module.emit_urc("+TEST: 2")
        tcp.expect(b"\r\n+TEST: 2\r\n")
        pty.write(b'AT+QURCCFG="urcport","usbat"\r')
        assert pty.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        tcp.command("AT")
        sim.module.emit_urc("+TEST: 3")
        assert pty.read_until(b"+TEST: 3\r\n") == b"\r\n+TEST: 3\r\n"
        assert (
            tcp.command('AT+QURCCFG="urcport"') == b'\r\n+QURCCFG: "urcport","usbat"\r\n\r\nOK\r\n'
        )


def test_pty_and_socket_share_module_state(sim, at):
    with serial.Serial(sim.pty, timeout=2) as pty:
        pty.write(b"AT+QIACT=1\r")
        assert pty.read_until(b"OK\r\n").endswith(b"\r\nOK\r\n")
    client = at(sim)
    assert client.command("AT+QIACT?").endswith(b'+QIACT: 1,1,1,"10.7.157.1"\r\n\r\nOK\r\n')


def test_socket_reconnect_works(sim, at):
    first = at(sim)
    assert first.command("AT") == b"AT\r\r\nOK\r\n"
    first.close()
    second = at(sim)
    assert second.command("AT") == b"AT\r\r\nOK\r\n"
    port = serial.serial_for_url(sim.url, timeout=2)
    try:
        port.write(b"AT\r")
        assert port.read_until(b"OK\r\n") == b"AT\r\r\nOK\r\n"
    finally:
        port.close()


def test_transcript_records_both_directions(sim, at):
    client = at(sim)
    client.command("AT")
    assert b"AT\r" in sim.transcript_bytes("in")
    assert b"AT\r\r\nOK\r\n" in sim.transcript_bytes("out", port="socket")


def test_plus_plus_plus_interrupts_a_qhttpread(make_sim, at, http_server):
    simulator = make_sim(time_scale=0.2)  # guard time 0.2 s
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    client.command("AT+QIACT=1")
    url = http_server.url("/slow/4000?delay=3").encode()
    client.send(f"AT+QHTTPURL={len(url)},80\r".encode())
    client.read_until(b"CONNECT\r\n")
    client.send(url)
    client.read_final()
    client.send(b"AT+QHTTPGET=80\r")
    client.expect(b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,4000\r\n")
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(1000))
    time.sleep(0.3)
    client.send(b"+++")
    client.expect(b"\r\nOK\r\n", timeout=2)  # before the next piece (3 s later)
    assert client.command("AT") == b"\r\nOK\r\n"
