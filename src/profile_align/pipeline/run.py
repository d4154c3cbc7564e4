"""The end-to-end PROFILE run: dataset -> judges (human, model generators/evaluators, reward models;
``pipeline/judging.py``) -> factors for every text once -> tables (factor scores, alignment with the
human, agreement, differences, evaluator bias, rewards; ``pipeline/analyse.py``) -> a run directory
(docs/run-directory.md) and a terminal summary. :func:`run` only orchestrates these steps.

Resumable: every LLM answer is committed to the run's cache (``cache.sqlite``) before use, so rerunning
the same config makes no new LLM call for anything that finished.
"""

from __future__ import annotations

import datetime as _dt
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..backends import Accounting, Backend, Cache, CallLog, cache_mode_of
from ..backends.records import Records, usage_summary
from ..data.dataset import Dataset
from ..data.loaders import load_dataset
from ..judges import JudgeKind, JudgeResult
from ..explain import explain, write_analysis
from ..rundir import ANSWER_COLUMNS, CACHE_FILE, TABLES, RunDir, config_hash, package_versions
from ..stats import FactorScoreResult
from ..taxonomy import REGISTRY, factors_for_task
from .analyse import assemble_tables, score_judges
from .config import RunConfig, load_config
from .judging import ClientPool, JudgeEnv, build_judges, run_judges

__all__ = ["run", "RunResult", "FactorRun", "extract_run_factors", "load_run_data", "sample_dataset", "resolve_out_dir"]


@dataclass
class RunResult:
    """Everything a run produced (also on disk in ``run_dir``)."""

    run_dir: RunDir
    config: RunConfig
    dataset: Dataset
    judges: list[JudgeResult]
    scores: dict[str, FactorScoreResult]
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    accounting: Accounting
    over_threshold: dict[str, float] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)
    strict_failed: list[str] = field(default_factory=list)  # reasons, when --strict and flags/failures
    report_path: Path | None = None

    @property
    def ok(self) -> bool:
        """False when some prompt type failed more often than the config's ``max_failure_rate``."""
        return not self.over_threshold


def resolve_out_dir(cfg: RunConfig, out_dir: str | Path | None) -> Path:
    return Path(out_dir or cfg.out_dir or Path("runs") / cfg.name)


def sample_dataset(ds: Dataset, cfg: RunConfig) -> tuple[Dataset, dict[str, Any]]:
    """Apply ``sample``: input-length filter, example sample, pairs per example, unpaired outputs dropped."""
    s = cfg.sample
    info: dict[str, Any] = {"examples_loaded": len(ds.examples), "pairs_loaded": len(ds.pairs)}
    if s.max_input_words is not None:
        keep = [e.id for e in ds.examples if len(e.input.split()) <= s.max_input_words]
        info["examples_over_max_input_words"] = len(ds.examples) - len(keep)
        ds = ds.subset(keep)
    if s.examples is not None:
        ds = ds.sample(s.examples, seed=s.seed)
    if s.pairs_per_example is not None:
        rng = random.Random(s.seed)
        by_ex: dict[str, list[str]] = {}
        for p in ds.pairs:
            by_ex.setdefault(p.example_id, []).append(p.id)
        keep_pairs = set()
        for ex_id in sorted(by_ex):
            ids = sorted(by_ex[ex_id])
            keep_pairs.update(ids if len(ids) <= s.pairs_per_example else rng.sample(ids, s.pairs_per_example))
        pairs = [p for p in ds.pairs if p.id in keep_pairs]
        prefs = [p for p in ds.preferences if p.pair_id in keep_pairs]
        ds = Dataset(ds.name, ds.task, ds.examples, ds.outputs, pairs, prefs, ds.report)
    if not s.keep_unpaired_outputs:
        used = {o for p in ds.pairs for o in (p.a, p.b)}
        ds = Dataset(ds.name, ds.task, ds.examples, [o for o in ds.outputs if o.id in used], ds.pairs,
                     ds.preferences, ds.report)
    ex_used = {p.example_id for p in ds.pairs}
    ds = ds.subset(ex_used) if len(ex_used) < len(ds.examples) else ds
    if not ds.pairs:
        raise ValueError(f"no pairs left after sampling ({info}); loosen `sample:` in the config")
    info.update(examples=len(ds.examples), outputs=len(ds.outputs), pairs=len(ds.pairs), seed=s.seed)
    return ds, info


