"""The IVR controller (legacy ZING_IVR): one IvrSession per answered call.

The media server offers each incoming call through ``on_incoming``; the controller answers it
with a recording path, runs the flow and writes the call record through the durable journal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from business.journal import Journal
from hotline.metrics import Metrics
from hotline.settings import Settings
from ivr.callcontrol import CallControl
from ivr.flow import FlowRepository, IvrSession, PromptBook
from ivr.flow.ports import ActionRunner
from ivr.tts import Synthesizer, prerender

log = logging.getLogger(__name__)

DRAINING_CODE = 503


class IvrController:
    def __init__(self, *, settings: Settings, flows: FlowRepository, prompts: PromptBook,
                 synth: Synthesizer, actions: ActionRunner, journal: Journal,
                 metrics: Metrics, flow_name: str = "main") -> None:
        self._settings, self._flows, self._prompts = settings, flows, prompts
        self._synth, self._actions, self._journal = synth, actions, journal
        self._metrics, self._flow_name = metrics, flow_name
        self._sessions: dict[str, IvrSession] = {}
        self._tasks: set[asyncio.Task] = set()
        self._draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def prepare(self) -> None:
        """Validate the flow and render every fixed prompt before the first call."""
        self._flows.get(self._flow_name)
        await prerender(self._synth, self._prompts.current().static_clauses())

    async def on_incoming(self, call: Any) -> None:
        if self._draining:
            await call.reject(DRAINING_CODE)
            return
        task = asyncio.create_task(self._serve(call), name=f"call-{call.call_id}")
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def _serve(self, call: CallControl) -> None:
        record_id = uuid.uuid4().hex
        session = IvrSession(call, self._flows.get(self._flow_name), self._prompts, self._synth,
                             self._actions, self._write_record, record_id=record_id,
                             record_path=self._recording_path(record_id))
        self._sessions[record_id] = session
        self._metrics.calls_in_progress.inc()
        try:
            outcome = await session.run()
            self._metrics.calls_total.labels(result=outcome.result or "unknown").inc()
        finally:
            self._metrics.calls_in_progress.dec()
            del self._sessions[record_id]

    def _recording_path(self, record_id: str) -> Path:
        day = datetime.now().strftime("%Y-%m-%d")
        folder = (self._settings.recordings_dir / day).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{record_id}.wav"

    def _write_record(self, record: dict[str, Any]) -> None:
        self._journal.append("call.upsert", record)

    def active_calls(self) -> list[dict[str, Any]]:
        """Records of the calls in progress, as they are now."""
        return [session.record.as_dict() for session in self._sessions.values()]

    @property
    def draining(self) -> bool:
        return self._draining

    def drain(self) -> None:
        """Refuse new calls from now on; calls in progress go on."""
        self._draining = True

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def hangup_all(self) -> None:
        """End every call still in progress; each still leaves a complete record."""
        for session in self._sessions.values():
            session.record.error = session.record.error or "drain_timeout"
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
