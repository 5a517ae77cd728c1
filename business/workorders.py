"""Work-order status flow and arrival deadlines.

受理 → 派工 → 到达现场 → 处理完成 → 回访 → 归档; 回访 → 派工 reopens an order after an
unsatisfied return visit; 撤销 is allowed from 受理 or 派工 and needs a reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from business.errors import Conflict, InvalidInput

ACCEPTED = "受理"
DISPATCHED = "派工"
ARRIVED = "到达现场"
RESOLVED = "处理完成"
RETURN_VISIT = "回访"
ARCHIVED = "归档"
CANCELLED = "撤销"

STATUSES = (ACCEPTED, DISPATCHED, ARRIVED, RESOLVED, RETURN_VISIT, ARCHIVED, CANCELLED)
# A repair order in one of these states no longer counts as open.
CLOSED_FOR_REPAIR = (RESOLVED, RETURN_VISIT, ARCHIVED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    ACCEPTED: frozenset({DISPATCHED, CANCELLED}),
    DISPATCHED: frozenset({ARRIVED, CANCELLED}),
    ARRIVED: frozenset({RESOLVED}),
    RESOLVED: frozenset({RETURN_VISIT}),
    RETURN_VISIT: frozenset({ARCHIVED, DISPATCHED}),
    ARCHIVED: frozenset(),
    CANCELLED: frozenset(),
}
REASON_REQUIRED = frozenset({CANCELLED})

ARRIVAL_MINUTES = {"urban": 45, "rural": 90, "remote": 120}


class IllegalTransition(Conflict):
    """A status change the flow does not allow; ``reason`` is Chinese, for users."""

    code = "illegal_transition"

    def __init__(self, from_status: str, to_status: str, reason: str) -> None:
        super().__init__(reason)
        self.from_status = from_status
        self.to_status = to_status
        self.reason = reason


def check_transition(from_status: str, to_status: str, reason: str | None = None) -> None:
    """Raise :class:`IllegalTransition` unless ``from_status → to_status`` is allowed."""
    if to_status not in TRANSITIONS:
        raise IllegalTransition(from_status, to_status, f"未知的工单状态：{to_status}")
    allowed = TRANSITIONS.get(from_status, frozenset())
    if to_status not in allowed:
        raise IllegalTransition(from_status, to_status, _not_allowed(from_status, to_status))
    if to_status in REASON_REQUIRED and not (reason and reason.strip()):
        raise IllegalTransition(from_status, to_status, f"工单{to_status}必须填写原因")


def _not_allowed(from_status: str, to_status: str) -> str:
    if from_status == to_status:
        return f"工单已处于“{from_status}”状态"
    if not TRANSITIONS.get(from_status):
        return f"工单已“{from_status}”，不能再变更为“{to_status}”"
    options = "、".join(sorted(TRANSITIONS[from_status], key=STATUSES.index))
    return f"工单状态不能从“{from_status}”变更为“{to_status}”（可变更为：{options}）"


def arrival_deadline(created_at: datetime, area_type: str) -> datetime:
    """When the repair crew must be on site: 45 / 90 / 120 minutes by area type."""
    try:
        minutes = ARRIVAL_MINUTES[area_type]
    except KeyError:
        raise InvalidInput(f"未知的区域类型：{area_type}") from None
    return created_at + timedelta(minutes=minutes)
