"""Load and validate a flow file: pydantic for the shape, then references (nodes, prompts,
actions, sound files), every error with its file and line."""

from __future__ import annotations

from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ivr.flow.spec import Flow, GatherSpec, MenuSpec, Node
from ivr.flow.template import check_template
from ivr.flow.yamlsrc import ConfigError, YamlSource, pydantic_errors

Loc = tuple[Any, ...]
FlowError = ConfigError  # load-time name used by hotline/cli.py; prefer ivr.flow.ConfigError


def load_flow(
    path: Path,
    *,
    prompt_keys: Container[str] | None = None,
    action_names: Container[str] | None = None,
) -> Flow:
    source = YamlSource(path)
    data = source.data
    if isinstance(data, dict):
        data = {"name": Path(path).stem, **data, "source": str(path)}
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(pydantic_errors(source, exc))) from None
    problems = [source.error(loc, msg) for loc, msg in _check(flow, Path(path).parent,
                                                              prompt_keys, action_names)]
    if problems:
        raise ConfigError("\n".join(problems))
    return flow


def _check(flow: Flow, base: Path, prompt_keys: Container[str] | None,
           action_names: Container[str] | None) -> Iterator[tuple[Loc, str]]:
    if flow.start not in flow.nodes:
        yield ("start",), f"unknown node {flow.start!r}"
    for name, node in flow.nodes.items():
        at = ("nodes", name, node.verb)
        for loc, target in _targets(node):
            if target not in flow.nodes:
                yield ("nodes", name, *loc), f"unknown node {target!r}"
        for loc, key in _prompts(node):
            if prompt_keys is not None and key not in prompt_keys:
                yield at + loc, f"unknown prompt {key!r} (not in prompts.yaml)"
        if node.say is not None and node.say.text is not None:
            for problem in check_template(node.say.text):
                yield at + ("text",), problem
        if node.action is not None and action_names is not None \
                and node.action.name not in action_names:
            yield at + ("name",), f"unknown action {node.action.name!r}"
        if node.play is not None and not (base / node.play.file).is_file():
            yield at + ("file",), f"sound file not found: {base / node.play.file}"


def _targets(node: Node) -> Iterator[tuple[Loc, str]]:
    spec, verb = node.spec, node.verb
    if verb == "goto":
        yield (verb,), spec
    for attr in ("next", "on_failure", "on_unavailable", "default"):
        value = getattr(spec, attr, None)
        if isinstance(value, str):
            yield (verb, attr), value
    if isinstance(spec, MenuSpec):
        for key, option in spec.options.items():
            yield (verb, "options", key), option.next
    for attr in ("branches", "cases"):
        for key, target in (getattr(spec, attr, None) or {}).items():
            yield (verb, attr, key), target
    if node.on_max_visits:
        yield ("on_max_visits",), node.on_max_visits


def _prompts(node: Node) -> Iterator[tuple[Loc, str]]:
    spec = node.spec
    if node.say is not None and node.say.prompt is not None:
        yield ("prompt",), node.say.prompt
    if isinstance(spec, GatherSpec | MenuSpec):
        for attr in ("prompt", "no_input_prompt", "invalid_prompt"):
            if getattr(spec, attr):
                yield (attr,), getattr(spec, attr)
