"""The ``SpeechRecognizer`` port, its Vosk adapter and a fake for unit tests.

Rules of the engine (vosk 0.3.45, see ENGINEERING.md "Speech"):

* one ``vosk.Model`` per process, loaded explicitly by :func:`load_model` (never at import);
* one ``KaldiRecognizer`` per stream, used from one thread only: :class:`VoskStream` is the
  synchronous per-stream object, :class:`AsyncVoskStream` owns a single-thread executor that is
  the only thread ever touching it;
* audio is 16-bit LE mono PCM at the stream's sample rate (8000 for telephone audio; Vosk
  resamples to the model's rate internally, :mod:`asr.audio` resamples anything else);
* endpointing: Vosk's own endpointer (rules in the model's ``conf/model.conf``; vosk 0.3.45 has
  no ``SetEndpointerMode``/``SetEndpointerDelays``) cuts results into segments, and our energy
  VAD (:class:`asr.audio.EnergyVad`) ends the utterance after the configured silence and decides
  when speech is long enough to barge in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from asr.audio import TELEPHONE_RATE, EnergyVad, VadConfig

log = logging.getLogger("hotline.asr")

MODEL_SETTING = "HOTLINE_ASR_MODEL"
INSTALL_HINT = (
    f"Set {MODEL_SETTING} to an unpacked Vosk model directory, for example "
    "vosk-model-small-cn-0.22 from the Vosk project (https://alphacephei.com/vosk/models): "
    "unzip vosk-model-small-cn-0.22.zip into a directory such as "
    "/opt/vosk/vosk-model-small-cn-0.22 "
    f"and set {MODEL_SETTING}=/opt/vosk/vosk-model-small-cn-0.22. "
    "Without a model the IVR runs keypad-only."
)


class ModelError(RuntimeError):
    """The model directory is missing, incomplete or cannot be loaded."""


class AsrUnavailable(RuntimeError):
    """The recognizer cannot serve this stream (no model, service down, stream closed)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Result:
    """A final result: one Vosk segment, or a whole utterance (segments joined)."""

    text: str
    words: tuple[Word, ...] = ()
    grammar: bool = False
    # "vosk": Vosk's endpointer; "silence": our VAD endpoint; "eof": end of stream;
    # "max_speech": forced after VadConfig.max_speech_s.
    reason: str = "vosk"
    alternatives: tuple[dict[str, Any], ...] = ()

    @property
    def confidence(self) -> float | None:
        """Lowest word confidence (None when the model gave no words)."""
        return min((w.conf for w in self.words), default=None)

    @property
    def mean_confidence(self) -> float | None:
        return sum(w.conf for w in self.words) / len(self.words) if self.words else None

    @classmethod
    def from_vosk(cls, payload: dict[str, Any], grammar: bool, reason: str) -> Result:
        alternatives = tuple(payload.get("alternatives") or ())
        if alternatives and "text" not in payload:
            best = alternatives[0]
            words = tuple(
                Word(
                    w["word"], float(w["start"]), float(w["end"]), float(best.get("confidence", 0))
                )
                for w in best.get("result", [])
            )
            return cls(best.get("text", ""), words, grammar, reason, alternatives)
        words = tuple(
            Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
            for w in payload.get("result", [])
        )
        return cls(payload.get("text", ""), words, grammar, reason)


@dataclass(frozen=True)
class AsrEvent:
    """What a stream reports while audio is fed.

    kind:
      * ``speech_start``: speech lasted ``min_speech_ms`` (barge-in may stop the prompt); ``time``
        is where the speech began;
      * ``partial``: the running hypothesis changed (``text``);
      * ``result``: Vosk's endpointer closed a segment (``result``);
      * ``endpoint``: the utterance is over: ``silence_ms`` of silence after speech, the end of
        the stream, or forced length; ``result`` is the whole utterance, ``time`` the end of the
        last speech (VAD) or of the audio.
    ``at`` is the stream time (seconds of audio fed) when the event was produced.
    """

    kind: str
    time: float
    at: float
    text: str = ""
    result: Result | None = None


