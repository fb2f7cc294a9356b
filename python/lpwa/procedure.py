"""Procedures written once, free of I/O, and the shells that drive them.

A procedure (an HTTP GET with its URL, request, result URC and body; an upload
with its checksum; PDP bring-up; set-up after a reboot) is a generator. It
yields *steps* — run this command, open this body stream, claim these URCs,
wait for one, sleep — and receives each step's result (or has its error raised
at the ``yield``), like h11 and httpcore keep the protocol apart from I/O.
Two thin shells perform the steps: :class:`lpwa.Modem` blocks a thread on each,
:class:`lpwa.aio.AsyncModem` awaits each. Neither knows what a command means.

A procedure written here::

    def activate(self, cid: int) -> Proc[None]:
        yield from command(f"AT+QIACT={cid}", timeout=150)

becomes ``modem.network.activate(1)`` in the sync shell and
``await m.network.activate(1)`` in the asyncio shell through one facade class,
``class Network(Api[NetworkProcedures, K])`` with ``activate =
procedure(NetworkProcedures.activate)``: the shell's ``call`` gives the result in
one, a coroutine in the other, and ``K`` (:class:`Blocking` or
:class:`Awaiting`) types it so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union, overload

from lpwa.at.channel import Reply, Urc
from lpwa.driving import adrive, drive

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")
else:
    # Only mypy reads it, and typing.ParamSpec is Python 3.10+: a plain type
    # variable makes ``procedure`` generic at run time.
    P = TypeVar("P")

T = TypeVar("T")
R = TypeVar("R")

UrcMatch = Union[Callable[[Urc], bool], str]


@dataclass(frozen=True)
class Command:
    """Run one AT command; the result is its :class:`~lpwa.at.Reply`.

    ``options`` are :meth:`lpwa.at.ATChannel.command`'s keywords. Through the
    session (``raw=False``) the module is set up again first if it rebooted,
    and errors are counted for ``health()``; ``raw=True`` goes straight to the
    channel (set-up itself uses it).
    """

    line: str
    options: Mapping[str, Any] = field(default_factory=dict)
    raw: bool = False


@dataclass(frozen=True)
class Stream:
    """Start a command whose body is read lazily; the result is the shell's
    body stream (iterable in the sync shell, async-iterable in asyncio), with
    ``reply`` set once its final code came."""

    line: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pull:
    """The next body chunk of a :class:`Stream`'s result, or None once the
    body ended (its ``reply`` is then set). Errors are the command's."""

    stream: Any


@dataclass(frozen=True)
class Expect:
    """Start claiming the URCs ``match`` accepts (a predicate or a ``+NAME``;
    with ``invalid``, unframeable lines are offered too); the result is a
    waiter: pass it to :class:`Wait`, and ``cancel()`` it when done (claimed
    URCs nobody waited for go back to the queue)."""

    match: UrcMatch
    invalid: bool = False


@dataclass(frozen=True)
class Wait:
    """The next URC ``waiter`` claimed; ATTimeout after ``timeout`` s."""

    waiter: Any
    timeout: float | None


@dataclass(frozen=True)
class Sleep:
    """Let ``seconds`` pass."""

    seconds: float


@dataclass(frozen=True)
class Lease:
    """Keep the module for a streamed response after the procedure returns;
    the result has ``release()`` (see :meth:`lpwa.Modem.lease`)."""


@dataclass(frozen=True)
class Resync:
    """Prove where the module's stream stands (see :meth:`lpwa.at.ATChannel.resync`)."""


@dataclass(frozen=True)
class AwaitAppReady:
    """Wait up to ``timeout`` s for this boot's ``APP RDY`` (returns at once
    if it came already); the procedure checks again itself."""

    timeout: float


@dataclass(frozen=True)
class EnsureSession:
    """Set the session up again if the module rebooted since it was last set up
    (:meth:`lpwa.Modem.ensure_session`); a :class:`Command` does it by itself."""


