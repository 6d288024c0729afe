"""The conda environment and the lock agree, and the code is formatted and linted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_conda_env_pins_equal_the_lock():
    env = yaml.safe_load((REPO / "envs" / "trainlens.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = _lock()
    assert {"torch", "torchvision", "snakemake", "pandas", "numpy"} <= {
        p.split("==")[0].lower() for p in pip}
    for pin in pip:
        name, version = pin.split("==")
        assert lock[name.lower().replace("_", "-")] == version, pin
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}"
    deploy = (REPO / "envs" / "trainlens.post-deploy.sh").read_text()
    assert re.search(r"pip install --no-deps -e \.", deploy)


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True,
                          text=True)


def test_ruff_is_clean():
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout


def test_snakefmt_is_clean():
    done = _run("snakefmt", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr
