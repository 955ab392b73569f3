"""Start the app on a free loopback port in a subprocess, for API, browser and load tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, checkpoints: Path | None = None, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "GENSTUDIO_DEVICE": "cpu", **(env or {})}
        if checkpoints:
            self.env["GENSTUDIO_CHECKPOINTS"] = str(checkpoints)
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = None

    def __enter__(self) -> "AppServer":
        started = time.time()
        # the server's output goes to a file: a pipe nobody reads fills up and blocks the server's next log line
        # (appended to, so reading it meanwhile does not move the server's write position)
        self.log_path = Path(tempfile.mkdtemp()) / "server.log"
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port)],
            cwd=Path(__file__).resolve().parent.parent,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while time.time() - started < 120:
            if self.proc.poll() is not None:
                raise RuntimeError("app exited:\n" + self.output())
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        self.startup_seconds = time.time() - started
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise TimeoutError("app did not start within 120 s")

    def output(self) -> str:
        """What the server has printed so far."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()
            shutil.rmtree(self.log_path.parent, ignore_errors=True)
