"""Shared helpers: build flows from YAML text and run sessions on the fakes."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from ivr.flow import IvrSession, PromptBook, load_flow
from ivr.flow.spec import Flow
from ivr.testing import FakeCallControl, FakeSynthesizer, ScriptedActions

REPO = Path(__file__).resolve().parents[2]


def flow_from(tmp_path: Path, text: str, prompts: dict[str, str] | None = None) -> Flow:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    keys = set(prompts) if prompts is not None else None
    return load_flow(path, prompt_keys=keys)


def run(flow: Flow, prompts: dict[str, str] | PromptBook, script: list,
        actions: ScriptedActions | None = None, **call_kw: Any):
    call = FakeCallControl(script, **call_kw)
    synth = FakeSynthesizer()
    book = prompts if isinstance(prompts, PromptBook) else PromptBook.from_texts(prompts)
    records: list[dict] = []
    session = IvrSession(call, flow, book, synth, actions or ScriptedActions(), records.append)
    outcome = asyncio.run(session.run())
    return outcome, call, records
