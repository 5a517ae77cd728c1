"""GET /api/calls (active and history), GET /api/callbacks, the emergency announcement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from business import demo, services
from business.journal import CALL_UPSERT, CALLBACK_CREATE
from tests.api.conftest import Api, assert_error

T0 = datetime(2025, 6, 15, 2, 0, tzinfo=UTC)


def _record(n: int, **fields: Any) -> dict[str, Any]:
    started = T0 + timedelta(minutes=n)
    return {"id": f"call-{n}", "caller": f"1380000{n:04d}", "callee": "95598",
            "sip_call_id": f"sip-{n}@127.0.0.1", "media_leg_id": f"w1-{n}",
            "started_at": started.isoformat(),
            "answered_at": (started + timedelta(seconds=1)).isoformat(),
            "ended_at": (started + timedelta(seconds=40)).isoformat(),
            "ivr_path": ["greeting", "main_menu", "ask_account", "bill_result"],
            "keys": ["1", f"{demo.DEMO_PAID}#"],
            "prompts": ["您好，欢迎致电95598。", f"您的账户余额为五十六元三角。{n}"],
            "result": "completed", "hangup_by": "caller", "sip_cause": 200,
            "recording_path": f"/var/recordings/call-{n}.wav", "account_no": demo.DEMO_PAID,
            **fields}


def _upsert(api: Api, *records: dict[str, Any]) -> None:
    for record in records:
        api.journal.append(CALL_UPSERT, record)
    assert api.journal.apply_pending() == len(records)
    assert api.journal.rejected() == []


def test_history_newest_first_with_path_keys_and_prompts(api: Api) -> None:
    _upsert(api, _record(1), _record(3), _record(2, caller="13904710001", account_no=None))
    body = api.client.get("/api/calls").json()
    assert body["active"] == []
    assert [c["id"] for c in body["history"]] == ["call-3", "call-2", "call-1"]
    assert body["total"] == 3
    first = body["history"][2]
    expected = _record(1)
    for name in ("ivr_path", "keys", "prompts", "caller", "sip_call_id", "result", "hangup_by",
                 "sip_cause", "recording_path", "account_no"):
        assert first[name] == expected[name], name
    assert datetime.fromisoformat(first["started_at"]) == T0 + timedelta(minutes=1)

    page = api.client.get("/api/calls", params={"offset": 1, "limit": 1}).json()
    assert [c["id"] for c in page["history"]] == ["call-2"]
    by_caller = api.client.get("/api/calls", params={"caller": "13904710001"}).json()
    assert [c["id"] for c in by_caller["history"]] == ["call-2"]
    by_account = api.client.get("/api/calls", params={"account_no": demo.DEMO_PAID}).json()
    assert [c["id"] for c in by_account["history"]] == ["call-3", "call-1"]

    one = api.client.get("/api/calls/call-1").json()
    assert one["active"] is False and one["prompts"] == expected["prompts"]
    assert_error(api.client.get("/api/calls/no-such-call"), 404, "not_found")


def test_a_later_snapshot_replaces_the_record(api: Api) -> None:
    _upsert(api, _record(1, ended_at=None, result=None, keys=["1"]))
    _upsert(api, _record(1))
    (call,) = api.client.get("/api/calls").json()["history"]
    assert call["keys"] == ["1", f"{demo.DEMO_PAID}#"] and call["result"] == "completed"


def test_active_calls_newest_first_and_not_repeated_in_history(api: Api) -> None:
    _upsert(api, _record(1), _record(5, ended_at=None, result=None))  # call-5 in progress
    live = _record(5, ended_at=None, result=None, keys=["1", "50100"], ivr_path=["greeting"])
    api.active[:] = [live, _record(6, ended_at=None, result=None, caller="13904710002")]
    body = api.client.get("/api/calls").json()
    assert [c["id"] for c in body["active"]] == ["call-6", "call-5"]
    assert body["active"][1]["keys"] == ["1", "50100"]
    assert [c["id"] for c in body["history"]] == ["call-1"]
    mine = api.client.get("/api/calls", params={"caller": "13904710002"}).json()
    assert [c["id"] for c in mine["active"]] == ["call-6"] and mine["history"] == []
    one = api.client.get("/api/calls/call-5").json()
    assert one["active"] is True and one["ivr_path"] == ["greeting"]


def test_callbacks_listed_newest_first(api: Api) -> None:
    assert api.client.get("/api/callbacks").json() == {"items": [], "total": 0, "offset": 0,
                                                        "limit": 50}
    for n in range(3):
        api.journal.append(CALLBACK_CREATE, {
            "id": f"cb-{n}", "phone": f"+86 139 0471 000{n}", "account_no": demo.DEMO_ARREARS,
            "reason": "人工服务", "source_call_id": f"call-{n}",
            "created_at": (T0 + timedelta(minutes=n)).isoformat()})
    assert api.journal.apply_pending() == 3
    body = api.client.get("/api/callbacks").json()
    assert [c["id"] for c in body["items"]] == ["cb-2", "cb-1", "cb-0"]
    assert body["items"][0]["phone"] == "13904710002"
    assert body["items"][0]["status"] == "待回拨"
    assert body["total"] == 3
    assert api.client.get("/api/callbacks", params={"status": "已回拨"}).json()["total"] == 0
    assert [c["id"] for c in api.client.get("/api/callbacks",
                                            params={"limit": 1, "offset": 2}).json()["items"]] \
        == ["cb-0"]


def test_emergency_announcement_put_get_delete(api: Api) -> None:
    url = "/api/announcements/emergency"
    assert api.client.get(url).json()["text"] is None
    before = datetime.now(UTC)
    response = api.client.put(url, json={"text": "呼和浩特市部分地区因暴雪停电，正在抢修。",
                                         "expires_in_minutes": 30})
    assert response.status_code == 200, response.text
    expires = datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(minutes=29) < expires - before <= timedelta(minutes=30, seconds=5)
    assert api.client.get(url).json()["text"] == "呼和浩特市部分地区因暴雪停电，正在抢修。"
    with api.factory() as session:  # the IVR reads the same announcement
        now = datetime.now(UTC)
        assert services.get_emergency_announcement(session, now=now).startswith("呼和浩特")

    api.client.put(url, json={"text": "新的公告"})
    assert api.client.get(url).json()["text"] == "新的公告"
    assert api.client.delete(url).status_code == 204
    assert api.client.get(url).json()["text"] is None
    assert api.client.delete(url).status_code == 204  # idempotent


def test_expired_announcement_is_not_returned(api: Api) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    with api.factory.begin() as session:
        services.set_emergency_announcement(session, text="已过期的公告",
                                            expires_at=past + timedelta(hours=1), now=past)
    assert api.client.get("/api/announcements/emergency").json()["text"] is None


def test_bad_announcement_is_422(api: Api) -> None:
    url = "/api/announcements/emergency"
    for body in ({}, {"text": ""}, {"text": "x", "expires_in_minutes": 0},
                 {"text": "x" * 501}, {"text": "x", "expires_in_minutes": 7 * 24 * 60 + 1}):
        assert_error(api.client.put(url, json=body), 422, "invalid_input")
    assert_error(api.client.put(url, json={"text": "   "}), 422, "invalid_input")
    assert api.client.get(url).json()["text"] is None
