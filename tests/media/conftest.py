from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.media.harness import make_prompt

REQUIRED_TOOLS = {"sipp": "sip-tester", "kamailio": "kamailio", "sox": "sox"}


@pytest.fixture(scope="session")
def prompt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s 8 kHz prompt; fails (not skips) when the Debian tools are missing."""
    missing = [pkg for tool, pkg in REQUIRED_TOOLS.items()
               if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        pytest.fail(f"media tests need Debian packages: apt-get install -y {' '.join(missing)}")
    return make_prompt(tmp_path_factory.mktemp("prompts") / "prompt.wav", seconds=1.0)
