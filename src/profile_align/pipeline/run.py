"""The end-to-end PROFILE run: dataset -> judges (human, model generators/evaluators, reward models) ->
factors for every text once -> factor scores, alignment with the human, agreement, differences,
evaluator bias -> a run directory (docs/run-directory.md) and a terminal summary.

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

import numpy as np
import pandas as pd

from ..backends import Accounting, Backend, Cache, CallLog, Client
from ..backends.records import Records, usage_summary
from ..data.dataset import Dataset
from ..data.loaders import load_dataset
from ..judges import EvaluationJudge, GenerationJudge, JudgeResult, RewardModelJudge, human_judge, make_scorer
from ..rundir import ANSWER_COLUMNS, RunDir, config_hash, package_versions
from ..scoring import agreement, factor_scores
from ..stats import FactorScoreResult, align, compare_judges
from ..taxonomy import REGISTRY, factors_for_task
from .config import RunConfig, load_config

__all__ = ["run", "RunResult", "sample_dataset", "resolve_out_dir"]


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


class _Clients:
    """One client per model string, all sharing one cache file and one accounting."""

    def __init__(self, cfg: RunConfig, cache: Cache, accounting: Accounting, backends: Mapping[str, Backend] | None,
                 progress: bool) -> None:
        self.cfg, self.cache, self.accounting, self.backends, self.progress = cfg, cache, accounting, backends or {}, progress
        self.clients: dict[str, Client] = {}

    def get(self, model: str, options: dict[str, Any] | None = None) -> Client:
        if model not in self.clients:
            b = self.cfg.backend
            backend: Backend | str = self.backends.get(model, model)
            self.clients[model] = Client(backend, cache=self.cache, concurrency=b.concurrency, timeout_s=b.timeout_s,
                                         max_retries=b.max_retries, accounting=self.accounting, progress=self.progress,
                                         backend_options=options or None, model_label=model)
        return self.clients[model]

    def close(self) -> None:
        from ..backends.client import _run_sync

        for c in self.clients.values():
            close = getattr(c.backend, "aclose", None)
            if close is not None:
                try:
                    _run_sync(close)
                except Exception:  # closing must not hide the run's result
                    pass
        self.cache.close()


def _extract(ds: Dataset, names: list[str], client: Client | None, rd: RunDir, progress: bool, unieval: str = "auto"):
    """Factor values for every output: issue 5's ``extract_factors`` when available, else rule factors only."""
    try:
        from ..factors import extract_factors  # type: ignore[attr-defined]
    except ImportError:
        extract_factors = None
    if extract_factors is None:
        from ..factors import compute_factors

        table = compute_factors(ds, names)
        return table, None, pd.DataFrame(columns=list(ANSWER_COLUMNS)), {}, "compute_factors (rule factors only)"
    res = extract_factors(ds, names, client=client, run_dir=rd, progress=progress, unieval=unieval)
    return res.table, res.details, res.answers, dict(res.failures), "extract_factors"


def _flags(judges: list[JudgeResult]) -> list[dict[str, Any]]:
    """Flags only a judge itself can see: a generator writing the same text for different target scores.
    Constant, position-only and echoing judges, failure and truncation rates are flagged by the
    diagnostics (:func:`profile_align.diagnostics.check_run`) from answers.parquet at the end of the run."""
    flags = []
    for j in judges:
        if j.kind == "generation":
            md = j.stats.get("mean_distinct_texts")
            if md is not None and md < j.stats.get("k", 0):
                flags.append({"flag": "duplicate_generations", "prompt_type": "scored_generation", "model": j.model,
                              "evidence": f"{j.name}: {md:.2f} distinct texts per example for k={j.stats['k']}",
                              "advice": ("the model writes near-identical texts for different target scores; "
                                         "such pairs are skipped" if j.stats.get("variant") == "per-level" else
                                         "try variant per-level (one request per target score)")})
    return flags


def _score_rows(res: FactorScoreResult, kind: str, policy: str) -> pd.DataFrame:
    df = res.to_frame()
    df.insert(0, "kind", kind)
    df.insert(0, "judge", res.judge)
    df["policy"] = policy
    return df


