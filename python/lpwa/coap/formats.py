"""CoAP Content-Formats (RFC 7252 section 12.3; the IANA "CoAP Content-Formats" registry).

This module owns the numbers carried by the Content-Format (12) and Accept (17)
options and the media types they stand for. Numbers are the IANA registry's (checked
against its CSV as aiocoap ships it). Any 16-bit number is a ``ContentFormat``: the
registered ones by name, the others as pseudo-members (``ContentFormat(12345)``) whose
``media_type`` is ``None``.
"""

from __future__ import annotations

import enum
from typing import Dict, Tuple

from lpwa.coap.codes import pseudo_member


class ContentFormat(enum.IntEnum):
    """A Content-Format number; ``media_type`` and ``encoding`` give its meaning."""

    TEXT_PLAIN = 0
    """text/plain; charset=utf-8"""
    COSE_ENCRYPT0 = 16
    """application/cose; cose-type="cose-encrypt0" (RFC 9052)"""
    COSE_MAC0 = 17
    """application/cose; cose-type="cose-mac0" (RFC 9052)"""
    COSE_SIGN1 = 18
    """application/cose; cose-type="cose-sign1" (RFC 9052)"""
    ACE_CBOR = 19
    """application/ace+cbor (RFC 9200)"""
    IMAGE_GIF = 21
    """image/gif"""
    IMAGE_JPEG = 22
    """image/jpeg"""
    IMAGE_PNG = 23
    """image/png"""
    LINK_FORMAT = 40
    """application/link-format (RFC 6690)"""
    XML = 41
    """application/xml"""
    OCTET_STREAM = 42
    """application/octet-stream"""
    EXI = 47
    """application/exi"""
    JSON = 50
    """application/json"""
    JSON_PATCH_JSON = 51
    """application/json-patch+json (RFC 6902)"""
    MERGE_PATCH_JSON = 52
    """application/merge-patch+json (RFC 7396)"""
    CBOR = 60
    """application/cbor"""
    CWT = 61
    """application/cwt (RFC 8392)"""
    MULTIPART_CORE = 62
    """application/multipart-core (RFC 8710)"""
    CBOR_SEQ = 63
    """application/cbor-seq (RFC 8742)"""
    COSE_ENCRYPT = 96
    """application/cose; cose-type="cose-encrypt" (RFC 9052)"""
    COSE_MAC = 97
    """application/cose; cose-type="cose-mac" (RFC 9052)"""
    COSE_SIGN = 98
    """application/cose; cose-type="cose-sign" (RFC 9052)"""
    COSE_KEY = 101
    """application/cose-key (RFC 9052)"""
    COSE_KEY_SET = 102
    """application/cose-key-set (RFC 9052)"""
    SENML_JSON = 110
    """application/senml+json (RFC 8428)"""
    SENSML_JSON = 111
    """application/sensml+json (RFC 8428)"""
    SENML_CBOR = 112
    """application/senml+cbor (RFC 8428)"""
    SENSML_CBOR = 113
    """application/sensml+cbor (RFC 8428)"""
    SENML_EXI = 114
    """application/senml-exi (RFC 8428)"""
    SENSML_EXI = 115
    """application/sensml-exi (RFC 8428)"""
    COAP_GROUP_JSON = 256
    """application/coap-group+json (RFC 7390)"""
    SENML_XML = 310
    """application/senml+xml (RFC 8428)"""
    SENSML_XML = 311
    """application/sensml+xml (RFC 8428)"""
    SENML_ETCH_JSON = 320
    """application/senml-etch+json (RFC 8790)"""
    SENML_ETCH_CBOR = 322
    """application/senml-etch+cbor (RFC 8790)"""
    TD_JSON = 432
    """application/td+json (W3C WoT Thing Description)"""
    OCF_CBOR = 10000
    """application/vnd.ocf+cbor"""
    OSCORE = 10001
    """application/oscore (RFC 8613)"""
    JAVASCRIPT = 10002
    """application/javascript"""
    JSON_DEFLATE = 11050
    """application/json, deflate-encoded"""
    CBOR_DEFLATE = 11060
    """application/cbor, deflate-encoded"""
    LWM2M_TLV = 11542
    """application/vnd.oma.lwm2m+tlv (OMA LwM2M 1.0)"""
    LWM2M_JSON = 11543
    """application/vnd.oma.lwm2m+json (OMA LwM2M 1.0)"""
    LWM2M_CBOR = 11544
    """application/vnd.oma.lwm2m+cbor (OMA LwM2M 1.2)"""

    @classmethod
    def _missing_(cls, value: object) -> ContentFormat | None:
        # Any 16-bit number is a valid Content-Format value (RFC 7252 section 12.3).
        if type(value) is not int or not 0 <= value <= 0xFFFF:
            return None
        return pseudo_member(cls, value, f"CONTENT_FORMAT_{value}")

    @classmethod
    def by_media_type(cls, media_type: str, encoding: str = "identity") -> ContentFormat:
        """The registered format for a media type (``"application/json"``).

        Spaces after ``;`` are ignored. Raises ``KeyError`` for unregistered types.
        """
        return _BY_MEDIA_TYPE[(_normalise(media_type), encoding)]

    @property
    def media_type(self) -> str | None:
        """The registered media type (with parameters), or None for an unregistered number."""
        entry = MEDIA_TYPES.get(self._value_)
        return None if entry is None else entry[0]

    @property
    def encoding(self) -> str | None:
        """The registered content coding (``"identity"`` or ``"deflate"``), or None."""
        entry = MEDIA_TYPES.get(self._value_)
        return None if entry is None else entry[1]

    def is_known(self) -> bool:
        """True when the number is in this registry."""
        return self._value_ in MEDIA_TYPES

    def __str__(self) -> str:
        return self.media_type or str(self._value_)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _cose(kind: str) -> str:
    return f'application/cose; cose-type="{kind}"'


