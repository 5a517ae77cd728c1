"""Intent classifier accuracy on a held-out split of ``configs/nlu.yml``.

    .venv/bin/python -m benchmarks.intent_accuracy                  # built-in engine, seed 0
    .venv/bin/python -m benchmarks.intent_accuracy --repeats 10     # + mean/sd over 10 splits
    .venv/bin/python -m benchmarks.intent_accuracy --sweep          # accuracy vs threshold
    python -m benchmarks.intent_accuracy --engine rasa --rasa-venv "$(scripts/rasa_env.sh)"
    .venv/bin/python -m benchmarks.intent_accuracy --engine rasa --rasa-url http://127.0.0.1:5005

With ``--engine rasa``, ``--rasa-venv`` trains a Rasa model on the same training split
(``configs/rasa/config.yml``), serves it on a free port and stops it afterwards; ``--rasa-url``
uses a running server instead (which must have been trained on that split, not the whole file,
or the held-out figures are meaningless). The built-in engine's figures are printed first, for
comparison.

The split is stratified by intent (``--test-size``, default 20 %, fixed ``--seed``). The engine is
trained on the rest through ``ivr.speech.intents.make_classifier`` (``--engine``; other engines
register there). Reported: accuracy of the decision (threshold applied) over all held-out
examples, per-intent precision / recall, the out-of-scope rejection rate (held-out
``out_of_scope`` examples and the off-topic probes below that come back as ``out_of_scope``),
the false-rejection rate (in-scope examples turned into ``out_of_scope``), training time and
classification latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import ivr.speech.rasa  # noqa: F401  (registers the "rasa" engine)
from ivr.speech.intents import DEFAULT_THRESHOLD, OUT_OF_SCOPE, load_nlu, make_classifier

NLU = Path(__file__).resolve().parent.parent / "configs" / "nlu.yml"

# Off-topic calls not in the training data: other services, small talk, noise.
OFF_TOPIC = (
    "今天呼和浩特天气咋样", "明天会下雪吗", "股票今天涨了吗", "帮我看看茅台的股价",
    "你好呀陪我聊会天", "讲个故事听听", "我想订外卖", "快递怎么还没到", "水费怎么交",
    "我家停水了", "燃气灶打不着火", "话费还剩多少", "宽带怎么报装", "电视机坏了",
    "周末去哪玩", "包头到北京的火车票", "医院怎么挂号", "我要买手机", "羊肉串多少钱",
    "英语怎么学", "帮我算一下二加三", "今天星期几",
)


@dataclass
class Report:
    engine: str
    seed: int
    n_train: int
    n_test: int
    threshold: float
    accuracy: float
    oos_rejection: float  # held-out out_of_scope examples rejected
    probe_rejection: float  # OFF_TOPIC probes rejected
    false_rejection: float  # in-scope held-out examples turned into out_of_scope
    train_seconds: float
    p50_ms: float
    per_intent: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # P, R, n
    errors: list[tuple[str, str, str, float]] = field(default_factory=list)


def split(examples: list[tuple[str, str]], test_size: float, seed: int):
    from sklearn.model_selection import train_test_split

    labels = [intent for _, intent in examples]
    return train_test_split(examples, test_size=test_size, stratify=labels, random_state=seed)


def evaluate(engine: str = "builtin", examples: list[tuple[str, str]] | None = None, *,
             seed: int = 0, test_size: float = 0.2,
             threshold: float = DEFAULT_THRESHOLD, train_seconds: float | None = None,
             **engine_kw: object) -> Report:
    """``engine_kw`` go to the engine (``url=`` for ``rasa``); ``train_seconds`` overrides the
    measured construction time (a Rasa server is trained beforehand)."""
    examples = examples if examples is not None else load_nlu(NLU)
    train, test = split(examples, test_size, seed)
    t0 = time.perf_counter()
    clf = make_classifier(engine, train, threshold=threshold, **engine_kw)
    train_s = time.perf_counter() - t0 if train_seconds is None else train_seconds
    times, predicted = [], []
    for text, _ in test:
        t = time.perf_counter()
        predicted.append(clf.classify(text))
        times.append(time.perf_counter() - t)
    gold = [intent for _, intent in test]
    pred = [r.intent for r in predicted]
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    per_intent = {}
    for intent in sorted(set(gold)):
        tp = sum(g == p == intent for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = pred.count(intent), gold.count(intent)
        per_intent[intent] = (tp / n_pred if n_pred else 0.0, tp / n_gold, n_gold)
    oos = [p for g, p in zip(gold, pred, strict=True) if g == OUT_OF_SCOPE]
    ins = [p for g, p in zip(gold, pred, strict=True) if g != OUT_OF_SCOPE]
    probes = [clf.classify(text).intent for text in OFF_TOPIC]
    errors = [(r.text, g, r.intent, r.confidence)
              for r, g in zip(predicted, gold, strict=True) if r.intent != g]
    return Report(
        engine=engine, seed=seed, n_train=len(train), n_test=len(test), threshold=threshold,
        accuracy=correct / len(test),
        oos_rejection=oos.count(OUT_OF_SCOPE) / len(oos) if oos else float("nan"),
        probe_rejection=probes.count(OUT_OF_SCOPE) / len(probes),
        false_rejection=ins.count(OUT_OF_SCOPE) / len(ins) if ins else float("nan"),
        train_seconds=train_s, p50_ms=statistics.median(times) * 1000,
        per_intent=per_intent, errors=errors)


def print_report(r: Report, show_errors: bool) -> None:
    print(f"engine={r.engine} seed={r.seed} threshold={r.threshold} "
          f"train={r.n_train} held-out={r.n_test}")
    print(f"accuracy            {r.accuracy:.3f}")
    print(f"out-of-scope reject {r.oos_rejection:.3f} (held-out out_of_scope examples)")
    print(f"off-topic probes    {r.probe_rejection:.3f} ({len(OFF_TOPIC)} sentences)")
    print(f"false rejection     {r.false_rejection:.3f} (in-scope turned out_of_scope)")
    print(f"training            {r.train_seconds:.2f} s; classify p50 {r.p50_ms:.2f} ms")
    print(f"{'intent':26} {'precision':>9} {'recall':>7} {'n':>4}")
    for intent, (p, rec, n) in r.per_intent.items():
        print(f"{intent:26} {p:9.3f} {rec:7.3f} {n:4d}")
    if show_errors:
        for text, gold, pred, conf in r.errors:
            print(f"  {text!r}: {gold} -> {pred} ({conf:.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="builtin")
    ap.add_argument("--nlu", type=Path, default=NLU)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-size", type=float, default=0.2)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--repeats", type=int, default=1, help="also report mean/sd over N splits")
    ap.add_argument("--sweep", action="store_true", help="accuracy and rejection vs threshold")
    ap.add_argument("--errors", action="store_true", help="list the misclassified examples")
    ap.add_argument("--rasa-url", help="--engine rasa: a running server trained on the split")
    ap.add_argument("--rasa-venv", type=Path,
                    help="--engine rasa: train on the split and serve with this Rasa venv")
    args = ap.parse_args(argv)
    examples = load_nlu(args.nlu)
    counts = Counter(intent for _, intent in examples)
    print(f"{args.nlu}: {len(examples)} examples, {len(counts)} intents, "
          f"{min(counts.values())}-{max(counts.values())} per intent")
    if args.engine == "rasa":
        return main_rasa(args, examples)
    if args.sweep:
        print(f"{'threshold':>9} {'accuracy':>8} {'oos-rej':>7} {'probes':>6} {'false-rej':>9}"
              f"  (mean over {max(args.repeats, 5)} splits)")
        for th in (0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            rs = [evaluate(args.engine, examples, seed=s, test_size=args.test_size, threshold=th)
                  for s in range(max(args.repeats, 5))]
            print(f"{th:9.2f} {statistics.mean(r.accuracy for r in rs):8.3f} "
                  f"{statistics.mean(r.oos_rejection for r in rs):7.3f} "
                  f"{statistics.mean(r.probe_rejection for r in rs):6.3f} "
                  f"{statistics.mean(r.false_rejection for r in rs):9.3f}")
        return 0
    report = evaluate(args.engine, examples, seed=args.seed, test_size=args.test_size,
                      threshold=args.threshold)
    print_report(report, args.errors)
    if args.repeats > 1:
        rs = [report] + [evaluate(args.engine, examples, seed=args.seed + k,
                                  test_size=args.test_size, threshold=args.threshold)
                         for k in range(1, args.repeats)]
        for name in ("accuracy", "oos_rejection", "probe_rejection", "false_rejection"):
            values = [getattr(r, name) for r in rs]
            print(f"{name:16} mean {statistics.mean(values):.3f} sd {statistics.stdev(values):.3f}"
                  f" min {min(values):.3f} over seeds {args.seed}..{args.seed + args.repeats - 1}")
    return 0


def main_rasa(args: argparse.Namespace, examples: list[tuple[str, str]]) -> int:
    """The built-in figures, then Rasa's on the same split (one seed: training takes ~30 s)."""
    import tempfile

    from ivr.speech.rasa import RasaServer, train_model

    if not (args.rasa_url or args.rasa_venv):
        print("--engine rasa needs --rasa-url URL or --rasa-venv PATH", file=sys.stderr)
        return 2
    kw = {"seed": args.seed, "test_size": args.test_size, "threshold": args.threshold}
    print_report(evaluate("builtin", examples, **kw), args.errors)
    print()
    if args.rasa_url:
        print_report(evaluate("rasa", examples, url=args.rasa_url, **kw), args.errors)
        return 0
    train, _ = split(examples, args.test_size, args.seed)
    with tempfile.TemporaryDirectory(prefix="hotline-rasa-") as tmp:
        t0 = time.perf_counter()
        model = train_model(args.rasa_venv, train, tmp)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with RasaServer(args.rasa_venv, model) as server:
            start_s = time.perf_counter() - t0
            report = evaluate("rasa", examples, url=server.url, train_seconds=train_s, **kw)
    print_report(report, args.errors)
    print(f"rasa server start   {start_s:.1f} s (model load until /model/parse answers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
