"""``modem.ssl``: SSL contexts of the module (AT+QSSLCFG), as HTTPS and DTLS use them.

Certificates and keys are files in the module's UFS: upload them with
``modem.files.upload`` and name them here (HTTP note 3.2.2.1 shows the sequence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from lpwa.at.fields import quote
from lpwa.errors import ParameterError

if TYPE_CHECKING:
    from lpwa.modem import Modem

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


def format_value(key: str, value: Value) -> str:
    """The command-line text of one QSSLCFG value, after checking its range."""
    accepted = SSL_KEYS.get(key)
    if accepted is None:
        raise ParameterError(f"unknown QSSLCFG key {key!r}; known: {', '.join(SSL_KEYS)}")
    if accepted is str:
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{key} takes a UFS file name, not {value!r}")
        return quote(value)
    number = int(value)
    if isinstance(accepted, range) and number not in accepted:
        raise ParameterError(f"{key} must be {accepted.start}-{accepted.stop - 1}: {value!r}")
    # The manual writes cipher suites in hex (0x0035, 0xFFFF).
    return f"0x{number:04X}" if key == "ciphersuite" else str(number)


class SSLConfig:
    """SSL context configuration of one module (contexts 0-5)."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem

    def configure(self, ctx_id: int, **params: Value) -> None:
        """Set QSSLCFG keys of context ``ctx_id``, e.g. ``seclevel=1, cacert="ca.pem"``.

        Every value is checked before anything is sent.
        """
        if not 0 <= ctx_id <= 5:
            raise ParameterError(f"SSL context id must be 0-5: {ctx_id}")
        lines = [
            f'AT+QSSLCFG="{key}",{ctx_id},{format_value(key, value)}'
            for key, value in params.items()
        ]
        for line in lines:
            self._modem.command(line)

    def query(self, ctx_id: int, key: str) -> list[str]:
        """The current value(s) of one key (``AT+QSSLCFG="<key>",<ctx>``)."""
        if key not in SSL_KEYS:
            raise ParameterError(f"unknown QSSLCFG key {key!r}")
        if not 0 <= ctx_id <= 5:
            raise ParameterError(f"SSL context id must be 0-5: {ctx_id}")
        fields = self._modem.command(f'AT+QSSLCFG="{key}",{ctx_id}').fields("+QSSLCFG")
        return fields[2:]
