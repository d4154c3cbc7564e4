"""The README's five-minute tour runs: every `profile-align` command of its bash blocks that is not marked
`[needs a model]` is run in order (in a scratch folder) and must exit 0. Setup lines (`make`, `source`)
are the environment the tests already run in."""

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from profile_align.cli import app

ROOT = Path(__file__).resolve().parents[1]
MARK = "[needs a model]"


def tour_commands() -> tuple[list[str], list[str]]:
    """(commands to run, commands marked as needing a model) of the README's tour section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    run, marked = [], []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(("make ", "source ")):
                continue
            (marked if MARK in line else run).append(line)
    return run, marked


def test_tour_parses_and_marks_model_commands():
    run, marked = tour_commands()
    assert len(run) >= 6 and all(c.startswith("profile-align ") for c in run)
    assert any(c.startswith("profile-align run examples/demo.yaml") for c in marked)


def test_tour_commands_without_a_model_exit_0(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    run, _ = tour_commands()
    for cmd in run:
        args = shlex.split(cmd.split(" #", 1)[0])[1:]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, f"README tour command failed: {cmd}\n{res.output}"
