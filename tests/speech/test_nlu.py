from collections import Counter
from pathlib import Path

import pytest
import yaml

from ivr.speech.intents import (
    MENU_INTENTS,
    NluFormatError,
    dump_nlu,
    fit_phrase,
    load_menu_grammar,
    load_nlu,
    parse_nlu,
)

ROOT = Path(__file__).resolve().parents[2]
NLU = ROOT / "configs" / "nlu.yml"
GRAMMAR = ROOT / "configs" / "grammars" / "main_menu.yml"
INTENTS = {
    "bill_query", "repair", "outage_query", "agent", "complaint", "payment_methods",
    "tariff_policy", "reconnect_after_arrears", "repair_progress", "thanks", "affirm", "deny",
    "out_of_scope",
}


# ---------------------------------------------------------------- the shipped training data


def test_shipped_nlu_has_every_intent_with_enough_examples():
    examples = load_nlu(NLU)
    counts = Counter(intent for _, intent in examples)
    assert set(counts) == INTENTS
    assert min(counts.values()) >= 25, counts
    assert all(counts[i] >= 50 for i in MENU_INTENTS), counts
    assert counts["out_of_scope"] >= 50, counts


def test_shipped_nlu_is_plain_rasa_yaml():
    data = yaml.safe_load(NLU.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    for item in data["nlu"]:
        assert set(item) == {"intent", "examples"}
        assert all(line.startswith("- ") for line in item["examples"].strip().splitlines())


# ---------------------------------------------------------------- loader


def test_parse_examples_entities_and_ignored_items():
    src = """version: "3.1"
nlu:
- intent: bill_query
  examples: |
    - 查电费
    - 查一下[呼和浩特](city)的电费
    - 查一下[包头]{"entity": "city"}的电费

    - 查电费
- synonym: 电费
  examples: |
    - 点费
- intent: agent
  examples: |
    - 转人工
"""
    assert parse_nlu(src) == [
        ("查电费", "bill_query"), ("查一下呼和浩特的电费", "bill_query"),
        ("查一下包头的电费", "bill_query"), ("转人工", "agent")]


def _error(src: str) -> NluFormatError:
    with pytest.raises(NluFormatError) as info:
        parse_nlu(src, "nlu.yml")
    return info.value


def test_yaml_syntax_error_names_the_line():
    err = _error('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - x\n - intent: [b\n')
    assert err.line == 6
    assert str(err).startswith("nlu.yml:6: invalid YAML")


def test_example_without_dash_names_its_line():
    err = _error("nlu:\n- intent: a\n  examples: |\n    - 查电费\n    查询电费\n")
    assert err.line == 5
    assert "must start with '- '" in str(err) and "查询电费" in str(err)


def test_same_example_under_two_intents_names_both_lines():
    err = _error("nlu:\n- intent: a\n  examples: |\n    - 查电费\n"
                 "- intent: b\n  examples: |\n    - 查 电费\n")
    assert err.line == 7
    assert "'a'" in str(err) and "'b'" in str(err) and "line 4" in str(err)


@pytest.mark.parametrize(("src", "line", "words"), [
    ("", None, "empty file"),
    ("- a\n- b\n", 1, "mapping"),
    ("version: '3.1'\n", 1, "missing the 'nlu' key"),
    ("nlu: {a: 1}\n", 1, "must be a list"),
    ("nlu:\n- just text\n", 2, "must be a mapping"),
    ("nlu:\n- examples: |\n    - x\n", 2, "no 'intent'"),
    ("nlu:\n- intent: a\n", 2, "no 'examples'"),
    ("nlu:\n- intent: a\n  examples:\n  - x\n", 4, "block of"),
    ("nlu:\n- intent: a\n  examples: |\n\n", 3, "no examples"),
    ("nlu:\n- intent: 查电费\n  examples: |\n    - x\n", 2, "plain identifier"),
    ("nlu:\n- intent: a\n  examples: |\n    - [ ](x)\n", 4, "empty example"),
])
def test_malformed_structure(src, line, words):
    err = _error(src)
    assert err.line == line
    assert words in str(err)


def test_load_nlu_names_the_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: a\n  examples: |\n    - x\n    y\n", encoding="utf-8")
    with pytest.raises(NluFormatError, match=r"bad\.yml:5: "):
        load_nlu(bad)
    with pytest.raises(NluFormatError, match="cannot read"):
        load_nlu(tmp_path / "missing.yml")


def test_dump_round_trips():
    examples = load_nlu(NLU)
    assert parse_nlu(dump_nlu(examples)) == examples


# ---------------------------------------------------------------- menu grammar


def test_menu_grammar_matches_the_menu_keys():
    grammar = load_menu_grammar(GRAMMAR)
    assert grammar.name == "main_menu"
    assert dict(grammar.keys) == {"bill_query": "1", "repair": "2", "outage_query": "3",
                                  "agent": "0", "repeat": "9"}
    main = yaml.safe_load((ROOT / "configs" / "flows" / "main.yaml").read_text(encoding="utf-8"))
    menu = main["nodes"]["main_menu"]["menu"]
    assert set(grammar.keys.values()) == set(menu["options"]) | {menu["repeat_key"]}


def test_menu_grammar_phrases_are_spaced_words():
    grammar = load_menu_grammar(GRAMMAR)
    for phrases in grammar.phrases.values():
        for phrase in phrases:
            assert phrase == " ".join(phrase.split())
            assert all("\u4e00" <= ch <= "\u9fff" for ch in phrase.replace(" ", "")), phrase
            assert all(len(word) <= 3 for word in phrase.split()), phrase  # words, not phrases


def test_menu_grammar_match_and_phrase_list():
    grammar = load_menu_grammar(GRAMMAR)
    assert grammar.match("查 电费") == "bill_query"
    assert grammar.match("查电费") == "bill_query"
    assert grammar.match("转 人工") == "agent"
    assert grammar.match("我 家 停电 了") == "repair"
    assert grammar.match("停电 查询") == "outage_query"
    assert grammar.match("[unk]") is None
    assert grammar.match("") is None
    phrases = grammar.phrase_list()
    assert phrases[-1] == "[unk]" and len(phrases) == len(set(phrases))
    assert "查 电费" in phrases


def test_phrase_list_splits_words_missing_from_the_model():
    grammar = load_menu_grammar(GRAMMAR)
    vocab = {"查", "电", "费", "转", "人工", "停电", "查询"}
    fitted = grammar.phrase_list(vocab)
    assert "查 电 费" in fitted
    assert "转 人工" in fitted
    assert "停电 查询" in fitted
    assert fit_phrase("故障 报修", set()) == "故 障 报 修"


def test_grammar_phrase_under_two_intents_names_the_line(tmp_path):
    bad = tmp_path / "g.yml"
    bad.write_text("intents:\n  a:\n    key: '1'\n    phrases:\n      - 查 电费\n"
                   "  b:\n    phrases:\n      - 查电费\n", encoding="utf-8")
    with pytest.raises(NluFormatError, match=r"g\.yml:8: .*under 'b' and 'a'"):
        load_menu_grammar(bad)
    bad.write_text("intents:\n  a:\n    phrases: []\n", encoding="utf-8")
    with pytest.raises(NluFormatError, match=r"g\.yml:3: .*non-empty 'phrases'"):
        load_menu_grammar(bad)