MEDIA_TYPES: Dict[int, Tuple[str, str]] = {
    0: ("text/plain; charset=utf-8", "identity"),
    16: (_cose("cose-encrypt0"), "identity"),
    17: (_cose("cose-mac0"), "identity"),
    18: (_cose("cose-sign1"), "identity"),
    19: ("application/ace+cbor", "identity"),
    21: ("image/gif", "identity"),
    22: ("image/jpeg", "identity"),
    23: ("image/png", "identity"),
    40: ("application/link-format", "identity"),
    41: ("application/xml", "identity"),
    42: ("application/octet-stream", "identity"),
    47: ("application/exi", "identity"),
    50: ("application/json", "identity"),
    51: ("application/json-patch+json", "identity"),
    52: ("application/merge-patch+json", "identity"),
    60: ("application/cbor", "identity"),
    61: ("application/cwt", "identity"),
    62: ("application/multipart-core", "identity"),
    63: ("application/cbor-seq", "identity"),
    96: (_cose("cose-encrypt"), "identity"),
    97: (_cose("cose-mac"), "identity"),
    98: (_cose("cose-sign"), "identity"),
    101: ("application/cose-key", "identity"),
    102: ("application/cose-key-set", "identity"),
    110: ("application/senml+json", "identity"),
    111: ("application/sensml+json", "identity"),
    112: ("application/senml+cbor", "identity"),
    113: ("application/sensml+cbor", "identity"),
    114: ("application/senml-exi", "identity"),
    115: ("application/sensml-exi", "identity"),
    256: ("application/coap-group+json", "identity"),
    310: ("application/senml+xml", "identity"),
    311: ("application/sensml+xml", "identity"),
    320: ("application/senml-etch+json", "identity"),
    322: ("application/senml-etch+cbor", "identity"),
    432: ("application/td+json", "identity"),
    10000: ("application/vnd.ocf+cbor", "identity"),
    10001: ("application/oscore", "identity"),
    10002: ("application/javascript", "identity"),
    11050: ("application/json", "deflate"),
    11060: ("application/cbor", "deflate"),
    11542: ("application/vnd.oma.lwm2m+tlv", "identity"),
    11543: ("application/vnd.oma.lwm2m+json", "identity"),
    11544: ("application/vnd.oma.lwm2m+cbor", "identity"),
}
"""Registered Content-Format number -> (media type, content coding)."""


def _normalise(media_type: str) -> str:
    return "; ".join(part.strip() for part in media_type.split(";"))


_BY_MEDIA_TYPE: Dict[Tuple[str, str], ContentFormat] = {
    (_normalise(media), coding): ContentFormat(number)
    for number, (media, coding) in MEDIA_TYPES.items()
}
