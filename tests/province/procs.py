"""`bvte run` subprocesses for the province tests. Output goes to files, never to
pipes: an undrained pipe would block the bot once its buffer fills."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["ROOT", "SECRET_KEY", "BvteRun", "children_of", "free_port", "get_json"]

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "province-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(parent: int) -> set[int]:
    """Pids whose parent is `parent` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.add(int(entry.name))
    return found


def get_json(url: str, timeout: float = 5.0) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class BvteRun:
    """`python -m bot <args>` with the given environment; output in `log_path`."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str, name: str = "run") -> None:
        self.log_path = tmp_path / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")} | {
            "BVTE_SECRET_KEY": SECRET_KEY,
            "BVTE_TICK_SECONDS": "0.5",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *(args or ("run",))], cwd=tmp_path, env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode} before {needle!r}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} after {timeout}s:\n{self.output[-3000:]}")
            time.sleep(0.05)

    def wait_http(self, url: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = get_json(url, timeout=2)
                if status in (200, 503):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} not up after {timeout}s:\n{self.output[-3000:]}")
            time.sleep(0.1)

    def terminate(self, timeout: float = 12.0) -> float:
        """SIGTERM; returns how long the process took to exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not stop within {timeout}s:\n{self.output[-3000:]}") from None
        finally:
            self._log.close()
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
