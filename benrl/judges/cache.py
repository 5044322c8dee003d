"""Persistent verdict cache (SQLite, stdlib).

Keys are the SHA-256 of the JSON of [judge model, template version, rendered prompt, sampling settings,
purpose], so a verdict given as a training reward is never served to an evaluation and a changed
template or setting never reuses an old verdict. Only usable (parsed) verdicts are stored; unscored ones
are retried next time. Writes are committed per verdict, so a killed run keeps what it graded.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from benrl.types import BenrlError


def default_cache_path() -> Path:
    from benrl.models.prepare import benrl_home

    return benrl_home() / "cache" / "verdicts.sqlite"


class VerdictCache:
    """get/put of JSON values under a hashed key; `hits` and `misses` count look-ups."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as e:
            raise BenrlError(f"verdict cache {self.path}: cannot open ({e}); set cache_path or BENRL_HOME") from None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(parts: list[Any]) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, parts: list[Any]) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM verdicts WHERE key = ?", (self.key(parts),)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, parts: list[Any], value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts (key, value) VALUES (?, ?)",
                             (self.key(parts), json.dumps(value, ensure_ascii=False)))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
