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
    from ivr.flow.loader import FlowError, load_flow

    failed = False
    for path in sorted(settings.flows_dir.glob("*.yaml")):
        try:
            load_flow(path)
            print(f"ok    {path}")
        except FlowError as exc:
            failed = True
            print(f"error {exc}")
    return 1 if failed else 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    return args.handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
