"""The interpreter on a small flow: barge-in, gather, menus, retries, hang-up, the record."""

import pytest

from ivr.flow import ActionResult
from ivr.testing import HANGUP, WAIT, WORKER_LOST, During, ScriptedActions

from .helpers import flow_from, run

PROMPTS = {
    "menu": "查询请按1，重听请按9。",
    "ask": "请输入十位户号，以井号键结束。",
    "bad": "输入无效。",
    "silence": "没有收到按键。",
    "echo": "您输入的是{number|digits}。",
    "bye": "再见。",
    "long": "这是一段很长的提示。",
}

FLOW = """
start: intro
nodes:
  intro:
    say: {prompt: long, next: menu}
  menu:
    menu:
      prompt: menu
      options: {"1": ask}
      repeat_key: "9"
      retries: 1
      invalid_prompt: bad
      no_input_prompt: silence
      on_failure: bye
  ask:
    gather:
      prompt: ask
      store: number
      min_digits: 10
      max_digits: 10
      retries: 1
      invalid_prompt: bad
      no_input_prompt: silence
      on_failure: bye
      next: lookup
  lookup:
    action: {name: lookup, args: {account_no: "{number}"}, branches: {ok: echo}, next: bye}
  echo:
    say: {prompt: echo, next: bye}
    result: done
  bye:
    say: {prompt: bye, next: end}
  end:
    hangup: {}
"""


@pytest.fixture
def flow(tmp_path):
    return flow_from(tmp_path, FLOW, PROMPTS)


def ok_actions():
    return ScriptedActions({"lookup": ActionResult("ok", {"account_no": "1502000001"})})


def test_happy_path_records_everything(flow):
    outcome, call, records = run(flow, PROMPTS, ["1", "1502000001#"], ok_actions())
    rec = outcome.record
    assert rec["ivr_path"] == ["intro", "menu", "ask", "lookup", "echo", "bye", "end"]
    assert rec["keys"] == ["1", "1502000001#"]
    assert rec["prompts"][-2] == "您输入的是幺五零二零零零零零幺。"
    assert rec["prompts"][0] == "这是一段很长的提示。"
    assert rec["result"] == "done" and rec["hangup_by"] == "system"
    assert rec["account_no"] == "1502000001"
    assert call.commands[0] == "answer" and call.commands[-1] == "hangup"
    assert len(records) == 2 and records[0]["ended_at"] is None and records[1]["ended_at"]


def test_terminator_after_full_number_is_swallowed(flow):
    # The '#' after ten digits must not reach the next input as an invalid key.
    actions = ok_actions()
    outcome, _, _ = run(flow, PROMPTS, ["1", "1502000001#"], actions)
    assert actions.calls == [("lookup", {"account_no": "1502000001"})]
    assert "输入无效。" not in outcome.record["prompts"]


def test_barge_in_stops_prompt_and_digit_counts(flow):
    outcome, call, _ = run(flow, PROMPTS, [During("1"), "1502000001#"], ok_actions())
    assert call.commands[:3] == ["answer", "play", "stop_play"]
    # The intro was cut; the menu prompt is skipped because a key is waiting (type-ahead).
    assert outcome.record["ivr_path"][:3] == ["intro", "menu", "ask"]
    assert "查询请按一，重听请按九。" not in outcome.record["prompts"]
    assert outcome.record["keys"][0] == "1"


def test_repeat_key_replays_menu_without_counting_a_retry(flow):
    outcome, _, _ = run(flow, PROMPTS, ["9", "9", "1", "1502000001#"], ok_actions())
    assert outcome.record["prompts"].count("查询请按一，重听请按九。") == 3
    assert outcome.result == "done"


def test_invalid_then_no_input_gives_up(flow):
    outcome, _, _ = run(flow, PROMPTS, ["5", WAIT], ok_actions())
    prompts = outcome.record["prompts"]
    assert "输入无效。" in prompts
    assert prompts[-1] == "再见。"
    assert outcome.record["ivr_path"][-2:] == ["bye", "end"]
    assert outcome.result == "no_input"


def test_gather_validation_and_retry(flow):
    # Nine digits + '#' is invalid; the retry succeeds.
    outcome, _, _ = run(flow, PROMPTS, ["1", "150200000#", "1502000001#"], ok_actions())
    assert outcome.record["keys"] == ["1", "150200000#", "1502000001#"]
    assert "输入无效。" in outcome.record["prompts"]
    assert outcome.result == "done"


def test_full_input_without_terminator_is_taken_after_the_wait(flow):
    # Ten digits and no '#': taken once terminator_wait passes.
    outcome, _, _ = run(flow, PROMPTS, ["1", "1502000001", WAIT], ok_actions())
    assert outcome.record["keys"] == ["1", "1502000001"]
    assert outcome.result == "done"


def test_digit_too_many_is_invalid_not_left_for_the_next_menu(flow):
    # Eleven digits: invalid (re-prompt), never the first ten plus a stray key.
    outcome, _, _ = run(flow, PROMPTS, ["1", "15020000012", "1502000001#"], ok_actions())
    assert outcome.record["keys"] == ["1", "15020000012", "1502000001#"]
    assert "输入无效。" in outcome.record["prompts"]
    assert outcome.result == "done"


def test_inter_digit_timeout_ends_input(flow):
    # Keys then silence: the gather evaluates what it has (too short), re-prompts.
    outcome, _, _ = run(flow, PROMPTS, ["1", "123", WAIT, WAIT], ok_actions())
    assert outcome.record["keys"] == ["1", "123"]
    assert outcome.result == "no_input"


def test_hangup_mid_prompt_leaves_complete_record(flow):
    outcome, call, records = run(flow, PROMPTS, [During(HANGUP)])
    rec = outcome.record
    assert rec["result"] == "caller_hangup" and rec["hangup_by"] == "caller"
    assert rec["sip_cause"] == 200 and rec["ended_at"] is not None
    assert rec["ivr_path"] == ["intro"]
    assert "hangup" not in call.commands[1:] or call.commands.count("hangup") <= 1
    assert len(records) == 2


def test_media_worker_lost_is_recorded_as_such(flow):
    outcome, _, records = run(flow, PROMPTS, ["1", WORKER_LOST])
    rec = outcome.record
    assert rec["result"] == "media_failure" and rec["hangup_by"] == "worker"
    assert rec["error"] == "media_worker_failed" and rec["ended_at"] is not None
    assert len(records) == 2


def test_hangup_while_waiting_for_keys(flow):
    outcome, _, _ = run(flow, PROMPTS, ["1", "150", HANGUP])
    assert outcome.result == "caller_hangup"
    assert outcome.record["keys"] == ["1"]


def test_action_result_without_branch_is_an_error_not_a_crash(flow):
    actions = ScriptedActions({"lookup": ActionResult("weird")})
    flow_no_next = flow.model_copy(deep=True)
    node = flow_no_next.nodes["lookup"]
    object.__setattr__(node.action, "next", None)
    outcome, call, _ = run(flow_no_next, PROMPTS, ["1", "1502000001#"], actions)
    assert outcome.result == "error" and "weird" in outcome.record["error"]
    assert call.commands[-1] == "hangup"


def test_dtmf_flood_does_not_crash(flow):
    outcome, _, _ = run(flow, PROMPTS, [During("*" * 500), WAIT, WAIT])
    assert outcome.record["ended_at"] and outcome.result in {"no_input", "invalid_input"}


def test_missing_template_variable_ends_call_with_error(tmp_path):
    flow = flow_from(tmp_path, """
        start: a
        nodes:
          a:
            say: {prompt: echo}
        """, PROMPTS)
    outcome, call, _ = run(flow, PROMPTS, [])
    assert outcome.result == "error" and "number" in outcome.record["error"]
    assert call.commands[-1] == "hangup"
