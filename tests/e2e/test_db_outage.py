"""PostgreSQL unreachable during a call: apology, callback offer, records written once it is back.

The product reaches PostgreSQL through a TCP proxy the test stops and starts (a real network
outage); the checks read PostgreSQL directly. Skipped when HOTLINE_TEST_POSTGRES_URL is unset.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from business import services
from business.db import make_engine, make_session_factory
from business.demo import DEMO_ARREARS
from tests.business.pgproxy import TcpProxy
from tests.conftest import PG_ENV, postgres_schema, schema_url
from tests.e2e import expected
from tests.e2e.harness import Product, fresh_caller_number, wait_for
from tests.e2e.journeys import answered, wait_prompt

pytestmark = [pytest.mark.sip, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[tuple[str, str]]:
    """(base URL, a fresh schema) on the test PostgreSQL, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: the database-outage test needs PostgreSQL")
    with postgres_schema(base, prefix="e2e") as schema:
        yield base, schema


@pytest.fixture(scope="module")
def outage_setup(pg_schema: tuple[str, str], start_product: Callable[..., Product]
                 ) -> Iterator[tuple[Product, TcpProxy, Callable[[], Session]]]:
    base, schema = pg_schema
    target = make_url(base)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    product = start_product(env={"HOTLINE_DATABASE_URL": schema_url(base, schema, proxy.port)})
    direct = make_engine(schema_url(base, schema))
    try:
        yield product, proxy, make_session_factory(direct)
    finally:
        proxy.start()  # the product must be able to stop cleanly
        direct.dispose()


def test_database_down_during_a_call(outage_setup) -> None:
    product, proxy, direct = outage_setup
    number = fresh_caller_number(product)
    caller = product.caller(number)
    record_id = answered(product, caller)
    product.wait_node(record_id, "main_menu")
    try:
        caller.dtmf("1")
        product.wait_node(record_id, "ask_account")
        proxy.stop()  # PostgreSQL unreachable from here on
        caller.dtmf(f"{DEMO_ARREARS}#")
        product.wait_node(record_id, "confirm_account")
        caller.dtmf("1")
        wait_prompt(product, record_id, expected.DB_APOLOGY)
        wait_prompt(product, record_id, expected.CALLBACK_OFFER)
        caller.dtmf("1")  # yes, call me back
        wait_prompt(product, record_id, expected.confirm_contact(number))
        caller.dtmf("1")  # on this number
        wait_prompt(product, record_id, expected.CALLBACK_CREATED)
        result = caller.result(timeout=60)  # goodbye, the IVR hangs up
        assert result["connected"] and result["hangup_by"] == "remote", result

        # Nothing lost, nothing written yet: the records wait in the journal (the database
        # holds only the record written when the call started).
        wait_for(lambda: product.health()["calls_in_progress"] == 0, 10, "the call to end")
        assert product.health()["journal_pending"] >= 2, product.health()
        with direct() as s:
            early = services.list_call_records(s, caller=number).items
            assert all(r.ended_at is None for r in early), early
            assert not [c for c in services.list_callback_requests(s, limit=500).items
                        if c.phone == number]
    finally:
        proxy.start()

    def arrived() -> bool:
        with direct() as s:
            calls = services.list_call_records(s, caller=number)
            callbacks = [c for c in services.list_callback_requests(s, limit=500).items
                         if c.phone == number]
        return calls.total >= 1 and calls.items[0].ended_at is not None and bool(callbacks)
    wait_for(arrived, 60, "the call record and the callback request in PostgreSQL", 0.5)
    wait_for(lambda: product.health()["journal_pending"] == 0, 30, "the journal to drain")
    time.sleep(6)  # one more journal round: a replay must not write anything twice

    with direct() as s:
        calls = services.list_call_records(s, caller=number).items
        callbacks = [c for c in services.list_callback_requests(s, limit=500).items
                     if c.phone == number]
    assert len(calls) == 1 and len(callbacks) == 1, (calls, callbacks)
    record, callback = calls[0], callbacks[0]
    assert callback.source_call_id == record.id
    assert callback.account_no == DEMO_ARREARS
    assert record.result == "db_unavailable"
    assert record.hangup_by == "system" and record.ended_at is not None
    for prompt in (expected.DB_APOLOGY, expected.CALLBACK_OFFER, expected.CALLBACK_CREATED):
        assert prompt in record.prompts, record.prompts
    assert record.keys == ["1", f"{DEMO_ARREARS}#", "1", "1", "1"]
