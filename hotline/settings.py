"""Process-wide settings, read from the environment (prefix ``HOTLINE_``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    # Network: one address to listen on and to advertise in SIP and SDP.
    address: str = "127.0.0.1"
    sip_port: int = 5060
    http_port: int = 8000
    # Media workers listen on worker_base_port + i (default: sip_port + 1 + i).
    worker_base_port: int | None = None
    # Each worker gets rtp_ports_per_worker RTP/RTCP ports starting at rtp_base_port + i * that.
    rtp_base_port: int = 20000
    rtp_ports_per_worker: int = 40

    data_dir: Path = Path("./var")
    config_dir: Path = REPO_CONFIG_DIR
    database_url: str | None = None
    # Load demo data into an empty database on start (and keep the demo outages current).
    demo_data: bool = True

    # Media server capacity, counted in call legs.
    media_workers: int = 15
    legs_per_worker: int = 4  # PJSUA_MAX_CALLS of the pjsua2 wheel in use
    reserved_legs_per_worker: int = 0  # room kept for agent legs bridged in the same worker
    # Recycle a media worker (drain, then a fresh process) after it answered this many calls
    # (0 = never): a safety net against memory growth inside pjsua.
    worker_max_calls: int = 500

    # Who may send INVITEs straight to a worker (the SIP front is always trusted).
    trusted_sources: list[str] = Field(default_factory=list)
    # Per-source INVITE rate limit at the SIP front (requests per 2 s window).
    invite_rate_limit: int = 30

    # Stuck-call cleanup.
    rtp_timeout_seconds: float = 30.0
    session_timer_seconds: int = 1800
    max_call_seconds: float = 1800.0

    # Shutdown: how long calls in progress may go on after Ctrl-C / SIGTERM.
    drain_timeout_seconds: float = 30.0

    tts_voice: str = "cmn-latn-pinyin"
    # Speech recognition (issue 3): a Vosk model directory; unset = keypad only.
    asr_model: Path | None = None
    asr_port: int = 2700
    log_level: str = "INFO"

    @field_validator("data_dir", "config_dir", "asr_model")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Child processes (kamailio) change directory: every path they get must be absolute.
        return value.expanduser().resolve() if value is not None else None

    @property
    def worker_ports(self) -> list[int]:
        base = self.worker_base_port or self.sip_port + 1
        return [base + i for i in range(self.media_workers)]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def prompt_cache_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def flows_dir(self) -> Path:
        return self.config_dir / "flows"

    @property
    def prompts_file(self) -> Path:
        return self.config_dir / "prompts.yaml"
