"""Flow and prompt files: validation errors name file and line; hot reload."""

import os
import textwrap

import pytest

from ivr.actions import ACTION_NAMES
from ivr.flow import ConfigError, FlowRepository, PromptBook, load_flow, load_prompts

from .helpers import REPO


def write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bump(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


GOOD = """\
start: a
nodes:
  a:
    say: {prompt: hi, next: b}
  b:
    hangup: {}
"""


def test_repo_flow_and_prompts_are_valid():
    prompts = load_prompts(REPO / "configs" / "prompts.yaml")
    flow = load_flow(REPO / "configs" / "flows" / "main.yaml", prompt_keys=prompts,
                     action_names=ACTION_NAMES)
    assert flow.start == "greeting" and "main_menu" in flow.nodes


@pytest.mark.parametrize(("body", "line", "words"), [
    ("start: a\nnodes:\n  a:\n    say: {prompt: hi, next: nowhere}\n", 4, "unknown node"),
    ("start: a\nnodes:\n  a:\n    say: {prompt: hi}\n  b:\n    gather: {prompt: hi}\n", 6,
     "Field required"),
    ("start: a\nnodes:\n  a:\n    say: {prompt: nope}\n", 4, "unknown prompt"),
    ("start: a\nnodes:\n  a:\n    say: {text: '欠费{x|dollars}'}\n", 4, "unknown filter"),
    ("start: a\nnodes:\n  a:\n    hangup: {}\n    goto: a\n", 3, "exactly one verb"),
    ("start: a\nnodes:\n  a:\n    action: {name: launch, next: a}\n", 4, "unknown action"),
    ("start: a\nnodes:\n  a:\n    menu:\n      prompt: hi\n      options: {'12': a}\n"
     "      on_failure: a\n", 6, "options.12"),
    ("start: a\nnodes:\n  a:\n    say: {text: 'press OK'}\n", 4, "Latin"),
    ("start: a\nnodes:\n  a: [\n", 4, "YAML syntax"),
])
def test_errors_name_file_and_line(tmp_path, body, line, words):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_flow(path, prompt_keys={"hi"}, action_names=ACTION_NAMES)
    assert f"{path}:{line}:" in str(err.value) and words in str(err.value)


def test_prompt_file_errors_name_line(tmp_path):
    path = write(tmp_path / "p.yaml", "ok: 你好。\nbad: 'Hello'\nworse: '{x|nope}'\n")
    with pytest.raises(ConfigError) as err:
        load_prompts(path)
    assert f"{path}:2:" in str(err.value) and f"{path}:3:" in str(err.value)


def test_flows_reload_and_broken_edit_keeps_old(tmp_path, caplog):
    write(tmp_path / "p.yaml", "hi: 你好。\nbye: 再见。\n")
    book = PromptBook(tmp_path / "p.yaml")
    flows = tmp_path / "flows"
    flows.mkdir()
    path = write(flows / "main.yaml", GOOD)
    repo = FlowRepository(flows, book, ACTION_NAMES)
    first = repo.get()
    assert repo.get() is first  # unchanged file: no reload
    write(path, GOOD.replace("prompt: hi", "prompt: bye"))
    bump(path)
    second = repo.get()
    assert second.nodes["a"].say.prompt == "bye"
    write(path, GOOD.replace("next: b", "next: missing"))
    bump(path)
    assert repo.get() is second
    assert "keeping the previous version" in caplog.text and "missing" in caplog.text


def test_prompt_book_reloads(tmp_path):
    path = write(tmp_path / "p.yaml", "hi: 你好。\n")
    book = PromptBook(path)
    assert book.text("hi") == "你好。"
    write(path, "hi: 您好。\n")
    bump(path)
    assert book.text("hi") == "您好。"
    write(path, "hi: [broken\n")
    bump(path)
    assert book.text("hi") == "您好。"


def test_missing_flow_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        FlowRepository(tmp_path).get("main")
