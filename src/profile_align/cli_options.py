"""Command-line options every command shares, defined once (typer ``Annotated`` aliases), and the two
consoles every command prints through (:data:`out` for results, :data:`err` for messages).

* ``--model`` / ``-m`` (:data:`ModelOpt`; :data:`ModelsOpt` where it repeats): a model string. Its default
  is ``None`` everywhere, resolved by the command: the run's model where the command reads a run, else
  :data:`DEFAULT_MODEL` (:func:`model_or_default`); ``factors`` without it computes rule factors only.
* ``--cache`` (:data:`CacheOpt`): the SQLite answer cache; default by the one rule of
  :func:`profile_align.backends.make_client` (the run directory's cache, else the user cache).
* ``--out`` / ``--run-dir`` / ``--out-dir`` (:data:`OutOpt`): the run directory a command writes.
  (``-o`` is always ``--output``, a file.)
* ``--refresh`` / ``--no-cache`` (:data:`RefreshOpt`, :data:`NoCacheOpt`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

__all__ = ["MODEL_HELP", "DEFAULT_MODEL", "ModelOpt", "ModelsOpt", "CacheOpt", "OutOpt", "RefreshOpt", "NoCacheOpt",
           "model_or_default", "out", "err"]

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DEFAULT_MODEL = "local"
MODEL_HELP = ("Model string: local (embedded Qwen2.5-Coder-1.5B), smollm2, llamacpp:/path/model.gguf, "
              "openai:gpt-4o-mini, openai-compat:http://HOST:PORT/v1::MODEL, ollama:MODEL, openrouter:VENDOR/MODEL, "
              "fake:json (see `profile-align backends list`). Default: the run's model where the command reads a "
              f"run, else {DEFAULT_MODEL} (the command's help says when it can do without one).")

ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help=MODEL_HELP, show_default=False)]
ModelsOpt = Annotated[Optional[list[str]], typer.Option("--model", "-m", help="(repeatable) " + MODEL_HELP,
                                                        show_default=False)]
CacheOpt = Annotated[Optional[Path], typer.Option(
    "--cache", help="SQLite answer cache (default: the run directory's cache, else the user cache).",
    show_default=False)]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--out", "--run-dir", "--out-dir", help="Run directory to write (created if missing; rerun to resume).",
    show_default=False)]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Ignore stored answers and overwrite them.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the answer cache (no resume).")]


def model_or_default(model: str | None) -> str:
    """The model string a command uses when ``--model`` was not given and no run supplies one."""
    return model or DEFAULT_MODEL
