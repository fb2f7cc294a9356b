"""lpwa.errors: module numbers map to typed errors carrying the spec's meaning."""

from __future__ import annotations

import pytest

from lpwa import errors


@pytest.mark.parametrize("code", range(701, 731))
def test_every_http_error_code_has_its_own_class(code: int) -> None:
    err = errors.cme_error("AT+QHTTPGET=80", code)
    assert isinstance(err, errors.HTTPError)
    assert type(err) is not errors.HTTPError
    assert err.code == code
    assert err.meaning == errors.HTTP_ERROR_MEANINGS[code]
    assert f"+CME ERROR: {code}" in str(err)


def test_dns_error_is_catchable_by_class_and_by_number() -> None:
    with pytest.raises(errors.HTTPDNSError) as info:
        raise errors.cme_error("AT+QHTTPGET=80", 714)
    assert info.value.code == 714
    assert info.value.meaning == "HTTP(S) DNS error"
    assert isinstance(info.value, errors.CMEError)


def test_non_http_cme_error_is_plain_cme_error() -> None:
    err = errors.cme_error("AT+CPIN?", 10)
    assert type(err) is errors.CMEError
    assert err.code == 10


def test_coap_results_map_to_typed_errors() -> None:
    for result in range(-1, -12, -1):
        err = errors.coap_result_error("AT+QCOAPOPEN", result)
        assert err.result == result
        assert err.meaning == errors.COAP_RESULT_MEANINGS[result]
        assert type(err) is errors.COAP_ERRORS[result]
    assert isinstance(errors.coap_result_error("x", -5), errors.CoAPDNSError)


def test_timeouts_are_builtin_timeouts() -> None:
    assert issubclass(errors.ATTimeout, TimeoutError)
    assert issubclass(errors.CoAPTimeout, TimeoutError)
    assert issubclass(errors.ParameterError, ValueError)
