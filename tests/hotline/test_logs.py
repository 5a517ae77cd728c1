"""Phone numbers and names are masked in logs; account and work-order numbers are not."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from hotline import logs
from hotline.logs import configure_logging, mask_personal_data


@pytest.mark.parametrize(("text", "masked"), [
    ("caller 13904710001 hung up", "caller 139****0001 hung up"),
    ("from +8613800138000", "from +86138****8000"),
    ("from 8613800138000", "from 86138****8000"),
    ("from 0086 138-0013-8000", "from 0086 138-****-8000"),
    ("138 0013 8000", "138 **** 8000"),
    ("sip:13904710001@127.0.0.1:5060", "sip:139****0001@127.0.0.1:5060"),
    ("tel 0471-6661234", "tel 0471-****1234"),
    ("tel (010) 12345678", "tel (010) ****5678"),
    ("tel 047166612345", "tel 0471****2345"),
    ("name=张建国 called", "name=张** called"),
    ("customer_name: 其其格", "customer_name: 其**"),
    ("{'customer_name': '巴特尔', 'phone': '13904710005'}",
     "{'customer_name': '巴**', 'phone': '139****0005'}"),
    ('{"name": "王"}', '{"name": "王*"}'),
    ("联系人：李桂兰，电话13904760006", "联系人：李**，电话139****0006"),
])
def test_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize("text", [
    "account 5010000001 balance 56.30",  # 10-digit account number
    "account 0471123456",  # a 10-digit number that starts like an area code
    "work order 200101000001 opened",  # 12-digit work-order number
    "work order 250615000123 for 5020000003",
    "keys ['1', '5010000001#']",
    "at 2025-06-15 13:45:12,123 took 1380 ms",
    "call-id 5613800138000x and 123456789012345",
    "filename=/var/recordings/a.wav hostname=pbx1 username=agent",
    "95598 hotline",
])
def test_not_masked(text: str) -> None:
    assert mask_personal_data(text) == text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


def test_configure_logging_masks_records_from_any_logger(
        restore_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(logs.sys, "stderr", stream)
    configure_logging("INFO")
    logging.getLogger("ivr.controller").info("call from %s for account %s, order %s",
                                             "13904710001", "5010000001", "200101000001")
    logging.getLogger("business.journal").warning("name=%s phone=%s", "张建国", "0471-6661234")
    try:
        raise ValueError("contact 13800138000")
    except ValueError:
        logging.getLogger("some.library").exception("failed for %s", "13800138000")
    logging.getLogger("ivr.controller").debug("below the level 13800138000")

    # a logger that does not propagate, with its own handler (uvicorn's set-up)
    own = io.StringIO()
    isolated = logging.getLogger("isolated.thing")
    isolated.propagate = False
    isolated.addHandler(logging.StreamHandler(own))
    try:
        isolated.warning("caller %s", "13904710002")
    finally:
        isolated.handlers.clear()
        isolated.propagate = True

    out = stream.getvalue()
    assert "13904710001" not in out and "139****0001" in out
    assert "5010000001" in out and "200101000001" in out
    assert "name=张**" in out and "张建国" not in out
    assert "0471-****1234" in out and "6661234" not in out
    assert "contact 138****8000" in out  # in the traceback too
    assert "13800138000" not in out
    assert "below the level" not in out
    assert own.getvalue() == "caller 139****0002\n"


def test_configure_logging_twice_keeps_one_handler(restore_logging: None) -> None:
    configure_logging("WARNING")
    factory = logging.getLogRecordFactory()
    configure_logging("debug")
    root = logging.getLogger()
    assert len(root.handlers) == 1 and root.level == logging.DEBUG
    assert logging.getLogRecordFactory() is factory  # not wrapped twice
