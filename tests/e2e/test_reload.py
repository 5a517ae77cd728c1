"""Hot reload: prompts and flows edited in the product's config dir apply to the next call."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.settings import REPO_CONFIG_DIR
from tests.e2e import expected
from tests.e2e.harness import Product, fresh_caller_number
from tests.e2e.journeys import answered, wait_prompt

pytestmark = pytest.mark.sip

ORIGINAL_MENU = ("main_menu: 电费查询请按1，故障报修请按2，停电信息查询请按3，"
                 "人工服务请按0，重听请按9。")
NEW_MENU = "main_menu: 您好，查询电费请按1，报修请按2，人工服务请按0，重听请按9。"
NEW_MENU_SPOKEN = "您好，查询电费请按一，报修请按二，人工服务请按零，重听请按九。"


def _menu_call(product: Product, menu_text: str) -> dict:
    number = fresh_caller_number(product)
    caller = product.caller(number)
    record_id = answered(product, caller)
    wait_prompt(product, record_id, menu_text)
    caller.hangup()
    return product.wait_record(caller=number)


def test_prompt_edit_applies_to_the_next_call_and_a_broken_edit_keeps_the_old(
        start_product: Callable[..., Product], tmp_path: Path) -> None:
    config = tmp_path / "configs"
    shutil.copytree(REPO_CONFIG_DIR, config)
    prompts_file, flow_file = config / "prompts.yaml", config / "flows" / "main.yaml"
    original = prompts_file.read_text(encoding="utf-8")
    assert ORIGINAL_MENU in original
    product = start_product(env={"HOTLINE_CONFIG_DIR": str(config)})

    # A prompt edited in place: the next call speaks the new text, no restart.
    prompts_file.write_text(original.replace(ORIGINAL_MENU, NEW_MENU), encoding="utf-8")
    record = _menu_call(product, NEW_MENU_SPOKEN)
    assert record["prompts"] == [expected.GREETING, NEW_MENU_SPOKEN], record["prompts"]

    # Broken edits (YAML syntax in the prompts, a dangling node in the flow): the previous
    # versions stay in use and the log names the files.
    log_before = len(product.log_text)
    prompts_file.write_text(original.replace(ORIGINAL_MENU, NEW_MENU)
                            + "goodbye: [感谢您的来电\n", encoding="utf-8")
    flow = flow_file.read_text(encoding="utf-8")
    assert "say: {prompt: greeting, next: check_announcement}" in flow
    flow_file.write_text(flow.replace("say: {prompt: greeting, next: check_announcement}",
                                      "say: {prompt: greeting, next: no_such_node}"),
                         encoding="utf-8")
    record = _menu_call(product, NEW_MENU_SPOKEN)
    assert record["prompts"] == [expected.GREETING, NEW_MENU_SPOKEN], record["prompts"]
    assert record["ivr_path"][:2] == ["greeting", "check_announcement"], record["ivr_path"]
    assert record["error"] is None
    log = product.log_text[log_before:]
    assert "prompts.yaml" in log and "main.yaml" in log, log[-3000:]

    # Repaired: the original text is back for the next call.
    prompts_file.write_text(original, encoding="utf-8")
    flow_file.write_text(flow, encoding="utf-8")
    record = _menu_call(product, expected.MAIN_MENU)
    assert record["prompts"] == [expected.GREETING, expected.MAIN_MENU], record["prompts"]
