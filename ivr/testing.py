"""Fakes for unit tests: a scripted call, a synthesizer that renders nothing, scripted actions.

The caller of ``FakeCallControl`` follows a script, one step each time the IVR waits for input:
a string of keys (``"1502000001#"``), ``WAIT`` (no key: the IVR's timeout passes) or
``HANGUP``. ``During(step)`` happens while the next prompt plays instead (barge-in, or a
hang-up mid-prompt). When the script runs out the caller stays silent.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.callcontrol import CallControl
from ivr.flow.ports import ActionResult, CallInfo
from ivr.media.protocol import CallHangup, Dtmf, Event, PromptDone
from ivr.normalize import has_latin
from ivr.tts.port import Synthesizer

WAIT = "<wait>"
HANGUP = "<hangup>"
WORKER_LOST = "<worker-lost>"  # the media worker died under the call


@dataclass(frozen=True)
class During:
    """A step taken while the next prompt plays."""

    step: str


class FakeCallControl(CallControl):
    def __init__(self, script: Sequence[str | During] = (), *, caller: str = "13800000000",
                 callee: str = "95598", call_id: str = "w0-1", sip_call_id: str = "sip-1") -> None:
        self.caller, self.callee, self.call_id, self.sip_call_id = (
            caller, callee, call_id, sip_call_id)
        self.script: deque[str | During] = deque(script)
        self.events: deque[Event] = deque()
        self.played: list[list[Path]] = []
        self.commands: list[str] = []
        self.answered_with: Path | None = None
        self._ids = itertools.count(1)

    async def answer(self, record_path: Path | None) -> None:
        self.commands.append("answer")
        self.answered_with = record_path

    async def play(self, files: Sequence[Path]) -> str:
        prompt_id = f"p{next(self._ids)}"
        self.commands.append("play")
        self.played.append(list(files))
        if self.script and isinstance(self.script[0], During):
            self._take(self.script.popleft().step)
        self.events.append(PromptDone(self.call_id, prompt_id))
        return prompt_id

    async def stop_play(self) -> None:
        self.commands.append("stop_play")

    async def hangup(self) -> None:
        self.commands.append("hangup")

    async def next_event(self, timeout: float | None = None) -> Event | None:
        if not self.events and self.script and not isinstance(self.script[0], During):
            self._take(self.script.popleft())
        return self.events.popleft() if self.events else None

    def _take(self, step: str) -> None:
        if step == HANGUP:
            self.events.append(CallHangup(self.call_id, "caller", 200, "BYE"))
        elif step == WORKER_LOST:
            self.events.append(CallHangup(self.call_id, "worker", 0, "worker exited"))
        elif step != WAIT:
            self.events.extend(Dtmf(self.call_id, d, "rfc4733") for d in step)


class FakeSynthesizer(Synthesizer):
    """Renders nothing; keeps the texts. Rejects Latin letters like the real one."""

    def __init__(self, voice: str = "fake") -> None:
        self.voice = voice
        self.texts: list[str] = []

    async def render(self, text: str) -> Path:
        if not text.strip() or has_latin(text):
            raise ValueError(f"cannot synthesise {text!r}")
        self.texts.append(text)
        return Path("/fake") / (hashlib.sha1(text.encode()).hexdigest()[:12] + ".wav")


Scripted = ActionResult | Callable[[Mapping[str, Any]], ActionResult]


@dataclass
class ScriptedActions:
    """An ActionRunner whose results are given per action name (a result or a function of
    the arguments); every call is kept in ``calls``."""

    results: dict[str, Scripted] = field(default_factory=dict)
    agents: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def run(self, name: str, args: Mapping[str, Any], call: CallInfo) -> ActionResult:
        self.calls.append((name, dict(args)))
        result = self.results.get(name, ActionResult("none"))
        return result(args) if callable(result) else result

    async def transfer(self, queue: str, variables: Mapping[str, Any], call: CallInfo) -> bool:
        self.calls.append(("transfer", {"queue": queue}))
        return self.agents

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]
