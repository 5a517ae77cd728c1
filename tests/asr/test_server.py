"""The ASR service as a separate process, driven by an independent vosk-server-protocol client:
plain ``websockets`` calls in the manner of vosk-server's websocket/test.py (config text message,
0.2 s binary chunks each answered with one JSON message, ``{"eof" : 1}``). No hotline client code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[2]
PHRASES = ["네", "아니요", "안녕하세요", "상담원 연결"]


@pytest.fixture(scope="module")
def server(asr_server: str) -> str:
    return asr_server


def vosk_client(uri: str, pcm: bytes, config: dict | None, rate: int = 8000) -> list[dict]:
    """A vosk-server client: every answer, parsed, in order (the last answers the eof)."""
    answers = []
    with connect(uri) as ws:
        if config is not None:
            ws.send(json.dumps({"config": config}))
        step = int(rate * 0.2) * 2
        for i in range(0, len(pcm), step):
            ws.send(pcm[i : i + step])
            answers.append(json.loads(ws.recv(timeout=30)))
        ws.send('{"eof" : 1}')
        answers.append(json.loads(ws.recv(timeout=30)))
    return answers


def texts(answers: list[dict]) -> list[str]:
    return [a["text"] for a in answers if "text" in a and a["text"]]


def assert_vosk_shapes(answers: list[dict]) -> None:
    for a in answers[:-1]:
        assert set(a) in ({"partial"}, {"text"}, {"result", "text"}), a
    assert "text" in answers[-1] and "partial" not in answers[-1]


def health(uri: str) -> dict:
    with urllib.request.urlopen(uri.replace("ws://", "http://") + "/health", timeout=5) as r:
        return json.loads(r.read())


def test_health(server: str) -> None:
    h = health(server)
    assert h["status"] == "ok" and h["grammar"] is True and h["model_sample_rate"] == 16000


@pytest.mark.parametrize("phrase", ["네", "아니요", "상담원 연결"])
def test_grammar_over_the_protocol(server: str, korean, phrase: str) -> None:
    answers = vosk_client(
        server,
        korean(phrase),
        {"sample_rate": 8000, "phrase_list": PHRASES, "words": True, "max_alternatives": 0},
    )
    assert_vosk_shapes(answers)
    assert texts(answers) == [phrase]
    result = next(a for a in answers if a.get("text"))
    assert [w["word"] for w in result["result"]] == phrase.split()
    assert all({"word", "start", "end", "conf"} <= set(w) for w in result["result"])
    assert any(a.get("partial") for a in answers)  # partials before the result


def test_free_text_and_defaults_without_config(server: str, korean) -> None:
    answers = vosk_client(server, korean("네"), None)  # no config: 8000 Hz, free text
    assert_vosk_shapes(answers)
    assert texts(answers) == ["네"]


def test_older_grammar_key_and_endpoint_extension(server: str, korean) -> None:
    pcm = korean("상담원 연결", tail=1.0)
    config = {"sample_rate": 8000, "grammar": PHRASES, "endpoint_silence_ms": 300}
    answers = vosk_client(server, pcm, config)
    assert_vosk_shapes(answers)
    # The result comes before eof, on a chunk ~0.3 s after the speech ends.
    first = next(i for i, a in enumerate(answers) if a.get("text"))
    assert answers[first]["text"] == "상담원 연결" and first < len(answers) - 1
    assert answers[-1]["text"] == ""


def test_alternatives(server: str, korean) -> None:
    answers = vosk_client(server, korean("네"), {"sample_rate": 8000, "max_alternatives": 3})
    alts = [a for a in answers if "alternatives" in a]
    assert alts and alts[0]["alternatives"][0]["text"] == "네"


# ------------------------------------------------------------------ bad input


def test_empty_audio(server: str) -> None:
    assert vosk_client(server, b"", {"sample_rate": 8000}) == [{"text": ""}]


@pytest.mark.parametrize("rate", [0, -8000, "x", 1e9])
def test_wrong_sample_rate_is_refused(server: str, rate) -> None:
    with connect(server) as ws:
        ws.send(json.dumps({"config": {"sample_rate": rate}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1003
    assert health(server)["status"] == "ok"


def test_mismatched_sample_rate_still_answers(server: str, korean) -> None:
    answers = vosk_client(server, korean("네"), {"sample_rate": 16000}, rate=16000)
    assert_vosk_shapes(answers)


def test_garbage(server: str) -> None:
    with connect(server) as ws:
        ws.send(os.urandom(3001))  # odd length noise: answered like any audio
        assert set(json.loads(ws.recv(timeout=10))) <= {"partial", "text", "result"}
        ws.send("this is not json")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1003
    with connect(server) as ws:
        ws.send('{"hello": 1}')
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert health(server)["status"] == "ok"


def test_client_disconnects_mid_stream(server: str, korean) -> None:
    pcm = korean("상담원 연결")
    for _ in range(3):
        with contextlib.suppress(OSError, ConnectionClosed), connect(server) as ws:
            ws.send(json.dumps({"config": {"sample_rate": 8000}}))
            ws.send(pcm[:3200])
            ws.send(pcm[3200:6400])
            ws.socket.close()  # gone without a close handshake
    deadline = time.monotonic() + 10
    while health(server)["streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(server)["streams"] == 0
    assert texts(vosk_client(server, korean("네"), {"phrase_list": PHRASES})) == ["네"]


def test_very_long_speech(server: str, korean) -> None:
    pcm = b"".join(korean(p, lead=0.2, tail=0.2) for p in ["상담원 연결", "아니요"] * 10)
    answers = vosk_client(server, pcm, {"sample_rate": 8000, "phrase_list": PHRASES})
    assert_vosk_shapes(answers)
    assert "상담원 연결" in " ".join(texts(answers))


def test_hundred_connections_at_once(server: str, korean) -> None:
    pcm = korean("네")

    async def one(i: int) -> str:
        try:
            async with aconnect(server, open_timeout=60) as ws:
                await ws.send(json.dumps({"config": {"sample_rate": 8000, "phrase_list": PHRASES}}))
                for j in range(0, len(pcm), 3200):
                    await ws.send(pcm[j : j + 3200])
                    await asyncio.wait_for(ws.recv(), 120)
                await ws.send('{"eof" : 1}')
                await asyncio.wait_for(ws.recv(), 120)
                return "ok"
        except ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else None}"

    async def run() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(100)))

    outcomes = asyncio.run(run())
    # Every connection is either served or cleanly refused as busy; the service lives on.
    assert all(o in ("ok", "closed 1013") for o in outcomes), set(outcomes)
    assert outcomes.count("ok") >= 50
    assert health(server)["status"] == "ok"
