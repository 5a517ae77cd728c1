"""Intent recognition: the ``IntentClassifier`` port, its built-in engine and a fake for tests.

- :func:`load_nlu` reads training data in Rasa's YAML NLU format (``configs/nlu.yml``), the same
  file a Rasa server trains from, and reports malformed input with the file and line.
- :class:`BuiltinIntentClassifier`: jieba words (unigrams + bigrams) and character 1-3-grams,
  TF-IDF, and a multinomial logistic regression, trained in-process at start-up (well under a
  second for the shipped file, no network, deterministic). A confidence threshold maps
  low-confidence input, and input with no known word or character n-gram, to ``out_of_scope``.
- Other engines (a ``RasaIntentClassifier(url)`` calling ``POST /model/parse``) return the same
  :class:`IntentResult`: :func:`result_from_rasa` turns a parse response into one, applying the
  same threshold through :func:`apply_threshold`.
- :func:`load_menu_grammar` reads ``configs/grammars/*.yml`` (menu intents → phrases for Vosk
  grammar mode); :meth:`MenuGrammar.match` maps a grammar-mode result back to its intent.

The port is synchronous: the built-in engine takes about a millisecond. Callers on the asyncio
loop use ``await asyncio.to_thread(classifier.classify, text)`` for engines that do I/O.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ivr.speech.numbers import to_digits

OUT_OF_SCOPE = "out_of_scope"
DEFAULT_THRESHOLD = 0.40
# The main-menu intents, in the order of the menu keys (1, 2, 3, 0).
MENU_INTENTS = ("bill_query", "repair", "outage_query", "agent")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- port


@dataclass(frozen=True, slots=True)
class IntentResult:
    """``intent`` is the decision (``out_of_scope`` when rejected); ``confidence`` is the engine's
    score for its best guess; ``ranking`` lists (intent, score), best first, as the engine gave
    them; ``rejected`` says the best guess was below the threshold (or nothing was known)."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    text: str = ""
    engine: str = ""
    rejected: bool = False

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE


class IntentClassifier(Protocol):
    """One port, one adapter per engine (built-in, Rasa), a fake for unit tests."""

    name: str

    def classify(self, text: str) -> IntentResult:
        """The caller's intent in ``text`` (an ASR result). Never raises for odd text; an engine
        that cannot answer (server down) raises ``IntentEngineError``."""
        ...


class IntentEngineError(RuntimeError):
    """The engine could not classify (for example the Rasa server is unreachable)."""


def apply_threshold(ranking: Sequence[tuple[str, float]], threshold: float, *, text: str = "",
                    engine: str = "") -> IntentResult:
    """The decision for an engine's ranking: its best intent, or ``out_of_scope`` when the best
    score is below ``threshold`` or there is no ranking at all."""
    ranked = tuple(sorted(((str(i), float(c)) for i, c in ranking), key=lambda r: -r[1]))
    if not ranked:
        return IntentResult(OUT_OF_SCOPE, 0.0, (), text, engine, rejected=True)
    best, score = ranked[0]
    if best != OUT_OF_SCOPE and score < threshold:
        return IntentResult(OUT_OF_SCOPE, score, ranked, text, engine, rejected=True)
    return IntentResult(best, score, ranked, text, engine)


def result_from_rasa(payload: Mapping[str, Any], threshold: float = DEFAULT_THRESHOLD,
                     *, engine: str = "rasa") -> IntentResult:
    """An :class:`IntentResult` from a Rasa ``/model/parse`` response
    (``{"text", "intent": {"name", "confidence"}, "intent_ranking": [...]}``)."""
    ranking = [(r["name"], r["confidence"]) for r in payload.get("intent_ranking") or ()
               if r.get("name") is not None]
    top = payload.get("intent") or {}
    if not ranking and top.get("name"):
        ranking = [(top["name"], top.get("confidence", 0.0))]
    return apply_threshold(ranking, threshold, text=str(payload.get("text", "")), engine=engine)


# --------------------------------------------------------------------------- Rasa YAML NLU