def _usage(accounting: Accounting, cache: Cache, invocations: list[str], threshold: float
           ) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, int]], dict[str, float]]:
    """usage.json, the manifest's usage (cumulative over this run directory's invocations), failure counts
    per stage/prompt type and those over ``threshold`` — all derived from the call records."""
    records = accounting.records()
    earlier_ids = [i for i in invocations if i != accounting.calls.invocation]
    earlier = cache.records(earlier_ids) if cache.enabled and earlier_ids else Records()
    summary = usage_summary(records, earlier, invocation=accounting.calls.invocation, n_earlier=len(earlier_ids))
    return accounting.to_dict(), summary, records.failure_counts(), records.over_threshold(threshold)


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def run(config_or_path: RunConfig | str | Path | dict[str, Any], out_dir: str | Path | None = None, *,
        refresh: bool = False, no_cache: bool = False, strict: bool = False, progress: bool = True,
        backends: Mapping[str, Backend] | None = None, console: Any = None, print_summary: bool = True) -> RunResult:
    """Run PROFILE as configured and write the run directory.

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
    timings: dict[str, float] = {}
    chash = config_hash(cfg)
    old = rd.read_manifest()
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    calls = CallLog()  # this invocation: every model call of the run writes one record
    invocations = [*(old.get("invocations") or []), calls.invocation]
    manifest: dict[str, Any] = {
        "invocation": calls.invocation, "invocations": invocations,
        "profile_align_version": package_versions().get("profile-align", "?"),
        "created": old.get("created", now) if old.get("config_hash") == chash else now, "updated": now,
        "status": "partial", "config": cfg.model_dump(mode="json"), "config_hash": chash,
        "versions": package_versions(),
        "seeds": {"sample": cfg.sample.seed, "bootstrap": cfg.stats.seed, "generation": cfg.backend.seed},
    }
    if old.get("config_hash") and old.get("config_hash") != chash:
        manifest["previous_config_hash"] = old["config_hash"]
    rd.write_manifest(manifest)
    (rd / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")

    # -- data --------------------------------------------------------------------------------
    t0 = time.perf_counter()
    d = cfg.dataset
    full = load_dataset(d.source, d.format, task=d.task, domain=d.domain, aspect=d.aspect, mapping=d.mapping,
                        skip_invalid=d.skip_invalid, limit=d.limit, label_map=d.label_map)
    if full.report is not None and full.report.rejected:
        _say(console, not print_summary, f"{full.report.rows_rejected} invalid input rows skipped, all listed in "
                                         f"{rd.write_skipped_rows(full.report)}")
    ds, sample_info = sample_dataset(full, cfg)
    timings["load"] = round(time.perf_counter() - t0, 3)
    task = ds.task

    cache_mode = "off" if no_cache else ("refresh" if refresh else "use")
    cache = Cache(cfg.backend.cache or (rd / "cache.sqlite"), mode=cache_mode)
    accounting = Accounting(calls=calls)
    clients = _Clients(cfg, cache, accounting, backends, progress)
    judges: list[JudgeResult] = [human_judge(ds)]
    try:
        # -- model judges ----------------------------------------------------------------------
        b = cfg.backend
        timings["generation"] = timings["evaluation"] = 0.0
        for jc in cfg.judges:
            client = clients.get(jc.model, jc.backend_options)
            samp = dict(temperature=jc.temperature if jc.temperature is not None else b.temperature,
                        top_p=jc.top_p if jc.top_p is not None else b.top_p,
                        max_tokens=jc.max_tokens or b.max_tokens, seed=b.seed)
            if "evaluation" in jc.settings:
                t0 = time.perf_counter()
                e = jc.evaluation
                judge = EvaluationJudge(client, label=jc.label, task=task, model=jc.model, both_orders=e.both_orders,
                                        combine=e.combine, guidance=e.guidance,
                                        justification_max_chars=e.justification_max_chars, **samp)
                judges.append(judge.run(ds.examples, ds.outputs, ds.pairs))
                timings["evaluation"] += round(time.perf_counter() - t0, 3)
            if "generation" in jc.settings:
                t0 = time.perf_counter()
                g = jc.generation
                gj = GenerationJudge(client, label=jc.label, task=task, model=jc.model, k=g.k, variant=g.variant,
                                     max_words=g.max_words, direct=g.direct, **samp)
                judges.append(gj.run(ds.examples))
                timings["generation"] += round(time.perf_counter() - t0, 3)
        if cfg.reward_models:
            t0 = time.perf_counter()
            for rc in cfg.reward_models:
                opts = dict(rc.options)
                if rc.kind == "server":  # through the run's Client: cached, retried, in the call records
                    opts["url"] = rc.url
                    key = {"api_key": opts["api_key"]} if opts.get("api_key") else None
                    opts["client"] = clients.get(f"rm-server:{rc.url}::{rc.model}", key)
                rj = RewardModelJudge(make_scorer(rc.kind, rc.model, **opts), label=rc.name, tie_tol=rc.tie_tol)
                judges.append(rj.run(ds.examples, ds.outputs, ds.pairs))
            timings["reward_models"] = round(time.perf_counter() - t0, 3)

        # -- everything in one dataset -----------------------------------------------------------
        combined = Dataset(ds.name, ds.task, ds.examples,
                           [*ds.outputs, *(o for j in judges for o in j.outputs)],
                           [*ds.pairs, *(p for j in judges for p in j.pairs)],
                           [*(p for j in judges for p in j.preferences)], ds.report)
        rd.write_dataset(combined)
        judge_answers = [j.answers for j in judges if len(j.answers)]
        ans = pd.concat(judge_answers, ignore_index=True) if judge_answers else pd.DataFrame(columns=list(ANSWER_COLUMNS))
        rd.write_answers(ans)

        # -- factors for every text once ----------------------------------------------------------
        t0 = time.perf_counter()
        names = cfg.factors.names or [f.name for f in factors_for_task(task)]
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown factor(s) {unknown}; see `profile-align taxonomy`")
        needs_model = any(not REGISTRY.get(n).computable_without_model for n in names)
        fmodel = cfg.factors.model or (cfg.judges[0].model if cfg.judges else None)
        fclient = clients.get(fmodel) if (needs_model and fmodel) else None
        table, details, fanswers, ffail, extractor_fn = _extract(combined, names, fclient, rd, progress,
                                                                cfg.factors.unieval)
        timings["factors"] = round(time.perf_counter() - t0, 3)
        rd.write_factors(table)
        if details is not None:
            rd.write_table("factor_details", details, csv=False)
        all_answers = pd.concat([x for x in (fanswers, ans) if len(x)], ignore_index=True) if (len(fanswers) or len(ans)) \
            else pd.DataFrame(columns=list(ANSWER_COLUMNS))
        rd.write_answers(all_answers)
        scored = [n for n in names if n in table.factor_names and table.values[n].notna().any()]
        not_computed = [n for n in names if n not in scored]

        # -- statistics --------------------------------------------------------------------------
        t0 = time.perf_counter()
        st = cfg.stats
        scores: dict[str, FactorScoreResult] = {}
        for j in judges:
            if not j.preferences:
                continue
            scores[j.name] = factor_scores(combined, table, judge=j.name, factors=scored, policy=j.policy,
                                           n_boot=st.n_boot, ci=st.ci, seed=st.seed)
            rd.write_scores(scores[j.name])
        kinds = {j.name: j for j in judges}
        fs = [_score_rows(r, kinds[n].kind, kinds[n].policy) for n, r in scores.items()]
        tables: dict[str, pd.DataFrame] = {"factor_scores": pd.concat(fs, ignore_index=True) if fs else pd.DataFrame()}
        human = scores.get("human")
        human_pairs = {p.pair_id for p in combined.preferences_of("human")}
        al_rows, diff_rows, bias_rows = [], [], []
        for j in judges:
            if j.name == "human" or j.name not in scores:
                continue
            res = scores[j.name]
            a = align(human, res) if human is not None else None
            row = {"judge": j.name, "kind": j.kind, "model": j.model,
                   "kendall_tau": a.kendall_tau if a else np.nan, "kendall_p": a.kendall_p if a else np.nan,
                   "spearman_rho": a.spearman_rho if a else np.nan, "spearman_p": a.spearman_p if a else np.nan,
                   "pearson_r": a.pearson_r if a else np.nan, "pearson_p": a.pearson_p if a else np.nan,
                   "n_factors": a.n_factors if a else 0, "agreement": np.nan, "agreement_ci_low": np.nan,
                   "agreement_ci_high": np.nan, "n_agreement_pairs": 0, "n_failed": j.n_failed,
                   "note": a.note if a else "no human judge"}
            if human is not None and {p.pair_id for p in j.preferences} & human_pairs:
                ag = agreement(combined, "human", j.name, ties=st.agreement_ties)
                row.update(agreement=ag.agreement, agreement_ci_low=ag.ci_low, agreement_ci_high=ag.ci_high,
                           n_agreement_pairs=ag.n)
            al_rows.append(row)
            if human is not None and scored:
                diff = compare_judges(res, human, n_boot=st.difference_boot, seed=st.seed).to_frame()
                for r in diff.itertuples():
                    diff_rows.append({"judge": j.name, "factor": r.factor, "score_human": r.score_b,
                                      "score_judge": r.score_a, "diff": r.diff, "ci_low": r.ci_low,
                                      "ci_high": r.ci_high, "p_value": r.p_value, "p_holm": r.p_holm,
                                      "significant": bool(r.significant_holm)})
            if j.kind == "evaluation":
                bias_rows.append({"judge": j.name, "model": j.model, "n_pairs": len(j.preferences),
                                  "first_position_win_rate": _nan(j.stats.get("first_position_win_rate")),
                                  "flip_rate": _nan(j.stats.get("flip_rate")),
                                  "tie_rate": _nan(j.stats.get("tie_rate")), "n_invalid": j.stats.get("n_invalid", 0)})
        tables["alignment"] = pd.DataFrame(al_rows, columns=[
            "judge", "kind", "model", "kendall_tau", "kendall_p", "spearman_rho", "spearman_p", "pearson_r",
            "pearson_p", "n_factors", "agreement", "agreement_ci_low", "agreement_ci_high", "n_agreement_pairs",
            "n_failed", "note"])
        tables["differences"] = pd.DataFrame(diff_rows, columns=[
            "judge", "factor", "score_human", "score_judge", "diff", "ci_low", "ci_high", "p_value", "p_holm",
            "significant"])
        tables["evaluator_bias"] = pd.DataFrame(bias_rows, columns=[
            "judge", "model", "n_pairs", "first_position_win_rate", "flip_rate", "tie_rate", "n_invalid"])
        rewards = [j.tables["rewards"] for j in judges if "rewards" in j.tables]
        if rewards:
            tables["rewards"] = pd.concat(rewards, ignore_index=True)
        for name, df in tables.items():
            rd.write_table(f"tables/{name}", df)
        timings["stats"] = round(time.perf_counter() - t0, 3)

        # -- usage, failures, manifest (all derived from the call records) -------------------------
        threshold = 0.0 if strict else cfg.max_failure_rate
        usage, usage_manifest, failures, over = _usage(accounting, cache, invocations, threshold)
        rd.write_json("usage.json", usage)
        flags = _flags(judges)
        prev = rd.read_manifest()
        manifest.update({
            "status": "complete" if not over else "partial",
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "dataset": {"source": d.source, "name": ds.name, "task": task, "n_examples": len(ds.examples),
                        "n_outputs": len(ds.outputs), "n_pairs": len(ds.pairs),
                        "n_generated_outputs": len(combined.outputs) - len(ds.outputs), "sample": sample_info,
                        "load_report": ds.report.to_dict() if ds.report else None},
            "factors": {**(prev.get("factors") or {}), "names": scored, "requested": names,
                        "not_computed": not_computed, "extraction": extractor_fn,
                        "extractors": {n: table.provenance.get(n, {}).get("extractor", "?") for n in scored},
                        "missing": {n: int(table.values[n].isna().sum()) for n in scored if table.values[n].isna().any()},
                        "warnings": dict(table.warnings)},
            "judges": [j.manifest_entry() for j in judges],
            "usage": usage_manifest,
            "failures": failures, "failure_threshold": threshold, "over_threshold": over,
            "flags": flags, "timings": {**timings, "total": round(time.perf_counter() - t_run, 3)},
        })
        rd.write_manifest(manifest)
    except BaseException as exc:
        manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                        updated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        try:
            try:  # what the killed invocation paid, so a resume can show it (never hides the error itself)
                usage, manifest["usage"], manifest["failures"], _ = _usage(accounting, cache, invocations, 1.0)
                rd.write_json("usage.json", usage)
            except Exception as usage_exc:  # noqa: BLE001
                manifest["usage_error"] = f"{type(usage_exc).__name__}: {usage_exc}"
            rd.write_manifest({**rd.read_manifest(), **manifest})
        finally:
            clients.close()
        raise
    clients.close()
    result = RunResult(rd, cfg, combined, judges, scores, tables, manifest, accounting, over)
    if print_summary:
        from .summary import print_summary as _print

        _print(result, console=console)
    _diagnose_and_report(result, strict=strict, quiet=not print_summary, console=console)
    return result


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
        write_report, MissingExtra = None, ImportError
    if write_report is None:
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
