"""UFS file commands: AT+QFUPL, +QFDWL, +QFLST, +QFDEL, +QFLDS, +QFOPEN, +QFREAD,
+QFWRITE, +QFSEEK, +QFPOSITION, +QFCLOSE (Quectel FILE AT commands).

Formats, as a real BG96 prints them: ``+QFUPL: <size>,<checksum>``,
``+QFDWL: <size>,<checksum>`` (checksum: ``lpwa.sim.ufs.checksum_hex``),
``+QFLST: "<name>",<size>``, ``+QFLDS: <free>,<total>``, ``+QFOPEN: <handle>``,
``CONNECT <n>`` before QFREAD data. Errors are the FILE manual's 4xx codes
(``+CME ERROR: 405`` file not found, 407 file exists, 416 bad handle...).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.sim.atparse import Command, Form
from lpwa.sim.engine import Registry
from lpwa.sim.params import CommandFailed, int_param, max_args, str_param
from lpwa.sim.ufs import UFS, checksum_hex

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx

__all__ = ["REGISTRY", "FileState", "OpenFile"]

E_INVALID = 400
E_DRIVE_FULL = 403
E_NOT_FOUND = 405
E_BAD_NAME = 406
E_EXISTS = 407
E_TOO_MANY = 413
E_BAD_HANDLE = 416
E_TOO_LARGE = 423
E_OPENED = 426

QFUPL_DEFAULT_SIZE = 10240
QFUPL_DEFAULT_TIMEOUT = 5
MAX_OPEN = 10
FIRST_HANDLE = 1024


@dataclass
class OpenFile:
    """An open UFS file: name, open mode (0 rw, 1 truncate, 2 read-only), position."""

    name: str
    mode: int
    position: int = 0


@dataclass
class FileState:
    """Open file handles (lost on reboot; the UFS itself persists)."""

    handles: dict[int, OpenFile] = field(default_factory=dict)
    next_handle: int = FIRST_HANDLE
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, handle: int) -> OpenFile:
        """The open file of ``handle`` or ``+CME ERROR: 416``."""
        with self.lock:
            found = self.handles.get(handle)
        if found is None:
            raise CommandFailed(E_BAD_HANDLE)
        return found


def _name(cmd: Command, index: int = 0) -> str:
    text = str_param(cmd, index, quoted=True, error=E_INVALID)
    try:
        return UFS.normalize(text)
    except ValueError:
        raise CommandFailed(E_BAD_NAME) from None


def qfupl(ctx: Ctx, cmd: Command) -> None:
    """AT+QFUPL=<name>[,<size>[,<timeout>[,<ackmode>]]]: upload a file.

    ``CONNECT``, then up to ``<size>`` bytes (default 10240) until ``<timeout>``
    seconds (default 5) pass or ``+++``; whatever arrived is stored and reported
    ``+QFUPL: <size>,<checksum>``. This is why the CoAP note's 5.2 example
    declares 39 bytes and reports ``+QFUPL: 34,...``. With ``<ackmode>`` 1 the
    module writes ``A`` after every 1024 bytes.
    """
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info(f'+QFUPL: "<filename>",(1-{module.ufs.total_size}),(1-65535),(0,1)')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 4, E_INVALID)
    name = _name(cmd)
    size = int_param(cmd, 1, 1, 1 << 31, default=QFUPL_DEFAULT_SIZE, error=E_INVALID)
    timeout = int_param(cmd, 2, 1, 65535, default=QFUPL_DEFAULT_TIMEOUT, error=E_INVALID)
    ackmode = int_param(cmd, 3, 0, 1, default=0, error=E_INVALID)
    if name in module.ufs:
        raise CommandFailed(E_EXISTS)
    if size > module.ufs.total_size:
        raise CommandFailed(E_TOO_LARGE)
    if size > module.ufs.free and cmd.arg(1) is not None:
        raise CommandFailed(E_DRIVE_FULL)
    ctx.connect()
    total = ctx.scaled(timeout)
    data = bytearray()
    if ackmode:
        while len(data) < size:
            part = ctx.read_data(min(1024, size - len(data)), total)
            data += part.data
            if part.end != "complete":
                break
            if len(data) % 1024 == 0 and len(data) < size:
                ctx.send(b"A")
    else:
        data += ctx.read_data(size, total).data
    try:
        module.ufs.write(name, bytes(data))
    except OSError:
        raise CommandFailed(E_DRIVE_FULL) from None
    ctx.info(f"+QFUPL: {len(data)},{checksum_hex(bytes(data))}")


def qfdwl(ctx: Ctx, cmd: Command) -> None:
    """AT+QFDWL=<name>: ``CONNECT``, the bytes, ``+QFDWL: <size>,<checksum>``, ``OK``."""
    if cmd.form is Form.TEST:
        ctx.info('+QFDWL: "<filename>"')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 1, E_INVALID)
    name = _name(cmd)
    try:
        data = ctx.module.ufs.read(name)
    except KeyError:
        raise CommandFailed(E_NOT_FOUND) from None
    ctx.connect()
    ctx.send(data)
    ctx.info(f"+QFDWL: {len(data)},{checksum_hex(data)}")


def qflst(ctx: Ctx, cmd: Command) -> None:
    """AT+QFLST[=<pattern>]: ``+QFLST: "<name>",<size>`` per matching file.

    A pattern with the ``UFS:`` prefix lists names with the prefix.
    """
    ufs = ctx.module.ufs
    if cmd.form is Form.TEST:
        return
    if cmd.form is Form.EXEC:
        pattern, prefix = "*", ""
    elif cmd.form is Form.WRITE:
        max_args(cmd, 1, E_INVALID)
        raw = str_param(cmd, 0, quoted=True, error=E_INVALID)
        prefix = raw[:4] if raw[:4].upper() == "UFS:" else ""
        pattern = raw[len(prefix) :] or "*"
    else:
        raise CommandFailed(E_INVALID)
    for name in ufs.names(pattern):
        ctx.info(f'+QFLST: "{prefix}{name}",{ufs.size(name)}')


def qfdel(ctx: Ctx, cmd: Command) -> None:
    """AT+QFDEL=<name>: delete a file (``"*"`` deletes every file)."""
    ufs = ctx.module.ufs
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 1, E_INVALID)
    raw = str_param(cmd, 0, quoted=True, error=E_INVALID)
    if raw in ("*", "UFS:*"):
        for name in ufs.names():
            ufs.delete(name)
        return
    name = _name(cmd)
    with ctx.module.files.lock:
        if any(f.name == name for f in ctx.module.files.handles.values()):
            raise CommandFailed(E_OPENED)
    try:
        ufs.delete(name)
    except KeyError:
        raise CommandFailed(E_NOT_FOUND) from None


def qflds(ctx: Ctx, cmd: Command) -> None:
    """AT+QFLDS="UFS": ``+QFLDS: <free>,<total>``; AT+QFLDS: ``+QFLDS: <used>,<count>``."""
    ufs = ctx.module.ufs
    if cmd.form is Form.TEST:
        ctx.info('+QFLDS: ("UFS")')
    elif cmd.form is Form.EXEC:
        names = ufs.names()
        ctx.info(f"+QFLDS: {sum(ufs.size(n) for n in names)},{len(names)}")
    elif cmd.form is Form.WRITE:
        max_args(cmd, 1, E_INVALID)
        if str_param(cmd, 0, quoted=True, error=E_INVALID).upper() != "UFS":
            raise CommandFailed(E_INVALID)
        ctx.info(f"+QFLDS: {ufs.free},{ufs.total_size}")
    else:
        raise CommandFailed(E_INVALID)


def qfopen(ctx: Ctx, cmd: Command) -> None:
    """AT+QFOPEN=<name>[,<mode>]: ``+QFOPEN: <handle>``.

    Mode 0 opens or creates, 1 creates or truncates, 2 opens read-only.
    """
    module = ctx.module
    state = module.files
    if cmd.form is Form.TEST:
        ctx.info('+QFOPEN: "<filename>",(0-2)')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 2, E_INVALID)
    name = _name(cmd)
    mode = int_param(cmd, 1, 0, 2, default=0, error=E_INVALID)
    with state.lock:
        if any(f.name == name for f in state.handles.values()):
            raise CommandFailed(E_OPENED)
        if len(state.handles) >= MAX_OPEN:
            raise CommandFailed(E_TOO_MANY)
        exists = name in module.ufs
        if mode == 2 and not exists:
            raise CommandFailed(E_NOT_FOUND)
        if mode == 1 or not exists:
            module.ufs.write(name, b"")
        handle = state.next_handle
        state.next_handle += 1
        state.handles[handle] = OpenFile(name, mode)
    ctx.info(f"+QFOPEN: {handle}")


def qfread(ctx: Ctx, cmd: Command) -> None:
    """AT+QFREAD=<handle>[,<length>]: ``CONNECT <n>``, n bytes, ``OK``."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 2, E_INVALID)
    opened = ctx.module.files.get(int_param(cmd, 0, 0, 1 << 31, error=E_INVALID))
    data = ctx.module.ufs.read(opened.name)
    length = int_param(cmd, 1, 1, 1 << 31, default=max(1, len(data)), error=E_INVALID)
    chunk = data[opened.position : opened.position + length]
    opened.position += len(chunk)
    ctx.connect(len(chunk))
    ctx.send(chunk)


