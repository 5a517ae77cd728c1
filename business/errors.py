"""Errors of the business core. ``message`` is Chinese (shown to users); ``code`` is stable.

The HTTP API maps :class:`NotFound` to 404, :class:`Conflict` to 409 and
:class:`InvalidInput` to 422. The journal treats every :class:`BusinessError` as permanent
(the entry is set aside, not retried).
"""

from __future__ import annotations


class BusinessError(Exception):
    code = "business_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BusinessError, LookupError):
    code = "not_found"


class Conflict(BusinessError):
    code = "conflict"


class InvalidInput(BusinessError, ValueError):
    code = "invalid_input"
