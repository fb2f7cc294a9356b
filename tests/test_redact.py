"""lpwa.redact: the one place secrets are removed from logs and traces (issue 10, item 14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lpwa import redact

# -- url ---------------------------------------------------------------------------


def test_url_userinfo_is_masked() -> None:
    assert redact.url("https://user:PASSWORD@host.test/p") == "https://***@host.test/p"


def test_url_token_only_userinfo_is_masked() -> None:
    assert redact.url("https://ghp_TOKEN@host.test") == "https://***@host.test"


def test_url_password_with_at_sign_is_masked_whole() -> None:
    assert redact.url("http://u:p@ss@h.test:8080/x") == "http://***@h.test:8080/x"


@pytest.mark.parametrize(
    "name", ["api_key", "API_KEY", "access_token", "password", "client_secret", "sig", "auth"]
)
def test_url_secret_query_values_are_masked(name: str) -> None:
    out = redact.url(f"https://h.test/p?a=1&{name}=SECRET&b=2")
    assert out == f"https://h.test/p?a=1&{name}=***&b=2"


def test_url_plain_query_values_stay() -> None:
    text = "https://h.test/search?q=lpwa&page=2#top"
    assert redact.url(text) == text


def test_url_fragment_token_is_masked() -> None:
    assert redact.url("https://h.test/cb#access_token=SECRET&x=1") == (
        "https://h.test/cb#access_token=***&x=1"
    )


def test_url_percent_encoded_name_is_recognised() -> None:
    assert redact.url("http://h/?api%5Fkey=SECRET") == "http://h/?api%5Fkey=***"


def test_url_inside_a_message_is_masked() -> None:
    out = redact.url("POST https://u:PW@h.test/x?api_key=K padded by 3 bytes")
    assert "PW" not in out and "=K" not in out
    assert out.endswith("padded by 3 bytes")


@given(st.text())
def test_url_never_raises(text: str) -> None:
    assert isinstance(redact.url(text), str)


@given(
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1).filter(
        lambda s: not any(c in s for c in "&;#=\r\n\t ")
    )
)
def test_url_never_shows_an_api_key(secret: str) -> None:
    assert redact.url(f"http://h/p?api_key={secret}") == "http://h/p?api_key=***"


# -- command -----------------------------------------------------------------------


def test_command_qicsgp_password_is_masked() -> None:
    line = 'AT+QICSGP=1,1,"apn.test","user","PASSWORD",1'
    assert redact.command(line) == 'AT+QICSGP=1,1,"apn.test","user","***",1'


def test_command_qicsgp_keeps_trailing_cr() -> None:
    assert redact.command('AT+QICSGP=1,1,"a","u","PW",1\r') == 'AT+QICSGP=1,1,"a","u","***",1\r'


def test_command_qicsgp_empty_password_stays_empty() -> None:
    line = 'AT+QICSGP=1,1,"apn","","",0'
    assert redact.command(line) == line


def test_command_password_with_comma_is_one_field() -> None:
    assert redact.command('AT+QICSGP=1,1,"a","u","p,w",1') == 'AT+QICSGP=1,1,"a","u","***",1'


def test_command_qhttpcfg_auth_is_masked() -> None:
    assert redact.command('AT+QHTTPCFG="auth","alice:SECRET"') == 'AT+QHTTPCFG="auth","alice:***"'


def test_command_qhttpcfg_secret_custom_header_is_masked() -> None:
    out = redact.command('AT+QHTTPCFG="custom_header","X-Api-Key: SECRET"')
    assert out == 'AT+QHTTPCFG="custom_header","X-Api-Key: ***"'


def test_command_qhttpcfg_other_options_unchanged() -> None:
    for line in ('AT+QHTTPCFG="requestheader",1', 'AT+QHTTPCFG="custom_header","Accept: */*"'):
        assert redact.command(line) == line


def test_command_qsslcfg_secret_key_value_is_masked() -> None:
    out = redact.command('AT+QSSLCFG="psk",2,"identity","00112233SECRET"')
    assert "SECRET" not in out and out.startswith('AT+QSSLCFG="psk",2,')


def test_command_qsslcfg_file_names_and_numbers_unchanged() -> None:
    for line in (
        'AT+QSSLCFG="clientkey",1,"clientkey.pem"',
        'AT+QSSLCFG="seclevel",1,2',
        'AT+QSSLCFG="checkhost",1,1',
    ):
        assert redact.command(line) == line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('AT+CPIN="1234"', 'AT+CPIN="***"'),
        ('AT+CPWD="SC","1234","5678"', 'AT+CPWD="SC","***","***"'),
        ('AT+CLCK="SC",1,"1234"', 'AT+CLCK="SC",1,"***"'),
        ('AT+CGAUTH=1,1,"u","PW"', 'AT+CGAUTH=1,1,"u","***"'),
        ('AT+QMTCONN=0,"dev","u","PW"', 'AT+QMTCONN=0,"dev","u","***"'),
        ('AT+QFTPCFG="account","u","PW"', 'AT+QFTPCFG="account","u","***"'),
    ],
)
def test_command_other_credentials_are_masked(line: str, expected: str) -> None:
    assert redact.command(line) == expected


def test_command_url_in_a_quoted_field_is_masked() -> None:
    out = redact.command('AT+QMTOPEN=0,"mqtt://u:PW@h.test",1883')
    assert out == 'AT+QMTOPEN=0,"mqtt://***@h.test",1883'


@pytest.mark.parametrize(
    "line",
    ["AT", "ATI", "AT+QGMR", "AT+CPIN?", 'AT+QFUPL="0_server.psk",39,60', "AT+QHTTPGET=60"],
)
def test_command_without_secrets_unchanged(line: str) -> None:
    assert redact.command(line) == line


@given(st.text())
def test_command_never_raises(line: str) -> None:
    assert isinstance(redact.command(line), str)


@given(st.text(alphabet="abcXYZ019!$%/:;@ ", min_size=1))
def test_command_never_shows_a_pdp_password(password: str) -> None:
    out = redact.command(f'AT+QICSGP=1,1,"apn","user","{password}",1')
    assert out == 'AT+QICSGP=1,1,"apn","user","***",1'


# -- response ----------------------------------------------------------------------


def test_response_qicsgp_password_is_masked() -> None:
    out = redact.response("AT+QICSGP=1", '+QICSGP: 1,"apn","user","PASSWORD",0')
    assert out == '+QICSGP: 1,"apn","user","***",0'


def test_response_qhttpcfg_auth_is_masked() -> None:
    out = redact.response('AT+QHTTPCFG="auth"', '+QHTTPCFG: "auth","alice:SECRET"')
    assert out == '+QHTTPCFG: "auth","alice:***"'


def test_response_other_lines_unchanged() -> None:
    for line in ("+CPIN: READY", '+QIACT: 1,1,1,"10.0.0.2"', "BG96MAR02A07M1G", "+QFUPL: 3,6c53"):
        assert redact.response("AT", line) == line


@given(st.text(), st.text())
def test_response_never_raises(cmd: str, line: str) -> None:
    assert isinstance(redact.response(cmd, line), str)


# -- data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["0_server.psk", "UFS:1_server.psk", "client.key", "clientkey.pem", "my_secret.bin"]
)
def test_data_key_file_upload_is_redacted(name: str) -> None:
    out = redact.data(f'AT+QFUPL="{name}",39,60', b"864508030012428&313233343446473839")
    assert out == "<34 bytes redacted>"


def test_data_private_key_content_is_redacted_whatever_the_name() -> None:
    pem = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
    assert redact.data('AT+QFUPL="a.pem",70,60', pem) == f"<{len(pem)} bytes redacted>"


def test_data_certificate_upload_is_shown_escaped() -> None:
    out = redact.data('AT+QFUPL="ca.pem",5,60', b"AB\r\n\x00")
    assert out == "AB\\r\\n\\x00"


def test_data_qhttpurl_goes_through_url() -> None:
    out = redact.data("AT+QHTTPURL=40,80", b"https://u:PW@h.test/p?api_key=K&x=1")
    assert out == "https://***@h.test/p?api_key=***&x=1"


def test_data_custom_request_masks_url_and_headers() -> None:
    request = (
        b"POST /upload?token=TOK&v=1 HTTP/1.1\r\n"
        b"Host: h.test\r\n"
        b"Authorization: Basic QUxBRERJTg==\r\n"
        b"Proxy-Authorization: Basic cHJveHk=\r\n"
        b"Cookie: session=COOKIE\r\n"
        b"X-Api-Key: APIKEY\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"hello"
    )
    out = redact.data("AT+QHTTPPOST=200,80,80", request)
    for secret in ("TOK", "QUxBRERJTg", "cHJveHk", "COOKIE", "APIKEY"):
        assert secret not in out
    assert out.startswith("POST /upload?token=***&v=1 HTTP/1.1\\r\\nHost: h.test\\r\\n")
    assert "Content-Type: text/plain\\r\\n\\r\\nhello" in out


def test_data_custom_get_from_capture_c10_masks_authorization() -> None:
    # captures/README.md C10: a BG96 GET typed with requestheader=1.
    request = (
        b"GET /fw/update1.bin HTTP/1.1\r\nHost: test.net:11111\r\n"
        b"Authorization: Basic xxxxxxxxxxx=\r\nAccept: */*\r\n\r\n"
    )
    out = redact.data("AT+QHTTPGET=40,208", request)
    assert "xxxxxxxxxxx" not in out and "Authorization: ***" in out


def test_data_form_body_secrets_are_masked() -> None:
    out = redact.data("AT+QHTTPPOST=24,60,60", b"user=alice&password=PW&client_secret=S")
    assert out == "user=alice&password=***&client_secret=***"


def test_data_long_payload_is_truncated_with_its_length() -> None:
    out = redact.data("AT+QHTTPPOST=5000,60,60", b"a" * 5000)
    assert out.startswith("a" * redact.MAX_DATA)
    assert out.endswith("<5000 bytes in all>")
    assert len(out) < 600


def test_data_non_bytes_is_not_rendered() -> None:
    assert redact.data('AT+QFUPL="a",3', "abc") == "<str data redacted>"  # type: ignore[arg-type]


@given(st.text(), st.binary())
def test_data_never_raises(cmd: str, payload: bytes) -> None:
    assert isinstance(redact.data(cmd, payload), str)


@given(st.binary(min_size=1).filter(lambda b: b"\n" not in b and b"\r" not in b))
def test_data_never_shows_an_authorization_value(secret: bytes) -> None:
    request = b"GET / HTTP/1.1\r\nAuthorization: " + secret + b"\r\n\r\n"
    out = redact.data("AT+QHTTPGET=60,40", request)
    # The header's value masked, or (a value that looks like a private key) the
    # whole data phase withheld: either way nothing of the value is shown.
    assert "Authorization: ***\\r\\n" in out or out == f"<{len(request)} bytes redacted>"


def test_command_chained_commands_are_each_redacted() -> None:
    line = 'AT+CPIN="1234";+QICSGP=1,1,"a","u","PW",1'
    assert redact.command(line) == 'AT+CPIN="***";+QICSGP=1,1,"a","u","***",1'


def test_command_semicolon_inside_quotes_does_not_split() -> None:
    line = 'AT+QICSGP=1,1,"a;b","u","p;w",1'
    assert redact.command(line) == 'AT+QICSGP=1,1,"a;b","u","***",1'


def test_data_json_body_secret_keys_are_masked() -> None:
    body = b'{"user": "alice", "password": "PW", "nested": [{"api_key": "K", "n": 1}]}'
    out = redact.data("AT+QHTTPPOST=80,60,60", body)
    assert "PW" not in out and '"K"' not in out
    assert '"user": "alice"' in out and '"n": 1' in out


def test_data_json_without_secrets_is_shown_as_sent() -> None:
    body = b'{"t":21.5}'
    assert redact.data("AT+QHTTPPOST=10,60,60", body) == '{"t":21.5}'
