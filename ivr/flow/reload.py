"""Hot reload by mtime: new calls get the new version; a broken edit keeps the old one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from ivr.flow.yamlsrc import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class Reloading(Generic[T]):
    """The value loaded from ``path``, reloaded when the file's mtime or size changes."""

    def __init__(self, path: Path, load: Callable[[Path], T]) -> None:
        self.path = Path(path)
        self._load = load
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value: T | None = None
        self.last_error: str | None = None

    def get(self) -> T:
        stamp = _stamp(self.path)
        if stamp != self._stamp or self._value is None:
            with self._lock:
                self._refresh(stamp)
        if self._value is None:
            raise ConfigError(self.last_error or f"{self.path}: not loaded")
        return self._value

    def _refresh(self, stamp: tuple[int, int] | None) -> None:
        if stamp == self._stamp and self._value is not None:
            return
        self._stamp = stamp
        try:
            value = self._load(self.path)
        except ConfigError as exc:
            self.last_error = str(exc)
            if self._value is None:
                raise
            log.error("keeping the previous version of %s: %s", self.path, exc)
            return
        self._value, self.last_error = value, None
        log.info("loaded %s", self.path)
