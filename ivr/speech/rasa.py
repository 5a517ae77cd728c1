"""The Rasa adapter of the ``IntentClassifier`` port, and helpers to train and serve a Rasa NLU.

:class:`RasaIntentClassifier` calls a Rasa 3.6 server's ``POST {url}/model/parse`` and returns the
same :class:`~ivr.speech.intents.IntentResult` as the built-in engine (through
:func:`~ivr.speech.intents.result_from_rasa` and the same confidence threshold). Rasa's
``FallbackClassifier`` answer (``nlu_fallback``) is mapped to ``out_of_scope``. A server that is
down, too slow or answers garbage raises :class:`IntentEngineUnavailable` (an
``IntentEngineError``), never a bare ``OSError``.

Importing this module registers the ``rasa`` engine in :data:`ivr.speech.intents.ENGINES`, so
``make_classifier("rasa", examples, url=..., threshold=...)`` works like ``"builtin"``. Settings
(:func:`classifier_from_env`)::

    HOTLINE_INTENT_ENGINE     builtin (default) | rasa
    HOTLINE_INTENT_THRESHOLD  confidence below which the decision is out_of_scope (0.40)
    HOTLINE_RASA_URL          the Rasa server (http://127.0.0.1:5005)
    HOTLINE_RASA_TIMEOUT      seconds per /model/parse call (2.0)

Rasa 3.6 runs only on Python <= 3.10, so it lives in its own virtual environment
(``scripts/rasa_env.sh``); :func:`train_model` and :class:`RasaServer` drive its ``rasa`` command
as subprocesses (used by the real test and by ``benchmarks/intent_accuracy.py``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.speech.intents import (
    DEFAULT_THRESHOLD,
    ENGINES,
    OUT_OF_SCOPE,
    IntentClassifier,
    IntentEngineError,
    IntentResult,
    dump_nlu,
    make_classifier,
    result_from_rasa,
)

DEFAULT_URL = "http://127.0.0.1:5005"
DEFAULT_TIMEOUT = 2.0
RASA_FALLBACK = "nlu_fallback"
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "rasa" / "config.yml"


class IntentEngineUnavailable(IntentEngineError):
    """The Rasa server could not be reached, timed out, or gave an unusable answer."""


@dataclass
class RasaIntentClassifier:
    """``classify(text)`` through a Rasa server's ``/model/parse``."""

    url: str = DEFAULT_URL
    threshold: float = DEFAULT_THRESHOLD
    timeout: float = DEFAULT_TIMEOUT
    name: str = "rasa"
    _endpoint: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._endpoint = f"{self.url}/model/parse"

    def parse(self, text: str) -> dict[str, Any]:
        """The raw ``/model/parse`` response for ``text``."""
        body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self._endpoint, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace")
            raise IntentEngineUnavailable(
                f"Rasa server at {self.url} answered HTTP {exc.code} to /model/parse: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise IntentEngineUnavailable(
                f"Rasa server at {self.url} unreachable ({reason}); is `rasa run --enable-api` "
                "running there?") from None
        try:
            payload = json.loads(raw)
        except ValueError:
            raise IntentEngineUnavailable(
                f"Rasa server at {self.url} sent non-JSON: {raw[:80]!r}") from None
        if not isinstance(payload, dict):
            raise IntentEngineUnavailable(f"Rasa server at {self.url} sent {type(payload)}")
        return payload

    def classify(self, text: str) -> IntentResult:
        text = str(text)
        if not text.strip():  # Rasa answers an empty text with intent None: nothing to ask
            return IntentResult(OUT_OF_SCOPE, 1.0, ((OUT_OF_SCOPE, 1.0),), text, self.name,
                                rejected=True)
        payload = self.parse(text)
        fell_back = (payload.get("intent") or {}).get("name") == RASA_FALLBACK
        ranking = [r for r in payload.get("intent_ranking") or ()
                   if r.get("name") not in (None, RASA_FALLBACK)]
        top = ranking[0] if ranking else {}
        result = result_from_rasa({"text": text, "intent": top, "intent_ranking": ranking},
                                  self.threshold, engine=self.name)
        if fell_back and result.intent != OUT_OF_SCOPE:  # below Rasa's own fallback threshold
            return IntentResult(OUT_OF_SCOPE, result.confidence, result.ranking, text,
                                self.name, rejected=True)
        return result

    def ping(self) -> bool:
        """Whether the server answers (``GET /``)."""
        try:
            with urllib.request.urlopen(self.url + "/", timeout=self.timeout) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False


