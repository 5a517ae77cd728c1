"""One small class per verb; ``exec`` returns the next node's name, or None to end the call."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ivr.flow.channel import Channel
from ivr.flow.ports import DB_UNAVAILABLE
from ivr.flow.runtime import FlowError, Runtime
from ivr.flow.spec import (
    ActionSpec,
    BranchSpec,
    GatherSpec,
    HangupSpec,
    MenuSpec,
    PlaySpec,
    SaySpec,
    SetSpec,
    TransferSpec,
)


class Verb:
    name: ClassVar[str]

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    async def exec(self, rt: Runtime) -> str | None:
        raise NotImplementedError


class Say(Verb):
    name = "say"
    spec: SaySpec

    async def exec(self, rt: Runtime) -> str | None:
        s = self.spec
        items = rt.vars.get(s.each, []) if s.each else [{}]
        for item in items:
            await rt.channel.say(rt.text(s.prompt, s.text, dict(item)), s.barge_in)
        return s.next


class Play(Verb):
    name = "play"
    spec: PlaySpec

    async def exec(self, rt: Runtime) -> str | None:
        await rt.channel.play([rt.base_dir / self.spec.file], self.spec.barge_in)
        return self.spec.next


class Menu(Verb):
    """Prompt, one key: an option's node, the repeat key, or re-prompt up to ``retries``."""

    name = "menu"
    spec: MenuSpec

    async def exec(self, rt: Runtime) -> str | None:
        s, failures = self.spec, 0
        while True:
            await rt.say(s.prompt)
            key = await rt.channel.next_digit(s.timeout)
            if key is not None:
                rt.record.keys.append(key)
                if key in s.options:
                    rt.vars.update(rt.args(s.options[key].set))
                    return s.options[key].next
                if key == s.repeat_key:
                    continue
            kind = "no_input" if key is None else "invalid_input"
            failures += 1
            if failures > s.retries:
                rt.input_failed(kind)
                return s.on_failure
            await rt.say(s.no_input_prompt if key is None else s.invalid_prompt)


class Gather(Verb):
    """Several digits ended by the terminator, max_digits, or the inter-digit timeout."""

    name = "gather"
    spec: GatherSpec

    async def exec(self, rt: Runtime) -> str | None:
        s, failures = self.spec, 0
        while True:
            await rt.say(s.prompt)
            digits, keyed = await self._collect(rt)
            if keyed:
                rt.record.keys.append(keyed)
                if self._valid(digits):
                    rt.vars[s.store] = digits
                    return s.next
            failures += 1
            if failures > s.retries:
                rt.input_failed("invalid_input" if keyed else "no_input")
                return s.on_failure
            await rt.say(s.invalid_prompt if keyed else s.no_input_prompt)

    async def _collect(self, rt: Runtime) -> tuple[str, str]:
        """(digits, every key pressed): ('', '') when nothing was pressed."""
        s, ch = self.spec, rt.channel
        deadline = ch.now() + s.total_timeout
        key, buf = await ch.next_digit(s.timeout), ""
        while key is not None:
            if key == s.terminator:
                return buf, buf + key
            buf += key
            if len(buf) >= s.max_digits:
                return await self._after_full(ch, buf)
            wait = min(s.inter_digit_timeout, deadline - ch.now())
            key = await ch.next_digit(wait) if wait > 0 else None
        return buf, buf

    async def _after_full(self, ch: Channel, buf: str) -> tuple[str, str]:
        """All digits are in: wait briefly for the terminator, so '#' ends the input (and is
        not left over for the next menu) and a digit too many makes the input invalid."""
        s = self.spec
        if s.terminator is None or s.terminator_wait == 0:
            return buf, buf
        key = await ch.next_digit(s.terminator_wait)
        if key is None:
            return buf, buf
        if key == s.terminator:
            return buf, buf + key
        return buf + key, buf + key

    def _valid(self, digits: str) -> bool:
        s = self.spec
        return (digits.isdigit() and s.min_digits <= len(digits) <= s.max_digits
                and (s.pattern is None or re.fullmatch(s.pattern, digits) is not None))


class Action(Verb):
    name = "action"
    spec: ActionSpec

    async def exec(self, rt: Runtime) -> str | None:
        s = self.spec
        result = await rt.actions.run(s.name, rt.args(s.args), rt.call)
        rt.vars.update(result.vars)
        if result.vars.get("account_no"):
            rt.record.account_no = str(result.vars["account_no"])
        if result.branch == DB_UNAVAILABLE or result.error:
            rt.record.error = result.error or result.branch
        target = s.branches.get(result.branch, s.next)
        if target is None:
            raise FlowError(f"action {s.name!r} returned {result.branch!r}: no branch for it")
        return target


class Transfer(Verb):
    name = "transfer"
    spec: TransferSpec

    async def exec(self, rt: Runtime) -> str | None:
        if await rt.actions.transfer(self.spec.queue, dict(rt.vars), rt.call):
            rt.record.result = "transferred"
            return None
        return self.spec.on_unavailable


class Hangup(Verb):
    name = "hangup"
    spec: HangupSpec

    async def exec(self, rt: Runtime) -> str | None:
        if self.spec.result:
            rt.record.result = self.spec.result
        return None


class Set(Verb):
    name = "set"
    spec: SetSpec

    async def exec(self, rt: Runtime) -> str | None:
        rt.vars.update(rt.args(self.spec.vars))
        return self.spec.next


class Branch(Verb):
    name = "branch"
    spec: BranchSpec

    async def exec(self, rt: Runtime) -> str | None:
        value = rt.vars.get(self.spec.var)
        key = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        return self.spec.cases.get(key, self.spec.default)


class Goto(Verb):
    name = "goto"
    spec: str

    async def exec(self, rt: Runtime) -> str | None:
        return self.spec


VERBS: dict[str, type[Verb]] = {
    v.name: v for v in (Say, Play, Menu, Gather, Action, Transfer, Hangup, Set, Branch, Goto)
}
