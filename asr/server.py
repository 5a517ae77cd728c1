"""The ASR service: a websocket endpoint speaking the public vosk-server protocol.

Protocol (alphacep/vosk-server, websocket/asr_server.py), unchanged:

* optional text message ``{"config": {"sample_rate": 8000, "phrase_list": [...], "words": true,
  "max_alternatives": 0}}`` before the audio (``grammar`` is accepted as an alias of
  ``phrase_list``);
* binary messages of 16-bit LE mono PCM, each answered by one JSON text message:
  ``{"partial": "..."}`` or ``{"result": [...], "text": "..."}`` (Vosk's own JSON, passed through);
* ``{"eof" : 1}`` is answered with the final result, then the server closes the connection.

Extensions a vosk-server client never sends (so never sees): config keys ``endpoint_silence_ms``
(end an utterance with a ``result`` answer after that much silence, by our energy VAD) and
``min_speech_ms``. Errors (bad config, wrong sample rate, a text message that is neither config
nor eof) close the connection with code 1003/1008 and a reason; the service carries on.

``GET /health`` answers 200 with JSON (model, sample rate, grammar support, streams).

Run: ``python -m asr.server --model DIR --port 2700`` (binds 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from asr.audio import VadConfig
from asr.engine import MODEL_SETTING, ModelError, StreamConfig, VoskModel, VoskStream, load_model

log = logging.getLogger("hotline.asr.server")

DEFAULT_PORT = 2700
PORT_SETTING = "HOTLINE_ASR_PORT"


class ProtocolError(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_config(message: dict[str, Any], base: StreamConfig) -> StreamConfig:
    """Apply a vosk-server ``config`` object to ``base``; ProtocolError on bad values."""
    cfg = message.get("config")
    if not isinstance(cfg, dict):
        raise ProtocolError(1003, "config must be an object")
    out = base
    try:
        if "sample_rate" in cfg:
            rate = float(cfg["sample_rate"])
            if not 4000 <= rate <= 96000 or rate != int(rate):
                raise ProtocolError(1003, f"sample_rate {cfg['sample_rate']} not in 4000..96000")
            out = replace(out, sample_rate=int(rate))
        phrases = cfg.get("phrase_list", cfg.get("grammar"))
        if phrases is not None:
            if isinstance(phrases, str):
                phrases = json.loads(phrases)
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                raise ProtocolError(1003, "phrase_list must be a list of strings")
            out = replace(out, phrase_list=tuple(phrases) or None)
        if "words" in cfg:
            out = replace(out, words=bool(cfg["words"]))
        if "max_alternatives" in cfg:
            out = replace(out, max_alternatives=max(0, int(cfg["max_alternatives"])))
        vad = out.vad
        if "endpoint_silence_ms" in cfg:
            ms = int(cfg["endpoint_silence_ms"])
            out = replace(out, vad_endpoint=ms > 0)
            if ms > 0:
                vad = replace(vad, silence_ms=ms)
        if "min_speech_ms" in cfg:
            vad = replace(vad, min_speech_ms=max(0, int(cfg["min_speech_ms"])))
        return replace(out, vad=vad)
    except ProtocolError:
        raise
    except (TypeError, ValueError) as exc:
        raise ProtocolError(1003, f"bad config: {exc}") from exc


class AsrServer:
    def __init__(
        self,
        model: VoskModel,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        sample_rate: int = 8000,
        max_streams: int = 200,
        endpoint_silence_ms: int = 0,
        idle_timeout: float = 60.0,
    ):
        self.model = model
        self.host, self.port = host, port
        self.max_streams = max_streams
        self.idle_timeout = idle_timeout
        vad = VadConfig(silence_ms=endpoint_silence_ms or VadConfig().silence_ms)
        self.base_config = StreamConfig(
            sample_rate=sample_rate, vad=vad, vad_endpoint=endpoint_silence_ms > 0
        )
        self.active = 0
        self.served = 0

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "model": str(self.model.info.path),
            "model_sample_rate": self.model.sample_rate,
            "grammar": self.model.supports_grammar,
            "streams": self.active,
            "max_streams": self.max_streams,
            "served": self.served,
        }

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] in ("/health", "/healthz"):
            body = json.dumps(self.health()) + "\n"
            response = connection.respond(HTTPStatus.OK, body)
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    # -- one connection = one stream ------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        if self.active >= self.max_streams:
            await ws.close(1013, "ASR service busy: too many streams")
            return
        self.active += 1
        self.served += 1
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-conn")
        holder: dict[str, VoskStream] = {}
        loop = asyncio.get_running_loop()
        config = self.base_config

        def on_thread(fn_name: str, arg: bytes | None, cfg: StreamConfig) -> str:
            stream = holder.get("s")
            if stream is None:  # created, used and dropped on this connection's thread only
                stream = holder["s"] = VoskStream(self.model, cfg)
            if fn_name == "final":
                return stream.final_raw()
            return stream.accept_raw(arg or b"")[0]

        try:
            while True:
                try:
                    message = await asyncio.wait_for(ws.recv(), self.idle_timeout)
                except TimeoutError:
                    await ws.close(1001, "idle timeout")
                    return
                if isinstance(message, str):
                    try:
                        obj = json.loads(message)
                    except ValueError:
                        raise ProtocolError(1003, "text message is not JSON") from None
                    if not isinstance(obj, dict):
                        raise ProtocolError(1003, "expected a config or eof object")
                    if "config" in obj:
                        if holder:
                            log.warning("config after audio ignored (vosk-server does the same)")
                        else:
                            config = parse_config(obj, config)
                            log.debug("config %s", obj["config"])
                        continue
                    if "eof" in obj:
                        answer = await loop.run_in_executor(
                            executor, on_thread, "final", None, config
                        )
                        await ws.send(answer)
                        await ws.close()
                        return
                    raise ProtocolError(1003, "expected a config or eof object, or binary audio")
                answer = await loop.run_in_executor(executor, on_thread, "accept", message, config)
                await ws.send(answer)
        except ProtocolError as exc:
            log.info("closing %s: %s", ws.remote_address, exc.reason)
            with contextlib.suppress(Exception):
                await ws.close(exc.code, exc.reason[:120])
        except ConnectionClosed:
            log.debug("client %s went away", ws.remote_address)
        except Exception:
            log.exception("stream failed")
            with contextlib.suppress(Exception):
                await ws.close(1011, "internal error")
        finally:
            self.active -= 1
            with contextlib.suppress(Exception):
                await loop.run_in_executor(executor, holder.clear)
            executor.shutdown(wait=False)

    async def serve_forever(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        async with serve(
            self.handler,
            self.host,
            self.port,
            process_request=self._process_request,
            max_size=2**20,
            compression=None,
        ) as server:
            sockets = list(server.sockets)
            self.port = sockets[0].getsockname()[1] if sockets else self.port
            log.info(
                "ASR service listening on ws://%s:%d (model %s, health /health)",
                self.host,
                self.port,
                self.model.info.path,
            )
            print(f"ready ws://{self.host}:{self.port}", flush=True)
            await stop.wait()
            server.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asr.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_SETTING),
        help=f"model directory (default ${MODEL_SETTING})",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get(PORT_SETTING, DEFAULT_PORT)))
    parser.add_argument(
        "--sample-rate", type=int, default=8000, help="when the client sends no config"
    )
    parser.add_argument("--max-streams", type=int, default=200)
    parser.add_argument(
        "--endpoint-silence-ms",
        type=int,
        default=0,
        help="0: Vosk's endpointer only (plain vosk-server behaviour)",
    )
    parser.add_argument("--idle-timeout", type=float, default=60.0)
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        model = load_model(args.model)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = AsrServer(
        model,
        host=args.host,
        port=args.port,
        sample_rate=args.sample_rate,
        max_streams=args.max_streams,
        endpoint_silence_ms=args.endpoint_silence_ms,
        idle_timeout=args.idle_timeout,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await server.serve_forever(stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