def _rasa_factory(examples: Sequence[tuple[str, str]] = (), **kw: Any) -> RasaIntentClassifier:
    # The server is trained separately (from the same configs/nlu.yml); examples are unused.
    return RasaIntentClassifier(**kw)


ENGINES.setdefault("rasa", _rasa_factory)


def classifier_from_env(examples: Sequence[tuple[str, str]],
                        environ: Mapping[str, str] | None = None) -> IntentClassifier:
    """The engine chosen by ``HOTLINE_INTENT_ENGINE`` (see the module docstring)."""
    env = os.environ if environ is None else environ
    engine = env.get("HOTLINE_INTENT_ENGINE", "builtin").strip() or "builtin"
    kw: dict[str, Any] = {"threshold": float(env.get("HOTLINE_INTENT_THRESHOLD",
                                                     DEFAULT_THRESHOLD))}
    if engine == "rasa":
        kw["url"] = env.get("HOTLINE_RASA_URL", DEFAULT_URL)
        kw["timeout"] = float(env.get("HOTLINE_RASA_TIMEOUT", DEFAULT_TIMEOUT))
    return make_classifier(engine, examples, **kw)


# --------------------------------------------------------------------------- train and serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rasa_env(venv: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update({"PATH": f"{venv / 'bin'}:{env.get('PATH', '')}", "VIRTUAL_ENV": str(venv),
                "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore",
                "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    return env


def train_model(venv: str | Path, examples: Sequence[tuple[str, str]], workdir: str | Path,
                config: str | Path = CONFIG, *, timeout: float = 600) -> Path:
    """``rasa train nlu`` on ``examples`` (written with :func:`dump_nlu`); the model's path."""
    venv, workdir = Path(venv), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    nlu = workdir / "nlu.yml"
    nlu.write_text(dump_nlu(examples), encoding="utf-8")
    models = workdir / "models"
    cmd = [str(venv / "bin" / "rasa"), "train", "nlu", "--nlu", str(nlu), "-c", str(config),
           "--out", str(models), "--fixed-model-name", "nlu"]
    proc = subprocess.run(cmd, cwd=workdir, env=_rasa_env(venv), capture_output=True, text=True,
                          timeout=timeout, check=False)
    found = sorted(models.glob("*.tar.gz"))
    if proc.returncode != 0 or not found:
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise RuntimeError(f"rasa train nlu failed (exit {proc.returncode}):\n{tail}")
    return found[0]


@dataclass
class RasaServer:
    """``rasa run --enable-api`` on 127.0.0.1 and a free port, stopped by PID on exit."""

    venv: Path
    model: Path
    port: int = 0
    log: Path | None = None
    startup_timeout: float = 180.0
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RasaServer:
        self.port = self.port or free_port()
        log = self.log or Path(self.model).parent / "rasa-run.log"
        cmd = [str(Path(self.venv) / "bin" / "rasa"), "run", "--enable-api", "-i", "127.0.0.1",
               "-p", str(self.port), "--model", str(self.model)]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=Path(self.model).parent, stdout=out,
                                         stderr=subprocess.STDOUT, env=_rasa_env(Path(self.venv)),
                                         start_new_session=True)
        probe = RasaIntentClassifier(self.url, timeout=5.0)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rasa run exited with {self.proc.returncode}; see {log}:\n"
                                   + log.read_text(errors="replace")[-2000:])
            try:
                if probe.parse("你好").get("intent") is not None:  # model loaded
                    return self
            except IntentEngineError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"rasa run did not answer within {self.startup_timeout:.0f} s; "
                           f"see {log}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)  # its own session: the rasa process and its children
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> RasaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
