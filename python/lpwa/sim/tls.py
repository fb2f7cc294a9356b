"""SSL contexts: AT+QSSLCFG and the mapping of a context onto Python's ``ssl``.

Six contexts (0-5), each with the keys of the Quectel SSL manual. How they map
onto a modern OpenSSL (documented decisions, so TLS stays possible against a
modern local server):

- ``sslversion`` 0 SSL3.0, 1 TLS1.0, 2 TLS1.1 cannot be negotiated by current
  OpenSSL builds; they are accepted, printed back, and negotiate like 4 (the
  note's own examples set 1 and must still work), and the module records the
  substitution (``Simulator.tls_substitutions``, a warning once). 3 pins TLS
  1.2; 4 (default) allows every version OpenSSL offers (1.2 and 1.3).
- ``ciphersuite`` 0xFFFF (default) is OpenSSL's default list; the TLS 1.2
  suites in ``CIPHERSUITES`` are mapped to their OpenSSL names; legacy suites
  such as 0x0005 (RC4-SHA, the note's example) are accepted and fall back to the
  default list, recorded the same way. A mapped suite also caps the version at
  TLS 1.2, where the choice applies.
- ``seclevel`` 0 verifies nothing; 1 verifies the server chain against the
  ``cacert`` file from the UFS; 2 also presents ``clientcert``/``clientkey``.
  The host name is checked only with ``checkhost`` 1 (the module's default 0),
  and only with ``seclevel`` 1 or 2 (with 0 no certificate is looked at):
  the certificate's subjectAltName must match the URL's host (a DNS name, one
  leading ``*.`` label wildcard allowed, or an IP address).
- ``sni`` 1 sends the URL's host name in the ClientHello (default 0: none);
  never an IP address (RFC 6066 section 3). ``sni`` and ``checkhost`` are
  independent: with ``sni`` 0 and ``checkhost`` 1 no name is sent but the
  certificate is still checked against the host.
- The documents show ``sni`` and ``checkhost`` only for a BG95 build (captures
  C16: the ``AT+QSSLCFG=?`` of BG95M3LAR02A03_01.011.01.011); nothing says a
  BG96/BG77 build lacks them, so every profile accepts them. A test models a
  build that refuses some keys with ``SslState.refused_keys`` (answered
  ``ERROR``, as an unknown key is).
- ``dtls``/``dtlsversion`` are stored for CoAP (CoAP note 5.2).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl as _ssl
import tempfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.sim.atparse import Command, Form
from lpwa.sim.engine import Registry
from lpwa.sim.params import CommandFailed, int_param, max_args, parse_int, str_param

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx
    from lpwa.sim.ufs import UFS

__all__ = [
    "CIPHERSUITES",
    "REGISTRY",
    "ModuleTLSContext",
    "SslConfig",
    "SslState",
    "TlsSetupError",
    "client_context",
    "host_matches",
]

CIPHERSUITES: dict[int, str] = {
    0x0035: "AES256-SHA",
    0x002F: "AES128-SHA",
    0x003C: "AES128-SHA256",
    0x003D: "AES256-SHA256",
    0x009C: "AES128-GCM-SHA256",
    0x009D: "AES256-GCM-SHA384",
    0xC013: "ECDHE-RSA-AES128-SHA",
    0xC014: "ECDHE-RSA-AES256-SHA",
    0xC027: "ECDHE-RSA-AES128-SHA256",
    0xC028: "ECDHE-RSA-AES256-SHA384",
    0xC02B: "ECDHE-ECDSA-AES128-GCM-SHA256",
    0xC02C: "ECDHE-ECDSA-AES256-GCM-SHA384",
    0xC02F: "ECDHE-RSA-AES128-GCM-SHA256",
    0xC030: "ECDHE-RSA-AES256-GCM-SHA384",
}
ALL_CIPHERS = 0xFFFF


@dataclass
class SslConfig:
    """The QSSLCFG keys of one SSL context, with the module's defaults."""

    sslversion: int = 4
    ciphersuite: int = ALL_CIPHERS
    seclevel: int = 0
    cacert: str = ""
    clientcert: str = ""
    clientkey: str = ""
    ignorelocaltime: int = 1
    negotiatetime: int = 300
    sni: int = 0
    checkhost: int = 0
    ignoreinvalidcertsign: int = 0
    ignoremulticertchainverify: int = 0
    dtls: int = 0
    dtlsversion: int = 2


