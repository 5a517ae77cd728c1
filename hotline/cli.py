"""The ``hotline`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from hotline.logs import configure_logging
from hotline.settings import Settings

log = logging.getLogger("hotline")


def _run(settings: Settings, _args: argparse.Namespace) -> int:
    from hotline.runtime import StartupError, run_forever

    try:
        asyncio.run(run_forever(settings))
    except StartupError as exc:
        log.error("启动失败 / start-up failed: %s", exc)
        return 2
    return 0


def _demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from business.db import create_schema, make_engine, make_session_factory
    from business.demo import load_demo_data

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    create_schema(engine)
    load_demo_data(make_session_factory(engine), accounts=args.accounts)
    return 0


def _check_flows(settings: Settings, _args: argparse.Namespace) -> int:
    """Validate prompts.yaml and every flow (shape, nodes, prompt keys, actions), naming the
    file and line of each error."""
    from ivr.actions import ACTION_NAMES
    from ivr.flow import ConfigError, FlowRepository, PromptBook

    prompts = PromptBook(settings.prompts_file)
    try:
        prompts.current()
        print(f"ok    {settings.prompts_file}")
    except ConfigError as exc:
        print(f"error {exc}")
        return 1
    flows = sorted(settings.flows_dir.glob("*.yaml"))
    if not flows:
        print(f"error {settings.flows_dir}: no flow files (*.yaml)")
        return 1
    repository = FlowRepository(settings.flows_dir, prompts, ACTION_NAMES)
    failed = False
    for path in flows:
        try:
            repository.get(path.stem)
            print(f"ok    {path}")
        except ConfigError as exc:
            failed = True
            print(f"error {exc}")
    return 1 if failed else 0


def _asr_check(_settings: Settings, args: argparse.Namespace) -> int:
    from asr.check import main as check_main

    return check_main([args.model, *(["--wav", args.wav] if args.wav else [])])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="95598 hotline service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the whole product in the foreground").set_defaults(
        handler=_run
    )
    demo = commands.add_parser("demo-data", help="create the schema and load demo data")
    demo.add_argument("--accounts", type=int, default=10_000, help="number of accounts")
    demo.set_defaults(handler=_demo_data)
    commands.add_parser("check-flows", help="validate the IVR flows").set_defaults(
        handler=_check_flows
    )
    asr_check = commands.add_parser("asr-check", help="check a Vosk model directory")
    asr_check.add_argument("model", help="the model directory (as for HOTLINE_ASR_MODEL)")
    asr_check.add_argument("--wav", help="a test WAV file to decode")
    asr_check.set_defaults(handler=_asr_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    return args.handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
