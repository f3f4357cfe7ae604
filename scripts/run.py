#!/usr/bin/env python3
"""The project's one entry point: set up a virtual environment and run a job.

    python3 scripts/run.py main     # install deconfound, run the article's analysis end to end
    python3 scripts/run.py test     # install with test dependencies, lint, run the whole test suite
    python3 scripts/run.py bench    # install with benchmark dependencies, run the benchmarks

Needs only python3 (3.10+). The environment lives in .venv next to this repository and is reused;
it is reinstalled when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*cmd: str | os.PathLike, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_env(extra: str) -> None:
    """Create .venv if needed and install the package with ``extra`` unless already done."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extra}]" if extra else "."
    run(PY, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(digest)


def main_job() -> None:
    ensure_env("")
    out = ROOT / "output"
    out.mkdir(exist_ok=True)
    run(BIN / "deconfound", "demo", "--output", out / "article")


def ensure_browser() -> None:
    """The report tests open pages in Debian's chromium; install it when we can (root with apt-get)."""
    if shutil.which("chromium") or not shutil.which("apt-get"):
        return
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        print("chromium not found and not root: the browser tests will be skipped", flush=True)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            print("could not install chromium: the browser tests will be skipped", flush=True)
            return


def ensure_java() -> None:
    """The Spark engine's tests start Spark (local[2]), which needs a Java runtime (17+); install Debian's
    headless one when we can (root with apt-get), as ensure_browser does for chromium."""
    if shutil.which("java") or not shutil.which("apt-get"):
        return
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        print("java not found and not root: the Spark tests will fail (install a Java 17+ runtime)", flush=True)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "openjdk-17-jre-headless"]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            print("could not install openjdk-17-jre-headless: the Spark engine's tests will fail", flush=True)
            return


def test_job(args: list[str]) -> None:
    ensure_env("test")
    ensure_browser()
    ensure_java()
    lint = [d for d in ("src", "tests", "bench", "scripts") if (ROOT / d).is_dir()]
    run(PY, "-m", "ruff", "check", *lint)
    run(PY, "-m", "mypy", "src/deconfound")
    run(BIN / "lint-imports")  # the layer contracts in pyproject.toml
    workers = ["-n", "2"] if not any(a.startswith("-n") for a in args) else []
    run(PY, "-m", "pytest", *workers, *args)


def bench_job(args: list[str]) -> None:
    ensure_env("bench")
    ensure_java()
    scripts = args or sorted(str(p) for p in (ROOT / "bench").glob("bench_*.py"))
    for script in scripts:
        run(PY, script)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("main", "test", "bench"):
        print(__doc__)
        sys.exit(2)
    job, rest = sys.argv[1], sys.argv[2:]
    if job == "main":
        main_job()
    elif job == "test":
        test_job(rest)
    else:
        bench_job(rest)


if __name__ == "__main__":
    main()
