"""API key -> principal, remembered for a few seconds in each server process.

Other systems send their key with every lookup; resolving it in the store each time cost a database round trip
and a third of a lookup's CPU. Only keys that resolved are remembered (a new key works at once, a guessed one
is checked every time). Revoking a key forgets it in the process that revoked it at once; other processes
(other uvicorn workers, a server when the CLI revoked) stop accepting it within :data:`TTL_SECONDS`.
"""

from __future__ import annotations

import threading
import time

from gridplanner.auth.principal import Principal

#: How long a resolved key is trusted without asking the store again: the bound on how late a revocation made
#: by another process takes effect.
TTL_SECONDS = 5.0
#: At most this many keys are remembered; past it the cache starts afresh (keys are few, guesses never stored).
MAX_KEYS = 10_000


class KeyCache:
    """sha256 of a key -> (principal, expiry on the monotonic clock)."""

    def __init__(self, ttl: float = TTL_SECONDS, clock=time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            with self._lock:
                self._entries.pop(key_hash, None)
            return None
        return entry[0]

    def put(self, key_hash: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= MAX_KEYS:
                self._entries.clear()
            self._entries[key_hash] = (principal, self.clock() + self.ttl)

    def forget_key(self, key_id: int) -> None:
        """Drop the key with store id ``key_id`` (revoked)."""
        with self._lock:
            for h in [h for h, (p, _) in self._entries.items() if p.id == key_id]:
                del self._entries[h]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


KEYS = KeyCache()
