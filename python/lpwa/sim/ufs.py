"""The module's user file system (UFS), in memory; the QFUPL/QFDWL checksum is
``lpwa.files.checksum``, shared with the host side.

Files survive reboots (the UFS is flash); open file handles do not. Names may be
given with the ``UFS:`` prefix (``AT+QFUPL="UFS:0_server.psk"``); they are stored
without it. No I/O.
"""

from __future__ import annotations

import fnmatch
import threading

from lpwa.files import checksum as checksum_hex

__all__ = ["UFS", "checksum", "checksum_hex"]

MAX_NAME = 80
"""Longest file name (HTTP note 2.5: "The max length of the file name is 80 bytes")."""

_BAD_CHARS = set('\\/:*?"<>|\r\n\x00')


def checksum(data: bytes) -> int:
    """The QFUPL/QFDWL checksum as a number (``lpwa.files.checksum`` prints it)."""
    return int(checksum_hex(data), 16)


class UFS:
    """An in-memory file store: ``ufs["cacert.pem"] = data``, ``ufs.read(name)``."""

    def __init__(self, total_size: int = 8 * 1024 * 1024) -> None:
        self.total_size = total_size
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @staticmethod
    def normalize(name: str) -> str:
        """Strip the ``UFS:`` prefix; raise ValueError for a name the module rejects."""
        base = name[4:] if name[:4].upper() == "UFS:" else name
        if not base or len(base) > MAX_NAME or any(c in _BAD_CHARS for c in base):
            raise ValueError(f"invalid UFS file name {name!r}")
        return base

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return self.normalize(name) in self._files
        except ValueError:
            return False

    def __getitem__(self, name: str) -> bytes:
        return self.read(name)

    def __setitem__(self, name: str, data: bytes) -> None:
        self.write(name, data)

    def __delitem__(self, name: str) -> None:
        self.delete(name)

    def read(self, name: str) -> bytes:
        """The content of ``name``; KeyError when absent."""
        with self._lock:
            return self._files[self.normalize(name)]

    def write(self, name: str, data: bytes) -> None:
        """Create or replace ``name``; OSError when the UFS is full."""
        key = self.normalize(name)
        with self._lock:
            used = sum(len(v) for k, v in self._files.items() if k != key)
            if used + len(data) > self.total_size:
                raise OSError("UFS full")
            self._files[key] = bytes(data)

    def delete(self, name: str) -> None:
        """Remove ``name``; KeyError when absent."""
        with self._lock:
            del self._files[self.normalize(name)]

    def names(self, pattern: str = "*") -> list[str]:
        """File names matching a ``*``/``?`` pattern, in creation order."""
        with self._lock:
            return [n for n in self._files if fnmatch.fnmatchcase(n, pattern)]

    def size(self, name: str) -> int:
        """Size in bytes of ``name``; KeyError when absent."""
        return len(self.read(name))

    @property
    def free(self) -> int:
        """Free bytes."""
        with self._lock:
            return self.total_size - sum(len(v) for v in self._files.values())

    def clear(self) -> None:
        """Delete every file."""
        with self._lock:
            self._files.clear()
