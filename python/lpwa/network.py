"""``modem.network``: SIM, registration and PDP contexts (AT+CPIN, AT+CEREG, AT+QI*).

Also the recovery steps of the HTTP(S) note's chapter 4: check the SIM (4.1), the
PS registration and context configuration (4.2), the DNS servers (4.3), and
deactivate/re-activate the context when requests keep failing (4.5).

Every argument is checked before anything is sent (``ParameterError``; a wrong
type is a ``ParameterTypeError``, also a ``TypeError``); a malformed answer is a
``ProtocolError``. The PDP password is a secret: lpwa's logs and traces show it
as ``***`` (:mod:`lpwa.redact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lpwa import answers, validate
from lpwa.errors import CMEError, CommandError, LpwaError, ParameterError, ProtocolError
from lpwa.procedure import Api, K, Proc, command, procedure

if TYPE_CHECKING:
    from lpwa.at.channel import Reply
    from lpwa.session import Session

# TCP/IP AT commands manual: AT+QIACT answers within 150 s, AT+QIDEACT within 40 s.
ACTIVATE_TIMEOUT = 150.0
DEACTIVATE_TIMEOUT = 40.0

# <context_type> of AT+QICSGP.
CONTEXT_TYPES = {"IPV4": 1, "IPV6": 2, "IPV4V6": 3}
# <authentication> of AT+QICSGP.
AUTH_METHODS = {"NONE": 0, "PAP": 1, "CHAP": 2, "PAP_OR_CHAP": 3}

# <stat> of +CEREG: 1 registered (home), 5 registered (roaming).
REGISTERED = (1, 5)


class NetworkError(LpwaError):
    """The module cannot reach the packet network (no SIM, not registered, …)."""


@dataclass(frozen=True)
class PDPContext:
    """One line of AT+QIACT?: ``+QIACT: <id>,<state>,<type>,"<address>"``."""

    context_id: int
    active: bool
    context_type: int
    address: str


@dataclass(frozen=True)
class Registration:
    """``+CEREG: <n>,<stat>[,…]`` — ``registered`` is stat 1 (home) or 5 (roaming)."""

    stat: int

    @property
    def registered(self) -> bool:
        """Registered to the home network or roaming."""
        return self.stat in REGISTERED


def _check_context(context_id: object) -> int:
    return validate.integer("context_id", context_id, 1, 16)


def _choice(what: str, value: object, names: dict[str, int]) -> int:
    """A QICSGP option given by name (``"PAP"``) or by its number (not ``bool``)."""
    if isinstance(value, str):
        number = names.get(value.upper())
        if number is None:
            raise ParameterError(f"{what} must be one of {', '.join(names)}: {value!r}")
        return number
    choices = sorted(names.values())
    return validate.integer(what, value, choices[0], choices[-1])


def _qicsgp(
    context_id: object,
    apn: object,
    username: object,
    password: object,
    auth: object,
    context_type: object,
) -> str:
    """The AT+QICSGP line, every argument checked (HTTP note 2.1, step 1)."""
    cid = _check_context(context_id)
    ctype = _choice("context_type", context_type, CONTEXT_TYPES)
    method = _choice("auth", auth, AUTH_METHODS)
    # TCP/IP AT commands manual: string parameters; we only refuse what the
    # command line cannot carry (quotes, line ends, non-ASCII).
    fields = [
        validate.at_string("apn", apn),
        validate.at_string("username", username),
        validate.at_string("password", password, secret=True),
    ]
    return f"AT+QICSGP={cid},{ctype},{','.join(fields)},{method}"


def _address(what: str, value: object, *, allow_empty: bool = False) -> str:
    """A DNS server address for AT+QIDNSCFG: a non-empty printable string."""
    return validate.at_string(what, value, min_len=0 if allow_empty else 1, max_len=64)


# -- the module's answers (pure; ProtocolError for anything malformed) -----------


def parse_cpin(reply: Reply) -> str:
    """``+CPIN: <code>`` → ``READY``, ``SIM PIN``, …"""
    code = answers.fields(reply, "+CPIN")[0]
    if not code:
        raise ProtocolError(f"{reply.command!r}: empty +CPIN answer")
    return code


def parse_cereg(reply: Reply) -> Registration:
    """``+CEREG: <n>,<stat>[,…]`` (3GPP TS 27.007 10.1.22: <stat> 0-10)."""
    fields = answers.fields(reply, "+CEREG", 2)
    answers.number(reply.command, "+CEREG <n>", fields[0], 0, 5)
    return Registration(answers.number(reply.command, "+CEREG <stat>", fields[1], 0, 255))


def parse_qiact(reply: Reply) -> list[PDPContext]:
    """Every ``+QIACT: <contextID>,<context_state>,<context_type>[,<IP_address>]``."""
    out = []
    for f in reply.all_fields("+QIACT"):
        # Tolerant of more fields (an IPv4v6 context may list a second address).
        if len(f) < 3:
            raise ProtocolError(f"{reply.command!r}: malformed +QIACT answer {f!r}")
        out.append(
            PDPContext(
                answers.number(reply.command, "+QIACT <contextID>", f[0], 1, 16),
                answers.number(reply.command, "+QIACT <context_state>", f[1], 0, 1) == 1,
                answers.number(reply.command, "+QIACT <context_type>", f[2], 1, 3),
                f[3] if len(f) > 3 else "",
            )
        )
    return out


def parse_qidnscfg(reply: Reply) -> list[str]:
    """``+QIDNSCFG: <contextID>,<pridnsaddr>,<secdnsaddr>`` → the non-empty addresses."""
    fields = answers.fields(reply, "+QIDNSCFG")
    answers.number(reply.command, "+QIDNSCFG <contextID>", fields[0], 1, 16)
    return [f for f in fields[1:] if f]


class NetworkProcedures:
    """SIM, registration and PDP context control of one module, as procedures
    (driven by :class:`Network` and the asyncio shell's ``AsyncNetwork``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def sim_status(self) -> Proc[str]:
        """``READY`` when the SIM is usable (AT+CPIN?), else the module's words."""
        return parse_cpin((yield from command("AT+CPIN?")))

    def registration(self) -> Proc[Registration]:
        """The EPS (LTE Cat M / NB-IoT) registration state (AT+CEREG?)."""
        return parse_cereg((yield from command("AT+CEREG?")))

    def configure(
        self,
        context_id: int = 1,
        apn: str = "",
        username: str = "",
        password: str = "",
        auth: str | int = "NONE",
        context_type: str | int = "IPV4",
    ) -> Proc[None]:
        """Set APN, credentials and authentication of a context (AT+QICSGP).

        ``auth`` is ``"NONE"``, ``"PAP"``, ``"CHAP"``, ``"PAP_OR_CHAP"`` or 0-3;
        ``context_type`` ``"IPV4"``, ``"IPV6"``, ``"IPV4V6"`` or 1-3.
        """
        yield from command(_qicsgp(context_id, apn, username, password, auth, context_type))

    def status(self) -> Proc[list[PDPContext]]:
        """Every activated context with its address (AT+QIACT?)."""
        return parse_qiact((yield from command("AT+QIACT?")))

    def context(self, context_id: int = 1) -> Proc[PDPContext | None]:
        """The context's state, or None when it is not active."""
        _check_context(context_id)
        contexts = yield from self.status()
        return next((c for c in contexts if c.context_id == context_id), None)

    def activate(
        self,
        context_id: int = 1,
        apn: str | None = None,
        username: str = "",
        password: str = "",
        auth: str | int = "NONE",
        context_type: str | int = "IPV4",
    ) -> Proc[PDPContext]:
        """Activate a context (configuring it first when ``apn`` is given).

        Does nothing when it is already active. Returns its state and address.
        Every argument is checked before the first command.
        """
        cid = _check_context(context_id)
        # Checked even without apn; and credentials that would not be sent are a
        # mistake, not something to drop silently.
        line = _qicsgp(cid, "" if apn is None else apn, username, password, auth, context_type)
        if apn is None and line != _qicsgp(cid, "", "", "", "NONE", "IPV4"):
            raise ParameterError(
                "username, password, auth and context_type are only sent with apn="
            )
        qicsgp = None if apn is None else line
        current = yield from self.context(cid)
        if current is not None and current.active:
            return current
        if qicsgp is not None:
            yield from command(qicsgp)
        yield from command(f"AT+QIACT={cid}", timeout=ACTIVATE_TIMEOUT)
        active = yield from self.context(cid)
        if active is None:
            raise NetworkError(f"context {cid} is not active after AT+QIACT")
        return active

    def deactivate(self, context_id: int = 1) -> Proc[None]:
        """Deactivate a context (AT+QIDEACT)."""
        cid = _check_context(context_id)
        yield from command(f"AT+QIDEACT={cid}", timeout=DEACTIVATE_TIMEOUT)

    def dns_servers(self, context_id: int = 1) -> Proc[list[str]]:
        """The context's DNS servers (AT+QIDNSCFG=<contextID>)."""
        cid = _check_context(context_id)
        try:
            return parse_qidnscfg((yield from command(f"AT+QIDNSCFG={cid}")))
        except CMEError:
            raise
        except CommandError:
            # A plain ERROR on an inactive context (a BG96 log:
            # Azure/embedded-wireless-framework issue #20): say so.
            current = yield from self.context(cid)
            if current is None or not current.active:
                raise NetworkError(f"context {cid} is not active: no DNS servers to read") from None
            raise

    def set_dns_servers(self, context_id: int, primary: str, secondary: str = "") -> Proc[None]:
        """Assign DNS servers to a context (HTTP note 4.3, solution 1)."""
        line = f"AT+QIDNSCFG={_check_context(context_id)},{_address('primary', primary)}"
        second = _address("secondary", secondary, allow_empty=True)
        if second != '""':
            line += f",{second}"
        yield from command(line)

    def check_ready(self) -> Proc[None]:
        """Raise NetworkError unless the SIM is ready and the module registered.

        HTTP note 4.1 (SIM) and 4.2 step 1 (PS domain registration).
        """
        sim = yield from self.sim_status()
        if sim != "READY":
            raise NetworkError(f"SIM not ready: +CPIN: {sim}")
        reg = yield from self.registration()
        if not reg.registered:
            raise NetworkError(f"not registered to the packet network: +CEREG stat {reg.stat}")

    def reactivate(self, context_id: int = 1) -> Proc[PDPContext]:
        """Deactivate and re-activate a context (HTTP note 4.3 solution 2, 4.5)."""
        cid = _check_context(context_id)
        yield from self.deactivate(cid)
        return (yield from self.activate(cid))


class Network(Api[NetworkProcedures, K]):
    """SIM, registration and PDP context control of one module: ``modem.network``
    (methods return results) and ``AsyncModem.network`` (they return coroutines)."""

    sim_status = procedure(NetworkProcedures.sim_status)
    registration = procedure(NetworkProcedures.registration)
    configure = procedure(NetworkProcedures.configure)
    status = procedure(NetworkProcedures.status)
    context = procedure(NetworkProcedures.context)
    activate = procedure(NetworkProcedures.activate)
    deactivate = procedure(NetworkProcedures.deactivate)
    dns_servers = procedure(NetworkProcedures.dns_servers)
    set_dns_servers = procedure(NetworkProcedures.set_dns_servers)
    check_ready = procedure(NetworkProcedures.check_ready)
    reactivate = procedure(NetworkProcedures.reactivate)