def load_run_data(cfg: RunConfig, rd: RunDir, say: Any) -> tuple[Dataset, dict[str, Any]]:
    """The config's dataset, sampled; rows skipped by ``skip_invalid`` are listed in the run directory
    (``say`` tells the user where)."""
    d = cfg.dataset
    full = load_dataset(d.source, d.format, task=d.task, domain=d.domain, aspect=d.aspect, mapping=d.mapping,
                        skip_invalid=d.skip_invalid, limit=d.limit, label_map=d.label_map)
    if full.report is not None and full.report.rejected:
        say(f"{full.report.rows_rejected} invalid input rows skipped, all listed in "
            f"{rd.write_skipped_rows(full.report)}")
    return sample_dataset(full, cfg)


@dataclass
class FactorRun:
    """The factors of every text of a run (rule and LLM-extracted) and what their extraction reported."""

    table: Any
    details: pd.DataFrame | None
    answers: pd.DataFrame
    failures: dict[str, dict[str, int]]
    requested: list[str]
    scored: list[str]
    model: str | None  # the configured factor model (recorded in the manifest even when no LLM factor ran)

    @property
    def not_computed(self) -> list[str]:
        return [n for n in self.requested if n not in self.scored]


def extract_run_factors(combined: Dataset, cfg: RunConfig, clients: ClientPool, rd: RunDir,
                        progress: bool) -> FactorRun:
    """The config's factors (default: the task's set) for every text, the LLM ones with the factor model
    (``factors.model``, default the first judge's model)."""
    from ..factors import extract_factors

    names = cfg.factors.names or [f.name for f in factors_for_task(combined.task)]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown factor(s) {unknown}; see `profile-align taxonomy`")
    needs_model = any(not REGISTRY.get(n).computable_without_model for n in names)
    fclient = clients.get(cfg.factor_model) if (needs_model and cfg.factor_model) else None
    res = extract_factors(combined, names, client=fclient, run_dir=rd, progress=progress,
                          unieval=cfg.factors.unieval)
    table = res.table
    scored = [n for n in names if n in table.factor_names and table.values[n].notna().any()]
    return FactorRun(table, res.details, res.answers, dict(res.failures), names, scored, cfg.factor_model)


