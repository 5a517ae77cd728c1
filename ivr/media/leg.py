"""One call leg inside a worker: a pjsua2 ``Call`` plus its recorder and prompt player.

Every method here runs on the pj thread. Callbacks only record facts and hand them to the
worker (``LegSink``); anything that destroys pjsua2 objects happens later, in the loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import pjsua2 as pj

from ivr.media.protocol import CallAnswered, Dtmf, Event, PromptDone

_USER_RE = re.compile(r"sips?:([^@;>\s]+)@")


def uri_user(uri: str) -> str:
    match = _USER_RE.search(uri or "")
    return match.group(1) if match else ""


class LegSink(Protocol):
    eofs: deque[tuple[str, str]]
    dtmf_per_second: int

    def emit(self, event: Event) -> None: ...
    def leg_disconnected(self, leg: Leg) -> None: ...
    def release_later(self, obj: object) -> None: ...


@dataclass(slots=True)
class LegState:
    leg_id: str
    incoming_at: float = field(default_factory=time.monotonic)
    answered_at: float = 0.0
    answer_requested: bool = False
    announced: bool = False  # CallAnswered sent
    refused: bool = False  # rejected by the worker itself (CallRejected sent, no CallHangup)
    ended: bool = False
    hangup_by: str = ""
    hangup_reason: str = ""
    last_code: int = 0
    last_reason: str = ""
    record_path: str = ""
    prompt_id: str = ""
    rtp_pkts: int = -1
    rtp_seen_at: float = 0.0
    dtmf_window: float = 0.0
    dtmf_count: int = 0


class PromptPlayer(pj.AudioMediaPlayer):
    """A player that reports its end through the sink's queue (never destroyed in onEof2)."""

    def __init__(self, sink: LegSink, leg_id: str, prompt_id: str) -> None:
        super().__init__()
        self._sink = sink
        self._key = (leg_id, prompt_id)

    def onEof2(self) -> None:  # noqa: N802 - pjsua2 callback name
        self._sink.eofs.append(self._key)


class LegCall(pj.Call):
    """The pjsua2 call of a leg. It is destroyed as soon as it reports DISCONNECTED.

    pjsua2's ``~Call`` clears the user data of its call slot and hangs that slot up. Call slots
    are reused, so a ``Call`` that outlives its call would cut off a later caller: the only
    strong reference is dropped inside the DISCONNECTED callback (pjsua2's "delete this").
    """

    def __init__(self, leg: Leg, account: pj.Account, call_id: int) -> None:
        super().__init__(account, call_id)
        self.leg: Leg | None = leg

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        ci = self.getInfo()
        leg = self.leg
        if leg is not None and ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.leg = None
            leg.disconnected(ci.lastStatusCode, ci.lastReason)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        if self.leg is None:
            return
        ci = self.getInfo()
        media = list(ci.media)
        for mi in media:
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.leg.attach(self.getAudioMedia(mi.index))
                return

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        if self.leg is not None:
            self.leg.dtmf(prm.method, str(prm.digit))


