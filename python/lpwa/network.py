"""``modem.network``: SIM, registration and PDP contexts (AT+CPIN, AT+CEREG, AT+QI*).

Also the recovery steps of the HTTP(S) note's chapter 4: check the SIM (4.1), the
PS registration and context configuration (4.2), the DNS servers (4.3), and
deactivate/re-activate the context when requests keep failing (4.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lpwa.at.fields import quote
from lpwa.errors import LpwaError, ParameterError

if TYPE_CHECKING:
    from lpwa.modem import Modem

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


def _check_context(context_id: int) -> int:
    if not 1 <= context_id <= 16:
        raise ParameterError(f"context_id must be 1-16: {context_id}")
    return context_id


class Network:
    """SIM, registration and PDP context control of one module."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem

    def sim_status(self) -> str:
        """``READY`` when the SIM is usable (AT+CPIN?), else the module's words."""
        return self._modem.command("AT+CPIN?").fields("+CPIN")[0]

    def registration(self) -> Registration:
        """The EPS (LTE Cat M / NB-IoT) registration state (AT+CEREG?)."""
        fields = self._modem.command("AT+CEREG?").fields("+CEREG")
        return Registration(int(fields[1]))

    def configure(
        self,
        context_id: int = 1,
        apn: str = "",
        username: str = "",
        password: str = "",
        auth: str | int = "NONE",
        context_type: str | int = "IPV4",
    ) -> None:
        """Set APN, credentials and authentication of a context (AT+QICSGP)."""
        _check_context(context_id)
        ctype = CONTEXT_TYPES.get(str(context_type).upper(), context_type)
        method = AUTH_METHODS.get(str(auth).upper(), auth)
        if ctype not in (1, 2, 3):
            raise ParameterError(f"context_type must be IPV4, IPV6 or IPV4V6: {context_type!r}")
        if method not in (0, 1, 2, 3):
            raise ParameterError(f"auth must be NONE, PAP, CHAP or PAP_OR_CHAP: {auth!r}")
        self._modem.command(
            f"AT+QICSGP={context_id},{ctype},{quote(apn)},{quote(username)},"
            f"{quote(password)},{method}"
        )

    def status(self) -> list[PDPContext]:
        """Every activated context with its address (AT+QIACT?)."""
        reply = self._modem.command("AT+QIACT?")
        return [
            PDPContext(int(f[0]), f[1] == "1", int(f[2]), f[3] if len(f) > 3 else "")
            for f in reply.all_fields("+QIACT")
        ]

    def context(self, context_id: int = 1) -> PDPContext | None:
        """The context's state, or None when it is not active."""
        return next((c for c in self.status() if c.context_id == context_id), None)

    def activate(
        self,
        context_id: int = 1,
        apn: str | None = None,
        username: str = "",
        password: str = "",
        auth: str | int = "NONE",
        context_type: str | int = "IPV4",
    ) -> PDPContext:
        """Activate a context (configuring it first when ``apn`` is given).

        Does nothing when it is already active. Returns its state and address.
        """
        _check_context(context_id)
        current = self.context(context_id)
        if current is not None and current.active:
            return current
        if apn is not None:
            self.configure(context_id, apn, username, password, auth, context_type)
        self._modem.command(f"AT+QIACT={context_id}", timeout=ACTIVATE_TIMEOUT)
        active = self.context(context_id)
        if active is None:
            raise NetworkError(f"context {context_id} is not active after AT+QIACT")
        return active

    def deactivate(self, context_id: int = 1) -> None:
        """Deactivate a context (AT+QIDEACT)."""
        _check_context(context_id)
        self._modem.command(f"AT+QIDEACT={context_id}", timeout=DEACTIVATE_TIMEOUT)

    def dns_servers(self, context_id: int = 1) -> list[str]:
        """The context's DNS servers (AT+QIDNSCFG=<contextID>)."""
        reply = self._modem.command(f"AT+QIDNSCFG={_check_context(context_id)}")
        fields = reply.fields("+QIDNSCFG")
        return [f for f in fields[1:] if f]

    def set_dns_servers(self, context_id: int, primary: str, secondary: str = "") -> None:
        """Assign DNS servers to a context (HTTP note 4.3, solution 1)."""
        line = f"AT+QIDNSCFG={_check_context(context_id)},{quote(primary)}"
        if secondary:
            line += f",{quote(secondary)}"
        self._modem.command(line)

    def check_ready(self) -> None:
        """Raise NetworkError unless the SIM is ready and the module registered.

        HTTP note 4.1 (SIM) and 4.2 step 1 (PS domain registration).
        """
        sim = self.sim_status()
        if sim != "READY":
            raise NetworkError(f"SIM not ready: +CPIN: {sim}")
        reg = self.registration()
        if not reg.registered:
            raise NetworkError(f"not registered to the packet network: +CEREG stat {reg.stat}")

    def reactivate(self, context_id: int = 1) -> PDPContext:
        """Deactivate and re-activate a context (HTTP note 4.3 solution 2, 4.5)."""
        self.deactivate(context_id)
        return self.activate(context_id)
