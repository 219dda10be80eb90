"""`make dev`: embedded Postgres and Redis, migrations, demo data, then web + worker + scheduler until a signal.

One runner per `var/` directory (a lock file says who holds it). Whatever an earlier runner left behind when it
died without cleaning up — SIGKILL, a closed terminal before this file handled SIGHUP — is found and stopped at the
next start: the Procfile processes it recorded, a Redis still serving its socket, a Postgres still running on its
data directory. SIGINT, SIGTERM and SIGHUP all end everything this runner started, quietly, with exit status 0.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from webapp.config import PROJECT_ROOT
from webapp.embedded import pid_alive

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def var_dir() -> Path:
    """Where embedded data lives: CLOSEDLOOP_VAR, or var/ in the checkout."""
    return Path(os.environ.get("CLOSEDLOOP_VAR") or PROJECT_ROOT / "var").resolve()


class AlreadyRunning(SystemExit):
    """Another runner holds this var/ directory."""


class DevLock:
    """An exclusive lock on var/dev.lock, held for the runner's life; the file names the holder's pid."""

    def __init__(self, root: Path):
        self.path = root / "dev.lock"
        self._file = None

    def acquire(self) -> None:
        """Take the lock, or stop with a message naming the runner that has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"ClosedLoop is already running from {self.path.parent} (pid {holder}). Stop it with Ctrl-C in its "
                "terminal or `make stop`, or give this one its own CLOSEDLOOP_VAR directory."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go (the file stays; an unlocked file means nobody runs)."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def holder_pid(root: Path) -> int | None:
    """The pid of the runner holding `root`'s lock, or None when nobody does."""
    path = root / "dev.lock"
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _stop_group(pid: int, grace: float = 10) -> None:
    """SIGTERM a process group, SIGKILL what is left after `grace` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def record_children(root: Path, pids: list[int]) -> None:
    """Remember the Procfile processes (each leads its own process group) for a later clean-up."""
    (root / "dev.pids").write_text(json.dumps(pids))


def stop_leftovers(root: Path, say=print) -> list[str]:
    """Stop what a runner that died without cleaning up left running on `root`; returns what was stopped."""
    stopped = []
    pids_file = root / "dev.pids"
    if pids_file.exists():
        try:
            pids = json.loads(pids_file.read_text())
        except ValueError:
            pids = []
        for pid in pids:
            if isinstance(pid, int) and pid_alive(pid):
                _stop_group(pid)
                stopped.append(f"process group {pid}")
        pids_file.unlink(missing_ok=True)
    from webapp.embedded import EmbeddedPostgres, EmbeddedRedis

    if EmbeddedRedis(root / "redis").stop_stale():
        stopped.append("redis")
    if EmbeddedPostgres(root / "postgres").stop_stale():
        stopped.append("postgres")
    if stopped:
        say(f"  stopped what an earlier run left behind: {', '.join(stopped)}")
    return stopped


def stop(root: Path | None = None) -> int:
    """`make stop`: end the runner holding `root` (it cleans up after itself), or clean up after a dead one."""
    root = root or var_dir()
    pid = holder_pid(root)
    if pid is not None and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"stopped the ClosedLoop runner (pid {pid})")
        return 0
    if not stop_leftovers(root):
        print("nothing is running from", root)
    return 0


class _Stop(Exception):
    """A stop signal arrived while services were still starting."""


def run() -> int:
    """The whole `make dev`: lock, clean up, services, migrations, demo data, Procfile processes; 0 when stopped
    by a signal, the first failing process's status otherwise."""
    from webapp.cli import Services, migrate, procfile_processes, seed_demo

    root = var_dir()
    lock = DevLock(root)
    lock.acquire()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    services = None
    stopping: dict = {}

    def early_stop(signum, frame):
        stopping["signal"] = signum
        raise _Stop

    for sig in STOP_SIGNALS:
        signal.signal(sig, early_stop)
    try:
        stop_leftovers(root)
        if port_in_use(host, port):
            print(
                f"\n  Port {port} on {host} is already in use: stop what uses it, or run `PORT={port + 1} make dev`.\n",
                file=sys.stderr,
            )
            return 1
        services = Services(root).start()
        migrate()
        embedded = os.environ.get("CLOSEDLOOP_EMBEDDED") == "1"
        if embedded:
            created = seed_demo()
            if created:
                print("demo data created:", ", ".join(created))
        password = os.environ.get("CLOSEDLOOP_DEMO_PASSWORD", "moonbase-alpha-2031")
        print(f"\n  ClosedLoop is starting at http://{host}:{port}/  (API reference at /api/v1/docs)")
        if embedded:
            print(f"  demo logins: admin@demo.closedloop.test / crew@demo.closedloop.test, password {password!r}")
        print("  Ctrl-C stops web, worker, scheduler and the embedded services.\n", flush=True)
        env = dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            HOST=host,
            PORT=str(port),
        )
        supervisor = Supervisor(procfile_processes(), env, PROJECT_ROOT, root)

        def stop_all(signum, frame):
            supervisor.stop_signal = stopping["signal"] = signum

        for sig in STOP_SIGNALS:
            signal.signal(sig, stop_all)
        supervisor.start()
        status = supervisor.wait()
        supervisor.stop()
        return status
    except _Stop:
        return 0
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if services is not None:
            services.stop()
        (root / "dev.pids").unlink(missing_ok=True)
        lock.release()
        if stopping:
            print("  ClosedLoop stopped.", flush=True)


class Supervisor:
    """The Procfile's processes, each leading its own process group, their output prefixed with their name. Any
    one ending ends them all; a stop signal only sets a flag (the main loop does the work, not the handler)."""

    def __init__(self, commands: dict[str, str], env: dict, cwd: Path, root: Path):
        self.commands, self.env, self.cwd, self.root = commands, env, cwd, root
        self.procs: dict[str, subprocess.Popen] = {}
        self.stop_signal: int | None = None
        self._print_lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    def say(self, name: str, line: str) -> None:
        """One output line, `08:11:25 web       | ...`."""
        with self._print_lock:
            print(f"{time.strftime('%H:%M:%S')} {name:<9} | {line}", flush=True)

    def start(self) -> None:
        """Start every process (new sessions: a terminal's signals reach them only through us)."""
        for name, command in self.commands.items():
            proc = subprocess.Popen(
                command,
                shell=True,
                env=self.env,
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.procs[name] = proc
            reader = threading.Thread(target=self._relay, args=(name, proc), daemon=True)
            reader.start()
            self._readers.append(reader)
            self.say("system", f"{name} started (pid {proc.pid})")
        record_children(self.root, [proc.pid for proc in self.procs.values()])

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip())

    def wait(self) -> int:
        """Until a stop signal (0) or the first process to end (its status, 1 if it ended "successfully")."""
        while self.stop_signal is None:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    self.say("system", f"{name} stopped (status {proc.returncode}): stopping the others")
                    return proc.returncode or 1
            time.sleep(0.2)
        return 0

    def stop(self, grace: float = 10) -> None:
        """SIGTERM every process group, SIGKILL what is left after `grace` seconds."""
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.say("system", f"stopping {name}")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():  # the leaders may be gone while their children linger
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for reader in self._readers:
            reader.join(2)
