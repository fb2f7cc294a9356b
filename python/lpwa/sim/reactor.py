"""The simulator's shared I/O core: one reader thread, one timer thread, a worker pool.

Every simulated port of the process (TCP listeners, their connections, pty
masters) is read by one selector thread (``Reactor``); every module timer (boot
delays, periodic URCs) waits on one ``Scheduler`` thread; a command runs on a
bounded ``WorkerPool`` only while its port has input. An idle module therefore
costs no thread and no wakeup, so one process can serve a fleet of them
(issue 13); a single ``Simulator`` uses the same core.

Rules that keep it safe:

- Reader callbacks run on the reactor thread and must not block (accept, recv,
  feed a buffer, submit to the pool).
- A descriptor registered with the reactor is closed only on the reactor
  thread (``Reactor.call``), so its number cannot be reused while the selector
  still holds it. Other threads may ``shutdown()`` a socket to cut it at once.
- Timer callbacks run on the pool, never on the timer thread: a write to a host
  that does not read (bounded by ``transport.WRITE_STALL_LIMIT``) delays only
  its own batch.

``shared()`` returns the process's core, started on first use; its threads are
daemons named ``sim-*``; idle workers end after ``IDLE_WORKER_SECONDS``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Core", "Reactor", "Scheduler", "TimerHandle", "WorkerPool", "shared"]

log = logging.getLogger("lpwa.sim")

T = TypeVar("T")

MAX_WORKERS = 128
"""Commands running at once in one process; more wait for a free worker."""

IDLE_WORKER_SECONDS = 30.0
"""A worker with nothing to do for this long ends (it is restarted on demand)."""

CALL_TIMEOUT = 10.0
"""How long ``Reactor.call`` waits for the reactor thread (it never blocks)."""


class WorkerPool:
    """Daemon worker threads, started on demand up to ``max_workers``.

    Unlike ``concurrent.futures.ThreadPoolExecutor`` the workers are daemons
    (a command waiting for host input must not hold up interpreter exit) and
    idle ones end, so a quiet process goes back to its base thread count.
    """

    def __init__(self, max_workers: int = MAX_WORKERS, idle_seconds: float = IDLE_WORKER_SECONDS):
        self._max = max_workers
        self._idle_seconds = idle_seconds
        self._tasks: deque[Callable[[], object]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._workers = 0
        self._idle = 0
        self._names = itertools.count(1)

    @property
    def workers(self) -> int:
        """Worker threads alive now."""
        with self._cond:
            return self._workers

    def submit(self, task: Callable[[], object]) -> None:
        """Run ``task`` on a worker soon; exceptions are logged, not raised."""
        with self._cond:
            self._tasks.append(task)
            # Every queued task needs a waiting worker of its own: a task may
            # block (a data phase), and the one queued behind it must not wait.
            if len(self._tasks) > self._idle and self._workers < self._max:
                self._workers += 1
                threading.Thread(
                    target=self._work, name=f"sim-worker-{next(self._names)}", daemon=True
                ).start()
            else:
                self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._tasks:
                    self._idle += 1
                    woken = self._cond.wait(self._idle_seconds)
                    self._idle -= 1
                    if not woken and not self._tasks:
                        self._workers -= 1
                        return
                task = self._tasks.popleft()
            try:
                task()
            except Exception:
                log.exception("simulator: a background task failed")


class TimerHandle:
    """A scheduled call; ``cancel()`` stops it if it has not fired yet."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not fire (a no-op once fired)."""
        self.cancelled = True


class Scheduler:
    """One thread that sleeps until the next deadline, then hands the due calls
    to the pool; with nothing scheduled it sleeps without a timeout.

    Calls due at the same instant go to the pool as one task (a fleet aligns
    its periodic URCs on a few phases for that reason), so a thousand timers a
    second cost a few hundred thread handoffs, not a thousand.
    """

    BATCH = 64
    """Due calls run per pool task (a stalled write delays at most this many)."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the pool ``delay`` seconds from now."""
        return self.call_at(time.monotonic() + max(0.0, delay), callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the pool at ``time.monotonic()`` value ``when``."""
        handle = TimerHandle(when, callback)
        with self._cond:
            first = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._seq), handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-timer", daemon=True)
                self._thread.start()
            elif first:
                self._cond.notify()
        return handle

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                now = time.monotonic()
                due: list[TimerHandle] = []
                while self._heap and self._heap[0][0] <= now:
                    handle = heapq.heappop(self._heap)[2]
                    if not handle.cancelled:
                        due.append(handle)
            for start in range(0, len(due), self.BATCH):
                self._pool.submit(_Batch(due[start : start + self.BATCH]))


class _Batch:
    """Due timers run in order on one worker."""

    __slots__ = ("handles",)

    def __init__(self, handles: list[TimerHandle]) -> None:
        self.handles = handles

    def __call__(self) -> None:
        for handle in self.handles:
            if handle.cancelled:
                continue
            try:
                handle.callback()
            except Exception:
                log.exception("simulator: a timer failed")


Reader = Callable[[], None]


class Reactor:
    """One selector thread calling a callback when a registered descriptor is
    readable; ``call`` runs a function on that thread (register, unregister and
    close go through it)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._calls: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sim-reactor", daemon=True)
        self._started = False

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    @property
    def on_reactor_thread(self) -> bool:
        """Whether the caller is the reactor thread."""
        return threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the reactor thread, without waiting for it."""
        self._ensure_started()
        with self._lock:
            self._calls.append(fn)
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self._wake_w.send(b"\0")

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the reactor thread and return its result (inline when
        already there). The reactor never waits for anyone, so this is safe
        from any other thread."""
        if self.on_reactor_thread:
            return fn()
        done = threading.Event()
        box: list[T] = []
        error: list[BaseException] = []

        def run() -> None:
            try:
                box.append(fn())
            except BaseException as exc:
                error.append(exc)
            finally:
                done.set()

        self.call_soon(run)
        if not done.wait(CALL_TIMEOUT):
            raise RuntimeError("the simulator's reactor thread does not answer")
        if error:
            raise error[0]
        return box[0]

    # The two methods below run on the reactor thread only (through ``call``).
    def add_reader(self, fileobj: socket.socket | int, callback: Reader) -> None:
        """Watch ``fileobj`` for input; ``callback()`` runs on the reactor thread."""
        self._selector.register(fileobj, selectors.EVENT_READ, callback)

    def remove_reader(self, fileobj: socket.socket | int) -> None:
        """Stop watching ``fileobj`` (a no-op when it is not watched)."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(fileobj)

    def _run(self) -> None:
        while True:
            for key, _ in self._selector.select():
                callback = key.data
                if callback is None:
                    self._run_calls()
                    continue
                try:
                    callback()
                except Exception:
                    log.exception("simulator: a port reader failed")

    def _run_calls(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_r.recv(4096):
                pass
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn = self._calls.popleft()
            try:
                fn()
            except Exception:
                log.exception("simulator: a reactor call failed")


class Core:
    """The process's reactor, scheduler and worker pool."""

    def __init__(self) -> None:
        self.pool = WorkerPool()
        self.scheduler = Scheduler(self.pool)
        self.reactor = Reactor()


_core: Core | None = None
_core_lock = threading.Lock()


def shared() -> Core:
    """The process's core (created on first use)."""
    global _core
    core = _core
    if core is not None:
        return core
    with _core_lock:
        if _core is None:
            _core = Core()
        return _core


def _forget_after_fork() -> None:
    # A forked child has none of the parent's threads: start afresh if it
    # serves modules of its own.
    global _core
    _core = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
