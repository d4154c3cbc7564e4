"""A reward model as judge: every output gets a scalar reward; in a pair the higher reward is preferred,
equal rewards (within ``tie_tol``) are ties. Judge name ``rm:<label>``.

Scorers (registry :data:`SCORERS`, chosen by ``kind``):

* ``transformers``: a sequence-classification reward model (local path, or hub id when online) via the
  ``rm`` extra (``pip install 'profile-align[rm]'``); imported only when used.
* ``server``: any HTTP server with a reward/score endpoint (vLLM ``/pooling`` or ``/classify``, or a
  custom one), through ``Client`` (model string ``rm-server:URL::MODEL``, ``backends/reward_server.py``):
  cached, retried and recorded like every model call, so a killed run does not pay for scoring again.
  Each text is one request ``{"model": MODEL, "input": [text]}``; see ``read_scores`` for reply formats.

A text whose score could not be obtained (the request failed) has no reward: its pairs are skipped and
counted (``failure_reasons``); the failed calls are in the call records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pandas as pd

from ..backends import Client, RequestFailed
from ..backends.reward_server import read_scores, reward_request
from ..data.model import Example, Output, Pair, Preference, Verdict, text_hash
from .base import SETTINGS, JudgeContext, JudgeKind
from .common import JudgeCalls, JudgeResult

__all__ = ["RewardScorer", "TransformersScorer", "ServerScorer", "SCORERS", "make_scorer", "RewardModelJudge",
           "format_for_rm", "read_scores"]


class RewardScorer(Protocol):
    model: str

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              calls: JudgeCalls | None = None) -> list[float | None]:
        """One reward per (prompt, response); None where it could not be obtained. A scorer that calls a
        model through ``Client`` ties those calls to ``calls`` (the judge's)."""
        ...


def format_for_rm(example: Example) -> str:
    """The prompt side of the (prompt, response) a reward model scores."""
    text = f"{example.title}\n{example.input}" if example.title else example.input
    if example.sources:
        text += "\n\nReferences:\n" + "\n".join(example.sources)
    return text.strip()


class TransformersScorer:
    """A ``AutoModelForSequenceClassification`` reward model (the first logit is the reward)."""

    def __init__(self, model: str, *, device: str | None = None, max_length: int = 2048, batch_size: int = 4,
                 model_obj: Any = None, tokenizer: Any = None) -> None:
        try:
            import torch  # noqa: F401
            import transformers
        except ImportError as e:
            raise ImportError(
                "the transformers reward-model judge needs the 'rm' extra: pip install 'profile-align[rm]' "
                f"(missing: {e.name})") from e
        self.model = model
        self.max_length, self.batch_size = max_length, batch_size
        self.tok = tokenizer or transformers.AutoTokenizer.from_pretrained(model)
        self.net = model_obj or transformers.AutoModelForSequenceClassification.from_pretrained(model)
        self.device = device or "cpu"
        self.net.to(self.device).eval()

    def _text(self, prompt: str, response: str) -> str:
        if getattr(self.tok, "chat_template", None):
            return self.tok.apply_chat_template([{"role": "user", "content": prompt},
                                                 {"role": "assistant", "content": response}], tokenize=False)
        return f"{prompt}\n\n{response}"

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              calls: JudgeCalls | None = None) -> list[float | None]:
        import torch

        out: list[float | None] = []
        texts = [self._text(p, r) for p, r in zip(prompts, responses)]
        for i in range(0, len(texts), self.batch_size):
            batch = self.tok(texts[i:i + self.batch_size], return_tensors="pt", padding=True, truncation=True,
                             max_length=self.max_length).to(self.device)
            with torch.no_grad():
                logits = self.net(**batch).logits
            out.extend(float(x) for x in logits[:, 0].tolist())
        return out


class ServerScorer:
    """A reward-model server scored through ``Client`` (one request per text; cached, retried, recorded).

    Pass the run's ``client`` (model string ``rm-server:URL::MODEL``) so scores share the run's cache and
    call records; without one, a client on the default cache is built.
    """

    def __init__(self, model: str, *, url: str, api_key: str | None = None, timeout_s: float = 120.0,
                 max_retries: int = 3, template: str = "{prompt}\n\n{response}", concurrency: int = 8,
                 client: Client | None = None) -> None:
        if not url:
            raise ValueError("the server reward-model judge needs a url")
        self.model, self.url, self.template = model, url, template
        self.client = client or Client(f"rm-server:{url}::{model}", concurrency=concurrency, timeout_s=timeout_s,
                                       max_retries=max_retries, progress=False,
                                       backend_options={"api_key": api_key} if api_key else None)

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              calls: JudgeCalls | None = None) -> list[float | None]:
        reqs = [reward_request(self.template.format(prompt=p, response=r)) for p, r in zip(prompts, responses)]
        out: list[float | None] = []
        for resp in self.client.run_all(reqs, desc=f"reward model {self.model}", stage="reward_model"):
            if calls is not None:
                calls.add(self.client, resp, True)
            out.append(None if isinstance(resp, RequestFailed) else float(resp.parsed))
        return out


