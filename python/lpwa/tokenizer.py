"""The AT stream tokenizer: module bytes in, events out (design §3).

A re-export of the Rust core (``lpwa._lpwa``). It does no I/O and keeps no
clock: the AT channel feeds it whatever the serial port returned, declares
each command it writes with ``sent()``, and acts on the events::

    tok = Tokenizer()
    tok.sent(b"AT+QHTTPREAD=80\\r", body_length=547256)
    for event in tok.feed(port.read(4096)):
        ...  # event.kind in "echo", "line", "urc", "final", "connect",
        #      "prompt", "body", "invalid"

Any split of the same stream gives the same events; ``feed`` never raises on
wire bytes. Framing rules (lines, echo, finals, URCs, QHTTPREAD/QFDWL/QFREAD/
QIRD bodies, ``+QCOAPRECV`` payloads) follow design §2.

``feed_batch(data, kinds=("urc",))`` is ``feed`` in columns for consumers of
many events: ``batch.kinds[i]`` indexes ``KINDS``, ``batch.data[i]`` is the data;
events of other kinds are framed but never materialised::

    batch = tok.feed_batch(chunk, kinds=("urc",))
    for kind, data in zip(batch.kinds, batch.data):
        ...  # KINDS[kind] == "urc"
"""

from __future__ import annotations

from lpwa._lpwa import KINDS, Batch, Event, Tokenizer

__all__ = ["KINDS", "Batch", "Event", "Tokenizer"]
