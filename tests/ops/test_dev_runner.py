"""`make dev` as a newcomer runs it: started and stopped by SIGINT (Ctrl-C), SIGTERM and SIGHUP (a closed
terminal) sent to its whole process group, each time leaving no process, port, Postgres or Redis behind; a second
runner on the same var/ is refused; a busy port is named before anything starts; and a runner killed outright is
cleaned up after by the next start (or by `make stop`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, _free_port

pytestmark = pytest.mark.live


def _env(var: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL")}
    return env | {
        "CLOSEDLOOP_VAR": str(var),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "REDIS_NAMESPACE": "closedloop",
        "CLOSEDLOOP_ENV": "development",
    }


def _start(var: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["make", "--no-print-directory", "dev"],
        cwd=ROOT,
        env=_env(var, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(port: int, runner: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert runner.poll() is None, runner.stdout.read().decode()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("make dev never became ready")


def _ours(var: Path, port: int) -> list[str]:
    """Command lines of live processes that belong to this runner (its var/ or its port)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(var) in cmdline or f"--port {port}" in cmdline:
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _assert_nothing_left(var: Path, port: int) -> None:
    deadline = time.monotonic() + 10  # processes that just got their signal may need a moment to be reaped
    while _ours(var, port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ours(var, port) == []
    assert _port_free(port)
    assert not (var / "postgres" / "postmaster.pid").exists()
    assert not (var / "redis" / "redis.sock").exists()
    assert not (var / "dev.pids").exists()


def test_make_dev_stops_cleanly_on_every_stop_signal(tmp_path):
    var, port = tmp_path / "var", _free_port()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        runner = _start(var, port)
        _wait_ready(port, runner)
        if sig == signal.SIGINT:  # while it runs, a second one on the same var/ is refused by name
            second = subprocess.run(
                ["make", "--no-print-directory", "dev"],
                cwd=ROOT,
                env=_env(var, _free_port()),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode != 0 and "already running from" in second.stdout + second.stderr
        os.killpg(runner.pid, sig)  # what a terminal does: the whole foreground process group
        output = runner.communicate(timeout=120)[0].decode()
        assert "ClosedLoop stopped." in output, output[-3000:]
        assert "Traceback" not in output and "Error 130" not in output, output[-3000:]
        _assert_nothing_left(var, port)


def test_a_busy_port_is_named_before_anything_starts(tmp_path):
    var, port = tmp_path / "var", _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            ["make", "--no-print-directory", "dev"],
            cwd=ROOT,
            env=_env(var, port),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0 and f"Port {port}" in result.stderr and "already in use" in result.stderr
    assert "is starting at" not in result.stdout
    assert not (var / "postgres").exists()  # refused before Postgres or Redis started


def test_a_killed_runner_is_cleaned_up_after(tmp_path):
    var, port = tmp_path / "var", _free_port()
    runner = _start(var, port)
    _wait_ready(port, runner)
    launcher = int((var / "dev.lock").read_text())
    os.kill(launcher, signal.SIGKILL)  # no clean-up at all: Postgres, Redis and the Procfile processes stay
    runner.wait(30)
    assert (var / "postgres" / "postmaster.pid").exists() and _ours(var, port)
    stopped = subprocess.run(
        ["make", "--no-print-directory", "stop"],
        cwd=ROOT,
        env=_env(var, port),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "left behind" in stopped.stdout, stopped.stdout + stopped.stderr
    _assert_nothing_left(var, port)

    again = _start(var, port)  # and the next start is clean
    _wait_ready(port, again)
    os.killpg(again.pid, signal.SIGINT)
    again.communicate(timeout=120)
    _assert_nothing_left(var, port)
