"""Logging set-up. Phone numbers and personal names never reach a log in clear."""

from __future__ import annotations

import logging
import re
import sys

# 11-digit mobile numbers and other long digit runs that look like phone numbers.
_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})\d{3,4}(\d{4})(?!\d)")
# key=value pairs whose value is a personal name.
_NAME = re.compile(r"((?:customer_name|name|联系人|姓名)\s*[=:：]\s*['\"]?)([^\s'\",，]+)")


def mask_personal_data(text: str) -> str:
    """Mask mobile and landline numbers (138****5678) and ``name=...`` values (张*)."""
    text = _PHONE.sub(r"\1****\2", text)
    text = _LANDLINE.sub(r"\1****\2", text)
    return _NAME.sub(lambda m: m.group(1) + m.group(2)[:1] + "*" * (len(m.group(2)) - 1), text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
