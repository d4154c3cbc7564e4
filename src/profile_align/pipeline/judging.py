"""Judges from a run config, through the judge registry (:data:`profile_align.judges.JUDGE_BUILDERS`,
keyed by kind and setting), and the run's clients (one per model string, one cache, one accounting).

Built-in builders: ``human`` (always), ``generation`` / ``evaluation`` for each ``judges:`` entry's
``settings``, ``reward_model`` in ``evaluation`` and ``generation`` for each ``reward_models:`` entry's
``settings`` (the generation setting only when the run has a generation judge). Judges run in this
order, so a reward model in the generation setting sees the generators' outputs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backends import Accounting, Backend, Cache, Client, make_client
from ..data.dataset import Dataset
from ..judges import (EvaluationJudge, GenerationJudge, HumanJudge, Judge, JudgeContext, JudgeKind, JudgeResult,
                      RewardModelJudge, judge_builder, make_scorer, register_judge)
from .config import JudgeConfig, RewardModelConfig, RunConfig

__all__ = ["ClientPool", "JudgeEnv", "build_judges", "run_judges"]


class ClientPool:
    """One client per model string (built by :func:`~profile_align.backends.make_client`), all sharing
    one cache and one accounting; ``backends`` maps model strings to ready Backend objects (tests)."""

    def __init__(self, cfg: RunConfig, cache: Cache, accounting: Accounting,
                 backends: Mapping[str, Backend] | None = None, progress: bool = True) -> None:
        self.cfg, self.cache, self.accounting, self.progress = cfg, cache, accounting, progress
        self.backends = dict(backends or {})
        self.clients: dict[str, Client] = {}
        from ..backends.budget import Budget

        b = cfg.backend
        self.budget = Budget(b.max_requests, b.max_cost_usd)  # one limit over every client of the run

    def get(self, model: str, options: dict[str, Any] | None = None) -> Client:
        if model not in self.clients:
            b = self.cfg.backend
            self.clients[model] = make_client(self.backends.get(model, model), cache=self.cache,
                                              concurrency=b.concurrency, timeout_s=b.timeout_s,
                                              max_retries=b.max_retries, accounting=self.accounting,
                                              progress=self.progress, backend_options=options or None,
                                              model_label=model,  # the model string of the call records
                                              budget=self.budget if self.budget.active else None)
        return self.clients[model]

    def close(self) -> None:
        for c in self.clients.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's result
                pass
        self.cache.close()


@dataclass
class JudgeEnv:
    """What a builder needs besides its config entry."""

    cfg: RunConfig
    task: str
    clients: ClientPool
    scorers: dict[str, Any] = field(default_factory=dict)  # reward-model name -> scorer (built once)

    def sampling(self, jc: JudgeConfig) -> dict[str, Any]:
        b = self.cfg.backend
        return dict(temperature=jc.temperature if jc.temperature is not None else b.temperature,
                    top_p=jc.top_p if jc.top_p is not None else b.top_p,
                    max_tokens=jc.max_tokens or b.max_tokens, seed=b.seed)

    def scorer(self, rc: RewardModelConfig) -> Any:
        if rc.name not in self.scorers:
            opts = dict(rc.options)
            if rc.kind == "server":  # through the run's Client: cached, retried, in the call records
                opts["url"] = rc.url
                key = {"api_key": opts["api_key"]} if opts.get("api_key") else None
                opts["client"] = self.clients.get(f"rm-server:{rc.url}::{rc.model}", key)
            self.scorers[rc.name] = make_scorer(rc.kind, rc.model, **opts)
        return self.scorers[rc.name]

    @property
    def has_generator(self) -> bool:
        return any("generation" in jc.settings for jc in self.cfg.judges)


@register_judge(JudgeKind.HUMAN, "evaluation")
def _human(_: Any, env: JudgeEnv) -> Judge:
    return HumanJudge()


@register_judge(JudgeKind.EVALUATION, "evaluation")
def _evaluation(jc: JudgeConfig, env: JudgeEnv) -> Judge:
    e = jc.evaluation
    return EvaluationJudge(env.clients.get(jc.model, jc.backend_options), label=jc.label, task=env.task,
                           model=jc.model, both_orders=e.both_orders, combine=e.combine, guidance=e.guidance,
                           justification_max_chars=e.justification_max_chars, **env.sampling(jc))


@register_judge(JudgeKind.GENERATION, "generation")
def _generation(jc: JudgeConfig, env: JudgeEnv) -> Judge:
    g = jc.generation
    return GenerationJudge(env.clients.get(jc.model, jc.backend_options), label=jc.label, task=env.task,
                           model=jc.model, k=g.k, variant=g.variant, max_words=g.max_words, direct=g.direct,
                           **env.sampling(jc))


@register_judge(JudgeKind.REWARD_MODEL, "evaluation")
def _rm_evaluation(rc: RewardModelConfig, env: JudgeEnv) -> Judge:
    return RewardModelJudge(env.scorer(rc), label=rc.name, tie_tol=rc.tie_tol, setting="evaluation")


@register_judge(JudgeKind.REWARD_MODEL, "generation")
def _rm_generation(rc: RewardModelConfig, env: JudgeEnv) -> Judge | None:
    if not env.has_generator:
        return None
    return RewardModelJudge(env.scorer(rc), label=rc.name, tie_tol=rc.tie_tol, setting="generation")


def build_judges(env: JudgeEnv) -> list[Judge]:
    """Every judge of the config, in run order (human, model judges, reward models by setting)."""
    specs: list[tuple[JudgeKind, str, Any]] = [(JudgeKind.HUMAN, "evaluation", None)]
    specs += [(JudgeKind(s), s, jc) for jc in env.cfg.judges for s in jc.settings]
    for setting in ("evaluation", "generation"):
        specs += [(JudgeKind.REWARD_MODEL, setting, rc) for rc in env.cfg.reward_models if setting in rc.settings]
    built = [judge_builder(kind, setting)(spec, env) for kind, setting, spec in specs]
    return [j for j in built if j is not None]


def run_judges(judges: list[Judge], dataset: Dataset, timings: dict[str, float]) -> list[JudgeResult]:
    """Run the judges in order (each sees the earlier results); seconds per setting into ``timings``."""
    results: list[JudgeResult] = []
    for j in judges:
        t0 = time.perf_counter()
        results.append(j.judge(JudgeContext(dataset, list(results))))
        key = "reward_models" if j.kind == JudgeKind.REWARD_MODEL else j.setting
        if j.kind != JudgeKind.HUMAN:
            timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - t0, 3)
    return results
