"""FlowRepository: flows by name from configs/flows/NAME.yaml, hot-reloaded and validated
against the current prompts and the known actions."""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path

from ivr.flow.loader import load_flow
from ivr.flow.prompts import PromptBook
from ivr.flow.reload import Reloading
from ivr.flow.spec import Flow
from ivr.flow.yamlsrc import ConfigError


class FlowRepository:
    def __init__(self, flows_dir: Path, prompts: PromptBook | None = None,
                 action_names: Container[str] | None = None) -> None:
        self.flows_dir = Path(flows_dir)
        self._prompts = prompts
        self._actions = action_names
        self._flows: dict[str, Reloading[Flow]] = {}

    def _load(self, path: Path) -> Flow:
        keys = self._prompts.current() if self._prompts is not None else None
        return load_flow(path, prompt_keys=keys, action_names=self._actions)

    def get(self, name: str = "main") -> Flow:
        """The current version of flow ``name`` (ConfigError if it never loaded)."""
        if name not in self._flows:
            path = self.flows_dir / f"{name}.yaml"
            if not path.is_file():
                raise ConfigError(f"{path}: flow {name!r} not found")
            self._flows[name] = Reloading(path, self._load)
        return self._flows[name].get()
