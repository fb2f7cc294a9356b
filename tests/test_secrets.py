"""No secret reaches a log record, at any level (issue 10, item 14).

A whole session on the simulator (PDP credentials, the module's +QICSGP answer,
PSK and client-key uploads, HTTP with userinfo, an api_key query, Authorization,
Cookie and custom secret headers, a padded POST) runs with every ``lpwa`` logger
at DEBUG; then every record's text, arguments and traceback is searched for each
secret, raw and in the forms it takes on the wire (hex in a PSK file, base64 in
Basic auth).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest

from lpwa import Modem
from lpwa.sim import Simulator

PDP_PASSWORD = "PdpPass-91x7"
URL_PASSWORD = "UrlPass-k2j4"
API_KEY = "ApiKey-z8q3"
TOKEN = "Token-w5e1"
BEARER = "Bearer-m4n6"
COOKIE = "Cookie-r3t9"
HEADER_KEY = "HdrKey-p0o1"
PSK_KEY = "PskKey-c7v2"
PRIVATE_KEY_LINE = "MHcCAQEEIPrivKeyLine-u6y5"
FORM_PASSWORD = "FormPass-b3n8"

SECRETS = [
    PDP_PASSWORD,
    URL_PASSWORD,
    API_KEY,
    TOKEN,
    BEARER,
    COOKIE,
    HEADER_KEY,
    PSK_KEY,
    PSK_KEY.encode().hex().upper(),  # how use_psk writes it into the PSK file
    PRIVATE_KEY_LINE,
    FORM_PASSWORD,
    base64.b64encode(f"user:{URL_PASSWORD}".encode()).decode(),
]

CLIENT_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\n" + PRIVATE_KEY_LINE + "\n-----END EC PRIVATE KEY-----\n"
).encode()


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), str(record.msg)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def _session(modem: Modem, http_url: Callable[[str], str]) -> None:
    modem.network.activate(1, apn="internet", username="user", password=PDP_PASSWORD, auth="PAP")
    modem.command("AT+QICSGP=1")  # the module's answer carries the password too
    modem.files.upload("clientkey.pem", CLIENT_KEY)
    modem.files.upload("client.key", CLIENT_KEY)
    assert modem.files.download("clientkey.pem") == CLIENT_KEY  # a key read back
    assert b"".join(modem.files.read_chunks("client.key", 16)) == CLIENT_KEY
    modem.coap.client(0).use_psk("device-1", PSK_KEY)
    modem.ssl.configure(1, seclevel=0)
    modem.http.config(contextid=1)
    base = http_url("")
    host = base.split("://", 1)[1]
    modem.http.get(f"http://user:{URL_PASSWORD}@{host}/bytes/3?api_key={API_KEY}&n=1")
    modem.http.get(
        f"{base}/headers?access_token={TOKEN}",
        headers={"Authorization": f"Bearer {BEARER}", "Cookie": f"s={COOKIE}"},
    )
    modem.http.post(
        f"{base}/echo?token={TOKEN}",
        f"user=alice&password={FORM_PASSWORD}".encode(),
        headers={"X-Api-Key": HEADER_KEY},
        content_type="application/x-www-form-urlencoded",
    )
    # A padded POST is logged at INFO with its URL (the item's example).
    modem.http.post(f"{base}/echo?api_key={API_KEY}", b"x" * 1990)


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog with every lpwa logger at DEBUG (read ``.records`` after the session)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.Logger.manager.loggerDict):
        if name == "lpwa" or name.startswith("lpwa."):
            logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def test_a_full_session_logs_no_secret(
    make_sim: Callable[..., Simulator],
    http_server: Any,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    sim = make_sim(firmware="BG96MAR02A07M1G_01.011.01.011")  # pads HTTPS POSTs; http here
    with Modem.open(sim.url) as modem:
        _session(modem, http_server.url)
    texts = [_record_text(r) for r in debug_log.records]
    assert len(texts) > 50, "the session should have logged every AT exchange at DEBUG"
    # The session really carried the secrets to the module.
    assert PDP_PASSWORD.encode() in sim.transcript_bytes("in")
    assert PSK_KEY.encode().hex().upper().encode() in sim.transcript_bytes("in")
    leaks = [(secret, text) for text in texts for secret in SECRETS if secret in text]
    assert leaks == []


def test_the_session_log_still_shows_what_happened(
    make_sim: Callable[..., Simulator],
    http_server: Any,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    # Redaction must not blank the log: commands, file names and hosts stay readable.
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        _session(modem, http_server.url)
    text = "\n".join(_record_text(r) for r in debug_log.records)
    for visible in ("AT+QICSGP", '"internet"', "clientkey.pem", "0_server.psk", "/bytes/3"):
        assert visible in text