@dataclass(frozen=True)
class StreamConfig:
    sample_rate: int = TELEPHONE_RATE
    # Grammar mode: phrases the recognizer may return (Vosk appends "[unk]" handling itself
    # when the phrase list contains "[unk]"). None = free text.
    phrase_list: Sequence[str] | None = None
    words: bool = True
    max_alternatives: int = 0
    partial_words: bool = False
    vad: VadConfig = field(default_factory=VadConfig)
    # End the utterance on our VAD's silence (False: only Vosk's endpointer and the stream end).
    vad_endpoint: bool = True

    @property
    def grammar(self) -> bool:
        return bool(self.phrase_list)


# --------------------------------------------------------------------------- the port


class RecognizerStream(Protocol):
    config: StreamConfig

    async def feed(self, pcm: bytes) -> list[AsrEvent]: ...

    async def finish(self) -> list[AsrEvent]: ...

    async def close(self) -> None: ...


class SpeechRecognizer(Protocol):
    """Port: opens one recognition stream per call leg / gather."""

    @property
    def sample_rate(self) -> int | None: ...

    @property
    def supports_grammar(self) -> bool: ...

    def open_stream(self, config: StreamConfig) -> RecognizerStream: ...


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sample_rate: int | None
    sample_rate_source: str
    supports_grammar: bool
    graph: str  # "HCLr.fst+Gr.fst (lookahead, runtime grammars)" | "HCLG.fst (static)"
    files: tuple[str, ...]


def _conf_options(path: Path) -> dict[str, str]:
    options: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("--"):
                key, _, value = line[2:].partition("=")
                options[key.strip()] = value.strip()
    return options


def inspect_model_dir(path: str | Path | None) -> ModelInfo:
    """Check a model directory's layout without loading it. Raises :class:`ModelError` naming
    HOTLINE_ASR_MODEL and how to install a model."""
    if path is None or str(path).strip() == "":
        raise ModelError(f"no speech model configured ({MODEL_SETTING} is not set). {INSTALL_HINT}")
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"{MODEL_SETTING}={path}: directory does not exist. {INSTALL_HINT}")
    if not p.is_dir():
        raise ModelError(
            f"{MODEL_SETTING}={path}: not a directory (a .zip must be unpacked first). "
            f"{INSTALL_HINT}"
        )
    am = p / "am" / "final.mdl"
    if not am.is_file():
        am = p / "final.mdl"  # old flat layout
    graph_dir = p / "graph" if (p / "graph").is_dir() else p
    hclg = graph_dir / "HCLG.fst"
    hclr, gr = graph_dir / "HCLr.fst", graph_dir / "Gr.fst"
    missing = []
    if not am.is_file():
        missing.append("am/final.mdl")
    if not hclg.is_file() and not (hclr.is_file() and gr.is_file()):
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    conf = p / "conf" / "model.conf"
    if not conf.is_file() and not (p / "mfcc.conf").is_file():
        missing.append("conf/model.conf")
    if missing:
        raise ModelError(
            f"{MODEL_SETTING}={path}: not a Vosk model directory (missing {', '.join(missing)}). "
            f"{INSTALL_HINT}"
        )
    supports_grammar = hclr.is_file() and gr.is_file()
    graph = (
        "HCLr.fst+Gr.fst (lookahead, runtime grammars)"
        if supports_grammar
        else "HCLG.fst (static graph, grammars ignored)"
    )
    mfcc = _conf_options(p / "conf" / "mfcc.conf") or _conf_options(p / "mfcc.conf")
    if "sample-frequency" in mfcc:
        rate: int | None = int(float(mfcc["sample-frequency"]))
        source = "conf/mfcc.conf --sample-frequency"
    elif mfcc:
        rate, source = 16000, "Kaldi default (conf/mfcc.conf has no --sample-frequency)"
    else:
        rate, source = None, "unknown (no conf/mfcc.conf)"
    files = tuple(sorted(str(f.relative_to(p)) for f in p.rglob("*") if f.is_file()))
    return ModelInfo(p.resolve(), rate, source, supports_grammar, graph, files)