def qfwrite(ctx: Ctx, cmd: Command) -> None:
    """AT+QFWRITE=<handle>[,<length>[,<timeout>]]: ``CONNECT``, bytes, ``+QFWRITE: <n>,<total>``."""
    module = ctx.module
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 3, E_INVALID)
    opened = module.files.get(int_param(cmd, 0, 0, 1 << 31, error=E_INVALID))
    length = int_param(cmd, 1, 1, module.ufs.total_size, default=10240, error=E_INVALID)
    timeout = int_param(cmd, 2, 1, 65535, default=QFUPL_DEFAULT_TIMEOUT, error=E_INVALID)
    if opened.mode == 2:
        raise CommandFailed(E_INVALID)
    ctx.connect()
    data = ctx.read_data(length, ctx.scaled(timeout)).data
    old = module.ufs.read(opened.name)
    new = old[: opened.position] + data + old[opened.position + len(data) :]
    try:
        module.ufs.write(opened.name, new)
    except OSError:
        raise CommandFailed(E_DRIVE_FULL) from None
    opened.position += len(data)
    ctx.info(f"+QFWRITE: {len(data)},{len(new)}")


def qfseek(ctx: Ctx, cmd: Command) -> None:
    """AT+QFSEEK=<handle>,<offset>[,<position>]: 0 from start, 1 from current, 2 from end."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 3, E_INVALID)
    opened = ctx.module.files.get(int_param(cmd, 0, 0, 1 << 31, error=E_INVALID))
    offset = int_param(cmd, 1, 0, 1 << 31, error=E_INVALID)
    origin = int_param(cmd, 2, 0, 2, default=0, error=E_INVALID)
    size = len(ctx.module.ufs.read(opened.name))
    base = (0, opened.position, size)[origin]
    if base + offset > size:
        raise CommandFailed(E_INVALID)
    opened.position = base + offset


def qfposition(ctx: Ctx, cmd: Command) -> None:
    """AT+QFPOSITION=<handle>: ``+QFPOSITION: <offset>``."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    opened = ctx.module.files.get(int_param(cmd, 0, 0, 1 << 31, error=E_INVALID))
    ctx.info(f"+QFPOSITION: {opened.position}")


def qfclose(ctx: Ctx, cmd: Command) -> None:
    """AT+QFCLOSE=<handle>."""
    state = ctx.module.files
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 1, E_INVALID)
    handle = int_param(cmd, 0, 0, 1 << 31, error=E_INVALID)
    with state.lock:
        if state.handles.pop(handle, None) is None:
            raise CommandFailed(E_BAD_HANDLE)


REGISTRY = Registry(
    extended={
        "+QFUPL": qfupl,
        "+QFDWL": qfdwl,
        "+QFLST": qflst,
        "+QFDEL": qfdel,
        "+QFLDS": qflds,
        "+QFOPEN": qfopen,
        "+QFREAD": qfread,
        "+QFWRITE": qfwrite,
        "+QFSEEK": qfseek,
        "+QFPOSITION": qfposition,
        "+QFCLOSE": qfclose,
    }
)
