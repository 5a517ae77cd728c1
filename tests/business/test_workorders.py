"""Work-order status flow and arrival deadlines (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business import workorders as wf
from business.errors import Conflict, InvalidInput
from business.workorders import IllegalTransition, arrival_deadline, check_transition

ALLOWED = {
    (wf.ACCEPTED, wf.DISPATCHED),
    (wf.DISPATCHED, wf.ARRIVED),
    (wf.ARRIVED, wf.RESOLVED),
    (wf.RESOLVED, wf.RETURN_VISIT),
    (wf.RETURN_VISIT, wf.ARCHIVED),
    (wf.RETURN_VISIT, wf.DISPATCHED),
    (wf.ACCEPTED, wf.CANCELLED),
    (wf.DISPATCHED, wf.CANCELLED),
}


@pytest.mark.parametrize("src", wf.STATUSES)
@pytest.mark.parametrize("dst", wf.STATUSES)
def test_every_pair_is_allowed_exactly_when_the_flow_says(src: str, dst: str) -> None:
    if (src, dst) in ALLOWED:
        check_transition(src, dst, reason="客户要求")
        return
    with pytest.raises(IllegalTransition) as info:
        check_transition(src, dst, reason="客户要求")
    assert info.value.from_status == src and info.value.to_status == dst
    assert info.value.reason and any("\u4e00" <= ch <= "\u9fff" for ch in info.value.reason)


def test_cancel_needs_a_reason() -> None:
    for blank in (None, "", "   "):
        with pytest.raises(IllegalTransition, match="必须填写原因"):
            check_transition(wf.ACCEPTED, wf.CANCELLED, blank)


def test_unknown_target_status() -> None:
    with pytest.raises(IllegalTransition, match="未知的工单状态"):
        check_transition(wf.ACCEPTED, "完成")


def test_illegal_transition_is_a_conflict_with_a_code() -> None:
    with pytest.raises(Conflict) as info:
        check_transition(wf.ARCHIVED, wf.DISPATCHED)
    assert info.value.code == "illegal_transition"
    assert "归档" in info.value.message


@pytest.mark.parametrize(("area", "minutes"), [("urban", 45), ("rural", 90), ("remote", 120)])
def test_arrival_deadline_by_area_type(area: str, minutes: int) -> None:
    created = datetime(2025, 6, 15, 10, 7, tzinfo=UTC)
    assert arrival_deadline(created, area) - created == timedelta(minutes=minutes)


def test_arrival_deadline_unknown_area() -> None:
    with pytest.raises(InvalidInput):
        arrival_deadline(datetime(2025, 1, 1, tzinfo=UTC), "suburb")
