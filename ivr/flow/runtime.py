"""Per-call state the verbs share: the channel, variables, record, prompts and actions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.flow.channel import Channel
from ivr.flow.ports import ActionRunner, CallInfo
from ivr.flow.prompts import Prompts
from ivr.flow.record import CallRecord
from ivr.flow.template import TemplateError, render

_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_RAW = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FlowError(RuntimeError):
    """The flow cannot go on (a missing variable, an action result with no branch ...)."""


@dataclass
class Runtime:
    channel: Channel
    prompts: Prompts
    actions: ActionRunner
    call: CallInfo
    record: CallRecord
    base_dir: Path
    vars: dict[str, Any] = field(default_factory=dict)

    def text(self, key: str | None = None, inline: str | None = None,
             extra: dict[str, Any] | None = None) -> str:
        template = self.prompts.text(key) if key is not None else inline or ""
        try:
            return render(template, {**self.vars, **(extra or {})})
        except TemplateError as exc:
            raise FlowError(f"prompt {key or inline!r}: {exc}") from exc

    async def say(self, key: str | None, barge_in: bool = True) -> None:
        if key:
            await self.channel.say(self.text(key), barge_in)

    def args(self, templates: dict[str, str]) -> dict[str, Any]:
        """Action arguments: "{name}" passes the raw value; other templates become strings."""
        return {k: self.value(t) for k, t in templates.items()}

    def value(self, template: Any) -> Any:
        if not isinstance(template, str):
            return template
        whole = _WHOLE.match(template)
        if whole:
            return self.vars.get(whole.group(1))
        return _RAW.sub(lambda m: str(self.vars.get(m.group(1), "")), template)

    def input_failed(self, kind: str) -> None:
        if self.record.result is None:
            self.record.result = kind
