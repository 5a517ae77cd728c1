"""Command and event protocol between the IVR controller and the media workers.

Like Asterisk ARI or FreeSWITCH ESL: the controller sends commands, a worker sends typed
events. On the wire each message is one JSON object per line with a ``type`` field
(``"answer"``, ``"call.incoming"`` ...). These are internal media events; the agent-facing
websocket vocabulary (``call.offered`` ...) is a different one and lives elsewhere.

``call_id`` is the worker-assigned leg id (``"w3-17"``), unique across the media server;
``sip_call_id`` is the SIP Call-ID header.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Command:
    type: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Answer(Command):
    """Answer with 200 OK and start recording both directions into ``record_path`` (8 kHz WAV)."""

    type: ClassVar[str] = "answer"
    call_id: str
    record_path: str | None = None


@dataclass(frozen=True, slots=True)
class Reject(Command):
    """Refuse an incoming call that has not been answered (e.g. 503 while draining)."""

    type: ClassVar[str] = "reject"
    call_id: str
    code: int = 486
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Play(Command):
    """Play WAV files back to back; ends with one ``prompt.done`` for ``prompt_id``."""

    type: ClassVar[str] = "play"
    call_id: str
    prompt_id: str
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StopPlay(Command):
    """Stop the current prompt at once; it ends with ``prompt.done`` (interrupted=True)."""

    type: ClassVar[str] = "stop_play"
    call_id: str


@dataclass(frozen=True, slots=True)
class Hangup(Command):
    type: ClassVar[str] = "hangup"
    call_id: str
    code: int = 200  # final response code if the call was never answered


@dataclass(frozen=True, slots=True)
class Drain(Command):
    """Stop accepting new calls (answer INVITEs with 503); calls in progress go on."""

    type: ClassVar[str] = "drain"


@dataclass(frozen=True, slots=True)
class Shutdown(Command):
    """Hang up every call, destroy the library, exit."""

    type: ClassVar[str] = "shutdown"


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    type: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class WorkerReady(Event):
    type: ClassVar[str] = "worker.ready"
    worker_id: int
    sip_port: int
    max_legs: int
    pid: int


@dataclass(frozen=True, slots=True)
class WorkerDraining(Event):
    """Reply to ``drain``: no ``call.incoming`` follows it; ``legs`` calls are still up."""

    type: ClassVar[str] = "worker.draining"
    worker_id: int
    legs: int


@dataclass(frozen=True, slots=True)
class CallIncoming(Event):
    type: ClassVar[str] = "call.incoming"
    call_id: str
    sip_call_id: str
    caller: str  # user part of the From URI, e.g. "13912345678"
    callee: str  # user part of the To / request URI, e.g. "95598"
    remote_address: str  # "ip:port" the INVITE came from


@dataclass(frozen=True, slots=True)
class CallRejected(Event):
    """The worker refused an INVITE by itself.

    403 untrusted source, 486 full, 488 no common codec, 503 draining.
    """

    type: ClassVar[str] = "call.rejected"
    sip_call_id: str
    remote_address: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class CallAnswered(Event):
    """200 OK sent and ACKed; media is flowing."""

    type: ClassVar[str] = "call.answered"
    call_id: str
    codec: str = ""


@dataclass(frozen=True, slots=True)
class Dtmf(Event):
    type: ClassVar[str] = "dtmf"
    call_id: str
    digit: str  # "0"-"9", "*", "#", "A"-"D"
    method: str  # "rfc4733" or "info"


@dataclass(frozen=True, slots=True)
class PromptDone(Event):
    type: ClassVar[str] = "prompt.done"
    call_id: str
    prompt_id: str
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class CallHangup(Event):
    type: ClassVar[str] = "call.hangup"
    call_id: str
    by: str  # "caller", "system", "timeout", "worker"
    sip_code: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WorkerError(Event):
    """A command could not be carried out (unknown call, bad file ...)."""

    type: ClassVar[str] = "worker.error"
    message: str
    call_id: str = ""


COMMANDS: dict[str, type[Command]] = {
    c.type: c for c in (Answer, Reject, Play, StopPlay, Hangup, Drain, Shutdown)
}
EVENTS: dict[str, type[Event]] = {
    e.type: e
    for e in (
        WorkerReady,
        WorkerDraining,
        CallIncoming,
        CallRejected,
        CallAnswered,
        Dtmf,
        PromptDone,
        CallHangup,
        WorkerError,
    )
}


def encode(message: Command | Event) -> bytes:
    """One message as a JSON line."""
    payload: dict[str, Any] = {"type": message.type, **asdict(message)}
    return json.dumps(payload, ensure_ascii=False).encode() + b"\n"


def decode(line: bytes | str, registry: dict[str, type]) -> Any:
    """Parse one JSON line into the dataclass its ``type`` names; ValueError on anything else."""
    try:
        payload = json.loads(line)
        cls = registry[payload.pop("type")]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad media protocol message: {line!r}") from exc
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in payload.items() if k in known})


def decode_command(line: bytes | str) -> Command:
    return decode(line, COMMANDS)


def decode_event(line: bytes | str) -> Event:
    return decode(line, EVENTS)