class Leg:
    def __init__(self, sink: LegSink, account: pj.Account, call_id: int, leg_id: str) -> None:
        self.sink = sink
        self.state = LegState(leg_id)
        self.audio: pj.AudioMedia | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.player: PromptPlayer | None = None
        self.call: LegCall | None = LegCall(self, account, call_id)

    def info(self) -> pj.CallInfo:
        return self._call().getInfo()

    def _call(self) -> LegCall:
        if self.call is None:
            raise RuntimeError(f"call {self.state.leg_id} has ended")
        return self.call

    # ------------------------------------------------------------------ from LegCall

    def disconnected(self, code: int, reason: str) -> None:
        self.state.ended = True
        self.state.last_code, self.state.last_reason = code, reason
        self.call = None  # the last strong reference: pjsua2 deletes the Call after the callback
        self.audio = None  # its conference port is gone with the call
        self.sink.leg_disconnected(self)

    def dtmf(self, method: int, digit: str) -> None:
        if self.state.ended or not self._dtmf_allowed():
            return
        kind = "info" if method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
        self.sink.emit(Dtmf(call_id=self.state.leg_id, digit=digit[:1].upper(), method=kind))

    # ------------------------------------------------------------------ media

    def attach(self, audio: pj.AudioMedia) -> None:
        self.audio = audio
        if self.state.record_path and self.recorder is None:
            self._start_recorder()
        if self.recorder is not None:
            audio.startTransmit(self.recorder)
        if self.player is not None:
            self.player.startTransmit(audio)
        if not self.state.announced and self.state.answer_requested:
            self.state.announced = True
            self.state.answered_at = self.state.rtp_seen_at = time.monotonic()
            self.sink.emit(CallAnswered(call_id=self.state.leg_id, codec=self._codec()))

    def _start_recorder(self) -> None:
        path = self.state.record_path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(path)
        self.recorder = recorder

    def _codec(self) -> str:
        try:
            call = self._call()
            ci = call.getInfo()
            media = list(ci.media)
            audio = [m.index for m in media if m.type == pj.PJMEDIA_TYPE_AUDIO]
            return call.getStreamInfo(audio[0]).codecName if audio else ""
        except (pj.Error, RuntimeError):
            return ""

    def play(self, prompt_id: str, files: list[str]) -> None:
        """Start a prompt; the caller has already stopped the previous one."""
        player = PromptPlayer(self.sink, self.state.leg_id, prompt_id)
        if len(files) == 1:
            player.createPlayer(files[0], pj.PJMEDIA_FILE_NO_LOOP)
        else:
            player.createPlaylist(pj.StringVector(files), "", pj.PJMEDIA_FILE_NO_LOOP)
        self.player = player
        self.state.prompt_id = prompt_id
        if self.audio is not None:
            player.startTransmit(self.audio)
        if self.recorder is not None:
            player.startTransmit(self.recorder)

    def finish_prompt(self, interrupted: bool, notify: bool = True) -> None:
        player, prompt_id = self.player, self.state.prompt_id
        self.player, self.state.prompt_id = None, ""
        if player is None:
            return
        _quiet(player.stopTransmit, self.audio)
        _quiet(player.stopTransmit, self.recorder)
        self.sink.release_later(player)
        if notify:
            self.sink.emit(PromptDone(self.state.leg_id, prompt_id, interrupted=interrupted))

    def close_media(self) -> None:
        """Stop the prompt and close the recording (the WAV is complete afterwards)."""
        self.finish_prompt(interrupted=True, notify=False)
        recorder, self.recorder = self.recorder, None
        del recorder  # the last reference: closes and finalises the WAV file now
        self.audio = None

    # ------------------------------------------------------------------ call control

    def respond(self, code: int, reason: str = "") -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        if reason:
            prm.reason = reason
        self._call().answer(prm)

    def end(self, by: str, code: int = 0, reason: str = "") -> None:
        """Hang up (BYE) or send a final response if not answered yet."""
        if self.state.ended or self.call is None:
            return
        self.state.hangup_by = self.state.hangup_by or by
        self.state.hangup_reason = self.state.hangup_reason or reason
        prm = pj.CallOpParam()
        if not self.state.answer_requested:
            prm.statusCode = code if 300 <= code < 700 else 480
        self.call.hangup(prm)

    def rx_packets(self) -> int:
        """RTP packets received so far on the audio stream (-1 when unknown)."""
        call = self.call
        if call is None:
            return -1
        try:
            ci = call.getInfo()
            media = list(ci.media)
            for mi in media:
                if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                    if mi.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                        return -2  # on hold or inactive: not a stuck call
                    return call.getStreamStat(mi.index).rtcp.rxStat.pkt
        except pj.Error:
            pass
        return -1

    def _dtmf_allowed(self) -> bool:
        now = time.monotonic()
        if now - self.state.dtmf_window >= 1.0:
            self.state.dtmf_window, self.state.dtmf_count = now, 0
        self.state.dtmf_count += 1
        return self.state.dtmf_count <= self.sink.dtmf_per_second


def _quiet(method, target) -> None:  # type: ignore[no-untyped-def]
    """Call ``method(target)`` ignoring pjsua2 errors (port already gone)."""
    if target is None:
        return
    with contextlib.suppress(pj.Error):
        method(target)
