"""The real IVR actions over the business core on SQLite with the demo data."""

import asyncio
from datetime import UTC, datetime

import pytest

from business import demo, services
from business.db import create_schema, make_engine, make_session_factory
from business.journal import Journal
from ivr.actions import ACTION_NAMES, ActionContext
from ivr.flow import DB_UNAVAILABLE, CallInfo, FlowRepository, PromptBook
from ivr.normalize import money

from .helpers import REPO, run

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
CALL = CallInfo("rec-1", demo.DEMO_PHONE, "95598", "sip-1")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    base = tmp_path_factory.mktemp("ivrdb")
    engine = make_engine(f"sqlite:///{base / 'h.db'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    demo.load_demo_data(factory, accounts=30, now=NOW)
    journal = Journal(base / "journal", factory)
    yield factory, journal
    journal.close()
    engine.dispose()


@pytest.fixture
def ctx(db):
    factory, journal = db
    return ActionContext(factory, journal, clock=lambda: NOW)


def act(ctx, name, **args):
    return asyncio.run(ctx.run(name, args, CALL))


def test_caller_accounts(ctx):
    assert act(ctx, "caller_accounts").vars == {"caller_account": demo.DEMO_PAID}
    assert act(ctx, "caller_accounts", phone=demo.DEMO_SHARED_PHONE).branch == "multiple"
    assert act(ctx, "caller_accounts", phone="13000000000").branch == "none"


def test_account_summary_matches_business_core(ctx, db):
    result = act(ctx, "account_summary", account_no=demo.DEMO_ARREARS)
    with db[0]() as s:
        truth = services.account_summary(s, account_no=demo.DEMO_ARREARS, today=NOW.date(),
                                         now=NOW)
    assert result.branch == "found" and result.vars["has_arrears"] is True
    assert result.vars["amount_due"] == str(truth.amount_due)
    assert result.vars["late_fee"] == str(truth.late_fee)
    assert act(ctx, "account_summary", account_no="9999999999").branch == "not_found"
    assert act(ctx, "account_summary", account_no="12ab").branch == "not_found"


def test_repair_check_branches(ctx):
    assert act(ctx, "repair_check", account_no=demo.DEMO_PLANNED_OUTAGE).branch == "outage"
    existing = act(ctx, "repair_check", account_no=demo.DEMO_OPEN_REPAIR)
    assert existing.branch == "existing" and existing.vars["order_no"] == demo.DEMO_WORK_ORDER
    assert act(ctx, "repair_check", account_no=demo.DEMO_PAID).branch == "none"


def test_outage_info(ctx):
    found = act(ctx, "outage_info", account_no=demo.DEMO_FAULT_OUTAGE)
    assert found.branch == "found" and found.vars["outages"][0]["outage_kind"] == "故障停电"
    assert act(ctx, "outage_info", account_no=demo.DEMO_PAID).branch == "none"


def test_create_repair_goes_through_journal(ctx, db):
    factory, journal = db
    created = act(ctx, "create_repair", account_no=demo.DEMO_PAID, fault_kind="本户停电",
                  urgent=False, contact_phone="13904710001")
    journal.apply_pending()
    with factory() as s:
        detail = services.get_work_order(s, number=created.vars["order_no"])
    assert detail is not None and detail.order.account_no == demo.DEMO_PAID
    assert detail.order.source_call_id == "rec-1"


def test_database_down_is_a_branch(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    ctx = ActionContext(make_session_factory(engine), None, clock=lambda: NOW)
    result = act(ctx, "account_summary", account_no=demo.DEMO_PAID)
    assert result.branch == DB_UNAVAILABLE and "database unavailable" in result.error


def test_main_flow_reads_real_amount(ctx):
    book = PromptBook(REPO / "configs" / "prompts.yaml")
    flow = FlowRepository(REPO / "configs" / "flows", book, ACTION_NAMES).get()
    outcome, _, _ = run(flow, book, ["2", "1", demo.DEMO_ARREARS + "#", "1", "2"], ctx,
                        caller=demo.DEMO_PHONE)
    # caller offer refused (2), bill query (1) for the arrears account
    with ctx.session_factory() as s:
        truth = services.account_summary(s, account_no=demo.DEMO_ARREARS, today=NOW.date(),
                                         now=NOW)
    assert any(money(truth.amount_due) in p for p in outcome.record["prompts"])
    assert outcome.result == "bill_query" and outcome.record["account_no"] == demo.DEMO_ARREARS



def test_session_record_is_accepted_by_the_business_core(ctx, db):
    book = PromptBook(REPO / "configs" / "prompts.yaml")
    flow = FlowRepository(REPO / "configs" / "flows", book, ACTION_NAMES).get()
    outcome, _, records = run(flow, book, ["2", "0", "1", "1"], ctx, caller=demo.DEMO_PHONE)
    factory, journal = db
    for record in records:
        journal.append("call.upsert", record)
    journal.apply_pending()
    with factory() as s:
        stored = services.get_call_record(s, id=outcome.record["id"])
    assert stored is not None and stored.result == "callback_requested"
    assert stored.prompts == outcome.record["prompts"] and stored.media_leg_id == "w0-1"
