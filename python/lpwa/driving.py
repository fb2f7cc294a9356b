"""Driving a generator of steps: the whole of what a shell does with a procedure.

``drive`` performs each yielded step with a blocking function, ``adrive`` with a
coroutine function; both send the step's result back in, or raise its error
inside the generator at its ``yield``, so the procedure's ``try``/``finally``
clean-up runs (and may itself yield steps). Used for the protocol procedures
(:mod:`lpwa.procedure`) and for the AT channel's own (:mod:`lpwa.at.core`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")
S = TypeVar("S")


def drive(gen: Generator[S, Any, T], perform: Callable[[S], Any]) -> T:
    """Run ``gen`` to its end, performing each step with ``perform``."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        try:
            value = perform(step)
        except BaseException as exc:  # raised inside the procedure
            value, error = None, exc


async def adrive(gen: Generator[S, Any, T], perform: Callable[[S], Awaitable[Any]]) -> T:
    """:func:`drive` for the asyncio shell: each step is awaited.

    Cancelling the task raises CancelledError inside the procedure like any
    other step error, so its clean-up runs before the cancellation goes on.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        try:
            value = await perform(step)
        except BaseException as exc:  # raised inside the procedure
            value, error = None, exc


__all__ = ["adrive", "drive"]
