"""The procedure lock: one procedure at a time on a module, across threads.

A procedure (an HTTP GET with its URL, request, result URC and body read; an
upload with its checksum; a CoAP request) is several commands. The channel
serialises single commands; this lock serialises whole procedures, so that two
threads sharing a ``Modem`` never get each other's answers or bodies.

- Re-entrant in one thread: a procedure may call others (``post_file`` → ``post``).
- A *lease* keeps the lock after the procedure returns, for a streamed response
  whose body is read later: released by ``Lease.release()`` (idempotent, from any
  thread, also from a finaliser). ``with lease:`` lets the reading thread run
  commands as the lease's owner.
- While a lease is open, other threads wait at most ``lease_wait`` seconds and
  then get :class:`~lpwa.errors.ModemBusy`; the thread that opened the lease gets
  it at once, since waiting on itself could only end in a timeout.
- A thread that must never wait (the URC dispatcher, which delivers the answers a
  procedure waits for) is refused at once with ModemBusy instead of deadlocking.

No I/O here: the sync shell uses it today, the asyncio shell will hold one per
module the same way.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lpwa.errors import ModemBusy

# How long a second call waits for a streamed response that is still open.
LEASE_WAIT = 10.0


class Lease:
    """Holds a module's procedure lock for a streamed response until released."""

    def __init__(self, lock: ProcedureLock, opener: int) -> None:
        self._lock = lock
        self.opener = opener
        self.released = False

    def release(self) -> None:
        """Give the module back (idempotent; any thread)."""
        self._lock._end_lease(self)

    def __enter__(self) -> Lease:
        self._lock._enter_lease(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock._exit_owner()


class ProcedureLock:
    """Serialises procedures on one module; see the module docstring."""

    def __init__(
        self,
        name: str = "",
        *,
        refuse: Callable[[], bool] | None = None,
        lease_wait: float = LEASE_WAIT,
    ) -> None:
        self.name = name
        self._refuse = refuse
        self.lease_wait = lease_wait
        # Re-entrant: a Lease finaliser may run (garbage collection) while this
        # very thread is inside the condition.
        self._cond = threading.Condition(threading.RLock())
        self._owner: int | None = None
        self._depth = 0
        # A weak reference: a response dropped without close() (and its lease
        # with it) must not keep the module held.
        self._lease_ref: weakref.ref[Lease] | None = None
        self._lease_opener: int | None = None

    @property
    def _lease(self) -> Lease | None:
        return None if self._lease_ref is None else self._lease_ref()

    @property
    def leased(self) -> bool:
        """Whether a streamed response holds the module."""
        return self._lease_ref is not None

    def _free(self) -> bool:
        return self._depth == 0 and self._lease_ref is None

    @contextmanager
    def hold(self, what: str = "procedure") -> Iterator[None]:
        """Hold the module for one procedure (re-entrant in this thread)."""
        self._acquire(what)
        try:
            yield
        finally:
            self._exit_owner()

    def lease(self) -> Lease:
        """From inside :meth:`hold`: keep the module after the procedure ends."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                raise RuntimeError("lease() outside the procedure that holds the module")
            if self._lease_ref is not None:
                raise ModemBusy(f"{self.name}: a streamed response is already open")
            lease = Lease(self, me)
            self._lease_ref = weakref.ref(lease, self._lease_dropped)
            self._lease_opener = me
            return lease

    # -- internals ------------------------------------------------------------------

    def _acquire(self, what: str) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
        if self._refuse is not None and self._refuse():
            raise ModemBusy(
                f"{self.name}: {what} refused on the URC callback thread (it delivers the "
                "answers procedures wait for); hand the work to another thread"
            )
        with self._cond:
            lease_deadline: float | None = None
            waited_on: weakref.ref[Lease] | None = None
            while not self._free():
                if self._lease_ref is not None and self._depth == 0:
                    if self._lease_ref is not waited_on:
                        # Each open stream gets its own bounded wait, not a
                        # share of a total across several of them.
                        waited_on = self._lease_ref
                        lease_deadline = None
                    if self._lease_opener == me:
                        raise ModemBusy(
                            f"{self.name}: {what} while a streamed response is open in this "
                            "thread: read it to the end or close it (use `with` on it)"
                        )
                    now = time.monotonic()
                    if lease_deadline is None:
                        lease_deadline = now + self.lease_wait
                    if now >= lease_deadline:
                        raise ModemBusy(
                            f"{self.name}: {what} waited {self.lease_wait:g} s for a streamed "
                            "response that is still open in another thread"
                        )
                    self._cond.wait(lease_deadline - now)
                else:
                    # Another thread's procedure: each is bounded by its own timeouts.
                    self._cond.wait()
            self._owner = me
            self._depth = 1

    def _exit_owner(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def _enter_lease(self, lease: Lease) -> None:
        me = threading.get_ident()
        with self._cond:
            if lease.released or self._lease is not lease:
                raise ModemBusy(f"{self.name}: the streamed response was already closed")
            if self._owner == me:
                self._depth += 1
                return
            while self._depth != 0:
                self._cond.wait()
            self._owner = me
            self._depth = 1

    def _end_lease(self, lease: Lease) -> None:
        with self._cond:
            lease.released = True
            if self._lease is lease:
                self._clear_lease()

    def _lease_dropped(self, ref: weakref.ref[Lease]) -> None:
        with self._cond:
            if self._lease_ref is ref:
                self._clear_lease()

    def _clear_lease(self) -> None:
        self._lease_ref = None
        self._lease_opener = None
        self._cond.notify_all()


__all__ = ["LEASE_WAIT", "Lease", "ProcedureLock"]