SCORERS: dict[str, Callable[..., RewardScorer]] = {
    "transformers": TransformersScorer,
    "server": ServerScorer,
}


def make_scorer(kind: str, model: str, **options: Any) -> RewardScorer:
    try:
        factory = SCORERS[kind]
    except KeyError:
        raise ValueError(f"unknown reward-model kind {kind!r}; known: {sorted(SCORERS)}") from None
    return factory(model, **options)


class RewardModelJudge:
    """Preferred = higher reward; ``|r_a - r_b| <= tie_tol`` is a tie. Each distinct (input, text) is scored once.

    ``setting="evaluation"`` (judge ``rm:<label>``): the dataset's pairs. ``setting="generation"`` (judge
    ``rm:<label>/generation``, the paper's Fig. 4): the pairs the generation-setting judges built from
    their k outputs per example (target-score pairs, the higher-targeted output as A); the share of pairs
    where the reward model prefers the higher-targeted output is reported as ``target_agreement``."""

    kind = JudgeKind.REWARD_MODEL

    def __init__(self, scorer: RewardScorer, *, label: str, tie_tol: float = 0.0,
                 setting: str = "evaluation") -> None:
        if setting not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r}; known: {SETTINGS}")
        self.scorer, self.label, self.tie_tol, self.setting = scorer, label, tie_tol, setting
        self.name = f"rm:{label}" if setting == "evaluation" else f"rm:{label}/generation"

    def judge(self, ctx: JudgeContext) -> JudgeResult:
        """The :class:`~profile_align.judges.base.Judge` interface."""
        ds = ctx.dataset
        if self.setting == "evaluation":
            return self.run(ds.examples, ds.outputs, ds.pairs)
        gens = ctx.generated()
        res = self.run(ds.examples, [o for r in gens for o in r.outputs], [p for r in gens for p in r.pairs])
        n_hi = sum(p.verdict == Verdict.A for p in res.preferences)
        res.stats.update(generators=[r.name for r in gens],
                         target_agreement=n_hi / len(res.preferences) if res.preferences else None)
        return res

    def run(self, examples: Sequence[Example], outputs: Sequence[Output], pairs: Sequence[Pair]) -> JudgeResult:
        exs = {e.id: e for e in examples}
        outs = {o.id: o for o in outputs}
        need = sorted({o for p in pairs for o in (p.a, p.b)})
        keys = {oid: (text_hash(format_for_rm(exs[outs[oid].example_id].for_output(outs[oid]))), outs[oid].text_hash)
                for oid in need}  # each output with its own references, where it has them
        distinct = sorted(set(keys.values()))
        first = {v: oid for oid, v in reversed(list(keys.items()))}
        prompts = [format_for_rm(exs[outs[first[k]].example_id].for_output(outs[first[k]])) for k in distinct]
        texts = [outs[first[k]].text for k in distinct]
        res = JudgeResult(self.name, JudgeKind.REWARD_MODEL, self.scorer.model, "evaluation", setting=self.setting,
                          label=self.label)
        rewards = dict(zip(distinct, self.scorer.score(prompts, texts, res.failures))) if distinct else {}
        n_tie = n_skipped = 0
        for p in pairs:
            ra, rb = rewards[keys[p.a]], rewards[keys[p.b]]
            if ra is None or rb is None:
                n_skipped += 1
                continue
            v = Verdict.TIE if abs(ra - rb) <= self.tie_tol else (Verdict.A if ra > rb else Verdict.B)
            n_tie += v == Verdict.TIE
            res.preferences.append(Preference(p.id, self.name, v, float(ra - rb), {"reward_a": ra, "reward_b": rb}))
        if n_skipped:
            res.failures.reason("pair skipped: a text has no reward (its request failed)", n_skipped)
        n_judged = len(pairs) - n_skipped
        res.stats = {"n_scored_texts": sum(v is not None for v in rewards.values()), "tie_tol": self.tie_tol,
                     "tie_rate": n_tie / n_judged if n_judged else None, "n_pairs_skipped": n_skipped}
        res.tables["rewards"] = pd.DataFrame({"judge": self.name, "output_id": need,
                                              "reward": [rewards[keys[o]] for o in need]})
        return res
