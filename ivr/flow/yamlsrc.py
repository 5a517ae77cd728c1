"""YAML with line numbers: map a pydantic error location to the line of the YAML node."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A flow or prompt file is invalid; the message names the file and line."""


class YamlSource:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data: Any = yaml.safe_load(text)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc}") from exc
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else 0
            raise ConfigError(f"{self.path}:{line}: YAML syntax: {exc.problem}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self.path}: not UTF-8 text: {exc}") from exc

    def line(self, loc: Sequence[Any]) -> int:
        """Line (1-based) of the deepest YAML node on the path ``loc``."""
        node = self.root
        if node is None:
            return 1
        mark = node.start_mark
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            mark, node = found
        return mark.line + 1

    def error(self, loc: Sequence[Any], message: str) -> str:
        where = ".".join(str(p) for p in loc)
        return f"{self.path}:{self.line(loc)}: {where}: {message}" if where else \
            f"{self.path}:{self.line(loc)}: {message}"


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Mark, yaml.Node] | None:
    """(where to point, child node): a mapping entry points at its key."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return key.start_mark, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part].start_mark, node.value[part]
    return None


def pydantic_errors(source: YamlSource, exc: Any) -> list[str]:
    """One "file:line: path: message" per pydantic error (union-tag parts are skipped)."""
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        lines.append(source.error(loc, err["msg"]))
    return lines
