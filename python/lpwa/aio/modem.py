"""``AsyncModem``: the asyncio shell that drives a module's procedures.

The same :class:`~lpwa.session.Session` and the same procedures as the blocking
:class:`lpwa.Modem` (set-up, recovery, ``network``, ``ssl``, ``files``, ``http``,
``coap``), performed with awaits on an :class:`~lpwa.aio.channel.AsyncATChannel`::

    async with AsyncModem.open("socket://127.0.0.1:7000") as m:
        await m.network.activate(1)
        r = await m.http.get("http://example.com/")
        async for urc in m.urcs():
            ...

One procedure runs at a time per module (an asyncio lock, the sync shell's
procedure lock); a streamed response keeps the module leased until its body is
read or it is closed, and another task's call then waits at most
:data:`~lpwa.at.procedure_lock.LEASE_WAIT` seconds before ``ModemBusy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import serial

from lpwa.aio.channel import AsyncATChannel
from lpwa.at.core import Reply, Urc
from lpwa.at.procedure_lock import LEASE_WAIT
from lpwa.driving import adrive
from lpwa.errors import ATTimeout, CommandError, ModemBusy, ProtocolError, TransportError
from lpwa.files import Files, FilesProcedures
from lpwa.modem import with_port_holders
from lpwa.network import Network, NetworkProcedures
from lpwa.procedure import (
    AwaitAppReady,
    Awaiting,
    Command,
    EnsureSession,
    Expect,
    Lease,
    Proc,
    Pull,
    Resync,
    Sleep,
    Step,
    Stream,
    Subscribe,
    Wait,
)
from lpwa.session import REBOOT_TIMEOUT, Session, is_app_rdy
from lpwa.ssl_config import SSLConfig, SSLProcedures

if TYPE_CHECKING:
    from lpwa.coap.client import AsyncCoAP
    from lpwa.http import AsyncHTTP

log = logging.getLogger("lpwa.modem")

T = TypeVar("T")
X = TypeVar("X")


class AsyncLease:
    """Keeps the module for a streamed response until ``release()`` (idempotent,
    from any thread: a response dropped unread is released by garbage collection,
    which may run anywhere)."""

    def __init__(self, modem: AsyncModem, owner: asyncio.Task[Any] | None) -> None:
        self._modem = modem
        self._loop = asyncio.get_running_loop()
        self.owner = owner
        self.released = asyncio.Event()

    def release(self) -> None:
        """Give the module back."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._release()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        if not self.released.is_set():
            self.released.set()
            self._modem._end_lease(self)

    def __del__(self) -> None:
        if not self.released.is_set() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._release)


