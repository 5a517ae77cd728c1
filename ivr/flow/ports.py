"""What the interpreter needs from the outside besides the call: business actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CallInfo:
    """The call an action runs for."""

    record_id: str
    caller: str
    callee: str
    sip_call_id: str


@dataclass(frozen=True, slots=True)
class ActionResult:
    """``branch`` picks the flow's next node; ``vars`` are merged into the call variables."""

    branch: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


DB_UNAVAILABLE = "db_unavailable"


class ActionRunner(Protocol):
    async def run(self, name: str, args: Mapping[str, Any], call: CallInfo) -> ActionResult:
        """Run business action ``name``; database trouble is ``ActionResult('db_unavailable')``."""
        ...

    async def transfer(self, queue: str, variables: Mapping[str, Any], call: CallInfo) -> bool:
        """Hand the call to an agent queue; False when no agent can take it."""
        ...
