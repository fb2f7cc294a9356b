"""CoAP commands (CoAP note 3.3): AT+QCOAPCFG, +QCOAPOPEN, +QCOAPCLOSE,
+QCOAPHEADER, +QCOAPOPTION, +QCOAPSEND; the UDP side is ``coap_client``.

Decisions where the note is silent:

- Every error of these commands is plain ``ERROR`` ("If there is any error:
  ERROR"); results of the network side come in the URCs.
- QCOAPOPEN brings the data call up itself (the note's 5.1 example never runs
  AT+QIACT): not registered gives ``+QCOAPOPEN: <id>,-4``, an unresolvable name
  ``-5``, an id already open ``-10``. With DTLS enabled it runs the handshake
  (``datagram.DtlsLink``: PSK from ``<ctx>_server.psk``, bounded time) before
  answering: ``-9`` when it fails, ``-7`` when the peer is unreachable.
- QCOAPHEADER mode 1 generates a 6-byte token (the length of the note's example
  token ``D204D52E814B``) from the seeded RNG, after any tokens queued in
  ``CoapState.auto_tokens``. Mode 0 takes ``<token>`` as hex, ``2*<TKL>``
  digits. Without QCOAPHEADER a client starts at a seeded random msgID with
  auto tokens; after each send the msgID increases by one and an auto token is
  renewed, so consecutive sends never reuse a msgID.
- QCOAPOPTION values are parsed by ``lpwa.coap.atwire.parse_option_value``
  (Table 2 numbers and lengths; strings quoted, uints decimal and never quoted,
  opaque as hex, If-None-Match empty). QCOAPSEND takes only Table 3's codes;
  QCOAPCFG "dtls" and "trans" take both of their values or neither.
- QCOAPSEND with ``<payload_length>`` reads exactly that many bytes after the
  ``> `` prompt (binary-safe); without it input ends with Ctrl-Z, Esc cancels
  (answered ``OK``, nothing sent) and more than 1024 bytes is ``ERROR``. The
  prompt input times out after 60 s (scaled) with ``ERROR``. An Empty message
  (code 0.00) is sent without token and options.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.coap import OPTIONS, Message, OptionFormat
from lpwa.coap.atwire import CLOSE, OPEN, TABLE_3, parse_option_value
from lpwa.errors import ParameterError
from lpwa.sim import dns
from lpwa.sim.atparse import Command, Form
from lpwa.sim.coap_client import CoapSession
from lpwa.sim.datagram import (
    HANDSHAKE_TIME,
    R_DTLS,
    DatagramLink,
    DtlsFailure,
    DtlsLink,
    UdpLink,
    read_psk,
)
from lpwa.sim.engine import Registry
from lpwa.sim.params import CommandFailed, int_param, max_args, str_param

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx
    from lpwa.sim.module import Module

__all__ = ["REGISTRY", "ClientSlot", "CoapState"]

log = logging.getLogger("lpwa.sim")

AUTO_TOKEN_LENGTH = 6
MAX_PAYLOAD = 1024
PROMPT_TIMEOUT = 60

R_NETWORK = -4
R_DNS = -5
R_SOCKET = -7
R_OCCUPIED = -10


@dataclass
class ClientSlot:
    """Configuration, header, options and (when open) the session of one client id."""

    pdp_cid: int = 1
    dtls_enable: int = 0
    dtls_ctx: int = 0
    timeout: int = 2
    retry_count: int = 5
    msg_id: int | None = None
    token_mode: int = 1
    token: bytes = b""
    options: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    server: str = ""
    port: int = 0
    session: CoapSession | None = None


@dataclass
class CoapState:
    """CoAP clients 0-5 (closed on reboot)."""

    slots: dict[int, ClientSlot] = field(
        default_factory=lambda: {i: ClientSlot() for i in range(6)}
    )
    auto_tokens: list[bytes] = field(default_factory=list)
    """Tokens handed out by QCOAPHEADER mode 1 before the seeded RNG (for replays)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Close every open client."""
        with self.lock:
            sessions = [s.session for s in self.slots.values() if s.session is not None]
            for slot in self.slots.values():
                slot.session = None
        for session in sessions:
            session.close()


def _client(cmd: Command, index: int = 0) -> int:
    return int_param(cmd, index, 0, 5)


def qcoapcfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPCFG="pdpcid"|"dtls"|"trans",<clientID>[,...] (3.3.1)."""
    if cmd.form is Form.TEST:
        ctx.info('+QCOAPCFG: "pdpcid",(0-5),(1-16)')
        ctx.info('+QCOAPCFG: "dtls",(0-5),(0,1),(0-5)')
        ctx.info('+QCOAPCFG: "trans",(0-5),(2-60),(4-8)')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    key = str_param(cmd, 0, quoted=True).lower()
    slot = ctx.module.coap.slots[_client(cmd, 1)]
    query = len(cmd.args) == 2
    if key == "pdpcid":
        max_args(cmd, 3)
        if query:
            ctx.info(f'+QCOAPCFG: "pdpcid",{slot.pdp_cid}')
        else:
            slot.pdp_cid = int_param(cmd, 2, 1, 16)
    elif key == "dtls":
        max_args(cmd, 4)
        if query:
            ctx.info(f'+QCOAPCFG: "dtls",{slot.dtls_enable},{slot.dtls_ctx}')
        else:  # [,<DTLS_enable>,<DTLS_contextID>]: both or neither
            slot.dtls_enable = int_param(cmd, 2, 0, 1)
            slot.dtls_ctx = int_param(cmd, 3, 0, 5)
    elif key == "trans":
        max_args(cmd, 4)
        if query:
            ctx.info(f'+QCOAPCFG: "trans",{slot.timeout},{slot.retry_count}')
        else:
            # [,<timeout>,<retry_count>]: both or neither
            slot.timeout = int_param(cmd, 2, 2, 60)
            slot.retry_count = int_param(cmd, 3, 4, 8)
            if slot.session is not None:  # "The commands take effect immediately."
                slot.session.ack_timeout = ctx.scaled(slot.timeout)
                slot.session.retry_count = slot.retry_count
    else:
        raise CommandFailed(None)


