"""Fixtures for the end-to-end tests: the whole product (``hotline run``) on its own ports.

``product`` is shared by the tests of a module; ``start_product`` starts one with its own
environment (a config dir, a database URL, a drain limit). Teardown sends SIGTERM and asserts
the product exits 0 within its drain limit and leaves none of its child processes behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Product

REQUIRED_TOOLS = {"sipp": "sip-tester", "kamailio": "kamailio", "espeak-ng": "espeak-ng"}


def _check_tools() -> None:
    missing = [pkg for tool, pkg in REQUIRED_TOOLS.items()
               if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        pytest.fail(f"end-to-end tests need Debian packages: apt-get install -y "
                    f"{' '.join(missing)}")


@pytest.fixture(scope="module")
def start_product(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[..., Product]]:
    """``start_product(env={...}, drain_timeout=...)`` -> a started Product, stopped at the
    end of the module (or earlier by the test) with the clean-exit checks."""
    _check_tools()
    started: list[Product] = []

    def start(**kwargs) -> Product:
        product = Product(tmp_path_factory.mktemp("hotline"), **kwargs)
        started.append(product)
        product.start()
        return product

    yield start
    errors = []
    for product in started:
        try:
            product.stop()
        except AssertionError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def product(start_product: Callable[..., Product]) -> Product:
    """One product (2 media workers x 4 legs, SQLite) for the tests of a module."""
    return start_product()
