"""Module docstrings as ``--help`` text: the reStructuredText markup they are written in
(````literal````, ``:func:`name```) is for the API docs, not for a terminal."""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(doc: str | None) -> str:
    """``doc`` with inline-literal backticks and Sphinx roles removed."""
    text = _ROLE.sub(r"\1", doc or "")
    return text.replace("``", "")
