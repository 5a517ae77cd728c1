"""pjsua2 library set-up for one worker: one pj thread, null audio, G.711 only, 8 kHz."""

from __future__ import annotations

import logging

import pjsua2 as pj

from ivr.media.config import MIN_SESSION_EXPIRES, WorkerConfig

log = logging.getLogger(__name__)

CODEC_PRIORITY = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}
PJ_LOG_LEVELS = {"DEBUG": 4, "INFO": 2, "WARNING": 1, "ERROR": 1}


def create_endpoint(ep: pj.Endpoint, config: WorkerConfig) -> None:
    """libCreate + libInit + transport + libStart on the calling (main) thread."""
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    ep_cfg.uaConfig.maxCalls = config.max_legs
    ep_cfg.uaConfig.userAgent = f"hotline-media/{config.worker_id}"
    ep_cfg.logConfig.level = PJ_LOG_LEVELS.get(config.log_level.upper(), 2)
    ep_cfg.logConfig.consoleLevel = ep_cfg.logConfig.level
    ep_cfg.medConfig.clockRate = 8000
    ep_cfg.medConfig.sndClockRate = 8000
    ep_cfg.medConfig.channelCount = 1
    ep_cfg.medConfig.threadCnt = 0
    ep_cfg.medConfig.noVad = True
    ep_cfg.medConfig.ecTailLen = 0
    # Keep the (null) sound device, hence the conference clock, running all the time: the
    # bridge removes ports on its clock tick, so an idle-closed device leaks every call's port.
    ep_cfg.medConfig.sndAutoCloseTime = -1
    ep.libInit(ep_cfg)
    ep.audDevManager().setNullDev()
    _create_transport(ep, config)
    ep.libStart()
    _set_codecs(ep)


def _create_transport(ep: pj.Endpoint, config: WorkerConfig) -> None:
    tcfg = pj.TransportConfig()
    tcfg.port = config.sip_port
    tcfg.boundAddress = config.bind_address
    tcfg.publicAddress = config.public_address
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)


def _set_codecs(ep: pj.Endpoint) -> None:
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, CODEC_PRIORITY.get(codec.codecId, 0))


def account_config(config: WorkerConfig) -> pj.AccountConfig:
    """A local account (no registration) that takes the worker's incoming calls."""
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:hotline@{config.public_address}:{config.sip_port}"
    acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
    expires = max(MIN_SESSION_EXPIRES, config.session_timer)
    acfg.callConfig.timerSessExpiresSec = expires
    acfg.callConfig.timerMinSESec = MIN_SESSION_EXPIRES
    mcfg = acfg.mediaConfig.transportConfig
    mcfg.port = config.rtp_port
    mcfg.portRange = config.rtp_port_range
    mcfg.boundAddress = config.bind_address
    mcfg.publicAddress = config.public_address
    acfg.natConfig.sdpNatRewriteUse = False
    acfg.natConfig.viaRewriteUse = False
    acfg.natConfig.contactRewriteUse = False
    return acfg