def qcoapopen(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPOPEN=<clientID>,"<server>",<port>: OK, then +QCOAPOPEN: <id>,<result> (3.3.2)."""
    module = ctx.module
    state = module.coap
    if cmd.form is Form.TEST:
        ctx.info("+QCOAPOPEN: (0-5),<CoAP_server>,(1-65535)")
        return
    if cmd.form is Form.READ:
        for cid, slot in state.slots.items():
            if slot.session is not None:
                ctx.info(f'+QCOAPOPEN: {cid},"{slot.server}",{slot.port},3')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 3)
    cid = _client(cmd)
    server = str_param(cmd, 1, quoted=True, max_len=255)
    port = int_param(cmd, 2, 1, 65535)
    if not server:
        raise CommandFailed(None)
    ctx.ok()
    result = _open(module, cid, server, port)
    module.emit_urc(f"{OPEN}: {cid},{result}", generation=ctx.generation)


def _open(module: Module, cid: int, server: str, port: int) -> int:
    slot = module.coap.slots[cid]
    if slot.session is not None:
        return R_OCCUPIED
    if not (module.sim_ready and module.registered and module.cfun == 1):
        return R_NETWORK
    try:
        address = dns.resolve(server, module.options.hosts, system_dns=module.options.system_dns)
    except dns.DNSFailure:
        return R_DNS
    try:
        link = _link(module, slot, (address, port))
    except DtlsFailure as exc:
        log.warning("simulator: CoAP client %d: %s", cid, exc)
        return exc.result
    except OSError:
        return R_SOCKET
    generation = module.generation

    def emit(text: str, payload: bytes) -> None:
        module.emit_urc(text, payload, generation=generation)

    session = CoapSession(
        cid,
        link,
        ack_timeout=module.scaled(slot.timeout),
        retry_count=slot.retry_count,
        ack_prefix=module.profile.coap_ack_prefix,
        emit=emit,
    )
    with module.coap.lock:
        slot.session, slot.server, slot.port = session, server, port
    return 0


def _link(module: Module, slot: ClientSlot, address: tuple[str, int]) -> DatagramLink:
    """Plain UDP, or DTLS with the PSK and SSL context of QCOAPCFG "dtls" (note 3.3.1)."""
    if not slot.dtls_enable:
        return UdpLink(address)
    ssl = module.ssl.contexts[slot.dtls_ctx]
    psk = read_psk(module.ufs, slot.dtls_ctx)
    seconds = min(float(ssl.negotiatetime), HANDSHAKE_TIME)
    try:
        return DtlsLink(address, psk, ssl, handshake_time=module.scaled(seconds))
    except (DtlsFailure, OSError):
        raise
    except Exception as exc:
        raise DtlsFailure(R_DTLS, f"DTLS setup failed: {exc!r}") from None


def qcoapclose(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPCLOSE=<clientID>: OK, then +QCOAPCLOSE: <id>,0 (3.3.3)."""
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info("+QCOAPCLOSE: (0-5)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 1)
    cid = _client(cmd)
    slot = module.coap.slots[cid]
    with module.coap.lock:
        session, slot.session = slot.session, None
    if session is None:
        raise CommandFailed(None)
    session.close()
    ctx.ok()
    module.emit_urc(f"{CLOSE}: {cid},0", generation=ctx.generation)


def qcoapheader(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPHEADER=<clientID>,<msgID>,<mode>[,<TKL>,<token>] (3.3.4)."""
    if cmd.form is Form.TEST:
        ctx.info("+QCOAPHEADER: (0-5),(0-65535),(0,1),(0-8),<token>")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 5)
    slot = ctx.module.coap.slots[_client(cmd)]
    msg_id = int_param(cmd, 1, 0, 65535)
    mode = int_param(cmd, 2, 0, 1)
    token = b""
    if mode == 0:
        tkl = int_param(cmd, 3, 0, 8)
        text = str_param(cmd, 4, default="")
        try:
            token = bytes.fromhex(text)
        except ValueError:
            raise CommandFailed(None) from None
        if len(token) != tkl:
            raise CommandFailed(None)
    slot.msg_id, slot.token_mode, slot.token = msg_id, mode, token


def qcoapoption(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPOPTION=<clientID>,<mode>,<opt_index>[,<opt_number>,<opt_value>] (3.3.5)."""
    if cmd.form is Form.TEST:
        ctx.info("+QCOAPOPTION: (0-5),(0,1),(0-7),<opt_number>,<opt_value>")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 5)
    slot = ctx.module.coap.slots[_client(cmd)]
    mode = int_param(cmd, 1, 0, 1)
    index = int_param(cmd, 2, 0, 7)
    if mode == 1:
        if len(cmd.args) > 3:
            raise CommandFailed(None)
        slot.options.pop(index, None)
        return
    number = int_param(cmd, 3, 0, 65535)
    arg = cmd.arg(4)
    if arg is None:
        raise CommandFailed(None)
    if arg.quoted and number in OPTIONS and OPTIONS[number].format is OptionFormat.UINT:
        raise CommandFailed(None)  # an integer parameter is never quoted (note's 12,40)
    text = arg.text
    try:
        value = parse_option_value(number, text)
    except ParameterError:
        raise CommandFailed(None) from None
    slot.options[index] = (number, value)


def _auto_token(module: Module) -> bytes:
    state = module.coap
    with state.lock:
        if state.auto_tokens:
            return state.auto_tokens.pop(0)
    return module.rng.randbytes(AUTO_TOKEN_LENGTH)


def qcoapsend(ctx: Ctx, cmd: Command) -> None:
    """AT+QCOAPSEND=<clientID>,<type>,<code_value>,<opt_bitmask>[,<payload_length>] (3.3.6)."""
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info("+QCOAPSEND: (0-5),(0-3),<code_value>,<opt_bitmask>,(0-1024)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 5)
    slot = module.coap.slots[_client(cmd)]
    mtype = int_param(cmd, 1, 0, 3)
    code = int_param(cmd, 2, 0, 255, allowed=tuple(sorted(TABLE_3)))
    bitmask = int_param(cmd, 3, 0, 255)
    length = None if cmd.arg(4) is None else int_param(cmd, 4, 0, MAX_PAYLOAD)
    session = slot.session
    if session is None:
        raise CommandFailed(None)
    ctx.prompt()
    timeout = ctx.scaled(PROMPT_TIMEOUT)
    if length is not None:
        got = ctx.read_data(length, timeout)
        if got.end != "complete":
            raise CommandFailed(None)
    else:
        got = ctx.read_until_ctrl_z(MAX_PAYLOAD, timeout)
        if got.end == "cancel":
            return
        if got.end != "ctrlz":
            raise CommandFailed(None)
    if slot.msg_id is None:
        slot.msg_id = module.rng.randrange(0x10000)
    if slot.token_mode == 1 and not slot.token:
        slot.token = _auto_token(module)
    options = [slot.options[i] for i in sorted(slot.options) if bitmask & (1 << i)]
    token = slot.token
    if code == 0:
        token, options = b"", []
    try:
        message = Message(mtype, code, slot.msg_id, token, options, got.data)
        message.encode()
    except ParameterError:
        raise CommandFailed(None) from None
    ctx.ok()
    slot.msg_id = (slot.msg_id + 1) & 0xFFFF
    if slot.token_mode == 1:
        slot.token = b""
    session.send(message)


REGISTRY = Registry(
    extended={
        "+QCOAPCFG": qcoapcfg,
        "+QCOAPOPEN": qcoapopen,
        "+QCOAPCLOSE": qcoapclose,
        "+QCOAPHEADER": qcoapheader,
        "+QCOAPOPTION": qcoapoption,
        "+QCOAPSEND": qcoapsend,
    }
)
