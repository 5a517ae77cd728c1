"""The call record the session keeps as it goes (sent to ``record_sink`` at start and end)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class CallRecord:
    id: str
    caller: str
    callee: str
    sip_call_id: str
    media_leg_id: str  # the media leg id (business column name)
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ivr_path: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # one entry per input: "1", "1502000001#"
    prompts: list[str] = field(default_factory=list)  # exact Chinese text as synthesised
    result: str | None = None
    hangup_by: str | None = None
    sip_cause: int | None = None
    recording_path: str | None = None
    account_no: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy (ISO timestamps, fresh lists)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, list):
                value = list(value)
            out[name] = value
        return out