def _flags(judges: list[JudgeResult]) -> list[dict[str, Any]]:
    """Flags only a judge itself can see: a generator writing the same text for different target scores.
    Constant, position-only and echoing judges, failure and truncation rates are flagged by the
    diagnostics (:func:`profile_align.diagnostics.check_run`) from answers.parquet at the end of the run."""
    flags = []
    for j in judges:
        if j.kind == JudgeKind.GENERATION:
            md = j.stats.get("mean_distinct_texts")
            if md is not None and md < j.stats.get("k", 0):
                flags.append({"flag": "duplicate_generations", "prompt_type": "scored_generation", "model": j.model,
                              "evidence": f"{j.name}: {md:.2f} distinct texts per example for k={j.stats['k']}",
                              "advice": ("the model writes near-identical texts for different target scores; "
                                         "such pairs are skipped" if j.stats.get("variant") == "per-level" else
                                         "try variant per-level (one request per target score)")})
    return flags


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _start_manifest(rd: RunDir, cfg: RunConfig) -> dict[str, Any]:
    """The manifest of a starting run (status ``partial``), written at once; ``created`` survives a resume."""
    chash, old, now = config_hash(cfg), rd.read_manifest(), _now()
    named = cfg.backend.cache
    manifest: dict[str, Any] = {
        "profile_align_version": package_versions().get("profile-align", "?"),
        "created": old.get("created", now) if old.get("config_hash") == chash else now, "updated": now,
        "status": "partial", "config": cfg.model_dump(mode="json"), "config_hash": chash,
        "versions": package_versions(), "cache_path": str(Path(named).resolve()) if named else CACHE_FILE,
        "seeds": {"sample": cfg.sample.seed, "bootstrap": cfg.stats.seed, "generation": cfg.backend.seed},
    }
    if old.get("config_hash") and old.get("config_hash") != chash:
        manifest["previous_config_hash"] = old["config_hash"]
    rd.write_manifest(manifest)
    (rd / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    return manifest


def _combine(ds: Dataset, judges: list[JudgeResult]) -> Dataset:
    """The dataset with every judge's outputs, pairs and preferences."""
    return Dataset(ds.name, ds.task, ds.examples, [*ds.outputs, *(o for j in judges for o in j.outputs)],
                   [*ds.pairs, *(p for j in judges for p in j.pairs)],
                   [*(p for j in judges for p in j.preferences)], ds.report)


def _concat_answers(*frames: pd.DataFrame) -> pd.DataFrame:
    have = [f for f in frames if len(f)]
    return pd.concat(have, ignore_index=True) if have else pd.DataFrame(columns=list(ANSWER_COLUMNS))


def run(config_or_path: RunConfig | str | Path | dict[str, Any], out_dir: str | Path | None = None, *,
        refresh: bool = False, no_cache: bool = False, strict: bool = False, progress: bool = True,
        backends: Mapping[str, Backend] | None = None, console: Any = None, print_summary: bool = True) -> RunResult:
    """Run PROFILE as configured and write the run directory (orchestration only; see the module doc).

    Args:
        config_or_path: a :class:`RunConfig`, a dict, or a YAML file.
        out_dir: the run directory (default: the config's ``out_dir`` or ``runs/<name>``).
        refresh / no_cache: ignore stored LLM answers (and overwrite them) / neither read nor write the cache.
        strict: any failed or unparseable answer makes the run not ``ok`` (default: ``max_failure_rate``).
        backends: model string -> Backend object to use instead of building one (tests, custom backends).
    """
    t_run = time.perf_counter()
    cfg = load_config(config_or_path)
    rd = RunDir(resolve_out_dir(cfg, out_dir), create=True)
    calls, earlier = _begin_invocation(rd)
    manifest = _start_manifest(rd, cfg)
    _record_invocation(rd, manifest, calls, earlier)
    t0, timings = time.perf_counter(), {"generation": 0.0, "evaluation": 0.0}
    ds, sample_info = load_run_data(cfg, rd, lambda msg: _say(console, not print_summary, msg))
    timings["load"] = round(time.perf_counter() - t0, 3)
    cache = Cache(rd.cache_path, mode=cache_mode_of(refresh=refresh, no_cache=no_cache))
    accounting = Accounting(calls=calls)
    clients = ClientPool(cfg, cache, accounting, backends, progress)
    try:
        judges = run_judges(build_judges(JudgeEnv(cfg, ds.task, clients)), ds, timings)
        configured = cfg.tie_policies()
        for j in judges:  # the run config's tie_policy wins over the kind's default
            j.policy = configured.get(j.name, j.policy)
        combined = _combine(ds, judges)
        rd.write_dataset(combined)
        ans = _concat_answers(*(j.answers for j in judges))
        rd.write_answers(ans)

        t0 = time.perf_counter()
        fx = extract_run_factors(combined, cfg, clients, rd, progress)
        timings["factors"] = round(time.perf_counter() - t0, 3)
        rd.write_factors(fx.table)
        if fx.details is not None:
            rd.write_table(TABLES["factor_details"], fx.details, csv=False)
        rd.write_answers(_concat_answers(fx.answers, ans))

        t0 = time.perf_counter()
        scores = score_judges(combined, fx.table, judges, fx.scored, cfg.stats)
        for r in scores.values():
            rd.write_scores(r)
        tables = assemble_tables(combined, fx.table, judges, cfg.stats, factors=fx.scored, scores=scores)
        for name, df in tables.items():
            rd.write_table(TABLES[name], df)
        if cfg.stats.joint:  # tables/joint_* (docs/joint.md); a judge that cannot be fitted is listed, not fatal
            write_analysis(rd, explain(combined, fx.table, judges=[j.name for j in judges if j.preferences],
                                       factors=fx.scored, n_boot=cfg.stats.joint_boot, ci=cfg.stats.ci,
                                       seed=cfg.stats.seed, tau_boot=cfg.stats.n_boot))
        timings["stats"] = round(time.perf_counter() - t0, 3)

        over = _finish_manifest(rd, manifest, cfg=cfg, ds=ds, combined=combined, sample_info=sample_info,
                                judges=judges, fx=fx, accounting=accounting, cache=cache, strict=strict,
                                timings=timings, t_run=t_run)
    except BaseException as exc:
        _fail_manifest(rd, manifest, accounting, exc, clients)
        raise
    clients.close()
    result = RunResult(rd, cfg, combined, judges, scores, tables, manifest, accounting, over)
    if print_summary:
        from .summary import print_summary as _print

        _print(result, console=console)
    _diagnose_and_report(result, strict=strict, quiet=not print_summary, console=console)
    return result


# == usage, failures, manifest (one block, all derived from the call records: backends/records.py) ======
def _begin_invocation(rd: RunDir) -> tuple[CallLog, list[str]]:
    """This invocation's call log, and the earlier invocations of the run directory (from its manifest)."""
    return CallLog(), [str(i) for i in (rd.read_manifest().get("invocations") or [])]


def _record_invocation(rd: RunDir, manifest: dict[str, Any], calls: CallLog, earlier: list[str]) -> None:
    """Name this invocation in the manifest at once, after the earlier ones, so a killed run's calls still
    count in the cumulative usage of the run that resumes it."""
    manifest.update(invocation=calls.invocation, invocations=[*earlier, calls.invocation])
    rd.write_manifest(manifest)


def _usage(accounting: Accounting, cache: Cache, invocations: list[str], threshold: float
           ) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, int]], dict[str, float]]:
    """usage.json, the manifest's usage (cumulative over this run directory's invocations), failure counts
    per stage/prompt type and those over ``threshold`` — all derived from the call records."""
    records = accounting.records()
    earlier_ids = [i for i in invocations if i != accounting.calls.invocation]
    earlier = cache.records(earlier_ids) if cache.enabled and earlier_ids else Records()
    summary = usage_summary(records, earlier, invocation=accounting.calls.invocation, n_earlier=len(earlier_ids))
    return accounting.to_dict(), summary, records.failure_counts(), records.over_threshold(threshold)


