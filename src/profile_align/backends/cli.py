"""``profile-align backends ...`` (a typer sub-app; the main CLI mounts it)."""

from __future__ import annotations

import json

import typer

from ..cli_options import ModelOpt, model_or_default
from .check import check_backend
from .registry import registered_prefixes

app = typer.Typer(help="LLM backends: check a model string, list backends.", no_args_is_help=True)



@app.command("check")
def check(
    model: ModelOpt = None,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    timeout: float = typer.Option(600.0, help="Seconds to wait for the answer."),
) -> None:
    """Answer one structured (JSON-schema) request; print model, latency, tokens and the answer."""
    from rich.console import Console
    from rich.table import Table

    model = model_or_default(model)
    result = check_backend(model, timeout_s=timeout)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        table = Table(title=f"backend check: {model}", show_header=False)
        for key in ("ok", "backend", "model", "load_s", "latency_s", "prompt_tokens", "completion_tokens",
                    "tokens_per_s", "finish_reason", "answer", "schema_errors", "error"):
            if key in result:
                table.add_row(key, json.dumps(result[key], default=str) if not isinstance(result[key], str)
                              else result[key])
        Console().print(table)
    if not result.get("ok"):
        raise typer.Exit(code=1)


@app.command("list")
def list_backends() -> None:
    """List the model-string prefixes."""
    for prefix, help_text in registered_prefixes().items():
        typer.echo(f"{prefix:15s} {help_text}")
