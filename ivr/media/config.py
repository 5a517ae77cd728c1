"""Configuration of one media worker process (built by the server, read by the worker)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MIN_SESSION_EXPIRES = 90  # RFC 4028 minimum Min-SE


@dataclass(slots=True)
class WorkerConfig:
    worker_id: int = 0
    generation: int = 0  # restart count; part of the leg ids so they never repeat
    bind_address: str = "127.0.0.1"
    advertised_address: str = ""  # defaults to bind_address
    sip_port: int = 5061
    rtp_port: int = 20000
    rtp_port_range: int = 40
    max_legs: int = 4
    reserved_legs: int = 0
    trusted_sources: list[str] = field(default_factory=list)
    control_host: str = "127.0.0.1"
    control_port: int = 0
    rtp_timeout: float = 30.0
    session_timer: int = 1800
    max_call_seconds: float = 1800.0
    dtmf_per_second: int = 20  # per leg; digits beyond this are dropped (flood guard)
    log_level: str = "INFO"
    log_file: str = ""

    @property
    def public_address(self) -> str:
        return self.advertised_address or self.bind_address

    @property
    def inbound_limit(self) -> int:
        return max(0, self.max_legs - self.reserved_legs)

    def validate(self) -> None:
        if not 0 < self.sip_port < 65536 or not 0 < self.control_port < 65536:
            raise ValueError("sip_port and control_port must be in 1..65535")
        if self.max_legs < 1 or self.reserved_legs < 0:
            raise ValueError("max_legs must be >= 1 and reserved_legs >= 0")
        if self.rtp_port_range < 2 * self.max_legs:
            raise ValueError("rtp_port_range must hold an RTP and RTCP port per leg")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown worker config keys: {sorted(unknown)}")
        return cls(**data)


def parse_args(argv: list[str] | None = None) -> WorkerConfig:
    """``--config FILE`` (JSON) and/or one ``--field value`` per config field."""
    parser = argparse.ArgumentParser(prog="python -m ivr.media.worker")
    parser.add_argument("--config", type=Path, help="JSON file with the worker config")
    for f in fields(WorkerConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "trusted_sources":
            parser.add_argument(flag, dest=f.name, action="append")
        else:
            kind = {int: int, float: float}.get(type(getattr(WorkerConfig(), f.name)), str)
            parser.add_argument(flag, dest=f.name, type=kind)
    args = vars(parser.parse_args(argv))
    data: dict[str, Any] = {}
    path = args.pop("config")
    if path is not None:
        data.update(json.loads(path.read_text()))
    data.update({k: v for k, v in args.items() if v is not None})
    config = WorkerConfig.from_dict(data)
    config.validate()
    return config
