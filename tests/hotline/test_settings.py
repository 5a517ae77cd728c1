"""Settings from the environment (prefix HOTLINE_) and the values derived from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.settings import REPO_CONFIG_DIR, Settings

ENV = ("HOTLINE_SIP_PORT", "HOTLINE_HTTP_PORT", "HOTLINE_DATA_DIR", "HOTLINE_ADDRESS",
       "HOTLINE_DATABASE_URL", "HOTLINE_CONFIG_DIR", "HOTLINE_WORKER_BASE_PORT",
       "HOTLINE_MEDIA_WORKERS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = Settings()
    assert (s.address, s.sip_port, s.http_port) == ("127.0.0.1", 5060, 8000)
    # Relative paths are made absolute at once: kamailio changes directory (a relative data
    # dir broke `hotline run` from a fresh clone).
    assert s.data_dir == Path("./var").resolve() and s.data_dir.is_absolute()
    assert s.config_dir == REPO_CONFIG_DIR
    assert s.flows_dir == REPO_CONFIG_DIR / "flows"
    assert s.prompts_file == REPO_CONFIG_DIR / "prompts.yaml"
    assert s.worker_ports[:2] == [5061, 5062]
    assert len(s.worker_ports) == s.media_workers
    assert s.resolved_database_url == f"sqlite:///{(Path('./var') / 'hotline.db').resolve()}"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_SIP_PORT", "15060")
    monkeypatch.setenv("HOTLINE_HTTP_PORT", "18000")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTLINE_ADDRESS", "192.0.2.10")
    monkeypatch.setenv("HOTLINE_MEDIA_WORKERS", "3")
    s = Settings()
    assert (s.sip_port, s.http_port, s.address) == (15060, 18000, "192.0.2.10")
    assert s.data_dir == tmp_path / "data"
    assert s.worker_ports == [15061, 15062, 15063]  # derived from the SIP port
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'hotline.db'}"
    assert s.recordings_dir == tmp_path / "data" / "recordings"
    assert s.journal_dir == tmp_path / "data" / "journal"
    assert s.prompt_cache_dir == tmp_path / "data" / "prompts"


def test_database_url_and_worker_base_port(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    url = "postgresql+psycopg://hotline@127.0.0.1:5432/hotline"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_WORKER_BASE_PORT", "7000")
    monkeypatch.setenv("HOTLINE_MEDIA_WORKERS", "2")
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(tmp_path))
    s = Settings()
    assert s.resolved_database_url == url
    assert s.worker_ports == [7000, 7001]
    assert s.flows_dir == tmp_path / "flows"


def test_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SIP_PORT", "not-a-port")
    with pytest.raises(ValueError, match="sip_port"):
        Settings()
