"""The 95598 flow (configs/flows/main.yaml + configs/prompts.yaml) on fakes."""

from datetime import datetime

import pytest

from ivr.actions import ACTION_NAMES
from ivr.flow import DB_UNAVAILABLE, ActionResult, FlowRepository, PromptBook
from ivr.testing import HANGUP, WAIT, During, ScriptedActions

from .helpers import REPO, run

ACCOUNT = "1502000001"
FOUND = ActionResult("found", {
    "account_no": ACCOUNT, "balance": "0.00", "arrears": "123.45", "late_fee": "1.00",
    "amount_due": "124.45", "has_arrears": True, "has_bill": True, "bill_period": "2026-05",
    "bill_kwh": "210.5", "bill_amount": "123.45", "bill_paid": False,
    "bill_due_date": "2026-06-25"})


@pytest.fixture(scope="module")
def book():
    return PromptBook(REPO / "configs" / "prompts.yaml")


@pytest.fixture(scope="module")
def flow(book):
    return FlowRepository(REPO / "configs" / "flows", book, ACTION_NAMES).get("main")


def actions(**results):
    base = {"emergency_announcement": ActionResult("none"),
            "caller_accounts": ActionResult("none"), "account_summary": FOUND}
    return ScriptedActions({**base, **results})


def test_greeting_has_recording_notice(flow, book):
    outcome, _, _ = run(flow, book, [HANGUP])
    assert outcome.record["prompts"][0] == (
        "您好，欢迎致电九五五九八供电服务热线，为保证服务质量，您的通话可能被录音。")


def test_bill_query_reads_account_and_amounts(flow, book):
    acts = actions()
    outcome, _, records = run(flow, book, ["1", ACCOUNT + "#", "1", "2"], acts)
    prompts = outcome.record["prompts"]
    assert "您输入的户号是幺五零二零零零零零幺，确认请按一，重新输入请按二。" in prompts
    assert "户号幺五零二零零零零零幺，您的账户余额为零元。" in prompts
    assert ("您目前逾期欠费一百二十三元四角五分，违约金一元整，"
            "连同未到期账单合计应缴一百二十四元四角五分，请及时缴纳。") in prompts
    assert any("二〇二六年五月，用电量二百一十点五度" in p and "六月二十五日" in p
               for p in prompts)
    assert prompts[-1] == "感谢您的来电，再见。"
    assert outcome.result == "bill_query" and outcome.record["account_no"] == ACCOUNT
    assert ("account_summary", {"account_no": ACCOUNT}) in acts.calls
    assert records[-1]["ivr_path"][-1] == "end"


def test_unknown_account_retries_then_finds(flow, book):
    calls = iter([ActionResult("not_found"), FOUND])
    acts = actions(account_summary=lambda args: next(calls))
    outcome, _, _ = run(flow, book, ["1", "9999999999#", "1", ACCOUNT + "#", "1", "2"], acts)
    assert "对不起，没有查询到该户号，请核对后重新输入。" in outcome.record["prompts"]
    assert outcome.result == "bill_query"


def test_caller_number_offers_its_account(flow, book):
    acts = actions(caller_accounts=ActionResult("single", {"caller_account": ACCOUNT}))
    outcome, _, _ = run(flow, book, ["1", "1", "2"], acts)
    assert outcome.record["prompts"][1].startswith(
        "系统查询到您的来电号码绑定的户号为幺五零二零零零零零幺，确认请按一")
    assert "请输入您的十位户号，以井号键结束。" not in outcome.record["prompts"]
    assert outcome.result == "bill_query"


def test_emergency_announcement_is_read(flow, book):
    acts = actions(emergency_announcement=ActionResult(
        "announce", {"announcement": "受10kV线路故障影响，呼和浩特部分地区停电。"}))
    outcome, _, _ = run(flow, book, [HANGUP], acts)
    assert outcome.record["prompts"][1] == "紧急通知：受十千伏线路故障影响，呼和浩特部分地区停电。"


def test_repair_creates_order_with_confirmed_contact(flow, book):
    acts = actions(repair_check=ActionResult("none", {"account_no": ACCOUNT}),
                   create_repair=ActionResult("created", {"order_no": "260603000017"}))
    outcome, _, _ = run(flow, book, ["2", ACCOUNT + "#", "1", "3", "1", "2"], acts,
                        caller="13912345678")
    prompts = outcome.record["prompts"]
    assert "您的联系电话是幺三九幺二三四五六七八，确认请按一，输入其他号码请按二。" in prompts
    assert "请远离断落的电线，并提醒周围人员不要靠近。" in prompts
    assert "您的报修已受理，工单号二六零六零三零零零零幺七，抢修人员将尽快与您联系。" in prompts
    create = [args for name, args in acts.calls if name == "create_repair"]
    assert create == [{"account_no": ACCOUNT, "fault_kind": "电线落地等安全隐患",
                       "urgent": True, "contact_phone": "13912345678"}]
    assert outcome.result == "repair_created"


def test_repair_with_another_contact_number(flow, book):
    acts = actions(repair_check=ActionResult("none", {"account_no": ACCOUNT}),
                   create_repair=ActionResult("created", {"order_no": "260603000018"}))
    outcome, _, _ = run(flow, book, ["2", ACCOUNT + "#", "1", "1", "2", "13800001111#", "1"],
                        acts, caller="13912345678")
    create = [args for name, args in acts.calls if name == "create_repair"]
    assert create[0]["contact_phone"] == "13800001111" and create[0]["urgent"] is False


