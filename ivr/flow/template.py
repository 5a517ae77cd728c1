"""Prompt templates: "您的户号{account_no|digits}，欠费{arrears|money}"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ivr.normalize import FILTERS, has_latin, speakable

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\|([A-Za-z_]+))?\}")


class TemplateError(ValueError):
    """A template names an unknown filter or a variable the call does not have."""


def check_template(text: str) -> list[str]:
    """Problems of a template (unknown filters, stray braces, Latin letters); empty when fine."""
    problems = [f"unknown filter {f!r} (known: {', '.join(sorted(FILTERS))})"
                for _, f in PLACEHOLDER.findall(text) if f and f not in FILTERS]
    literal = PLACEHOLDER.sub("", text)
    if "{" in literal or "}" in literal:
        problems.append("malformed placeholder: use {name} or {name|filter}")
    if has_latin(literal):
        problems.append("Latin letters are read in English: write them in Chinese")
    return problems


def variables(text: str) -> set[str]:
    return {name for name, _ in PLACEHOLDER.findall(text)}


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill the placeholders (filters normalise), then make the whole text speakable."""

    def fill(match: re.Match[str]) -> str:
        name, filt = match.group(1), match.group(2) or "text"
        if name not in values or values[name] is None:
            raise TemplateError(f"template variable {name!r} is not set")
        try:
            return FILTERS[filt](values[name])
        except KeyError:
            raise TemplateError(f"unknown filter {filt!r}") from None
        except ValueError as exc:
            raise TemplateError(f"{{{name}|{filt}}}: {exc}") from exc

    return speakable(PLACEHOLDER.sub(fill, text))
