"""The Rasa adapter: unit tests everywhere, and for real against Rasa 3.6.

The real tests need the Rasa virtual environment that ``scripts/rasa_env.sh`` builds (Rasa 3.6
runs only on Python <= 3.10); ``.ci/run`` sets ``HOTLINE_TEST_RASA_VENV`` to it. A session
fixture trains a model on the same training split the built-in benchmark uses
(``benchmarks.intent_accuracy.split``, seed 0, 20 % held out) with ``configs/rasa/config.yml``,
serves it with ``rasa run --enable-api`` on a free port and stops it by PID at the end.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.intent_accuracy import OFF_TOPIC, evaluate, split
from ivr.speech.intents import (
    OUT_OF_SCOPE,
    BuiltinIntentClassifier,
    IntentEngineError,
    IntentResult,
    load_nlu,
    make_classifier,
)
from ivr.speech.rasa import (
    IntentEngineUnavailable,
    RasaIntentClassifier,
    RasaServer,
    classifier_from_env,
    free_port,
    train_model,
)

ROOT = Path(__file__).resolve().parents[2]
NLU = ROOT / "configs" / "nlu.yml"
VENV_ENV = "HOTLINE_TEST_RASA_VENV"
SEED, TEST_SIZE = 0, 0.2  # the benchmark's defaults: the same split the built-in is scored on

# Held-out accuracy floor. Measured: Rasa (DIET, 40 epochs) 0.89 and the built-in 0.88 on this
# split. The floor leaves room for DIET's run-to-run variation (TensorFlow threading) but still
# fails on a broken pipeline (a tokenizer that drops Chinese, a wrong split: < 0.5).
MIN_ACCURACY = 0.80
# Off-topic probes (benchmarks.intent_accuracy.OFF_TOPIC) rejected as out_of_scope; the built-in
# rejects 0.82 of them.
MIN_PROBE_REJECTION = 0.70


# --------------------------------------------------------------------------- no server needed


def test_unreachable_server_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    clf = RasaIntentClassifier(f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(IntentEngineUnavailable, match=rf"127\.0\.0\.1:{port} unreachable"):
        clf.classify("查电费")
    assert issubclass(IntentEngineUnavailable, IntentEngineError)
    assert not clf.ping()


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts the connection (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        clf = RasaIntentClassifier(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(IntentEngineUnavailable):
            clf.classify("查电费")
        assert time.monotonic() - t0 < 3


def _fake_parse(payload: dict):
    return lambda self, text: {"text": text, **payload}


def test_rasa_fallback_and_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    ranking = [{"name": "bill_query", "confidence": 0.35}, {"name": "repair", "confidence": 0.3}]
    monkeypatch.setattr(RasaIntentClassifier, "parse", _fake_parse({
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, *ranking]}))
    r = RasaIntentClassifier(threshold=0.3).classify("嗯")
    assert (r.intent, r.rejected, r.engine) == (OUT_OF_SCOPE, True, "rasa")
    assert r.ranking[0] == ("bill_query", 0.35)  # nlu_fallback is not an intent of ours
    monkeypatch.setattr(RasaIntentClassifier, "parse", _fake_parse({
        "intent": ranking[0], "intent_ranking": ranking}))
    assert RasaIntentClassifier(threshold=0.3).classify("查").intent == "bill_query"
    assert RasaIntentClassifier(threshold=0.4).classify("查").intent == OUT_OF_SCOPE
    assert RasaIntentClassifier().classify("  ").intent == OUT_OF_SCOPE  # no call for nothing


def test_engines_are_chosen_by_configuration() -> None:
    examples = load_nlu(NLU)
    clf = classifier_from_env(examples, {"HOTLINE_INTENT_ENGINE": "rasa",
                                         "HOTLINE_RASA_URL": "http://10.0.0.9:5005/",
                                         "HOTLINE_INTENT_THRESHOLD": "0.5",
                                         "HOTLINE_RASA_TIMEOUT": "0.7"})
    assert isinstance(clf, RasaIntentClassifier)
    assert (clf.url, clf.threshold, clf.timeout) == ("http://10.0.0.9:5005", 0.5, 0.7)
    assert isinstance(classifier_from_env(examples, {}), BuiltinIntentClassifier)
    assert isinstance(make_classifier("rasa", examples, url="http://x"), RasaIntentClassifier)


# --------------------------------------------------------------------------- real Rasa 3.6


@dataclass
class Served:
    server: RasaServer
    train: list[tuple[str, str]]
    test: list[tuple[str, str]]
    train_seconds: float
    start_seconds: float


@pytest.fixture(scope="session")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    venv = os.environ.get(VENV_ENV)
    if not venv:
        pytest.skip(f"{VENV_ENV} is not set: Rasa needs Python 3.10; .ci/run sets "
                    f"{VENV_ENV} (see scripts/rasa_env.sh)")
    venv_path = Path(venv)
    assert (venv_path / "bin" / "rasa").exists(), f"{VENV_ENV}={venv} has no bin/rasa"
    train, test = split(load_nlu(NLU), TEST_SIZE, SEED)
    work = tmp_path_factory.mktemp("rasa")
    t0 = time.perf_counter()
    model = train_model(venv_path, train, work)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    server = RasaServer(venv_path, model, log=work / "rasa-run.log").start()
    start_s = time.perf_counter() - t0
    try:
        yield Served(server, list(train), list(test), train_s, start_s)
    finally:
        server.stop()


@pytest.mark.rasa
def test_held_out_accuracy(rasa: Served) -> None:
    report = evaluate("rasa", seed=SEED, test_size=TEST_SIZE, url=rasa.server.url,
                      train_seconds=rasa.train_seconds)
    builtin = evaluate("builtin", seed=SEED, test_size=TEST_SIZE)
    print(f"\nrasa: accuracy {report.accuracy:.3f}, probes rejected {report.probe_rejection:.3f}, "
          f"false rejection {report.false_rejection:.3f}, parse p50 {report.p50_ms:.1f} ms, "
          f"train {rasa.train_seconds:.0f} s, start {rasa.start_seconds:.0f} s; "
          f"builtin: accuracy {builtin.accuracy:.3f}, probes {builtin.probe_rejection:.3f}")
    assert report.n_test == len(rasa.test) and report.n_train == len(rasa.train)
    assert report.accuracy >= MIN_ACCURACY, report.errors
    assert report.probe_rejection >= MIN_PROBE_REJECTION


@pytest.mark.rasa
@pytest.mark.parametrize("text", ("", "   ", "abc xyz", "？？？", "今天呼和浩特天气咋样",
                                  "我想订外卖", "水费怎么交", "医院怎么挂号"))
def test_rejects_off_topic(rasa: Served, text: str) -> None:
    # Each of these must go; the whole probe set only at a rate (test_off_topic_probes_...):
    # DIET, like the built-in, sends a few (e.g. 帮我看看茅台的股价 -> bill_query) to an intent.
    result = RasaIntentClassifier(rasa.server.url).classify(text)
    assert result.intent == OUT_OF_SCOPE, result


@pytest.mark.rasa
def test_off_topic_probes_mostly_rejected(rasa: Served) -> None:
    clf = RasaIntentClassifier(rasa.server.url)
    rejected = [t for t in OFF_TOPIC if clf.classify(t).intent == OUT_OF_SCOPE]
    assert len(rejected) / len(OFF_TOPIC) >= MIN_PROBE_REJECTION, rejected


@pytest.mark.rasa
def test_same_result_type_as_builtin(rasa: Served) -> None:
    builtin = make_classifier("builtin", rasa.train)
    remote = make_classifier("rasa", rasa.train, url=rasa.server.url)
    for text in ("查 一下 电费", "我家停电了", "转人工", "谢谢"):
        a, b = builtin.classify(text), remote.classify(text)
        assert type(a) is type(b) is IntentResult
        assert (b.engine, b.text) == ("rasa", text)
        assert b.intent == a.intent, (a, b)
        assert b.ranking and all(isinstance(i, str) and isinstance(s, float) for i, s in b.ranking)
        assert [s for _, s in b.ranking] == sorted((s for _, s in b.ranking), reverse=True)
        assert b.confidence == b.ranking[0][1]


@pytest.mark.rasa
def test_stopped_server_is_a_clear_error(rasa: Served) -> None:
    # Last in the file: a second server on the same model, stopped, then asked.
    other = RasaServer(rasa.server.venv, rasa.server.model,
                       log=Path(rasa.server.model).parent / "second.log").start()
    clf = RasaIntentClassifier(other.url)
    assert clf.classify("查电费").intent == "bill_query"
    other.stop()
    with pytest.raises(IntentEngineUnavailable, match="unreachable"):
        clf.classify("查电费")