class NluFormatError(ValueError):
    """Malformed NLU training data; the message names the file and line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def load_nlu(path: str | Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa YAML NLU file, in file order.

    Entity annotations (``[呼和浩特](city)``) are reduced to their text; ``synonym``, ``regex``
    and ``lookup`` items are accepted and ignored. Raises :class:`NluFormatError` naming the line
    for YAML errors, a wrong structure, an empty intent, or one example under two intents."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NluFormatError(str(path), None, f"cannot read NLU file: {exc}") from None
    return parse_nlu(source, str(path))


def parse_nlu(source: str, name: str = "<nlu>") -> list[tuple[str, str]]:
    """:func:`load_nlu` on a string; ``name`` is used in error messages."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise NluFormatError(name, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise NluFormatError(name, None, f"invalid YAML: {exc}") from None
    if root is None:
        raise NluFormatError(name, None, "empty file (expected a mapping with an 'nlu' list)")
    if not isinstance(root, yaml.MappingNode):
        raise NluFormatError(name, _line(root), "expected a mapping with an 'nlu' list")
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    nlu = top.get("nlu")
    if nlu is None:
        raise NluFormatError(name, _line(root), "missing the 'nlu' key")
    if not isinstance(nlu, yaml.SequenceNode):
        raise NluFormatError(name, _line(nlu), "'nlu' must be a list of '- intent:' items")
    out: list[tuple[str, str]] = []
    seen: dict[str, tuple[str, int]] = {}
    for item in nlu.value:
        if not isinstance(item, yaml.MappingNode):
            raise NluFormatError(name, _line(item), "each 'nlu' item must be a mapping "
                                 "('- intent: NAME' with 'examples: |')")
        fields = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
        if "intent" not in fields:
            if fields.keys() & {"synonym", "regex", "lookup"}:
                continue
            raise NluFormatError(name, _line(item), "item has no 'intent' "
                                 "(nor 'synonym', 'regex' or 'lookup')")
        intent_node = fields["intent"]
        intent = intent_node.value if isinstance(intent_node, yaml.ScalarNode) else None
        if not isinstance(intent, str) or not re.fullmatch(r"[A-Za-z_][\w/.-]*", intent):
            raise NluFormatError(name, _line(intent_node),
                                 f"intent name must be a plain identifier, got {intent!r}")
        examples = fields.get("examples")
        if examples is None:
            raise NluFormatError(name, _line(item), f"intent {intent!r} has no 'examples'")
        if not isinstance(examples, yaml.ScalarNode) or examples.tag != "tag:yaml.org,2002:str":
            raise NluFormatError(name, _line(examples), f"'examples' of {intent!r} must be a "
                                 "block of '- example' lines ('examples: |')")
        literal = examples.style == "|"
        count = 0
        for k, raw in enumerate(examples.value.split("\n")):
            line = examples.start_mark.line + (2 + k if literal else 1)
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                raise NluFormatError(name, line, f"example of {intent!r} must start with '- ', "
                                     f"got {stripped!r}")
            text = _ENTITY.sub(r"\1", stripped[2:]).strip()
            if not text:
                raise NluFormatError(name, line, f"empty example under {intent!r}")
            key = _canonical(text)
            if key in seen:
                other, other_line = seen[key]
                if other != intent:
                    raise NluFormatError(name, line, f"example {text!r} is under {intent!r} and "
                                         f"under {other!r} (line {other_line})")
                continue
            seen[key] = (intent, line)
            out.append((text, intent))
            count += 1
        if count == 0:
            raise NluFormatError(name, _line(examples), f"intent {intent!r} has no examples")
    if not out:
        raise NluFormatError(name, _line(nlu), "no intents")
    return out


def dump_nlu(examples: Iterable[tuple[str, str]]) -> str:
    """Rasa YAML NLU text for (text, intent) pairs (e.g. a training split for a Rasa server)."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {t}" for t in texts]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- features


_DOMAIN_WORDS = (
    "电费", "点费", "户号", "余额", "欠费", "缴费", "交费", "充值", "账单", "用电量", "违约金",
    "滞纳金", "报修", "保修", "故障", "抢修", "跳闸", "空开", "总闸", "电表", "电表箱", "进户线",
    "电线杆", "变压器", "漏电", "停电", "停店", "来电", "送电", "复电", "付电", "拉闸", "限电",
    "计划停电", "检修", "人工", "人公", "转人工", "人工服务", "客服", "话务员", "坐席", "投诉",
    "投速", "举报", "抄表员", "供电所", "营业厅", "网上国网", "蒙电e家", "支付宝", "微信",
    "代扣", "电价", "阶梯电价", "峰谷电价", "分时电价", "谷电", "第二档", "电采暖", "煤改电",
    "工单", "工单号", "进度", "进展", "师傅", "不对", "不是", "没错", "谢谢", "多谢", "辛苦",
    "苏木", "嘎查", "牧区", "呼和浩特", "包头", "鄂尔多斯", "赤峰", "通辽", "乌兰察布",
    "巴彦淖尔", "呼伦贝尔", "锡林郭勒", "兴安盟", "阿拉善", "乌海",
)
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w#]+")
_NUMBER = re.compile(r"\d+")


def _canonical(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


def preprocess(text: str) -> str:
    """What the features see: NFKC, lower case, no spaces (Vosk separates words with spaces,
    the training data mostly does not), no punctuation, and every number as ``#`` (an account or
    work-order number says nothing about the intent)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = to_digits(text)
    text = _NUMBER.sub("#", text)
    return _PUNCT.sub("", text)


