"""Drain: SIGTERM refuses new calls (503), lets the call in progress finish, then exits 0."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from business import services
from business.demo import DEMO_ARREARS
from tests.e2e import expected
from tests.e2e.harness import Product, fresh_caller_number, wait_for
from tests.e2e.journeys import answered, key_account, wait_prompt

pytestmark = pytest.mark.sip
DRAIN_LIMIT = 60.0


def test_sigterm_drains_calls_in_progress(start_product: Callable[..., Product]) -> None:
    product = start_product(drain_timeout=DRAIN_LIMIT)
    summary = product.summary(DEMO_ARREARS)
    number, late_number = fresh_caller_number(product), fresh_caller_number(product)
    caller = product.caller(number)
    record_id = answered(product, caller)
    product.wait_node(record_id, "main_menu")

    product.terminate()
    wait_for(lambda: product.health()["media"]["draining"], 10, "the media server to drain")

    late = product.caller(late_number, script="wait:1").result(timeout=30)
    assert not late["connected"] and late["status"] == 503, late

    # The call in progress goes on to the end of a bill query.
    key_account(product, caller, record_id, "1", DEMO_ARREARS)
    wait_prompt(product, record_id, expected.bill_prompts(summary)[-1], timeout=60)
    assert product.proc is not None and product.proc.poll() is None, "exited during a call"
    result = caller.hangup()
    assert result["connected"] and result["hangup_by"] == "caller", result

    assert product.wait_exit(DRAIN_LIMIT) == 0, product.log_tail()
    with product.session() as s:
        records = services.list_call_records(s, caller=number).items
        late_records = services.list_call_records(s, caller=late_number).items
    assert len(records) == 1, records
    record = records[0]
    assert record.ended_at is not None and record.hangup_by == "caller"
    assert record.result == "bill_query"
    assert expected.bill_prompts(summary) == [p for p in record.prompts
                                              if p in expected.bill_prompts(summary)]
    assert all(r.answered_at is None for r in late_records), late_records