@dataclass(frozen=True)
class Subscribe:
    """Call ``callback`` with each URC ``match`` accepts, in order, until the
    returned function is called (see :meth:`lpwa.at.ATChannel.subscribe`).
    The callback must not block: the asyncio shell calls it on the loop."""

    callback: Callable[[Urc], None]
    match: Callable[[Urc], bool] | None = None
    claim: bool = False


Step = Union[
    Command,
    Stream,
    Pull,
    Expect,
    Wait,
    Sleep,
    Lease,
    Resync,
    AwaitAppReady,
    EnsureSession,
    Subscribe,
]
Proc = Generator[Step, Any, T]
"""A procedure returning ``T``."""


# -- the vocabulary procedures are written in ---------------------------------------


def command(line: str, **options: Any) -> Proc[Reply]:
    """Run ``line`` through the session; its Reply."""
    reply: Reply = yield Command(line, options)
    return reply


def raw_command(line: str, **options: Any) -> Proc[Reply]:
    """Run ``line`` straight on the channel (no session check); its Reply."""
    reply: Reply = yield Command(line, options, raw=True)
    return reply


def urc_after(
    line: str, match: UrcMatch, urc_timeout: float | None, /, **options: Any
) -> Proc[Urc]:
    """Run ``line`` (with the command's ``options``, its own ``timeout`` among
    them), then wait up to ``urc_timeout`` s for the URC that ends it, claimed
    before the command is written so that one coming at once cannot slip past."""
    waiter = yield Expect(match)
    try:
        yield Command(line, options)
        urc: Urc = yield Wait(waiter, urc_timeout)
        return urc
    finally:
        waiter.cancel()


def sleep(seconds: float) -> Proc[None]:
    """Let ``seconds`` pass."""
    yield Sleep(seconds)


# -- driving a procedure ------------------------------------------------------------


# -- one facade for both shells ---------------------------------------------------------


class Blocking:
    """The sync shell's kind: ``Api[..., Blocking]`` methods return results."""


class Awaiting:
    """The asyncio shell's kind: ``Api[..., Awaiting]`` methods return coroutines."""


K = TypeVar("K", Blocking, Awaiting)
X = TypeVar("X")


class Api(Generic[T, K]):
    """One facade class for both shells (``modem.http``, ``m.files`` …).

    ``_procs`` holds the procedures and their state; ``_shell`` performs them:
    its ``call(proc)`` returns the result in the sync shell and a coroutine in
    the asyncio one. Methods are :class:`procedure` attributes, so the shell
    kind ``K`` types each as ``R`` or ``Coroutine[..., R]``.
    """

    def __init__(self, shell: Any, procs: T) -> None:
        self._shell = shell
        self._procs = procs


class procedure(Generic[P, R]):
    """A facade method running the procedure ``fn`` as one procedure of its
    module (held against other threads or tasks meanwhile)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Proc[R]]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: Any) -> procedure[P, R]: ...
    @overload
    def __get__(self, obj: Api[Any, Blocking], owner: Any) -> Callable[P, R]: ...
    @overload
    def __get__(
        self, obj: Api[Any, Awaiting], owner: Any
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, obj: Api[Any, Any] | None, owner: Any) -> Any:
        if obj is None:
            return self
        fn, procs, call = self.fn, obj._procs, obj._shell.call

        def method(*args: Any, **kwargs: Any) -> Any:
            return call(fn(procs, *args, **kwargs))

        return functools.update_wrapper(method, fn)


__all__ = [
    "Api",
    "AwaitAppReady",
    "Awaiting",
    "Blocking",
    "Command",
    "EnsureSession",
    "Expect",
    "K",
    "Lease",
    "Proc",
    "Pull",
    "Resync",
    "Sleep",
    "Step",
    "Stream",
    "Subscribe",
    "Wait",
    "adrive",
    "command",
    "drive",
    "procedure",
    "raw_command",
    "sleep",
    "urc_after",
]
