"""Type stubs for the Rust extension ``lpwa._lpwa`` (design §3)."""

from collections.abc import Iterable
from typing import Final, Literal, final

__all__ = [
    "DIALECTS",
    "KINDS",
    "Batch",
    "Event",
    "Tokenizer",
    "Trace",
    "__version__",
    "trace_fd",
]

__version__: str

_EventKind = Literal["echo", "line", "urc", "final", "connect", "prompt", "body", "invalid"]

KINDS: Final[tuple[_EventKind, ...]]
"""The event kinds; ``Batch.kinds`` holds indexes into it."""

@final
class Batch:
    """The events of one ``Tokenizer.feed_batch`` call, in columns: event ``i``
    has kind ``KINDS[kinds[i]]`` and data ``data[i]``; rare fields are sparse."""

    @property
    def kinds(self) -> bytes:
        """One byte per event: the index of its kind in ``KINDS``."""
    @property
    def data(self) -> list[bytes]:
        """Each event's data (as ``Event.data``)."""
    @property
    def codes(self) -> dict[int, int]:
        """``{index: code}`` for the events that have one."""
    @property
    def payloads(self) -> dict[int, bytes]:
        """``{index: payload}`` for ``+QCOAPRECV`` events."""
    @property
    def more(self) -> frozenset[int]:
        """The indexes of body chunks that are not the last of their body."""
    def events(self) -> list[Event]:
        """The same events as ``Event`` objects."""
    def __len__(self) -> int: ...

@final
class Event:
    """One framed piece of module output. Frozen; compares by all fields."""

    __match_args__: Final = ("kind", "data", "code", "payload", "more")

    def __new__(
        cls,
        kind: _EventKind,
        data: bytes,
        code: int | None = None,
        payload: bytes | None = None,
        more: bool = False,
    ) -> Event: ...
    @property
    def kind(self) -> _EventKind:
        """What the bytes are (interned string)."""
    @property
    def data(self) -> bytes:
        """The line without framing CR/LF, the body bytes, or ``b"> "``."""
    @property
    def code(self) -> int | None:
        """``+CME ERROR: n``, ``CONNECT n`` or a body's ``+QHTTPREAD: <err>``."""
    @property
    def payload(self) -> bytes | None:
        """The binary payload of ``+QCOAPRECV``."""
    @property
    def more(self) -> bool:
        """True on a body chunk that is not the last one of its body."""
    @property
    def name(self) -> str | None:
        """``"+QCOAPRECV"`` for a ``+QCOAPRECV: …`` line, urc or final; else None."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Tokenizer:
    """The AT stream tokenizer: bytes in, events out; no I/O, no clock."""

    def __new__(
        cls,
        urc_prefixes: Iterable[bytes | str] | None = None,
        *,
        max_line: int = 4096,
        max_body: int = 2097152,
        stream_bodies: bool = False,
    ) -> Tokenizer: ...
    def sent(
        self,
        command: bytes | bytearray | memoryview,
        *,
        body_length: int | None = None,
        response_header: bool = False,
    ) -> None:
        """Declare the command line just written (``b"AT+QHTTPREAD=80\\r"``).

        A line not starting with ``AT`` (data written after ``CONNECT`` or a
        prompt) only sets the echo to expect; the command in flight stays.
        """
    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes read from the module; the events they complete."""
    def feed_batch(
        self,
        data: bytes | bytearray | memoryview,
        kinds: Iterable[_EventKind] | None = None,
    ) -> Batch:
        """``feed`` in columns. Events whose kind is not in ``kinds`` (None keeps
        all) are framed, so the state advances as with ``feed``, but never copied."""
    def reset(self) -> None:
        """Forget all state (after a reboot or a reconnect)."""
    @property
    def in_flight(self) -> str | None:
        """The command in flight (``"+QHTTPREAD"``, ``"ATI"``…), or None."""
    @property
    def buffered(self) -> int:
        """Bytes held until more arrive."""
    @property
    def max_line(self) -> int: ...
    @property
    def max_body(self) -> int: ...
    @property
    def stream_bodies(self) -> bool:
        """Deliver body bytes as they arrive, one ``body`` event per feed call."""
    @stream_bodies.setter
    def stream_bodies(self, value: bool) -> None: ...
    @property
    def early_errors(self) -> bool:
        """An error trailer inside a known QHTTPREAD length ends the body: for
        archived captures. Off by default: a server can put one in its body."""
    @early_errors.setter
    def early_errors(self, value: bool) -> None: ...

@final
class Trace:
    """``lpwa trace`` on bytes: JSON lines (or ``--stats`` counts) of a capture."""

    def __new__(
        cls, *, stats: bool = False, brief: bool = False, format: str | None = None
    ) -> Trace: ...
    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """The JSON lines the next bytes of the capture complete (none with ``stats``)."""
    def close(self) -> bytes:
        """The JSON lines of the bytes held back at the end of the capture."""
    def summary(self, seconds: float) -> str:
        """The ``--stats`` JSON, with ``seconds`` as the run's duration."""
    @property
    def format(self) -> str | None:
        """The log dialect in use (None until the first bytes when detecting)."""

DIALECTS: Final[tuple[str, ...]]
"""The log dialects of ``Trace`` and ``trace_fd`` (``lpwa trace --format``)."""

def trace_fd(
    in_fd: int,
    out_fd: int,
    *,
    stats: bool = False,
    brief: bool = False,
    format: str | None = None,
) -> str:
    """``lpwa trace`` from one open descriptor to another, without the GIL (POSIX);
    the log dialect used (``format``, or detected when None)."""
