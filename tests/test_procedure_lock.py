"""The procedure lock: whole procedures serialised across threads, leases for streams."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from lpwa.at.procedure_lock import ProcedureLock
from lpwa.errors import ModemBusy


def test_reentrant_in_one_thread() -> None:
    lock = ProcedureLock("m")
    with lock.hold(), lock.hold():
        pass
    with lock.hold():  # released after the nested holds
        pass


def test_other_thread_waits_for_the_whole_procedure() -> None:
    lock = ProcedureLock("m")
    order: list[str] = []
    inside = threading.Event()
    go = threading.Event()

    def first() -> None:
        with lock.hold():
            order.append("first:start")
            inside.set()
            go.wait(5)
            order.append("first:end")

    def second() -> None:
        inside.wait(5)
        with lock.hold():
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(5)
    go.set()
    for t in threads:
        t.join(5)
    assert order == ["first:start", "first:end", "second"]


def test_refused_thread_gets_modem_busy_at_once() -> None:
    lock = ProcedureLock("m", refuse=lambda: True)
    with pytest.raises(ModemBusy, match="callback"), lock.hold():
        pass


def test_open_lease_refuses_its_own_thread_at_once() -> None:
    lock = ProcedureLock("m")
    with lock.hold():
        lease = lock.lease()
    with pytest.raises(ModemBusy, match="this thread"), lock.hold():
        pass
    lease.release()
    lease.release()  # idempotent
    with lock.hold():
        pass


def test_open_lease_bounds_another_threads_wait() -> None:
    lock = ProcedureLock("m", lease_wait=0.2)
    with lock.hold():
        lease = lock.lease()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with lock.hold():
                pass
        except ModemBusy as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(5)
    assert not t.is_alive()
    assert len(errors) == 1 and "another thread" in str(errors[0])
    lease.release()


def test_other_thread_proceeds_once_the_lease_is_released() -> None:
    lock = ProcedureLock("m", lease_wait=5)
    with lock.hold():
        lease = lock.lease()
    done = threading.Event()

    def other() -> None:
        with lock.hold():
            done.set()

    t = threading.Thread(target=other)
    t.start()
    assert not done.wait(0.1)
    lease.release()
    t.join(5)
    assert done.is_set()


def test_lease_holder_runs_commands_from_another_thread() -> None:
    lock = ProcedureLock("m")
    with lock.hold():
        lease = lock.lease()
    ran = threading.Event()

    def reader() -> None:
        with lease, lock.hold():  # the body read, in the thread that iterates it
            ran.set()
        lease.release()

    t = threading.Thread(target=reader)
    t.start()
    t.join(5)
    assert ran.is_set()
    with lock.hold():
        pass


def test_a_dropped_lease_gives_the_module_back() -> None:
    lock = ProcedureLock("m")
    with lock.hold():
        lock.lease()  # the Response holding it is gone at once
    gc.collect()
    assert not lock.leased
    with lock.hold():
        pass


def test_lease_outside_a_procedure_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        ProcedureLock("m").lease()


def test_each_open_stream_gets_its_own_bounded_wait() -> None:
    # Two streams one after the other, each open for less than lease_wait but
    # together for more: a waiting thread must not give up on the sum.
    lock = ProcedureLock("m", lease_wait=0.6)
    opened = threading.Event()
    errors: list[BaseException] = []
    ran = threading.Event()

    def streams() -> None:
        with lock.hold():
            first = lock.lease()
        opened.set()
        time.sleep(0.4)
        with first:  # its reader opens the next stream before letting go
            first.release()
            second = lock.lease()
        time.sleep(0.4)
        second.release()

    def waiter() -> None:
        opened.wait(5)
        try:
            with lock.hold():
                ran.set()
        except ModemBusy as exc:
            errors.append(exc)

    threads = [threading.Thread(target=streams), threading.Thread(target=waiter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert ran.is_set()
