"""GET /api/health and GET /api/accounts/{account_no}."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from business import demo, services
from business.journal import CHINA_TZ
from tests.api.conftest import Api, assert_error


def test_health(api: Api) -> None:
    api.health.update({"workers_ready": 3})
    response = api.client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "workers_ready": 3}


def _summary(api: Api, account_no: str) -> services.AccountSummary:
    now = datetime.now(UTC)
    with api.factory() as session:
        summary = services.account_summary(session, account_no=account_no,
                                           today=now.astimezone(CHINA_TZ).date(), now=now)
    assert summary is not None
    return summary


@pytest.mark.parametrize("account_no", sorted(demo.DEMO_ACCOUNTS))
def test_demo_account_matches_the_business_core(api: Api, account_no: str) -> None:
    response = api.client.get(f"/api/accounts/{account_no}")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _summary(api, account_no)
    assert body["account_no"] == account_no
    assert body["customer_name"] == expected.customer_name
    assert body["region"] == expected.region
    for name in ("balance", "arrears", "late_fee", "amount_due"):
        # money is an exact decimal string with two places, never a float
        assert isinstance(body[name], str), (name, body[name])
        assert Decimal(body[name]) == getattr(expected, name), name
        assert body[name] == f"{getattr(expected, name):.2f}"
    latest = expected.latest_bill
    assert latest is not None
    assert body["latest_bill"]["period"] == latest.period
    assert Decimal(body["latest_bill"]["amount"]) == latest.amount
    assert body["latest_bill"]["paid"] == latest.paid
    assert [o["id"] for o in body["outages"]] == [o.id for o in expected.outages]


def test_paid_arrears_and_outage_accounts(api: Api) -> None:
    paid = api.client.get(f"/api/accounts/{demo.DEMO_PAID}").json()
    assert paid["balance"] == "56.30"
    assert paid["arrears"] == "0.00" and paid["late_fee"] == "0.00"
    assert paid["outages"] == []

    arrears = api.client.get(f"/api/accounts/{demo.DEMO_ARREARS}").json()
    assert Decimal(arrears["arrears"]) > 0 and Decimal(arrears["late_fee"]) >= 1
    assert arrears["latest_bill"]["paid"] is False

    planned = api.client.get(f"/api/accounts/{demo.DEMO_PLANNED_OUTAGE}").json()
    assert [o["kind"] for o in planned["outages"]] == ["planned"]
    assert planned["outages"][0]["reason"]
    fault = api.client.get(f"/api/accounts/{demo.DEMO_FAULT_OUTAGE}").json()
    assert [o["kind"] for o in fault["outages"]] == ["fault"]


def test_unknown_account_is_404_in_chinese(api: Api) -> None:
    body = assert_error(api.client.get("/api/accounts/5999999999"), 404, "not_found")
    assert "户号不存在" in body["message"] and "5999999999" in body["message"]


@pytest.mark.parametrize("account_no", ["abc", "501000000", "50100000011", "50100000a1"])
def test_malformed_account_number_is_422(api: Api, account_no: str) -> None:
    body = assert_error(api.client.get(f"/api/accounts/{account_no}"), 422, "invalid_input")
    assert "10位数字" in body["message"]
