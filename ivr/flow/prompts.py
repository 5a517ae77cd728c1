"""configs/prompts.yaml: prompt key → Chinese text (templates allowed), hot-reloaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow.reload import Reloading
from ivr.flow.template import PLACEHOLDER, check_template
from ivr.flow.yamlsrc import ConfigError, YamlSource
from ivr.normalize import speakable
from ivr.tts.segments import split_segments

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Prompts:
    texts: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def text(self, key: str) -> str:
        try:
            return self.texts[key]
        except KeyError:
            raise KeyError(f"unknown prompt {key!r} in {self.source or 'prompts'}") from None

    def static_clauses(self) -> list[str]:
        """Every clause without a placeholder, as it will be synthesised (for pre-rendering)."""
        return sorted({speakable(c) for t in self.texts.values() for c in split_segments(t)
                       if not PLACEHOLDER.search(c)})


def load_prompts(path: Path) -> Prompts:
    source = YamlSource(path)
    if not isinstance(source.data, dict) or not source.data:
        raise ConfigError(f"{path}:1: expected a mapping of prompt key to Chinese text")
    problems = []
    for key, text in source.data.items():
        if not _KEY.match(str(key)):
            problems.append(source.error([key], "prompt keys are letters, digits and _"))
        elif not isinstance(text, str) or not text.strip():
            problems.append(source.error([key], "expected non-empty text"))
        else:
            problems += [source.error([key], p) for p in check_template(text)]
    if problems:
        raise ConfigError("\n".join(problems))
    return Prompts({str(k): v.strip() for k, v in source.data.items()}, str(path))


class PromptBook:
    """The current prompts of ``path``; re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self._file = Reloading(Path(path), load_prompts)

    def current(self) -> Prompts:
        return self._file.get()

    def text(self, key: str) -> str:
        return self.current().text(key)

    @classmethod
    def from_texts(cls, texts: dict[str, str]) -> StaticPromptBook:
        return StaticPromptBook(Prompts(dict(texts), "<memory>"))


class StaticPromptBook(PromptBook):
    """Fixed prompts (tests)."""

    def __init__(self, prompts: Prompts) -> None:  # noqa: D107 - no file behind it
        self._prompts = prompts

    def current(self) -> Prompts:
        return self._prompts
