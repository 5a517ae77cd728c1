"""/api/work-orders: create, list with filters and paging, detail, the status flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from business import demo
from business.models import Account
from tests.api.conftest import Api, assert_error

FLOW = ["派工", "到达现场", "处理完成", "回访"]


def _create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"type": "故障报修", "account_no": demo.DEMO_PAID, "fault_kind": "本户停电",
            "contact_phone": demo.DEMO_PHONE, "description": "客户反映家中停电",
            "created_by": "坐席1001", **fields}
    response = api.client.post("/api/work-orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _patch(api: Api, number: str, status: str, reason: str | None = None,
           actor: str = "调度员") -> Any:
    body = {"status": status, "actor": actor}
    if reason is not None:
        body["reason"] = reason
    return api.client.patch(f"/api/work-orders/{number}", json=body)


def _at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def test_create_allocates_a_number_in_status_accepted(api: Api) -> None:
    before = datetime.now(UTC)
    order = _create(api)
    assert len(order["number"]) == 12 and order["number"].isdigit()
    assert order["status"] == "受理"
    assert order["account_no"] == demo.DEMO_PAID
    assert order["created_by"] == "坐席1001"
    assert before - timedelta(seconds=1) <= _at(order["created_at"]) <= datetime.now(UTC)
    second = _create(api, type="咨询", account_no=None, fault_kind=None)
    assert int(second["number"]) == int(order["number"]) + 1
    assert second["arrival_deadline"] is None  # only repair orders have one
    # committed before the response: another session sees it at once
    detail = api.client.get(f"/api/work-orders/{order['number']}").json()
    assert detail["order"] == order
    assert [(t["from_status"], t["to_status"], t["actor"]) for t in detail["transitions"]] == [
        (None, "受理", "坐席1001")]


def _account_of_type(api: Api, area_type: str) -> str:
    with api.factory.begin() as session:
        account_no = session.scalar(select(Account.account_no)
                                    .where(Account.account_no.not_in(list(demo.DEMO_ACCOUNTS)))
                                    .order_by(Account.account_no).offset(
                                        ["urban", "rural", "remote"].index(area_type)).limit(1))
        session.execute(update(Account).where(Account.account_no == account_no)
                        .values(area_type=area_type))
    return account_no


@pytest.mark.parametrize(("area_type", "minutes"), [("urban", 45), ("rural", 90), ("remote", 120)])
def test_repair_arrival_deadline_by_area_type(api: Api, area_type: str, minutes: int) -> None:
    order = _create(api, account_no=_account_of_type(api, area_type))
    deadline = _at(order["arrival_deadline"]) - _at(order["created_at"])
    assert deadline == timedelta(minutes=minutes)


def test_list_filters_and_paging(api: Api) -> None:
    repair = [_create(api) for _ in range(3)]
    complaint = _create(api, type="投诉", account_no=demo.DEMO_ARREARS, fault_kind=None)
    _patch(api, repair[0]["number"], "派工")

    everything = api.client.get("/api/work-orders", params={"limit": 500}).json()
    numbers = [o["number"] for o in everything["items"]]
    assert everything["total"] == len(numbers) >= 4 + 1  # + the demo orders
    created = [o["created_at"] for o in everything["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    assert numbers[0] == complaint["number"]

    page = api.client.get("/api/work-orders", params={"offset": 1, "limit": 2}).json()
    assert [o["number"] for o in page["items"]] == numbers[1:3]
    assert (page["total"], page["offset"], page["limit"]) == (everything["total"], 1, 2)

    mine = api.client.get("/api/work-orders", params={"account_no": demo.DEMO_PAID}).json()
    assert {o["number"] for o in mine["items"]} == {o["number"] for o in repair}
    complaints = api.client.get("/api/work-orders", params={"type": "投诉"}).json()
    assert [o["number"] for o in complaints["items"]] == [complaint["number"]]
    dispatched = api.client.get("/api/work-orders",
                                params={"status": "派工", "account_no": demo.DEMO_PAID}).json()
    assert [o["number"] for o in dispatched["items"]] == [repair[0]["number"]]

    assert_error(api.client.get("/api/work-orders", params={"limit": 0}), 422, "invalid_input")
    assert_error(api.client.get("/api/work-orders", params={"limit": 501}), 422)
    assert_error(api.client.get("/api/work-orders", params={"offset": -1}), 422)
    assert_error(api.client.get("/api/work-orders", params={"type": "闲聊"}), 422)
    assert_error(api.client.get("/api/work-orders", params={"status": "完成"}), 422)


def test_demo_open_repair_order(api: Api) -> None:
    detail = api.client.get(f"/api/work-orders/{demo.DEMO_WORK_ORDER}").json()
    assert detail["order"]["account_no"] == demo.DEMO_OPEN_REPAIR
    assert detail["order"]["status"] == "派工"
    assert [t["to_status"] for t in detail["transitions"]] == ["受理", "派工"]


def test_whole_status_flow_with_reopen(api: Api) -> None:
    number = _create(api)["number"]
    for status in FLOW:
        response = _patch(api, number, status, actor=f"{status}人")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    # an unsatisfied return visit reopens the order
    reopened = _patch(api, number, "派工", reason="客户不满意，重新派工")
    assert reopened.status_code == 200, reopened.text
    for status in FLOW[1:]:
        assert _patch(api, number, status).status_code == 200
    assert _patch(api, number, "归档").json()["status"] == "归档"

    detail = api.client.get(f"/api/work-orders/{number}").json()
    steps = [(t["from_status"], t["to_status"]) for t in detail["transitions"]]
    assert steps == [(None, "受理"), ("受理", "派工"), ("派工", "到达现场"),
                     ("到达现场", "处理完成"), ("处理完成", "回访"), ("回访", "派工"),
                     ("派工", "到达现场"), ("到达现场", "处理完成"), ("处理完成", "回访"),
                     ("回访", "归档")]
    assert detail["transitions"][1]["actor"] == "派工人"
    assert detail["transitions"][5]["reason"] == "客户不满意，重新派工"
    times = [_at(t["at"]) for t in detail["transitions"]]
    assert times == sorted(times)

    body = assert_error(_patch(api, number, "派工"), 409, "illegal_transition")
    assert "归档" in body["message"]


@pytest.mark.parametrize("steps", [[], ["派工"]])
def test_cancel_from_accepted_or_dispatched_needs_a_reason(api: Api, steps: list[str]) -> None:
    number = _create(api)["number"]
    for status in steps:
        assert _patch(api, number, status).status_code == 200
    body = assert_error(_patch(api, number, "撤销"), 409, "illegal_transition")
    assert "原因" in body["message"]
    assert_error(_patch(api, number, "撤销", reason="   "), 409)
    response = _patch(api, number, "撤销", reason="客户来电取消")
    assert response.status_code == 200 and response.json()["status"] == "撤销"
    detail = api.client.get(f"/api/work-orders/{number}").json()
    assert detail["transitions"][-1]["reason"] == "客户来电取消"
    assert_error(_patch(api, number, "派工"), 409, "illegal_transition")


@pytest.mark.parametrize(("steps", "to"), [([], "到达现场"), ([], "归档"), (["派工"], "回访"),
                                            (["派工", "到达现场"], "撤销"), (["派工"], "派工")])
def test_illegal_transition_is_409_with_a_chinese_reason(api: Api, steps: list[str],
                                                          to: str) -> None:
    number = _create(api)["number"]
    for status in steps:
        assert _patch(api, number, status).status_code == 200
    body = assert_error(_patch(api, number, to, reason="测试"), 409, "illegal_transition")
    assert "工单" in body["message"]
    # nothing changed
    detail = api.client.get(f"/api/work-orders/{number}").json()
    assert detail["order"]["status"] == (steps[-1] if steps else "受理")
    assert len(detail["transitions"]) == 1 + len(steps)


def test_unknown_order_is_404(api: Api) -> None:
    assert_error(api.client.get("/api/work-orders/999999999999"), 404, "not_found")
    body = assert_error(_patch(api, "999999999999", "派工"), 404, "not_found")
    assert "工单不存在" in body["message"]


@pytest.mark.parametrize("body", [
    {},
    {"type": "故障报修"},  # no created_by
    {"type": "闲聊", "created_by": "x"},
    {"type": "故障报修", "created_by": "x", "account_no": "12345"},
    {"type": "故障报修", "created_by": "x", "contact_phone": "电话"},
    {"type": "故障报修", "created_by": "", "account_no": demo.DEMO_PAID},
    {"type": "故障报修", "created_by": "x", "urgent": "很急"},
    {"type": "故障报修", "created_by": "x", "description": "长" * 2001},
    {"type": "故障报修", "created_by": "x", "fault_kind": "长" * 33},  # column holds 32
    {"type": "故障报修", "created_by": "x" * 65},
])
def test_bad_create_body_is_422_in_chinese(api: Api, body: dict[str, Any]) -> None:
    error = assert_error(api.client.post("/api/work-orders", json=body), 422, "invalid_input")
    assert error["details"]


def test_create_errors(api: Api) -> None:
    before = api.client.get("/api/work-orders").json()["total"]
    assert_error(api.client.post("/api/work-orders", content=b"{not json",
                                 headers={"content-type": "application/json"}), 422)
    body = assert_error(api.client.post("/api/work-orders", json={
        "type": "故障报修", "created_by": "x", "account_no": "5999999999"}), 404, "not_found")
    assert "户号不存在" in body["message"]
    assert api.client.get("/api/work-orders").json()["total"] == before


@pytest.mark.parametrize("body", [{}, {"status": "派工"}, {"status": "完成", "actor": "x"},
                                  {"status": "派工", "actor": ""}, {"status": 3, "actor": "x"},
                                  {"status": "撤销", "actor": "x", "reason": "长" * 401}])
def test_bad_patch_body_is_422(api: Api, body: dict[str, Any]) -> None:
    number = _create(api)["number"]
    assert_error(api.client.patch(f"/api/work-orders/{number}", json=body), 422, "invalid_input")
    assert api.client.get(f"/api/work-orders/{number}").json()["order"]["status"] == "受理"
