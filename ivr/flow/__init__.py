"""IVR flows as data: specs, loader, hot-reloading repositories, verbs and the interpreter."""

from ivr.flow.loader import load_flow
from ivr.flow.ports import DB_UNAVAILABLE, ActionResult, ActionRunner, CallInfo
from ivr.flow.prompts import PromptBook, Prompts, load_prompts
from ivr.flow.record import CallRecord
from ivr.flow.repository import FlowRepository
from ivr.flow.runtime import FlowError
from ivr.flow.session import CallOutcome, IvrSession
from ivr.flow.spec import Flow
from ivr.flow.yamlsrc import ConfigError

__all__ = [
    "DB_UNAVAILABLE",
    "ActionResult",
    "ActionRunner",
    "CallInfo",
    "CallOutcome",
    "CallRecord",
    "ConfigError",
    "Flow",
    "FlowError",
    "FlowRepository",
    "IvrSession",
    "PromptBook",
    "Prompts",
    "IvrSession",
    "load_flow",
    "load_prompts",
]
