"""CoAP for lpwa: the message codec (RFC 7252, 7641, 7959, 7967) and its registries.

Pure Python, no I/O. ``Message.decode(datagram)`` / ``msg.encode()`` convert between
bytes and immutable ``Message`` values; malformed datagrams raise
``MessageFormatError`` (carrying the mid and type when the header was readable), bad
arguments raise ``lpwa.errors.ParameterError``. ``Type``/``Code`` are the header enums,
``ContentFormat`` the media-type registry, ``OPTIONS`` the option registry and
``Block`` the RFC 7959 block value. ``ReceivedMessage`` is a ``Message`` as the
module reported it (``unparsed_options``, ``complete``).
"""

from __future__ import annotations

from lpwa.coap._block import MAX_NUM as BLOCK_MAX_NUM
from lpwa.coap._block import Block
from lpwa.coap._typed import PathLike, RawOption, build_options
from lpwa.coap._wire import MAX_OPTION_LENGTH, MAX_TOKEN_LENGTH, PAYLOAD_MARKER
from lpwa.coap.atwire import ReceivedMessage
from lpwa.coap.codes import CODES, TYPES, Code, Type
from lpwa.coap.formats import MEDIA_TYPES, ContentFormat
from lpwa.coap.message import Message
from lpwa.coap.options import (
    AT_OPTION_LENGTHS,
    OBSERVE_DEREGISTER,
    OBSERVE_REGISTER,
    OPTIONS,
    OPTIONS_BY_NAME,
    NoResponse,
    OptionDef,
    OptionFormat,
    OptionNumber,
    decode_uint,
    encode_uint,
    is_critical,
    is_no_cache_key,
    is_unsafe,
    option_name,
)
from lpwa.errors import MessageFormatError

__all__ = [
    "AT_OPTION_LENGTHS",
    "BLOCK_MAX_NUM",
    "CODES",
    "MAX_OPTION_LENGTH",
    "MAX_TOKEN_LENGTH",
    "MEDIA_TYPES",
    "OBSERVE_DEREGISTER",
    "OBSERVE_REGISTER",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "PAYLOAD_MARKER",
    "TYPES",
    "Block",
    "Code",
    "ContentFormat",
    "Message",
    "MessageFormatError",
    "NoResponse",
    "OptionDef",
    "OptionFormat",
    "OptionNumber",
    "PathLike",
    "RawOption",
    "ReceivedMessage",
    "Type",
    "build_options",
    "decode_uint",
    "encode_uint",
    "is_critical",
    "is_no_cache_key",
    "is_unsafe",
    "option_name",
]
