"""An optional in-process LRU of hot encoded images, with a TTL and per-page scopes.

Scopes keep one page from pushing out another's hot
images: while several scopes hold bytes, each may keep at least its fair share
(``max_bytes / active scopes``). When space is needed, the scope most over its
share gives up its least recently used items first; a scope alone may use the
whole budget.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

_Ident = tuple[str, str]


@dataclass
class _Scope:
    items: OrderedDict[_Ident, tuple[bytes, float]] = field(default_factory=OrderedDict)
    bytes: int = 0


class MemoryTier:
    """Thread-safe LRU of ``bytes`` keyed by ``(key, size_type)`` within a scope.

    ``ttl_seconds`` of 0 means items never expire. An item bigger than the
    whole budget is not kept.
    """

    def __init__(self, max_bytes: int, ttl_seconds: float) -> None:
        if max_bytes < 0 or ttl_seconds < 0:
            raise ValueError("max_bytes and ttl_seconds must not be negative")
        self.max_bytes = int(max_bytes)
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._scopes: dict[str, _Scope] = {}
        self._used = 0

    def get(self, key: str, size_type: str, scope: str = "default") -> bytes | None:
        """The cached bytes, or None when absent or expired."""
        with self._lock:
            bucket = self._scopes.get(scope)
            if bucket is None:
                return None
            found = bucket.items.get((key, size_type))
            if found is None:
                return None
            data, stored = found
            if self.ttl_seconds and time.monotonic() - stored > self.ttl_seconds:
                self._drop(scope, (key, size_type))
                return None
            bucket.items.move_to_end((key, size_type))
            return data

    def put(self, key: str, size_type: str, data: bytes, scope: str = "default") -> bool:
        """Keep ``data``; evict other items as needed. False if it is too big to keep."""
        size = len(data)
        if size > self.max_bytes:
            return False
        with self._lock:
            bucket = self._scopes.setdefault(scope, _Scope())
            if (key, size_type) in bucket.items:
                self._drop(scope, (key, size_type))
                bucket = self._scopes.setdefault(scope, _Scope())
            while self._used + size > self.max_bytes:
                self._evict_one(scope, size)
            bucket.items[(key, size_type)] = (data, time.monotonic())
            bucket.bytes += size
            self._used += size
            return True

    def _evict_one(self, incoming: str, size: int) -> None:
        # The victim scope is the one most over its fair share once the
        # incoming item is counted, so a scope at its share keeps its items.
        def excess(name: str) -> int:
            return self._scopes[name].bytes + (size if name == incoming else 0)

        candidates = [name for name, bucket in self._scopes.items() if bucket.items]
        victim = max(candidates, key=excess)
        ident = next(iter(self._scopes[victim].items))
        self._drop(victim, ident)

    def _drop(self, scope: str, ident: _Ident) -> None:
        bucket = self._scopes[scope]
        data, _stored = bucket.items.pop(ident)
        bucket.bytes -= len(data)
        self._used -= len(data)
        if not bucket.items:
            del self._scopes[scope]

    def clear_scope(self, scope: str) -> int:
        """Forget every item of ``scope``; return the bytes freed."""
        with self._lock:
            bucket = self._scopes.pop(scope, None)
            if bucket is None:
                return 0
            self._used -= bucket.bytes
            return bucket.bytes

    def clear(self) -> None:
        with self._lock:
            self._scopes.clear()
            self._used = 0

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "used_bytes": self._used,
                "max_bytes": self.max_bytes,
                "items": sum(len(bucket.items) for bucket in self._scopes.values()),
                "ttl_hours": self.ttl_seconds / 3600,
                "scopes": {
                    name: {"bytes": bucket.bytes, "items": len(bucket.items)} for name, bucket in self._scopes.items()
                },
            }
