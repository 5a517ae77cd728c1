"""Free port blocks for tests that start servers (SIP, RTP, HTTP) on 127.0.0.1.

Blocks are picked at random and checked free for UDP and TCP; a block handed out once in this
process is never handed out again, so concurrent fixtures cannot collide with each other.
"""

from __future__ import annotations

import random
import socket
import threading

_lock = threading.Lock()
_handed_out: set[int] = set()


def _free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(size: int, low: int = 20000, high: int = 60000) -> int:
    """First port of ``size`` consecutive ports free for UDP and TCP on 127.0.0.1."""
    with _lock:
        for _ in range(500):
            base = random.randrange(low, high - size)
            span = range(base, base + size)
            if _handed_out.intersection(span):
                continue
            if all(_free(p, socket.SOCK_DGRAM) and _free(p, socket.SOCK_STREAM) for p in span):
                _handed_out.update(span)
                return base
    raise RuntimeError(f"no block of {size} free ports")