@dataclass
class SslState:
    """SSL contexts 0-5 (reset on reboot)."""

    contexts: dict[int, SslConfig] = field(
        default_factory=lambda: {i: SslConfig() for i in range(6)}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    refused_keys: set[str] = field(default_factory=set)
    """QSSLCFG keys this build answers ``ERROR`` to (none by default; for tests)."""


# key -> (lo, hi) for integer keys; None for file-path keys; "hex" for ciphersuite.
_INT_KEYS: dict[str, tuple[int, int]] = {
    "sslversion": (0, 4),
    "seclevel": (0, 2),
    "ignorelocaltime": (0, 1),
    "negotiatetime": (10, 300),
    "sni": (0, 1),
    "checkhost": (0, 1),
    "ignoreinvalidcertsign": (0, 1),
    "ignoremulticertchainverify": (0, 1),
    "dtls": (0, 1),
    "dtlsversion": (0, 2),
}
_PATH_KEYS = ("cacert", "clientcert", "clientkey")


def qsslcfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QSSLCFG="<key>",<ctx>[,<value>]: set, or query when the value is omitted."""
    state = ctx.module.ssl
    if cmd.form is Form.TEST:
        for key in ("sslversion", "ciphersuite", "seclevel", "cacert", "clientcert", "clientkey"):
            rng = _INT_KEYS.get(key)
            value = (
                f"({rng[0]}-{rng[1]})"
                if rng
                else ("0X0035,...,0XFFFF" if key == "ciphersuite" else '"<path>"')
            )
            ctx.info(f'+QSSLCFG: "{key}",(0-5),{value}')
        for key, (lo, hi) in _INT_KEYS.items():
            if key not in ("sslversion", "seclevel"):
                ctx.info(f'+QSSLCFG: "{key}",(0-5),({lo}-{hi})')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 3)
    key = str_param(cmd, 0, quoted=True).lower()
    if key in state.refused_keys:
        raise CommandFailed(None)
    ctxid = int_param(cmd, 1, 0, 5)
    with state.lock:
        cfg = state.contexts[ctxid]
        if key == "ciphersuite":
            arg = cmd.arg(2)
            if arg is None:
                ctx.info(f'+QSSLCFG: "ciphersuite",{ctxid},0X{cfg.ciphersuite:04X}')
                return
            suite = parse_int(arg.text)
            if suite is None or not 0 <= suite <= 0xFFFF:
                raise CommandFailed(None)
            cfg.ciphersuite = suite
        elif key in _PATH_KEYS:
            if cmd.arg(2) is None:
                ctx.info(f'+QSSLCFG: "{key}",{ctxid},"{getattr(cfg, key)}"')
                return
            setattr(cfg, key, str_param(cmd, 2, quoted=True, max_len=80))
        elif key in _INT_KEYS:
            lo, hi = _INT_KEYS[key]
            if cmd.arg(2) is None:
                ctx.info(f'+QSSLCFG: "{key}",{ctxid},{getattr(cfg, key)}')
                return
            setattr(cfg, key, int_param(cmd, 2, lo, hi))
        else:
            raise CommandFailed(None)


class TlsSetupError(Exception):
    """The context cannot be built (a file named by QSSLCFG is missing or bad)."""


def _ufs_file(ufs: UFS, name: str) -> bytes:
    try:
        return ufs.read(name)
    except (KeyError, ValueError):
        raise TlsSetupError(f"UFS file {name!r} not found") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def host_matches(cert: dict[str, object], host: str) -> bool:
    """Whether a verified peer certificate (``getpeercert()``) is for ``host``.

    RFC 6125 section 6: subjectAltName only; ``IP Address`` entries for an IP
    literal, ``DNS`` entries (case-insensitive, a ``*`` allowed only as the
    whole leftmost label, matching exactly one label) for a name.
    """
    sans = cert.get("subjectAltName", ())
    entries = [e for e in sans if isinstance(e, tuple) and len(e) == 2]  # type: ignore[attr-defined]
    bare = host.strip("[]")
    if _is_ip(bare):
        wanted = ipaddress.ip_address(bare)
        for kind, value in entries:
            if kind == "IP Address":
                with contextlib.suppress(ValueError):
                    if ipaddress.ip_address(str(value).strip()) == wanted:
                        return True
        return False
    name = bare.rstrip(".").lower()
    for kind, value in entries:
        if kind != "DNS":
            continue
        pattern = str(value).rstrip(".").lower()
        if pattern == name:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            first, _, rest = name.partition(".")
            if first and rest and rest == pattern[2:]:
                return True
    return False


class ModuleTLSContext(_ssl.SSLContext):
    """An SSLContext that applies the context's ``sni`` and ``checkhost`` to the
    host name it is given, as the module does (see the module docstring).

    The caller passes the URL's host as ``server_hostname``; whether it is sent
    (SNI) and whether the certificate must match it are decided here.
    """

    sni: bool = False
    checkhost: bool = False
    substitutions: tuple[str, ...] = ()
    """Where this context cannot be what AT+QSSLCFG asked (issue 15): the
    caller records them on the module, which warns once and flags them."""

    def wrap_socket(  # type: ignore[override]
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: _ssl.SSLSession | None = None,
    ) -> _ssl.SSLSocket:
        host = server_hostname.strip("[]") if server_hostname else None
        verifying = self.verify_mode == _ssl.CERT_REQUIRED
        check = bool(host) and self.checkhost and verifying
        if host is not None and _is_ip(host):
            # No SNI for an IP literal; OpenSSL checks the IP SAN itself.
            send = host if check else None
            self.check_hostname = check
        elif self.sni and host:
            send = host
            self.check_hostname = check
        else:
            send = None
            self.check_hostname = False
        wrapped = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=send,
            session=session,
        )
        if check and send is None and host is not None:
            # A host name checked without SNI: Python checks names only with SNI,
            # so match the verified certificate here (RFC 6125).
            cert = wrapped.getpeercert()
            if not cert or not host_matches(dict(cert), host):
                wrapped.close()
                raise _ssl.SSLCertVerificationError(
                    f"certificate verify failed: certificate is not valid for {host!r}"
                )
        return wrapped


_OLD_VERSIONS = {0: "SSL 3.0", 1: "TLS 1.0", 2: "TLS 1.1"}


def client_context(cfg: SslConfig, ufs: UFS) -> ModuleTLSContext:
    """An ``ssl.SSLContext`` for the module side of a connection (see module doc).

    Pass the URL's host as ``server_hostname`` to ``wrap_socket`` whenever
    ``sni`` or ``checkhost`` is set; the context decides what to send and check.
    """
    context = ModuleTLSContext(_ssl.PROTOCOL_TLS_CLIENT)
    context.sni = bool(cfg.sni)
    context.checkhost = bool(cfg.checkhost)
    context.minimum_version = _ssl.TLSVersion.TLSv1_2
    substituted: list[str] = []
    if cfg.sslversion == 3:
        context.maximum_version = _ssl.TLSVersion.TLSv1_2
    elif cfg.sslversion in _OLD_VERSIONS:
        # Issue 15: honoured as far as the host allows, else said. SSL 3.0 and
        # TLS 1.0/1.1 need OpenSSL's security level 0, which the simulator does
        # not lower (the servers it talks to are modern): it offers 1.2+.
        substituted.append(
            f"sslversion {cfg.sslversion} ({_OLD_VERSIONS[cfg.sslversion]}) "
            "negotiated as TLS 1.2 or later"
        )
    name = CIPHERSUITES.get(cfg.ciphersuite)
    if name is not None:
        try:
            context.set_ciphers(name)
            # The suites are TLS 1.2 ones: 1.3 would ignore the choice.
            context.maximum_version = _ssl.TLSVersion.TLSv1_2
        except _ssl.SSLError:
            name = None
    if name is None and cfg.ciphersuite != ALL_CIPHERS:
        substituted.append(
            f"ciphersuite 0x{cfg.ciphersuite:04X} not available in the host's OpenSSL: "
            "its default list offered"
        )
    context.substitutions = tuple(substituted)
    if cfg.seclevel == 0:
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
        return context
    # wrap_socket decides per host (ModuleTLSContext); off until then.
    context.check_hostname = False
    context.verify_mode = _ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(
            cadata=_ufs_file(ufs, cfg.cacert or "cacert.pem").decode("latin-1")
        )
    except _ssl.SSLError as exc:
        raise TlsSetupError(f"bad CA file: {exc}") from None
    if cfg.seclevel == 2:
        cert = _ufs_file(ufs, cfg.clientcert or "clientcert.pem")
        key = _ufs_file(ufs, cfg.clientkey or "clientkey.pem")
        _load_client_pair(context, cert, key)
    return context


def _load_client_pair(context: _ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # load_cert_chain only reads files: write both to a private temp dir briefly.
    with tempfile.TemporaryDirectory(prefix="lpwa-sim-") as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as fh:
            fh.write(cert)
        with open(key_path, "wb") as fh:
            fh.write(key)
        try:
            context.load_cert_chain(cert_path, key_path)
        except (_ssl.SSLError, OSError) as exc:
            raise TlsSetupError(f"bad client certificate or key: {exc}") from None


REGISTRY = Registry(extended={"+QSSLCFG": qsslcfg})