class VoskModel:
    """The process's ``vosk.Model`` plus what we know about it. Create with :func:`load_model`."""

    def __init__(self, model: Any, info: ModelInfo, load_seconds: float):
        self.vosk_model = model
        self.info = info
        self.load_seconds = load_seconds

    @property
    def sample_rate(self) -> int | None:
        return self.info.sample_rate

    @property
    def supports_grammar(self) -> bool:
        return self.info.supports_grammar

    def has_word(self, word: str) -> bool:
        return self.vosk_model.vosk_model_find_word(word) >= 0

    def missing_words(self, phrases: Iterable[str]) -> list[str]:
        """Words of a phrase list that are not in the model's vocabulary (Vosk drops them with
        a warning; for Chinese, phrases must be split into the model's words with spaces)."""
        seen: list[str] = []
        for phrase in phrases:
            for word in phrase.split():
                if word != "[unk]" and word not in seen and not self.has_word(word):
                    seen.append(word)
        return seen


_model_lock = threading.Lock()
_process_model: VoskModel | None = None


def load_model(path: str | Path | None, log_level: int = -1) -> VoskModel:
    """Load the process's one Vosk model (again: the same object; another path: an error).

    ``log_level`` is passed to ``vosk.SetLogLevel`` (-1 silences Kaldi's info lines)."""
    global _process_model
    info = inspect_model_dir(path)
    with _model_lock:
        if _process_model is not None:
            if _process_model.info.path == info.path:
                return _process_model
            raise ModelError(
                f"a Vosk model is already loaded in this process ({_process_model.info.path}); "
                "one model per process"
            )
        import vosk

        vosk.SetLogLevel(log_level)
        started = time.perf_counter()
        try:
            model = vosk.Model(str(info.path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelError(
                f"{MODEL_SETTING}={path}: Vosk could not load the model ({exc}); the directory "
                f"is damaged or not a model for this Vosk version. {INSTALL_HINT}"
            ) from exc
        _process_model = VoskModel(model, info, time.perf_counter() - started)
        log.info(
            "vosk model %s loaded in %.2f s (grammar %s)",
            info.path,
            _process_model.load_seconds,
            "yes" if info.supports_grammar else "no",
        )
        return _process_model


# --------------------------------------------------------------------------- Vosk streams


class VoskStream:
    """One Kaldi recognizer and its VAD. NOT thread-safe: use it from one thread only (the
    server's per-connection executor, :class:`AsyncVoskStream`'s executor, or a test)."""

    def __init__(self, model: VoskModel, config: StreamConfig):
        import vosk

        if not 4000 <= int(config.sample_rate) <= 96000:
            raise ValueError(f"sample rate {config.sample_rate} outside 4000..96000 Hz")
        self.model = model
        self.config = config
        self.grammar = config.grammar and model.supports_grammar
        if config.grammar and not model.supports_grammar:
            log.warning("model %s has a static graph: phrase list ignored", model.info.path)
        if self.grammar:
            phrases = json.dumps(list(config.phrase_list or ()), ensure_ascii=False)
            self._rec = vosk.KaldiRecognizer(model.vosk_model, float(config.sample_rate), phrases)
        else:
            self._rec = vosk.KaldiRecognizer(model.vosk_model, float(config.sample_rate))
        self._rec.SetWords(bool(config.words))
        if config.partial_words:
            self._rec.SetPartialWords(True)
        if config.max_alternatives:
            self._rec.SetMaxAlternatives(int(config.max_alternatives))
        self._vad = EnergyVad(int(config.sample_rate), config.vad)
        self._bytes = 0
        self._pending_odd = b""
        self._raw_results: list[str] = []
        self._raw_partial = '{"partial" : ""}'
        self._partial = ""
        self._segments: list[Result] = []  # segments of the current utterance
        self._utterance_start: float | None = None
        self.finished = False

    @property
    def time(self) -> float:
        return self._bytes / 2 / self.config.sample_rate

    # -- the vosk-server level: one raw Vosk JSON answer per chunk --------------------------

    def accept_raw(self, pcm: bytes) -> tuple[str, bool]:
        """Feed a chunk; return (Vosk JSON answer, is_result) exactly as vosk-server would:
        ``Result()`` when Vosk's endpointer (or our VAD endpoint, if enabled) closed a segment,
        else ``PartialResult()``."""
        self.accept(pcm)
        if self._raw_results:
            return merge_raw_results(self._raw_results), True
        return self._raw_partial, False

    def final_raw(self) -> str:
        """``FinalResult()`` of the stream (vosk-server's answer to ``{"eof" : 1}``)."""
        self.finish()
        return merge_raw_results(self._raw_results) if self._raw_results else '{"text": ""}'

    # -- the event level ------------------------------------------------------------------

    def accept(self, pcm: bytes) -> list[AsrEvent]:
        if self.finished:
            raise AsrUnavailable("stream already finished")
        data = self._pending_odd + pcm
        if len(data) % 2:
            data, self._pending_odd = data[:-1], data[-1:]
        else:
            self._pending_odd = b""
        self._raw_results = []
        self._raw_partial = '{"partial" : ""}'
        events: list[AsrEvent] = []
        if not data:
            self._raw_partial = self._rec.PartialResult()
            return events
        self._bytes += len(data)
        now = self.time
        vad_events = self._vad.process(data)
        if self._rec.AcceptWaveform(data):
            raw = self._rec.Result()
            self._raw_results.append(raw)
            seg = Result.from_vosk(json.loads(raw), self.grammar, "vosk")
            self._partial = ""
            if seg.text:
                self._segments.append(seg)
                events.append(AsrEvent("result", now, now, seg.text, seg))
        else:
            self._raw_partial = self._rec.PartialResult()
            partial = json.loads(self._raw_partial).get("partial", "")
            if partial != self._partial:
                self._partial = partial
                events.append(AsrEvent("partial", now, now, partial))
        for ve in vad_events:
            if ve.kind == "speech_start":
                self._utterance_start = ve.time
                events.append(AsrEvent("speech_start", ve.time, now))
            elif ve.kind == "speech_end" and self.config.vad_endpoint:
                forced = ve.detected_at - ve.time < self.config.vad.silence_ms / 1000 - 1e-9
                events.append(self._endpoint(ve.time, now, "max_speech" if forced else "silence"))
        return events

    def _endpoint(self, speech_end: float, now: float, reason: str) -> AsrEvent:
        """Flush the recognizer (FinalResult; Vosk restarts on the next chunk) and report the
        whole utterance."""
        raw = self._rec.FinalResult()
        self._raw_results.append(raw)
        tail = Result.from_vosk(json.loads(raw), self.grammar, reason)
        if tail.text:
            self._segments.append(tail)
        words = tuple(w for s in self._segments for w in s.words)
        text = " ".join(s.text for s in self._segments if s.text)
        alternatives = tail.alternatives if len(self._segments) <= 1 else ()
        utterance = Result(text, words, self.grammar, reason, alternatives)
        self._segments = []
        self._partial = ""
        self._utterance_start = None
        return AsrEvent("endpoint", speech_end, now, text, utterance)

    def finish(self) -> list[AsrEvent]:
        """End of stream: the final result of whatever was said since the last endpoint."""
        if self.finished:
            return []
        self._raw_results = []
        event = self._endpoint(self.time, self.time, "eof")
        self.finished = True
        return [event]

    def reset(self) -> None:
        """Forget the current utterance (e.g. a new gather on the same leg)."""
        self._rec.Reset()
        self._segments = []
        self._partial = ""
        self._vad = EnergyVad(int(self.config.sample_rate), self.config.vad)


def merge_raw_results(raws: Sequence[str]) -> str:
    """One vosk-server answer from the results produced by one chunk (normally exactly one;
    two when Vosk's endpointer and our silence endpoint close in the same chunk)."""
    if len(raws) == 1:
        return raws[0]
    parsed = [json.loads(r) for r in raws]
    spoken = [p for p in parsed if p.get("text") or p.get("alternatives")]
    if len(spoken) <= 1:
        return json.dumps(spoken[0] if spoken else parsed[-1], ensure_ascii=False)
    if any("alternatives" in p for p in spoken):
        return json.dumps(spoken[0], ensure_ascii=False)
    merged: dict[str, Any] = {}
    words = [w for p in spoken for w in p.get("result", [])]
    if words:
        merged["result"] = words
    merged["text"] = " ".join(p["text"] for p in spoken)
    return json.dumps(merged, ensure_ascii=False)


class AsyncVoskStream:
    """A :class:`VoskStream` driven from asyncio through its own single-thread executor, so the
    recognizer is only ever touched by that one thread."""

    def __init__(self, model: VoskModel, config: StreamConfig):
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-stream")
        self._stream: VoskStream | None = None
        self._model = model
        self._closed = False

    async def _call(self, fn: Callable[[VoskStream], Any]) -> Any:
        if self._closed:
            raise AsrUnavailable("stream closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._on_thread, fn)

    def _on_thread(self, fn: Callable[[VoskStream], Any]) -> Any:
        if self._stream is None:  # created on the thread that will use it
            self._stream = VoskStream(self._model, self.config)
        return fn(self._stream)

    async def feed(self, pcm: bytes) -> list[AsrEvent]:
        return await self._call(lambda s: s.accept(pcm))

    async def finish(self) -> list[AsrEvent]:
        return await self._call(lambda s: s.finish())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def drop() -> None:
            self._stream = None  # the recognizer is freed on its own thread

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, drop)
        self._executor.shutdown(wait=False)


class VoskRecognizer:
    """The Vosk adapter of the ``SpeechRecognizer`` port (in-process; the IVR normally talks to
    the ASR service over the vosk-server websocket protocol instead)."""

    def __init__(self, model: VoskModel):
        self.model = model

    @classmethod
    def from_path(cls, path: str | Path | None) -> VoskRecognizer:
        return cls(load_model(path))

    @property
    def sample_rate(self) -> int | None:
        return self.model.sample_rate

    @property
    def supports_grammar(self) -> bool:
        return self.model.supports_grammar

    def open_stream(self, config: StreamConfig) -> AsyncVoskStream:
        return AsyncVoskStream(self.model, config)


# --------------------------------------------------------------------------- the fake


class FakeStream:
    def __init__(self, owner: FakeRecognizer, config: StreamConfig):
        self.config = config
        self._owner = owner
        self._vad = EnergyVad(config.sample_rate, config.vad)
        self._bytes = 0
        self._closed = False
        self._finished = False

    def _result(self, reason: str, end: float, now: float) -> AsrEvent:
        text, conf = self._owner._next()
        if self.config.grammar and self.config.phrase_list and text not in self.config.phrase_list:
            text = ""
        words = tuple(Word(w, 0.0, end, conf) for w in text.split())
        return AsrEvent(
            "endpoint", end, now, text, Result(text, words, self.config.grammar, reason)
        )

    async def feed(self, pcm: bytes) -> list[AsrEvent]:
        if self._owner.unavailable or self._closed or self._finished:
            raise AsrUnavailable("fake recognizer unavailable")
        self._bytes += len(pcm)
        now = self._bytes / 2 / self.config.sample_rate
        events: list[AsrEvent] = []
        for ve in self._vad.process(pcm):
            if ve.kind == "speech_start":
                events.append(AsrEvent("speech_start", ve.time, now))
            elif self.config.vad_endpoint:
                events.append(self._result("silence", ve.time, now))
        return events

    async def finish(self) -> list[AsrEvent]:
        if self._owner.unavailable:
            raise AsrUnavailable("fake recognizer unavailable")
        if self._finished:
            return []
        self._finished = True
        now = self._bytes / 2 / self.config.sample_rate
        return [self._result("eof", now, now)] if self._vad.in_speech else []

    async def close(self) -> None:
        self._closed = True


class FakeRecognizer:
    """Unit-test double: real VAD on the audio fed (speech start, endpoint after silence), and
    scripted texts as the results, one per utterance. In grammar mode a scripted text that is not
    in the phrase list comes back empty, like an out-of-grammar utterance. Set ``unavailable`` to
    simulate the ASR service being down."""

    def __init__(
        self,
        script: Iterable[str | tuple[str, float]] = (),
        sample_rate: int = 16000,
        supports_grammar: bool = True,
    ):
        self._script = [s if isinstance(s, tuple) else (s, 1.0) for s in script]
        self._sample_rate = sample_rate
        self._supports_grammar = supports_grammar
        self.unavailable = False
        self.streams: list[FakeStream] = []

    @property
    def sample_rate(self) -> int | None:
        return self._sample_rate

    @property
    def supports_grammar(self) -> bool:
        return self._supports_grammar

    def say(self, text: str, conf: float = 1.0) -> None:
        self._script.append((text, conf))

    def _next(self) -> tuple[str, float]:
        return self._script.pop(0) if self._script else ("", 0.0)

    def open_stream(self, config: StreamConfig) -> FakeStream:
        if self.unavailable:
            raise AsrUnavailable("fake recognizer unavailable")
        if config.grammar and not self._supports_grammar:
            config = replace(config, phrase_list=None)
        stream = FakeStream(self, config)
        self.streams.append(stream)
        return stream
