"""HTTP API over the business core: accounts, work orders, callbacks, call history, announcements.

The app factory (``hotline.app``) provides the dependencies through ``app.state``:
``session_factory``, ``journal`` (work-order numbers) and ``active_calls`` (a callable giving
the records of calls in progress).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from business import services
from business.errors import InvalidInput, NotFound
from business.infos import Page

CHINA = ZoneInfo("Asia/Shanghai")
WorkOrderType = Literal["故障报修", "投诉", "咨询", "催办"]
WorkOrderStatus = Literal["受理", "派工", "到达现场", "处理完成", "回访", "归档", "撤销"]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session, session.begin():
        yield session


# scope="function": the transaction commits before the response is sent, so a 2xx means
# the write is in the database and a failed commit becomes an error response.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]


def _plain(value: Any) -> Any:
    """JSON-ready values: money and kWh as exact decimal strings ("56.30"), not floats."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _out(info: Any) -> dict[str, Any]:
    return _plain(asdict(info))


def _page(page: Page) -> dict[str, Any]:
    return {"items": [_out(item) for item in page.items], "total": page.total,
            "offset": page.offset, "limit": page.limit}


def _check_account_no(account_no: str) -> None:
    if not services.is_account_no(account_no):
        raise InvalidInput(f"户号格式错误（应为10位数字）：{account_no[:32]}")


# --------------------------------------------------------------------------- accounts

accounts = APIRouter(prefix="/api/accounts", tags=["accounts"])


@accounts.get("/{account_no}", summary="户号信息：余额、欠费与违约金、最近账单、停电")
def get_account(account_no: str, session: SessionDep) -> dict[str, Any]:
    _check_account_no(account_no)
    now = datetime.now(UTC)
    summary = services.account_summary(session, account_no=account_no,
                                       today=now.astimezone(CHINA).date(), now=now)
    if summary is None:
        raise NotFound(f"户号不存在：{account_no}")
    return _out(summary)


# --------------------------------------------------------------------------- work orders

work_orders = APIRouter(prefix="/api/work-orders", tags=["work-orders"])


class WorkOrderCreate(BaseModel):
    type: WorkOrderType
    account_no: str | None = Field(default=None, pattern=r"^\d{10}$")
    fault_kind: str | None = Field(default=None, max_length=32)
    urgent: bool = False
    contact_phone: str | None = Field(default=None, pattern=r"^\d{5,15}$")
    description: str = Field(default="", max_length=2000)
    created_by: str = Field(min_length=1, max_length=64)


class WorkOrderUpdate(BaseModel):
    status: WorkOrderStatus
    actor: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=400)


@work_orders.get("", summary="工单列表")
def list_work_orders(session: SessionDep, status: WorkOrderStatus | None = None,
                     account_no: str | None = None, type: WorkOrderType | None = None,
                     offset: Offset = 0, limit: Limit = 50) -> dict[str, Any]:
    return _page(services.list_work_orders(session, status=status, account_no=account_no,
                                           type=type, offset=offset, limit=limit))


@work_orders.get("/{number}", summary="工单详情（含状态流转）")
def get_work_order(number: str, session: SessionDep) -> dict[str, Any]:
    detail = services.get_work_order(session, number=number)
    if detail is None:
        raise NotFound(f"工单不存在：{number}")
    return _out(detail)


@work_orders.post("", status_code=201, summary="新建工单")
def create_work_order(body: WorkOrderCreate, request: Request,
                      session: SessionDep) -> dict[str, Any]:
    number = request.app.state.journal.allocate_work_order_number()
    order = services.create_work_order(session, number=number, **body.model_dump())
    return _out(order)


@work_orders.patch("/{number}", summary="工单状态流转（非法流转返回 409）")
def update_work_order(number: str, body: WorkOrderUpdate,
                      session: SessionDep) -> dict[str, Any]:
    order = services.transition_work_order(session, number=number, to_status=body.status,
                                           actor=body.actor, reason=body.reason)
    return _out(order)


# --------------------------------------------------------------------------- callbacks

callbacks = APIRouter(prefix="/api/callbacks", tags=["callbacks"])


@callbacks.get("", summary="回拨请求列表")
def list_callbacks(session: SessionDep, status: str | None = None, offset: Offset = 0,
                   limit: Limit = 50) -> dict[str, Any]:
    return _page(services.list_callback_requests(session, status=status, offset=offset,
                                                 limit=limit))


# --------------------------------------------------------------------------- calls

calls = APIRouter(prefix="/api/calls", tags=["calls"])


@calls.get("", summary="通话记录：进行中的通话与历史（IVR 路径、按键、播报内容）")
def list_calls(request: Request, session: SessionDep, caller: str | None = None,
               account_no: str | None = None, offset: Offset = 0,
               limit: Limit = 50) -> dict[str, Any]:
    everything = request.app.state.active_calls()
    active_ids = {record["id"] for record in everything}
    active = [r for r in everything
              if (caller is None or r.get("caller") == caller)
              and (account_no is None or r.get("account_no") == account_no)]
    active.sort(key=lambda r: str(r.get("started_at") or ""), reverse=True)
    history = services.list_call_records(session, caller=caller, account_no=account_no,
                                         offset=offset, limit=limit)
    return {"active": active,
            "history": [_out(item) for item in history.items if item.id not in active_ids],
            "total": history.total, "offset": offset, "limit": limit}


@calls.get("/{call_id}", summary="一通电话的记录")
def get_call(call_id: str, request: Request, session: SessionDep) -> dict[str, Any]:
    for record in request.app.state.active_calls():
        if record["id"] == call_id:
            return {**record, "active": True}
    info = services.get_call_record(session, id=call_id)
    if info is None:
        raise NotFound(f"通话记录不存在：{call_id}")
    return {**_out(info), "active": False}


# --------------------------------------------------------------------------- announcements

announcements = APIRouter(prefix="/api/announcements", tags=["announcements"])


class EmergencyAnnouncementIn(BaseModel):
    text: str = Field(min_length=1, max_length=500, description="播报内容（中文）")
    expires_in_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)


@announcements.get("/emergency", summary="当前紧急公告")
def get_emergency(session: SessionDep) -> dict[str, Any]:
    return {"text": services.get_emergency_announcement(session, now=datetime.now(UTC))}


@announcements.put("/emergency", summary="设置紧急公告（在主菜单前播报，到期自动失效）")
def put_emergency(body: EmergencyAnnouncementIn, session: SessionDep) -> dict[str, Any]:
    now = datetime.now(UTC)
    expires_at = now + timedelta(minutes=body.expires_in_minutes)
    services.set_emergency_announcement(session, text=body.text, expires_at=expires_at, now=now)
    return {"text": body.text, "expires_at": expires_at.isoformat()}


@announcements.delete("/emergency", status_code=204, summary="清除紧急公告")
def delete_emergency(session: SessionDep) -> None:
    services.clear_emergency_announcement(session)


ROUTERS = (accounts, work_orders, callbacks, calls, announcements)
