"""Business actions the IVR flows call, plain async functions over the business core.

Each action is ``async def action(ctx, call, args) -> ActionResult``. Database reads run in a
small thread pool with a timeout, never on the event loop; a database that is down or slow
becomes the ``db_unavailable`` branch. Writes (work orders, callbacks) go to the durable
journal, so they survive a database outage.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from business import services
from business.errors import BusinessError
from ivr.flow.ports import DB_UNAVAILABLE, ActionResult, CallInfo

T = TypeVar("T")
CHINA_TZ = timezone(timedelta(hours=8))
OUTAGE_KINDS = {"planned": "计划停电", "fault": "故障停电"}
REPAIR = "故障报修"


class JournalPort(Protocol):
    def append(self, kind: str, payload: dict[str, Any]) -> str: ...

    def allocate_work_order_number(self) -> str: ...


class DbUnavailable(RuntimeError):
    """The database (or the journal) did not answer in time."""


def china_now() -> datetime:
    return datetime.now(CHINA_TZ)


ActionFn = Callable[["ActionContext", CallInfo, Mapping[str, Any]], Awaitable[ActionResult]]
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ivr-db")


@dataclass
class ActionContext:
    """What actions need: sessions, the journal, a clock; shared by every call."""

    session_factory: Callable[[], Session] | None
    journal: JournalPort | None
    clock: Callable[[], datetime] = china_now
    registry: Mapping[str, ActionFn] = field(default_factory=lambda: dict(ACTIONS))
    transfer_hook: Callable[[str, Mapping[str, Any], CallInfo], Awaitable[bool]] | None = None
    db_timeout: float = 3.0

    async def run(self, name: str, args: Mapping[str, Any], call: CallInfo) -> ActionResult:
        action = self.registry.get(name)
        if action is None:
            return ActionResult("failed", error=f"unknown action {name!r}")
        try:
            return await action(self, call, args)
        except DbUnavailable as exc:
            return ActionResult(DB_UNAVAILABLE, error=str(exc))
        except BusinessError as exc:
            return ActionResult("failed", error=str(exc))

    async def transfer(self, queue: str, variables: Mapping[str, Any], call: CallInfo) -> bool:
        return bool(self.transfer_hook and await self.transfer_hook(queue, variables, call))

    async def read(self, query: Callable[[Session], T]) -> T:
        """Run ``query(session)`` in a worker thread; DbUnavailable on any database trouble."""
        if self.session_factory is None:
            raise DbUnavailable("no database configured")
        factory = self.session_factory

        def work() -> T:
            with factory() as session:
                return query(session)

        return await self._off_loop(work, "database")

    async def write(self, kind: str, payload: dict[str, Any]) -> str:
        """Append to the durable journal (written to the database from there)."""
        if self.journal is None:
            raise DbUnavailable("no journal configured")
        return await self._off_loop(lambda: self.journal.append(kind, payload), "journal")

    async def allocate_work_order_number(self) -> str:
        if self.journal is None:
            raise DbUnavailable("no journal configured")
        return await self._off_loop(self.journal.allocate_work_order_number, "journal")

    async def _off_loop(self, fn: Callable[[], T], what: str) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(_executor, fn), self.db_timeout)
        except TimeoutError:
            raise DbUnavailable(f"{what} did not answer within {self.db_timeout:g} s") from None
        except (SQLAlchemyError, OSError) as exc:
            raise DbUnavailable(f"{what} unavailable: {type(exc).__name__}: {exc}") from exc


def _local(value: datetime) -> datetime:
    return value.astimezone(CHINA_TZ)


def _money(value: Decimal) -> str:
    return str(value)


# --------------------------------------------------------------------------- actions


async def emergency_announcement(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                                 ) -> ActionResult:
    now = ctx.clock()
    text = await ctx.read(lambda s: services.get_emergency_announcement(s, now=now))
    return ActionResult("announce", {"announcement": text}) if text else ActionResult("none")


async def caller_accounts(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                          ) -> ActionResult:
    phone = str(args.get("phone") or call.caller)
    accounts = await ctx.read(lambda s: services.accounts_for_phone(s, phone=phone))
    if len(accounts) == 1:
        return ActionResult("single", {"caller_account": accounts[0]})
    return ActionResult("multiple" if accounts else "none")


async def account_summary(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                          ) -> ActionResult:
    account_no = str(args.get("account_no") or "")
    if not services.is_account_no(account_no):
        return ActionResult("not_found")
    now = ctx.clock()
    summary = await ctx.read(lambda s: services.account_summary(
        s, account_no=account_no, today=_local(now).date(), now=now))
    if summary is None:
        return ActionResult("not_found")
    bill = summary.latest_bill
    values: dict[str, Any] = {
        "account_no": summary.account_no, "balance": _money(summary.balance),
        "arrears": _money(summary.arrears), "late_fee": _money(summary.late_fee),
        "amount_due": _money(summary.amount_due), "has_arrears": summary.amount_due > 0,
        "has_late_fee": summary.late_fee > 0, "has_bill": bill is not None,
    }
    if bill is not None:
        values |= {"bill_period": bill.period, "bill_kwh": str(bill.kwh),
                   "bill_amount": _money(bill.amount), "bill_paid": bill.paid,
                   "bill_due_date": bill.due_date.isoformat()}
    return ActionResult("found", values)


def _outage_vars(outage: Any) -> dict[str, Any]:
    return {"outage_kind": OUTAGE_KINDS.get(outage.kind, "停电"),
            "outage_start": _local(outage.start), "outage_restore": _local(outage.expected_restore),
            "outage_reason": outage.reason or "线路检修", "outage_area": outage.area or ""}


async def _exists(ctx: ActionContext, account_no: str) -> bool:
    if not services.is_account_no(account_no):
        return False
    found = await ctx.read(lambda s: services.account_summary(
        s, account_no=account_no, today=_local(ctx.clock()).date(), now=ctx.clock()))
    return found is not None


async def outage_info(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                      ) -> ActionResult:
    account_no = str(args.get("account_no") or "")
    if not await _exists(ctx, account_no):
        return ActionResult("not_found")
    at = ctx.clock()
    outages = await ctx.read(lambda s: services.outages_for_account(
        s, account_no=account_no, at=at))
    items = [_outage_vars(o) for o in outages]
    values = {"account_no": account_no, "outages": items, "outage_count": len(items)}
    return ActionResult("found" if items else "none", values)


async def repair_check(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                       ) -> ActionResult:
    """An outage covering the account, else its open repair order, else "none" (new order)."""
    result = await outage_info(ctx, call, args)
    if result.branch == "not_found":
        return result
    account = {"account_no": result.vars["account_no"]}
    if result.branch == "found":
        return ActionResult("outage", account | result.vars["outages"][0])
    order = await ctx.read(lambda s: services.open_repair_order(
        s, account_no=account["account_no"]))
    if order is not None:
        return ActionResult("existing", account | {"order_no": order.number,
                                                   "order_status": order.status})
    return ActionResult("none", account)


async def create_repair(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                        ) -> ActionResult:
    number = await ctx.allocate_work_order_number()
    fault_kind = str(args.get("fault_kind") or "")
    await ctx.write("work_order.create", {
        "number": number, "account_no": args.get("account_no") or None, "type": REPAIR,
        "created_by": "ivr", "fault_kind": fault_kind, "urgent": bool(args.get("urgent")),
        "contact_phone": str(args.get("contact_phone") or call.caller),
        "description": f"电话报修：{fault_kind}", "source_call_id": call.record_id,
        "created_at": ctx.clock().isoformat()})
    return ActionResult("created", {"order_no": number})


async def create_callback(ctx: ActionContext, call: CallInfo, args: Mapping[str, Any]
                          ) -> ActionResult:
    callback_id = uuid.uuid4().hex
    await ctx.write("callback.create", {
        "id": callback_id, "phone": str(args.get("phone") or call.caller),
        "account_no": args.get("account_no") or None,
        "reason": str(args.get("reason") or "人工服务"), "source_call_id": call.record_id,
        "created_at": ctx.clock().isoformat()})
    return ActionResult("created", {"callback_id": callback_id})


ACTIONS: dict[str, ActionFn] = {
    f.__name__: f for f in (emergency_announcement, caller_accounts, account_summary,
                            outage_info, repair_check, create_repair, create_callback)
}
ACTION_NAMES = frozenset(ACTIONS)