def _finish_manifest(rd: RunDir, manifest: dict[str, Any], *, cfg: RunConfig, ds: Dataset, combined: Dataset,
                     sample_info: dict[str, Any], judges: list[JudgeResult], fx: FactorRun, accounting: Accounting,
                     cache: Cache, strict: bool, timings: dict[str, float], t_run: float) -> dict[str, float]:
    """usage.json, failure counts, threshold check, flags and the final manifest; returns the
    ``stage/prompt_type`` whose failure rate is over the threshold."""
    d, table, names, scored = cfg.dataset, fx.table, fx.requested, fx.scored
    threshold = 0.0 if strict else cfg.max_failure_rate
    usage, usage_manifest, failures, over = _usage(accounting, cache, manifest.get("invocations") or [], threshold)
    rd.write_json("usage.json", usage)
    flags = _flags(judges)
    prev = rd.read_manifest()
    manifest.update({
        "status": "complete" if not over else "partial",
        "updated": _now(),
        "dataset": {"source": d.source, "name": ds.name, "task": ds.task, "n_examples": len(ds.examples),
                    "n_outputs": len(ds.outputs), "n_pairs": len(ds.pairs),
                    "n_generated_outputs": len(combined.outputs) - len(ds.outputs), "sample": sample_info,
                    "load_report": ds.report.to_dict() if ds.report else None},
        "factors": {**(prev.get("factors") or {}), "names": scored, "requested": names,
                    "not_computed": fx.not_computed, "extraction": "extract_factors", "model": fx.model,
                    "extractors": {n: table.provenance.get(n, {}).get("extractor", "?") for n in scored},
                    "missing": {n: int(table.values[n].isna().sum()) for n in scored if table.values[n].isna().any()},
                    "warnings": dict(table.warnings)},
        "judges": [j.manifest_entry() for j in judges],
        "usage": usage_manifest,
        "failures": failures, "failure_threshold": threshold, "over_threshold": over,
        "flags": flags, "timings": {**timings, "total": round(time.perf_counter() - t_run, 3)},
    })
    rd.write_manifest(manifest)
    return over


def _fail_manifest(rd: RunDir, manifest: dict[str, Any], accounting: Accounting, exc: BaseException,
                   clients: ClientPool) -> None:
    """A failed run: status ``failed`` with the error and what its calls paid so far (so a resume can show
    it); the clients are closed."""
    manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}", updated=_now())
    try:
        try:  # never hides the run's own error
            usage, manifest["usage"], manifest["failures"], _ = _usage(
                accounting, clients.cache, manifest.get("invocations") or [], 1.0)
            rd.write_json("usage.json", usage)
        except Exception as usage_exc:  # noqa: BLE001
            manifest["usage_error"] = f"{type(usage_exc).__name__}: {usage_exc}"
        rd.write_manifest({**rd.read_manifest(), **manifest})
    finally:
        clients.close()
# == end of the usage/failures/manifest block ===========================================================


def _diagnose_and_report(result: RunResult, *, strict: bool, quiet: bool, console: Any) -> None:
    """Judge diagnostics (flags into diagnostics.json and the manifest; strict mode) and the HTML report."""
    from ..diagnostics import RunFlagged, check_run

    rd = result.run_dir
    try:
        rep = check_run(rd, strict=strict, max_failure_rate=result.config.max_failure_rate, console=console,
                        quiet=quiet, records=result.accounting.records())
        result.strict_failed = []
    except RunFlagged as e:
        rep, result.strict_failed = e.report, list(e.reasons)
    result.manifest = rd.read_manifest()
    result.flags = list(result.manifest.get("flags") or [])
    del rep
    try:
        from ..report import MissingExtra, write_report
    except ImportError:  # matplotlib / jinja2 missing: the report extra
        _say(console, quiet, "report skipped: install the 'report' extra (pip install 'profile-align[report]')")
        return
    try:
        written = write_report(rd.path)
        result.report_path = Path(written.path)
        _say(console, quiet, f"report: {written.path}")
    except MissingExtra as e:
        _say(console, quiet, f"report skipped: {e}")


def _say(console: Any, quiet: bool, msg: str) -> None:
    if quiet:
        return
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    console.print(msg, markup=False)
