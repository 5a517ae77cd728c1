"""Prometheus metrics of one running product (own registry, so tests can run several)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.calls_in_progress = Gauge(
            "hotline_calls_in_progress", "Calls being served by the IVR", registry=self.registry
        )
        self.calls_total = Counter(
            "hotline_calls", "Finished calls by result", ["result"], registry=self.registry
        )
        self.worker_up = Gauge(
            "hotline_media_worker_up", "1 when the media worker is connected", ["worker"],
            registry=self.registry,
        )
        self.worker_legs = Gauge(
            "hotline_media_worker_legs_in_use", "Call legs in use per media worker", ["worker"],
            registry=self.registry,
        )
        self.worker_restarts = Gauge(
            "hotline_media_worker_restarts", "Restarts per media worker", ["worker"],
            registry=self.registry,
        )
        self.worker_recycles = Gauge(
            "hotline_media_worker_recycles", "Planned restarts after worker_max_calls",
            ["worker"], registry=self.registry,
        )
        self.journal_pending = Gauge(
            "hotline_journal_pending", "Journal entries not yet in the database",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
