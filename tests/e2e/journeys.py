"""Caller journeys through the 95598 menu, driven by what the live call record shows.

Keys are sent once the call has entered the node that reads them (a key pressed during a
prompt stops it and counts), so the tests do not depend on how long a prompt plays.
"""

from __future__ import annotations

from typing import Any

from tests.e2e import expected
from tests.e2e.harness import Caller, Product, wait_for


def wait_prompt(product: Product, record_id: str, text: str, timeout: float = 40.0,
                count: int = 1) -> dict[str, Any]:
    """Wait until the live call has started speaking ``text`` (``count`` times)."""
    def check() -> dict[str, Any] | None:
        record = product.live(record_id)
        return record if record["prompts"].count(text) >= count else None
    return wait_for(check, timeout, f"prompt {text!r} x{count} in call {record_id}")


def wait_prompt_prefix(product: Product, record_id: str, prefix: str,
                       timeout: float = 40.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        record = product.live(record_id)
        return record if any(p.startswith(prefix) for p in record["prompts"]) else None
    return wait_for(check, timeout, f"a prompt starting {prefix!r} in call {record_id}")


def answered(product: Product, caller: Caller) -> str:
    """Wait for the call to be answered and to show in the active calls; its record id."""
    return product.record_id(caller.connected())


def key_account(product: Product, caller: Caller, record_id: str, service: str,
                account_no: str, method: str = "dtmf") -> None:
    """Main menu -> ``service`` key -> account number and # -> confirm with 1."""
    product.wait_node(record_id, "main_menu")
    caller.send(f"{method}:{service}")
    product.wait_node(record_id, "ask_account")
    caller.send(f"{method}:{account_no}#")
    product.wait_node(record_id, "confirm_account")
    caller.send(f"{method}:1")


def bill_query(product: Product, caller: Caller, account_no: str, method: str = "dtmf"
               ) -> str:
    """Walk to the bill and hang up once its last sentence has started; the record id."""
    record_id = answered(product, caller)
    key_account(product, caller, record_id, "1", account_no, method)
    record = wait_for(lambda: _bill_done(product.live(record_id)), 60,
                      f"the latest-bill sentence in call {record_id}")
    assert record
    caller.hangup()
    return record_id


def _bill_done(record: dict[str, Any]) -> dict[str, Any] | None:
    last = ("bill_latest_paid", "bill_latest_unpaid", "bill_none")
    prompts = record["prompts"]
    said = prompts and (prompts[-1].startswith(expected.LATEST_BILL_PREFIX)
                        or prompts[-1] == "您暂无账单记录。")
    return record if said and any(node in record["ivr_path"] for node in last) else None