def test_repair_covered_by_outage_opens_no_order(flow, book):
    acts = actions(repair_check=ActionResult("outage", {
        "account_no": ACCOUNT, "outage_kind": "计划停电", "outage_reason": "线路检修",
        "outage_restore": datetime(2026, 6, 3, 18, 30)}))
    outcome, _, _ = run(flow, book, ["2", ACCOUNT + "#", "1", "2"], acts)
    assert ("您所在区域正在计划停电，原因是线路检修，预计六月三日十八点三十分恢复供电，"
            "给您带来不便，敬请谅解，无需重复报修。") in outcome.record["prompts"]
    assert "create_repair" not in acts.names()
    assert outcome.result == "outage_notified"


def test_repair_existing_order_is_read(flow, book):
    acts = actions(repair_check=ActionResult("existing", {
        "account_no": ACCOUNT, "order_no": "260601000003", "order_status": "派工"}))
    outcome, _, _ = run(flow, book, ["2", ACCOUNT + "#", "1", "2"], acts)
    assert any("工单号二六零六零幺零零零零零三，当前状态为派工" in p
               for p in outcome.record["prompts"])
    assert "create_repair" not in acts.names() and outcome.result == "repair_existing"


def test_outage_query_lists_each_notice(flow, book):
    items = [{"outage_kind": "计划停电", "outage_start": datetime(2026, 6, 3, 8, 0),
              "outage_restore": datetime(2026, 6, 3, 18, 0), "outage_reason": "线路检修"},
             {"outage_kind": "故障停电", "outage_start": datetime(2026, 6, 3, 9, 5),
              "outage_restore": datetime(2026, 6, 3, 12, 0), "outage_reason": "变压器故障"}]
    acts = actions(outage_info=ActionResult("found", {"account_no": ACCOUNT, "outages": items,
                                                      "outage_count": 2}))
    outcome, _, _ = run(flow, book, ["3", ACCOUNT + "#", "1", "2"], acts)
    prompts = outcome.record["prompts"]
    assert "您所在区域共有二条停电信息。" in prompts
    assert ("故障停电，六月三日九点零五分开始，预计六月三日十二点整恢复供电，"
            "原因是变压器故障。") in prompts
    assert outcome.result == "outage_info"


def test_agent_offers_callback_and_stores_it(flow, book):
    acts = actions(create_callback=ActionResult("created", {"callback_id": "c1"}))
    outcome, _, _ = run(flow, book, ["0", "1", "1"], acts, caller="13912345678")
    assert ("transfer", {"queue": "95598"}) in acts.calls
    assert ("create_callback", {"phone": "13912345678", "account_no": None,
                                "reason": "人工服务"}) in acts.calls
    assert "您的回电请求已登记，我们将尽快与您联系。" in outcome.record["prompts"]
    assert outcome.result == "callback_requested"


def test_database_down_apologises_and_stores_callback(flow, book):
    acts = actions(account_summary=ActionResult(DB_UNAVAILABLE, error="database down"),
                   create_callback=ActionResult("created", {"callback_id": "c2"}))
    outcome, _, _ = run(flow, book, ["1", ACCOUNT + "#", "1", "1", "1"], acts,
                        caller="13912345678")
    assert "非常抱歉，系统暂时无法查询，请稍后再试。" in outcome.record["prompts"]
    cb = [args for name, args in acts.calls if name == "create_callback"]
    assert cb == [{"phone": "13912345678", "account_no": ACCOUNT, "reason": "系统故障回电"}]
    assert outcome.result == "db_unavailable" and outcome.record["error"] == "database down"


def test_no_input_at_main_menu_offers_callback_then_ends(flow, book):
    outcome, call, _ = run(flow, book, [WAIT, WAIT, WAIT, WAIT, WAIT], actions())
    prompts = outcome.record["prompts"]
    assert prompts.count("对不起，没有收到您的按键。") >= 2
    assert "目前暂无人工座席可以接听。" in prompts
    assert outcome.result == "no_input" and call.commands[-1] == "hangup"


def test_unknown_menu_key_gets_invalid_prompt(flow, book):
    outcome, _, _ = run(flow, book, ["7", "9", HANGUP], actions())
    prompts = outcome.record["prompts"]
    assert "对不起，您的按键无效，请重新选择。" in prompts
    menu = "电费查询请按一，故障报修请按二，停电信息查询请按三，人工服务请按零，重听请按九。"
    assert prompts.count(menu) == 3


def test_key_during_greeting_reaches_main_menu(flow, book):
    outcome, call, _ = run(flow, book, [During("1"), ACCOUNT + "#", "1", "2"], actions())
    assert "stop_play" in call.commands
    assert outcome.record["keys"][0] == "1" and outcome.result == "bill_query"


def test_caller_without_usable_number_keys_one_for_callback(flow, book):
    acts = actions(create_callback=ActionResult("created", {"callback_id": "c3"}))
    outcome, _, _ = run(flow, book, ["0", "1", "13800001111#", "1"], acts, caller="anonymous")
    cb = [args for name, args in acts.calls if name == "create_callback"]
    assert cb[0]["phone"] == "13800001111" and outcome.result == "callback_requested"