_tokenizer_lock = threading.Lock()
_tokenizer: Any = None


def _jieba() -> Any:
    """One jieba tokenizer per process, with the domain words added (loads in ~1 s the first
    time, from jieba's cache in the temp directory afterwards)."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for word in _DOMAIN_WORDS:
                tok.add_word(word, freq=20000)
            _tokenizer = tok
        return _tokenizer


def unigrams(text: str) -> list[str]:
    """jieba words of the preprocessed text."""
    return [t for t in _jieba().lcut(preprocess(text), HMM=True) if t.strip()]


def words(text: str) -> list[str]:
    """jieba words of the preprocessed text, with word bigrams."""
    toks = unigrams(text)
    return toks + [a + "_" + b for a, b in zip(toks, toks[1:], strict=False)]


# --------------------------------------------------------------------------- built-in engine


@dataclass(slots=True)
class BuiltinIntentClassifier:
    """jieba + character n-grams, TF-IDF, logistic regression; trained from (text, intent)."""

    examples: Sequence[tuple[str, str]]
    threshold: float = DEFAULT_THRESHOLD
    c: float = 20.0
    char_ngrams: tuple[int, int] = (1, 2)
    word_bigrams: bool = True
    seed: int = 0
    name: str = "builtin"
    _word_vec: Any = field(init=False, repr=False, default=None)
    _char_vec: Any = field(init=False, repr=False, default=None)
    _model: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = {intent for _, intent in self.examples}
        if len(labels) < 2:
            raise ValueError(f"need examples of at least two intents, got {sorted(labels)}")
        texts = [t for t, _ in self.examples]
        y = [i for _, i in self.examples]
        self._word_vec = TfidfVectorizer(analyzer=words if self.word_bigrams else unigrams,
                                         sublinear_tf=True)
        self._char_vec = TfidfVectorizer(analyzer="char", ngram_range=self.char_ngrams,
                                         sublinear_tf=True, preprocessor=preprocess)
        x = self._features(texts, fit=True)
        self._model = LogisticRegression(C=self.c, solver="newton-cg", max_iter=1000,
                                         class_weight="balanced",
                                         random_state=self.seed)
        self._model.fit(x, y)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> BuiltinIntentClassifier:
        return cls(load_nlu(path), **kwargs)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(self._model.classes_)

    def _features(self, texts: Sequence[str], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        if fit:
            return hstack([self._word_vec.fit_transform(texts),
                           self._char_vec.fit_transform(texts)]).tocsr()
        return hstack([self._word_vec.transform(texts), self._char_vec.transform(texts)]).tocsr()

    def classify(self, text: str) -> IntentResult:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[IntentResult]:
        texts = [str(t) for t in texts]
        x = self._features(texts)
        probs = self._model.predict_proba(x)
        known = x.getnnz(axis=1)
        classes = self._model.classes_
        out = []
        for text, row, nnz in zip(texts, probs, known, strict=True):
            if nnz == 0:  # nothing the model has seen (empty, foreign script, noise)
                out.append(IntentResult(OUT_OF_SCOPE, 1.0, ((OUT_OF_SCOPE, 1.0),), text,
                                        self.name, rejected=True))
                continue
            ranking = [(str(c), round(float(p), 6)) for c, p in zip(classes, row, strict=True)]
            out.append(apply_threshold(ranking, self.threshold, text=text, engine=self.name))
        return out


# --------------------------------------------------------------------------- fake


@dataclass
class FakeIntentClassifier:
    """For flow unit tests: exact texts, then substrings, to intents; everything else is
    ``default``. ``fail`` makes every call raise :class:`IntentEngineError`. Calls are recorded."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    default: str = OUT_OF_SCOPE
    confidence: float = 1.0
    fail: bool = False
    name: str = "fake"
    calls: list[str] = field(default_factory=list)

    def classify(self, text: str) -> IntentResult:
        self.calls.append(text)
        if self.fail:
            raise IntentEngineError("fake intent engine is down")
        key = _canonical(text)
        intent = next((v for k, v in self.mapping.items() if _canonical(k) == key), None)
        if intent is None:
            intent = next((v for k, v in self.mapping.items() if _canonical(k) in key),
                          self.default)
        return IntentResult(intent, self.confidence, ((intent, self.confidence),), text,
                            self.name)


# --------------------------------------------------------------------------- factory


