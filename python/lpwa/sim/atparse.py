"""Parsing of one AT command line into a name, a form and parameters. No I/O.

A line is what the host typed between ``AT`` and ``<CR>``. Extended commands
(``+QHTTPCFG``) come in the four forms of the CoAP note's Table 1: test
(``=?``), read (``?``), write (``=<p1>[,<p2>...]``) and execution (no suffix).
Basic commands (``E0``, ``V1``, ``I``, ``Z``, ``&F``...) can be chained
(``ATE0V1``). Parameters are split on commas outside double quotes; a quoted
parameter keeps its text verbatim (no escapes, as on the module).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["Arg", "Command", "Form", "SyntaxFault", "parse_basic", "parse_line"]


class SyntaxFault(ValueError):
    """The line is not a well-formed AT command (answered with ``ERROR``)."""


class Form(enum.Enum):
    """The four command forms (CoAP note 3.1.2, Table 1)."""

    TEST = "=?"
    READ = "?"
    WRITE = "="
    EXEC = ""


@dataclass(frozen=True)
class Arg:
    """One parameter: its text and whether it was in double quotes."""

    text: str
    quoted: bool = False

    @property
    def omitted(self) -> bool:
        """An empty unquoted field (``AT+X=1,,3``) stands for an omitted parameter."""
        return not self.quoted and self.text == ""


@dataclass(frozen=True)
class Command:
    """An extended command (``name`` like ``"+QHTTPCFG"``, upper case) or ``""`` for AT."""

    name: str
    form: Form
    args: tuple[Arg, ...] = ()
    text: str = ""

    def arg(self, index: int) -> Arg | None:
        """Parameter ``index`` or None when it is absent or omitted."""
        if index < len(self.args) and not self.args[index].omitted:
            return self.args[index]
        return None


_EXTENDED = re.compile(r"^([+][A-Za-z][A-Za-z0-9_]*)(=\?|\?|=)?(.*)$", re.DOTALL)
_BASIC = re.compile(r"(&?[A-Za-z])(\d*)")


def split_args(text: str) -> tuple[Arg, ...]:
    """Split ``text`` on commas outside double quotes; raise SyntaxFault on a bad quote."""
    if text.strip() == "":
        return ()
    args: list[Arg] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise SyntaxFault("unterminated string")
            args.append(Arg(text[i + 1 : end], quoted=True))
            i = end + 1
            while i < n and text[i] == " ":
                i += 1
            if i < n and text[i] != ",":
                raise SyntaxFault("text after a closing quote")
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            field = text[i:end].strip()
            if '"' in field:
                raise SyntaxFault("stray quote")
            args.append(Arg(field))
            i = end
        if i >= n:
            return tuple(args)
        i += 1  # the comma
        if i >= n:
            args.append(Arg(""))
            return tuple(args)


def parse_line(line: str) -> Command:
    """Parse the text after ``AT`` of one extended command (or ``""`` for bare AT)."""
    if line == "":
        return Command("", Form.EXEC, (), line)
    match = _EXTENDED.match(line)
    if match is None:
        raise SyntaxFault(f"not an extended command: {line!r}")
    name, suffix, rest = match.group(1).upper(), match.group(2) or "", match.group(3)
    if suffix == "=?":
        if rest.strip():
            raise SyntaxFault("text after =?")
        return Command(name, Form.TEST, (), line)
    if suffix == "?":
        if rest.strip():
            raise SyntaxFault("text after ?")
        return Command(name, Form.READ, (), line)
    if suffix == "=":
        return Command(name, Form.WRITE, split_args(rest), line)
    if rest.strip():
        raise SyntaxFault(f"unexpected text after {name}")
    return Command(name, Form.EXEC, (), line)


def parse_basic(line: str) -> list[tuple[str, str]]:
    """Split a chain of basic commands (``E0V1&W``) into ``(letter, digits)`` pairs."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(line):
        match = _BASIC.match(line, pos)
        if match is None:
            raise SyntaxFault(f"bad basic command at {line[pos:]!r}")
        out.append((match.group(1).upper(), match.group(2)))
        pos = match.end()
    return out
