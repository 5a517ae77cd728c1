"""Logging set-up. Phone numbers and personal names never reach a log in clear.

Masked: mobile numbers (11 digits from 13x-19x, also with +86/0086/86 and with spaces or
dashes: 138****5678), landlines (area code + 7-8 digits, 11-12 digits in all, also
``0471-6661234`` and ``(010) 12345678``: 0471-****1234) and the values of name keys
(``name=张建国``, ``"customer_name": "张建国"``, ``姓名：张建国``: 张**). Account numbers
(10 digits) and work-order numbers (12 digits) are not phone numbers and stay readable.

:func:`configure_logging` masks every record created from then on, whichever logger it comes
from and whichever handler writes it (a log-record factory), and its own handler also masks
the formatted traceback.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

_SEP = r"[ \-]?"
_MOBILE = re.compile(
    rf"(?<![\d+])((?:\+|00)?86{_SEP})?(1[3-9]\d)({_SEP})\d{{4}}({_SEP})(\d{{4}})(?!\d)"
)
_LANDLINE = re.compile(r"(?<![\d+])(\(?0[1-9]\d{1,2}\)?[ \-]?)(\d{7,8})(?!\d)")
_NAME_KEYS = r"customer_name|contact_name|caller_name|name|联系人|客户姓名|姓名|户名"
_NAME = re.compile(
    rf"(?<![A-Za-z0-9_])((?:{_NAME_KEYS})['\"]?\s*[=:：]\s*['\"]?)([^\s'\",，;；)}}\]]+)"
)


def _mask_mobile(m: re.Match[str]) -> str:
    return f"{m.group(1) or ''}{m.group(2)}{m.group(3)}****{m.group(4)}{m.group(5)}"


def _mask_landline(m: re.Match[str]) -> str:
    area, local = m.group(1), m.group(2)
    if len(re.sub(r"\D", "", area)) + len(local) not in (11, 12):
        return m.group(0)  # 10 digits: an account number, not a landline
    return f"{area}****{local[-4:]}"


def _mask_name(m: re.Match[str]) -> str:
    name = m.group(2)
    return m.group(1) + name[:1] + "*" * max(1, len(name) - 1)


def mask_personal_data(text: str) -> str:
    """Mask mobile and landline numbers (138****5678) and ``name=...`` values (张*)."""
    text = _MOBILE.sub(_mask_mobile, text)
    text = _LANDLINE.sub(_mask_landline, text)
    return _NAME.sub(_mask_name, text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message by its masked form (args merged in)."""
    if getattr(record, "_hotline_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when it formats
        return record
    masked = mask_personal_data(message)
    if masked != message:
        record.msg, record.args = masked, None
    record._hotline_masked = True
    return record


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class MaskingFormatter(logging.Formatter):
    """Masks the whole formatted output, tracebacks and stack information included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_personal_data(super().format(record))


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "hotline_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    factory.hotline_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # noise at import
    _install_record_factory()
