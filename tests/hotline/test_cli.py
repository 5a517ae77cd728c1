"""The ``hotline`` command: demo-data and check-flows (run as a separate process)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from hotline.settings import REPO_CONFIG_DIR

SCRIPT = Path(sys.executable).with_name("hotline")


def _hotline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "hotline.cli"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run([*command, *args], env={**full_env, **env}, capture_output=True,
                          text=True, timeout=300, check=False)


def test_demo_data_creates_the_sqlite_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = _hotline("demo-data", "--accounts", "200", env={"HOTLINE_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    db = data / "hotline.db"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (200,)
        assert conn.execute("SELECT count(*) FROM accounts WHERE account_no = '5010000001'") \
            .fetchone() == (1,)
    again = _hotline("demo-data", "--accounts", "200", env={"HOTLINE_DATA_DIR": str(data)})
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(db) as conn:  # a second run adds nothing
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (200,)


def test_check_flows_passes_on_the_repository_configs(tmp_path: Path) -> None:
    result = _hotline("check-flows", env={"HOTLINE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok    {REPO_CONFIG_DIR / 'flows' / 'main.yaml'}" in result.stdout


def _broken_copy(tmp_path: Path, old: str, new: str,
                 name: str = "flows/main.yaml") -> tuple[Path, Path, int]:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIG_DIR, configs)
    path = configs / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    lines = text.splitlines()
    line = next(i for i, content in enumerate(lines, 1) if old in content)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return configs, path, line


def _check(configs: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _hotline("check-flows", env={"HOTLINE_CONFIG_DIR": str(configs),
                                        "HOTLINE_DATA_DIR": str(tmp_path / "data")})


def test_check_flows_names_file_and_line_of_an_unknown_node(tmp_path: Path) -> None:
    configs, path, line = _broken_copy(tmp_path, "next: check_announcement}",
                                       "next: no_such_node}")
    result = _check(configs, tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{path}:{line}:" in result.stdout and "no_such_node" in result.stdout


def test_check_flows_finds_an_unknown_prompt_and_action(tmp_path: Path) -> None:
    configs, path, line = _broken_copy(tmp_path, "name: emergency_announcement",
                                       "name: no_such_action")
    flow = path.read_text(encoding="utf-8").replace("say: {prompt: greeting,",
                                                    "say: {prompt: no_such_prompt,", 1)
    path.write_text(flow, encoding="utf-8")
    result = _check(configs, tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{path}:{line}:" in result.stdout and "no_such_action" in result.stdout
    assert "no_such_prompt" in result.stdout


def test_check_flows_reports_yaml_syntax_with_the_line(tmp_path: Path) -> None:
    configs, path, line = _broken_copy(tmp_path, "start: greeting", "start: [greeting")
    result = _check(configs, tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{path}:" in result.stdout and "YAML" in result.stdout


def test_check_flows_reports_a_broken_prompts_file(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIG_DIR, configs)
    prompts = configs / "prompts.yaml"
    prompts.write_text(prompts.read_text(encoding="utf-8") + "\nbad key: 文本\n",
                       encoding="utf-8")
    result = _check(configs, tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{prompts}:" in result.stdout and "bad key" in result.stdout
