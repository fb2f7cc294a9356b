"""Splitting the parameter text of AT responses and URCs into fields.

``+QHTTPGET: 0,200,547256`` → ``["0", "200", "547256"]``;
``+QIACT: 1,1,1,"10.7.157.1"`` → ``["1", "1", "1", "10.7.157.1"]``.
Commas inside double quotes do not split; the quotes themselves are removed.
"""

from __future__ import annotations

from lpwa.errors import ParameterError


def split_fields(text: str) -> list[str]:
    """Split a comma-separated AT parameter list, honouring double quotes."""
    if '"' not in text:
        return [f.strip() for f in text.split(",")] if text else []
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    fields.append("".join(current).strip())
    return fields


def response_fields(line: str, name: str) -> list[str]:
    """The fields of ``line`` after its ``name:`` prefix (``+QFUPL: 1216,7648``)."""
    prefix = name + ":"
    if not line.startswith(prefix):
        raise ValueError(f"{line!r} does not start with {prefix!r}")
    return split_fields(line[len(prefix) :].strip())


def quote(value: str) -> str:
    """A string parameter for a command line; refuses what AT cannot carry."""
    if '"' in value or "\r" in value or "\n" in value:
        raise ParameterError(f"{value!r}: quotes and line ends cannot be sent in an AT string")
    return f'"{value}"'
