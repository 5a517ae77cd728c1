"""IvrSession: runs one flow on one answered call and keeps its record.

    outcome = await IvrSession(call, flow, prompts, synth, actions, record_sink).run()

``record_sink(dict)`` receives the record at the start and at the end (also on hang-up, errors
and cancellation). The session answers the call unless ``answer=False``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.callcontrol import CallControl, CallHungUp
from ivr.flow.channel import Channel
from ivr.flow.ports import ActionRunner, CallInfo
from ivr.flow.prompts import PromptBook, Prompts
from ivr.flow.record import CallRecord
from ivr.flow.runtime import FlowError, Runtime
from ivr.flow.spec import Flow
from ivr.flow.verbs import VERBS
from ivr.tts.port import Synthesizer

log = logging.getLogger(__name__)
RecordSink = Callable[[dict[str, Any]], None]


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True, slots=True)
class CallOutcome:
    result: str | None
    hangup_by: str | None
    record: dict[str, Any]


def _initial_vars(caller: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    """``caller`` always; ``contact_phone`` when the caller's number is usable for a call back."""
    phone = caller if caller.isdigit() and 5 <= len(caller) <= 15 else None
    return {"caller": caller, "contact_phone": phone, **(extra or {})}


class IvrSession:
    def __init__(self, call: CallControl, flow: Flow, prompts: PromptBook | Prompts,
                 synth: Synthesizer, actions: ActionRunner, record_sink: RecordSink, *,
                 record_id: str | None = None, record_path: Path | None = None,
                 answer: bool = True, variables: dict[str, Any] | None = None,
                 clock: Callable[[], datetime] = _now, max_steps: int = 500) -> None:
        self.call, self.flow, self.synth = call, flow, synth
        self._sink, self._clock, self._answer = record_sink, clock, answer
        self._max_steps = max_steps
        self._record_path = record_path
        snapshot = prompts.current() if isinstance(prompts, PromptBook) else prompts
        self.record = CallRecord(
            id=record_id or uuid.uuid4().hex, caller=call.caller, callee=call.callee,
            sip_call_id=call.sip_call_id, media_leg_id=call.call_id, started_at=clock(),
            recording_path=str(record_path) if record_path else None)
        info = CallInfo(self.record.id, call.caller, call.callee, call.sip_call_id)
        self.channel = Channel(call, synth, self.record)
        self.runtime = Runtime(self.channel, snapshot, actions, info, self.record,
                               Path(flow.source).parent if flow.source else Path("."),
                               _initial_vars(call.caller, variables))

    async def run(self) -> CallOutcome:
        self._emit()
        try:
            if self._answer:
                await self.call.answer(self._record_path)
                self.record.answered_at = self._clock()
            await self._interpret()
            await self._hangup("system")
        except CallHungUp:
            self._caller_gone()
        except asyncio.CancelledError:
            self.record.error = self.record.error or "cancelled"
            await self._hangup("system")
            raise
        except Exception as exc:  # a flow bug must not lose the record or leave the call up
            log.exception("call %s: flow failed", self.record.id)
            self.record.error = f"{type(exc).__name__}: {exc}"
            self.record.result = self.record.result or "error"
            await self._hangup("system")
        finally:
            self.record.ended_at = self._clock()
            self._emit()
        return CallOutcome(self.record.result, self.record.hangup_by, self.record.as_dict())

    async def _interpret(self) -> None:
        visits: Counter[str] = Counter()
        name: str | None = self.flow.start
        for _ in range(self._max_steps):
            if name is None:
                return
            node = self.flow.nodes[name]
            visits[name] += 1
            if node.max_visits is not None and visits[name] > node.max_visits:
                name = node.on_max_visits
                continue
            self.record.ivr_path.append(name)
            if node.result:
                self.record.result = node.result
            name = await VERBS[node.verb](node.spec).exec(self.runtime)
        raise FlowError(f"flow {self.flow.name!r} ran {self._max_steps} steps (a loop?)")

    def _caller_gone(self) -> None:
        event = self.channel.hangup_event
        self.record.hangup_by = event.by if event else "caller"
        self.record.sip_cause = event.sip_code if event and event.sip_code else None
        if self.record.hangup_by == "worker":  # the media process died under the call
            self.record.error = self.record.error or "media_worker_failed"
        if self.record.result is None:
            self.record.result = "media_failure" if event and event.by == "worker" \
                else "caller_hangup"

    async def _hangup(self, by: str) -> None:
        if self.record.hangup_by is None:
            self.record.hangup_by = by
        try:
            await self.call.hangup()
        except Exception:  # the call may already be gone
            log.debug("call %s: hangup failed", self.record.id, exc_info=True)

    def _emit(self) -> None:
        try:
            self._sink(self.record.as_dict())
        except Exception:
            log.exception("call %s: record sink failed", self.record.id)
