"""Kill a real subprocess mid-batch, rerun, and check that nothing finished is paid for twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).with_name("_resume_worker.py")
N = 120


def _state(cache_path: Path) -> dict[str, str]:
    """prompt -> status, read by a second connection while the worker writes (WAL)."""
    if not cache_path.exists():
        return {}
    con = sqlite3.connect(str(cache_path), timeout=10)
    try:
        rows = con.execute("SELECT request, status FROM responses").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    return {json.loads(req)["messages"][-1]["content"]: status for req, status in rows}


def _calls(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["prompt"] for line in log.read_text().splitlines() if line.strip()]


def _run(cache_path: Path, log: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(WORKER), str(cache_path), str(log), str(N), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_resume_after_kill(tmp_path):
    cache_path, log = tmp_path / "cache.sqlite3", tmp_path / "calls.jsonl"
    proc = _run(cache_path, log, "with-failures")
    deadline = time.time() + 60
    while time.time() < deadline and len(_state(cache_path)) < 40:
        time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    before = _state(cache_path)
    done_before = {p for p, s in before.items() if s == "ok"}
    failed_before = {p for p, s in before.items() if s == "failed"}
    first_run_calls = _calls(log)
    assert 30 <= len(done_before) < N and failed_before, (len(done_before), failed_before)
    assert len(before) < N  # really killed mid-batch

    proc2 = _run(cache_path, log, "no-failures")
    out, err = proc2.communicate(timeout=120)
    assert proc2.returncode == 0, err
    assert f"DONE {N}" in out

    second_run_calls = _calls(log)[len(first_run_calls):]
    assert not done_before & set(second_run_calls), "finished items were requested again"
    assert failed_before <= set(second_run_calls), "recorded failures were not retried"
    assert len(second_run_calls) == len(set(second_run_calls))
    assert set(second_run_calls) == {f"item {i}" for i in range(N)} - done_before
    after = _state(cache_path)
    assert len(after) == N and set(after.values()) == {"ok"}
