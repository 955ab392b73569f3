"""A wheel install, not a source checkout: `pip install .` into a fresh venv runs the app
from another directory, with the shipped models and pictures found as installed data."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from app_server import free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_wheel_install_runs_the_app_from_elsewhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # the heavy dependencies (torch, gradio) come from the test venv; genstudio itself only from the wheel
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(fresh_site, "deps.pth").write_text("\n".join(p for p in site.getsitepackages() if "site-packages" in p) + "\n")
    wheel = next(wheels.glob("genstudio-*.whl"))
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "GENSTUDIO_DEVICE": "cpu", "HOME": str(tmp_path)}
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import genstudio, genstudio.registry as r; print(genstudio.__file__); print(r.checkpoint_dir())",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(REPO) not in where[0] and where[1].startswith(str(venv))  # the installed package and its data
    models = json.loads(
        subprocess.run(
            [str(venv / "bin" / "genstudio"), "models", "--json"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    )
    assert {m["name"] for m in models if m["available"]} >= {"gan-fmnist", "sr-x2", "inpaint-photo"}
    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "genstudio"), "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.time() < deadline, "the installed app did not start"
                time.sleep(1)
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        grid, seeds = client.predict("gan-fmnist", 5, 4, None, None, 0, 1, "white", 1, False, api_name="/sample")
        assert seeds == "5-8" and Path(grid).exists()
        assert client.predict("inpaint-photo", api_name="/model_card").startswith("### inpaint-photo")
    finally:
        server.terminate()
        server.wait(timeout=30)
