"""--model, --cache and --out are defined once (cli_options) and mean the same in every command."""

import typer.main

from profile_align.cli import app
from profile_align.cli_options import MODEL_HELP


def _commands(cmd, prefix=""):
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield prefix.strip(), cmd
        return
    for name, sub in subs.items():
        yield from _commands(sub, f"{prefix} {name}")


def _options(flag):
    found = {}
    for name, cmd in _commands(typer.main.get_command(app)):
        for p in cmd.params:
            if flag in getattr(p, "opts", []):
                found[name] = p
    return found


def test_model_is_one_option_everywhere():
    models = _options("--model")
    assert len(models) >= 8, sorted(models)  # factors, validate-factors, run-less experiments, check, probe, doctor...
    for name, p in models.items():
        assert p.default is None, name  # one default rule, resolved by the command
        assert set(p.opts) == {"--model", "-m"}, name
        assert p.help in (MODEL_HELP, "(repeatable) " + MODEL_HELP), name


def test_cache_and_out_are_one_option_everywhere():
    caches = _options("--cache")
    assert {"factors", "validate-factors", "probe"} <= set(caches)
    assert len({p.help for p in caches.values()}) == 1
    outs = _options("--out")
    assert {"run", "factors", "validate-factors", "paradox"} <= set(outs)
    assert all(set(p.opts) == {"--out", "--run-dir", "--out-dir"} for p in outs.values())
    assert len({p.help for p in outs.values()}) == 1
