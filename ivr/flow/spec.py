"""Flow specs (pydantic, validated at load). A flow is a map of named nodes; each node holds
exactly one verb. Shorthands: ``say: greeting`` (a prompt key), ``goto: main_menu``,
``hangup: {}``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NodeName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Key = Annotated[str, Field(pattern=r"^[0-9*#]$")]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptRef(Spec):
    """A prompt: a key of configs/prompts.yaml or inline text (both may hold placeholders)."""

    prompt: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PromptRef:
        if (self.prompt is None) == (self.text is None):
            raise ValueError("give exactly one of 'prompt' (a key) or 'text' (inline text)")
        return self


def _prompt_shorthand(value: Any) -> Any:
    return {"prompt": value} if isinstance(value, str) else value


class SaySpec(PromptRef):
    next: NodeName | None = None
    barge_in: bool = True
    each: str | None = None  # a list variable: the prompt is said once per item

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _prompt_shorthand(value)


class PlaySpec(Spec):
    file: str
    next: NodeName | None = None
    barge_in: bool = True


class Retries(Spec):
    """Shared by gather and menu: re-prompts, then ``on_failure``."""

    retries: int = Field(2, ge=0, le=9)
    timeout: float = Field(6.0, gt=0, le=60)  # seconds for the first key after the prompt
    no_input_prompt: str | None = None
    invalid_prompt: str | None = None
    on_failure: NodeName


class GatherSpec(Retries):
    prompt: str
    store: NodeName
    min_digits: int = Field(1, ge=1, le=32)
    max_digits: int = Field(1, ge=1, le=32)
    terminator: Key | None = "#"
    inter_digit_timeout: float = Field(4.0, gt=0, le=30)
    # After max_digits keys: how long to wait for the terminator before taking the input.
    terminator_wait: float = Field(1.5, ge=0, le=10)
    total_timeout: float = Field(30.0, gt=0, le=120)
    pattern: str | None = None  # a regex the digits must match in full
    next: NodeName

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _bounds(self) -> GatherSpec:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        return self


class MenuOption(Spec):
    next: NodeName
    set: dict[NodeName, str | int | bool | None] = Field(default_factory=dict)


def _option_shorthand(value: Any) -> Any:
    return {"next": value} if isinstance(value, str) else value


class MenuSpec(Retries):
    prompt: str
    options: dict[Key, Annotated[MenuOption, Field()]]
    repeat_key: Key | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _short_options(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _option_shorthand(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _repeat_free(self) -> MenuSpec:
        if not self.options:
            raise ValueError("a menu needs at least one option")
        if self.repeat_key is not None and self.repeat_key in self.options:
            raise ValueError(f"repeat_key {self.repeat_key!r} is also an option")
        return self


class ActionSpec(Spec):
    name: NodeName
    args: dict[NodeName, str] = Field(default_factory=dict)  # templates over call variables
    branches: dict[str, NodeName] = Field(default_factory=dict)
    next: NodeName | None = None  # any result not in branches

    @model_validator(mode="after")
    def _somewhere(self) -> ActionSpec:
        if not self.branches and self.next is None:
            raise ValueError("an action needs 'branches' or 'next'")
        return self


class TransferSpec(Spec):
    queue: str
    on_unavailable: NodeName  # no agent (until agents exist: the callback offer)


class HangupSpec(Spec):
    result: str | None = None


class SetSpec(Spec):
    vars: dict[NodeName, str | int | bool | None]
    next: NodeName


class BranchSpec(Spec):
    var: NodeName
    cases: dict[str, NodeName]
    default: NodeName

    @field_validator("cases", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        return {str(k).lower() if isinstance(k, bool) else str(k): v for k, v in value.items()} \
            if isinstance(value, dict) else value


VERB_FIELDS = ("say", "play", "gather", "menu", "action", "transfer", "hangup", "set", "branch",
               "goto")


class Node(Spec):
    say: SaySpec | None = None
    play: PlaySpec | None = None
    gather: GatherSpec | None = None
    menu: MenuSpec | None = None
    action: ActionSpec | None = None
    transfer: TransferSpec | None = None
    hangup: HangupSpec | None = None
    set: SetSpec | None = None
    branch: BranchSpec | None = None
    goto: NodeName | None = None
    result: str | None = None  # the call's result from here on (e.g. "bill_query")
    max_visits: int | None = Field(None, ge=1)
    on_max_visits: NodeName | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_hangup(cls, value: Any) -> Any:
        if isinstance(value, dict) and "hangup" in value and value["hangup"] is None:
            return {**value, "hangup": {}}
        return value

    @model_validator(mode="after")
    def _one_verb(self) -> Node:
        present = [f for f in VERB_FIELDS if getattr(self, f) is not None]
        if len(present) != 1:
            raise ValueError(f"a node holds exactly one verb of {', '.join(VERB_FIELDS)}; "
                             f"found {present or 'none'}")
        if (self.max_visits is None) != (self.on_max_visits is None):
            raise ValueError("max_visits and on_max_visits go together")
        return self

    @property
    def verb(self) -> str:
        return next(f for f in VERB_FIELDS if getattr(self, f) is not None)

    @property
    def spec(self) -> Any:
        return getattr(self, self.verb)


class Flow(Spec):
    name: str
    start: NodeName
    nodes: dict[NodeName, Node]
    source: str = ""  # the file it came from (set by the loader)