class AsyncModem(Session):
    """One Quectel BG95/BG77/BG96 module, driven from an asyncio event loop."""

    def __init__(
        self,
        channel: AsyncATChannel,
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
    ) -> None:
        super().__init__(
            channel.name,
            lambda: channel.reboots,
            urc_port=urc_port,
            workaround_719=workaround_719,
        )
        self.channel = channel
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._lease: AsyncLease | None = None
        self._app_rdy = asyncio.Event()
        self._unsubscribe_ready = channel.subscribe(self._on_app_rdy, is_app_rdy)

    @classmethod
    def open(
        cls,
        port: str | serial.SerialBase,
        baudrate: int = 115200,
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
        recover_coap: Iterable[int] = (),
        **serial_options: Any,
    ) -> _Opening:
        """Open ``port`` and set the module up (see :meth:`lpwa.Modem.open`):
        ``async with AsyncModem.open(url) as m`` or ``m = await AsyncModem.open(url)``."""
        return _Opening(
            cls._open(port, baudrate, urc_port, workaround_719, list(recover_coap), serial_options)
        )

    @classmethod
    async def _open(
        cls,
        port: str | serial.SerialBase,
        baudrate: int,
        urc_port: str | None,
        workaround_719: bool | None,
        coap_ids: list[int],
        serial_options: dict[str, Any],
    ) -> AsyncModem:
        channel = await AsyncATChannel.open(port, baudrate, **serial_options)
        try:
            modem = cls(channel, urc_port=urc_port, workaround_719=workaround_719)
            await modem.init()
            if coap_ids:
                await modem.recover(coap_ids=coap_ids)
            return modem
        except (ATTimeout, ProtocolError) as exc:
            await channel.close()
            named = with_port_holders(exc, port)
            if named is exc:
                raise
            raise named from exc
        except BaseException:
            await channel.close()
            raise

    # -- the shell ----------------------------------------------------------------

    async def arun(self, proc: Proc[T], lease: AsyncLease | None = None) -> T:
        """Run a procedure to its end, as the module's one procedure meanwhile;
        with ``lease``, as the holder of that open lease (a streamed body)."""
        if lease is not None and lease is self._lease:
            owner, self._owner = self._owner, asyncio.current_task()
            try:
                return await adrive(proc, self._perform)
            finally:
                self._owner = owner
                if owner is None and self._lease is None:
                    # The lease ended inside (body read to its end, or closed):
                    # _end_lease left the lock to this, its holder.
                    self._lock.release()
        async with self._held():
            return await adrive(proc, self._perform)

    def call(self, proc: Proc[T]) -> Coroutine[Any, Any, T]:
        """Run a procedure (what a facade method does in this shell): a coroutine."""
        return self.arun(proc)

    async def pieces(
        self, next_piece: Callable[[], Proc[X | None]], close: Callable[[], Proc[None]]
    ) -> AsyncIterator[X]:
        """A lazy async iterator whose every item is one procedure (``next_piece``
        until it gives None); ``close`` runs when the caller stops early too."""
        try:
            while (piece := await self.arun(next_piece())) is not None:
                yield piece
        finally:
            await self.arun(close())

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            yield  # re-entrant in one task (a procedure's own nested call)
            return
        await self._acquire(task)
        self._owner = task
        try:
            yield
        finally:
            self._owner = None
            if self._lease is None:
                self._lock.release()

    async def _acquire(self, task: asyncio.Task[Any] | None) -> None:
        lease = self._lease
        if lease is not None:
            if lease.owner is task:
                raise ModemBusy(f"{self.name}: a streamed response is still open in this task")
            try:
                await asyncio.wait_for(lease.released.wait(), LEASE_WAIT)
            except asyncio.TimeoutError:
                raise ModemBusy(
                    f"{self.name}: a streamed response held the module for {LEASE_WAIT:.0f} s"
                ) from None
        await self._lock.acquire()

    def _end_lease(self, lease: AsyncLease) -> None:
        if self._lease is lease:
            self._lease = None
            if self._owner is None:
                self._lock.release()

    def lease(self) -> AsyncLease:
        """Inside a procedure: keep the module for a streamed response."""
        if self._owner is None:
            raise RuntimeError("lease() outside a procedure")
        lease = self._lease = AsyncLease(self, self._owner)
        return lease

    async def _perform(self, step: Step) -> Any:
        ch = self.channel
        if isinstance(step, Command):
            if step.raw:
                return await ch.command(step.line, **step.options)
            return await self._command(step.line, step.options)
        if isinstance(step, Pull):
            return await step.stream.pull()
        if isinstance(step, Wait):
            return await step.waiter.wait(step.timeout)
        if isinstance(step, Stream):
            return ch.stream(step.line, **step.options)
        if isinstance(step, Expect):
            return ch.claim(step.match, invalid=step.invalid)
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Lease):
            return self.lease()
        if isinstance(step, Resync):
            await ch.resync()
            return None
        if isinstance(step, AwaitAppReady):
            if not self.app_ready():
                self._app_rdy.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._app_rdy.wait(), step.timeout)
            return None
        if isinstance(step, EnsureSession):
            await self.ensure_session()
            return None
        if isinstance(step, Subscribe):
            return ch.subscribe(step.callback, step.match, claim=step.claim)
        raise TypeError(f"not a procedure step: {step!r}")

    async def _command(self, line: str, options: Any) -> Reply:
        await self.ensure_session()
        try:
            return await self.channel.command(line, **options)
        except CommandError as exc:
            self.count_error(exc)
            raise

    # -- session ------------------------------------------------------------------

    async def init(self) -> None:
        """Sync, set the session options, and read the identity and quirks."""
        async with self._held():
            await adrive(self.setup(), self._perform)

    def _on_app_rdy(self, urc: Urc) -> None:
        self.note_app_rdy(urc)
        self._app_rdy.set()

    async def ensure_session(self) -> None:
        """Set the session up again if the module rebooted since we last looked."""
        if self.needs_setup():
            log.info("%s: module rebooted; setting the session up again", self.name)
            await self.init()

    async def command(self, line: str, **options: Any) -> Reply:
        """Run one AT command (see :meth:`lpwa.Modem.command`)."""
        async with self._held():
            return await self._command(line, options)

    async def recover(self, *, coap_ids: Iterable[int] = (), timeout: float = 75.0) -> list[int]:
        """Close the CoAP clients a previous run left open (see :meth:`lpwa.Modem.recover`)."""
        return await self.arun(self.recover_procedure(coap_ids, timeout))

    async def reboot(self, timeout: float = REBOOT_TIMEOUT) -> None:
        """Restart the module (``AT+CFUN=1,1``), wait for RDY and set up again."""
        await self.arun(self.reboot_procedure(timeout))

    async def urcs(self) -> AsyncIterator[Urc]:
        """The URCs no procedure claimed, in arrival order, until the link closes
        (in a :class:`~lpwa.aio.Fleet` they go to ``fleet.urcs()`` instead)."""
        while True:
            try:
                urc = await self.channel.next_urc()
            except TransportError:
                return  # closed or lost, and every URC before that delivered
            if urc is not None:
                yield urc

    # -- protocol APIs --------------------------------------------------------------

    @cached_property
    def network(self) -> Network[Awaiting]:
        """SIM, registration and PDP contexts."""
        return Network(self, self.network_procedures)

    @cached_property
    def network_procedures(self) -> NetworkProcedures:
        """The procedures behind :attr:`network` (for other procedures)."""
        return NetworkProcedures(self)

    @cached_property
    def ssl(self) -> SSLConfig[Awaiting]:
        """SSL contexts (AT+QSSLCFG)."""
        return SSLConfig(self, SSLProcedures(self))

    @cached_property
    def files(self) -> Files[Awaiting]:
        """The module's UFS file system."""
        return Files(self, self.files_procedures)

    @cached_property
    def files_procedures(self) -> FilesProcedures:
        """The procedures behind :attr:`files` (for other procedures)."""
        return FilesProcedures(self)

    @cached_property
    def http(self) -> AsyncHTTP:
        """HTTP(S) through the module's own stack (AT+QHTTP*)."""
        from lpwa.http import async_http

        return async_http(self)

    @cached_property
    def coap(self) -> AsyncCoAP:
        """CoAP through the module's own stack (AT+QCOAP*)."""
        from lpwa.coap.client import async_coap

        return async_coap(self)

    # -- lifetime -------------------------------------------------------------------

    async def close(self) -> None:
        """Close the channel (the module itself is left as it is)."""
        self._unsubscribe_ready()
        await self.channel.close()

    async def __aenter__(self) -> AsyncModem:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncModem {self.model or '?'} {self.firmware or '?'} on {self.name}>"


class _Opening(Awaitable[AsyncModem]):
    """What :meth:`AsyncModem.open` returns: await it, or ``async with`` it."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro
        self._modem: AsyncModem | None = None

    def __await__(self) -> Generator[Any, None, AsyncModem]:
        return self._coro.__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> AsyncModem:
        self._modem = await self._coro
        return self._modem

    async def __aexit__(self, *exc: object) -> None:
        if self._modem is not None:
            await self._modem.close()


__all__ = ["AsyncLease", "AsyncModem"]