EngineFactory = Callable[..., IntentClassifier]
ENGINES: dict[str, EngineFactory] = {
    "builtin": lambda examples, **kw: BuiltinIntentClassifier(examples, **kw),
}


def make_classifier(engine: str, examples: Sequence[tuple[str, str]],
                    **kwargs: Any) -> IntentClassifier:
    """A classifier by configuration name (``builtin``, ``rasa``; adapters register in
    ``ENGINES`` when their module is imported)."""
    if engine == "rasa":
        import ivr.speech.rasa  # noqa: F401 - registers the engine
    try:
        factory = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown intent engine {engine!r} (known: {sorted(ENGINES)})") from None
    return factory(examples, **kwargs)


# --------------------------------------------------------------------------- menu grammar


@dataclass(frozen=True, slots=True)
class MenuGrammar:
    """Menu intents and the phrases that select them in Vosk grammar mode."""

    name: str
    phrases: Mapping[str, tuple[str, ...]]  # intent -> phrases ("查 电费")
    keys: Mapping[str, str]  # intent -> DTMF key of the same option

    def phrase_list(self, vocabulary: Iterable[str] | None = None, *,
                    unknown: bool = True) -> list[str]:
        """The Vosk ``phrase_list``: every phrase once, plus ``[unk]`` so that other speech
        comes back as ``[unk]`` instead of being forced onto a phrase. With the model's
        ``vocabulary`` (its ``graph/words.txt`` words), a word the model does not know is split
        into its characters, so the phrase still reaches the recogniser."""
        vocab = set(vocabulary) if vocabulary is not None else None
        out: list[str] = []
        for phrases in self.phrases.values():
            for phrase in phrases:
                fitted = fit_phrase(phrase, vocab) if vocab is not None else phrase
                if fitted and fitted not in out:
                    out.append(fitted)
        if unknown:
            out.append("[unk]")
        return out

    def match(self, text: str) -> str | None:
        """The intent of a grammar-mode result (spaces ignored), or None (``[unk]``, empty)."""
        key = _canonical(text)
        if not key:
            return None
        for intent, phrases in self.phrases.items():
            if any(_canonical(p) == key for p in phrases):
                return intent
        return None


def fit_phrase(phrase: str, vocabulary: set[str]) -> str:
    """``phrase`` with each word the model does not know split into characters."""
    out: list[str] = []
    for word in phrase.split():
        out.extend([word] if word in vocabulary else list(word))
    return " ".join(out)


def load_menu_grammar(path: str | Path) -> MenuGrammar:
    """Read a menu grammar file (``configs/grammars/main_menu.yml``); errors name the line."""
    path = Path(path)
    name = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise NluFormatError(name, mark.line + 1 if mark else None,
                             f"invalid YAML: {exc.problem or exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NluFormatError(name, None, f"cannot read grammar: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise NluFormatError(name, _line(root) if root else None, "expected a mapping")
    top = {k.value: v for k, v in root.value}
    intents = top.get("intents")
    if not isinstance(intents, yaml.MappingNode):
        raise NluFormatError(name, _line(intents or root), "'intents' must be a mapping")
    phrases: dict[str, tuple[str, ...]] = {}
    keys: dict[str, str] = {}
    owner: dict[str, tuple[str, int]] = {}
    for k_node, v_node in intents.value:
        intent = k_node.value
        if not isinstance(v_node, yaml.MappingNode):
            raise NluFormatError(name, _line(v_node), f"{intent!r} must be a mapping with "
                                 "'key' and 'phrases'")
        fields = {k.value: v for k, v in v_node.value}
        key_node, list_node = fields.get("key"), fields.get("phrases")
        if key_node is not None:
            keys[intent] = str(key_node.value)
        if not isinstance(list_node, yaml.SequenceNode) or not list_node.value:
            raise NluFormatError(name, _line(list_node or v_node),
                                 f"{intent!r} needs a non-empty 'phrases' list")
        items: list[str] = []
        for p in list_node.value:
            text = str(p.value).strip() if isinstance(p, yaml.ScalarNode) else ""
            if not text:
                raise NluFormatError(name, _line(p), f"empty phrase under {intent!r}")
            canon = _canonical(text)
            if canon in owner and owner[canon][0] != intent:
                raise NluFormatError(name, _line(p), f"phrase {text!r} is under {intent!r} and "
                                     f"{owner[canon][0]!r} (line {owner[canon][1]})")
            owner[canon] = (intent, _line(p))
            items.append(_SPACES.sub(" ", text))
        phrases[intent] = tuple(items)
    return MenuGrammar(str(top["name"].value) if "name" in top else path.stem, phrases, keys)
