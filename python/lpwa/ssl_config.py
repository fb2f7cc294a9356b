"""``modem.ssl``: SSL contexts of the module (AT+QSSLCFG), as HTTPS and DTLS use them.

Certificates and keys are files in the module's UFS: upload them with
``modem.files.upload`` and name them here (HTTP note 3.2.2.1 shows the sequence).

What each setting verifies (SSL AT commands manual; the keys of the BG95 test
form in captures C16):

- ``seclevel=0``: nothing. Any certificate, for any host, is accepted.
- ``seclevel=1``: the server's certificate chain must lead to ``cacert``.
- ``seclevel=2``: as 1, and the module presents ``clientcert``/``clientkey``.
- ``checkhost=1``: the server's certificate must also be for the URL's host.
  Without it, *any* certificate the CA signed is accepted for *any* host.
- ``sni=1``: the URL's host name is sent in the TLS ClientHello (servers that
  host several names need it to pick the right certificate).

:meth:`SSLConfig.configure` turns ``checkhost`` on whenever it sets ``seclevel``
1 or 2, and ``sni`` on whenever it sets ``seclevel``, unless the caller passes
them explicitly (``checkhost=0`` is the way to accept a certificate for another
host). A build that refuses ``checkhost`` when it is wanted raises
:class:`SSLOptionUnsupported` before ``seclevel`` is sent, rather than leaving a
context that verifies the chain but not the host.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Union

from lpwa import answers, validate
from lpwa.errors import CommandError, LpwaError, ParameterError, ProtocolError
from lpwa.procedure import Api, K, Proc, command, procedure

if TYPE_CHECKING:
    from lpwa.at.channel import Reply
    from lpwa.session import Session

log = logging.getLogger("lpwa.ssl")

Value = Union[int, str, bool]

# QSSLCFG keys used for HTTPS and DTLS, with what each accepts (SSL AT commands
# manual): a range of integers, or str for a UFS file name.
SSL_KEYS: dict[str, range | type[str]] = {
    "sslversion": range(0, 5),  # 0 SSL3.0, 1 TLS1.0, 2 TLS1.1, 3 TLS1.2, 4 all
    "ciphersuite": range(0, 0x10000),  # 0xFFFF: all
    "seclevel": range(0, 3),  # 0 none, 1 server, 2 server and client
    "cacert": str,
    "clientcert": str,
    "clientkey": str,
    "ignorelocaltime": range(0, 2),
    "negotiatetime": range(10, 301),
    "sni": range(0, 2),
    "checkhost": range(0, 2),
    "dtls": range(0, 2),
    "dtlsversion": range(0, 3),
}
# On/off keys: True/False are accepted for them (and only for them; True is not
# a number elsewhere).
FLAG_KEYS = frozenset({"ignorelocaltime", "sni", "checkhost", "dtls"})
# Sent before every other key, so that a build refusing them fails before
# seclevel turns verification on (see SSLConfig.configure).
_FIRST = ("sni", "checkhost")


class SSLOptionUnsupported(LpwaError):
    """The module refused a QSSLCFG key lpwa needs to keep a promise (``checkhost``
    to verify the host, or an explicit ``sni=1``); nothing weaker was configured in
    its place."""

    def __init__(self, key: str, ctx_id: int, firmware: str, cause: CommandError) -> None:
        self.key = key
        self.ctx_id = ctx_id
        self.firmware = firmware
        what = {
            "checkhost": "cannot check the server's host name",
            "sni": "cannot send the host name (SNI)",
        }.get(key, f"refused {key}")
        advice = (
            "; pass checkhost=0 explicitly to accept a CA-signed certificate for any host"
            if key == "checkhost"
            else ""
        )
        super().__init__(
            f"SSL context {ctx_id}: this build ({firmware or 'unknown firmware'}) {what}: "
            f'AT+QSSLCFG="{key}" failed with {cause.result}{advice}'
        )


def format_value(key: str, value: Value) -> str:
    """The command-line text of one QSSLCFG value, after checking its type and range."""
    accepted = SSL_KEYS.get(key)
    if accepted is None:
        raise ParameterError(f"unknown QSSLCFG key {key!r}; known: {', '.join(SSL_KEYS)}")
    if accepted is str:
        return validate.ufs_name(value, key)
    assert isinstance(accepted, range)
    if key in FLAG_KEYS and isinstance(value, bool):
        return str(int(value))
    number = validate.integer(key, value, accepted.start, accepted.stop - 1)
    # The manual writes cipher suites in hex (0x0035, 0xFFFF).
    return f"0x{number:04X}" if key == "ciphersuite" else str(number)


def _with_defaults(values: dict[str, str]) -> dict[str, str]:
    """``values`` with the host check and SNI added where the caller set seclevel."""
    out = dict(values)
    if "seclevel" in out:
        out.setdefault("sni", "1")
        if out["seclevel"] in ("1", "2"):
            out.setdefault("checkhost", "1")
    first = {k: out.pop(k) for k in _FIRST if k in out}
    return {**first, **out}


def parse_qsslcfg(reply: Reply, key: str, ctx_id: int) -> list[str]:
    """``+QSSLCFG: "<key>",<ctx>,<value>…`` → the values; the answer must be for
    the key and context asked for."""
    fields = answers.fields(reply, "+QSSLCFG", 3)
    cid = answers.number(reply.command, "+QSSLCFG context", fields[1], 0, 5)
    if fields[0].lower() != key or cid != ctx_id:
        raise ProtocolError(f"{reply.command!r}: answer is for another key or context: {fields!r}")
    return fields[2:]


class SSLProcedures:
    """SSL context configuration of one module (contexts 0-5), as procedures."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def configure(self, /, ctx_id: int, **params: Value) -> Proc[None]:
        """Set QSSLCFG keys of context ``ctx_id``, e.g. ``seclevel=1, cacert="ca.pem"``.

        Every value is checked before anything is sent. Setting ``seclevel`` 1 or
        2 also sets ``checkhost=1`` and setting ``seclevel`` sets ``sni=1``, unless
        given here (see the module docstring for what each verifies). ``sni`` and
        ``checkhost`` are sent first: if the build refuses ``checkhost=1`` or an
        explicit ``sni=1``, :class:`SSLOptionUnsupported` is raised before
        ``seclevel`` is sent. A default ``sni=1`` the build refuses, or an
        explicit 0 it refuses, only weakens nothing and is logged at INFO.
        """
        cid = validate.integer("ctx_id", ctx_id, 0, 5)
        explicit = set(params)
        values = _with_defaults({key: format_value(key, value) for key, value in params.items()})
        for key, text in values.items():
            try:
                yield from command(f'AT+QSSLCFG="{key}",{cid},{text}')
            except CommandError as exc:
                if key not in _FIRST:
                    raise
                needed = text == "1" and (key == "checkhost" or key in explicit)
                if needed:
                    raise SSLOptionUnsupported(key, cid, self._session.firmware, exc) from exc
                log.info(
                    "SSL context %d: this build refused %s=%s (%s); it stays unset",
                    cid,
                    key,
                    text,
                    exc.result,
                )

    def query(self, ctx_id: int, key: str) -> Proc[list[str]]:
        """The current value(s) of one key (``AT+QSSLCFG="<key>",<ctx>``)."""
        cid = validate.integer("ctx_id", ctx_id, 0, 5)
        if not isinstance(key, str) or key not in SSL_KEYS:
            raise ParameterError(f"unknown QSSLCFG key {key!r}; known: {', '.join(SSL_KEYS)}")
        reply = yield from command(f'AT+QSSLCFG="{key}",{cid}')
        return parse_qsslcfg(reply, key, cid)


class SSLConfig(Api[SSLProcedures, K]):
    """SSL context configuration of one module (``modem.ssl``, ``AsyncModem.ssl``)."""

    configure = procedure(SSLProcedures.configure)
    query = procedure(SSLProcedures.query)
