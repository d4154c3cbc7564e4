"""Test stand-ins for pipeline stages: real Client + FakeBackend -> answers table, usage and cache log in a
run directory (the inputs the diagnostics read)."""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd

from profile_align.backends import Client, Request
from profile_align.backends.fake import FakeBackend, FakeReply, last_user
from profile_align.diagnostics import answer_row
from profile_align.rundir import RunDir

PAIR_SCHEMA = {"type": "object", "properties": {"better": {"type": "string", "enum": ["1", "2", "tie"]}},
               "required": ["better"]}
VERDICT_SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}}, "required": ["supported"]}
FACTS_SCHEMA = {"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
                "required": ["facts"]}
FACT_EXAMPLES = ['{"facts": ["The cat sat on the mat."]}', '{"facts": ["The sun is hot.", "The sky is blue."]}']

TEXTS = [" ".join(f"word{i}x{j}" for j in range(3 + (i * 7) % 11)) for i in range(30)]
PAIRS = [(f"p{i}", TEXTS[2 * i], TEXTS[2 * i + 1]) for i in range(14)]


def _summaries(prompt: str) -> tuple[str, str]:
    m = re.search(r"SUMMARY 1:\n(.*)\n\nSUMMARY 2:\n(.*)\Z", prompt, re.S)
    assert m, prompt
    return m.group(1), m.group(2)


# ------------------------------------------------------------------ scripted judges (FakeBackend rules)
def healthy_pairwise(request: Request):
    a, b = _summaries(last_user(request))
    return {"better": "1" if len(a) > len(b) else "2" if len(b) > len(a) else "tie"}


def position_only_pairwise(request: Request):
    """Picks a position from the pair's content alone: the same label in both orders."""
    a, b = _summaries(last_user(request))
    h = int(hashlib.sha256("".join(sorted([a, b])).encode()).hexdigest(), 16)
    return {"better": "1" if h % 2 else "2"}


def constant_tie_pairwise(request: Request):
    return {"better": "tie"}


def fenced_pairwise(request: Request):
    return f"Sure, here it is:\n```json\n{json.dumps(healthy_pairwise(request))}\n```\nHope this helps!"


def malformed_pairwise(request: Request):
    return "I believe the first one is better because it is longer"


def truncating_pairwise(request: Request):
    a, b = _summaries(last_user(request))
    if len(a) % 3 == 0:  # about a third of the replies hit max_tokens
        return FakeReply(text='{"better": "', finish_reason="length")
    return healthy_pairwise(request)


def constant_yes_verdict(request: Request):
    return {"supported": True}


def healthy_verdict(request: Request):
    return {"supported": "supported" in last_user(request)}


def echoing_facts(request: Request):
    return FACT_EXAMPLES[len(last_user(request)) % 2]


def healthy_facts(request: Request):
    text = last_user(request).split("TEXT:\n", 1)[1]
    return {"facts": [f"The text mentions {w}." for w in text.split()[:3]]}


# ------------------------------------------------------------------ stages
def pairwise_stage(client: Client, model: str, pairs=PAIRS) -> list[dict]:
    reqs, meta = [], []
    for pid, a, b in pairs:
        for variant, first, second in (("AB", a, b), ("BA", b, a)):
            reqs.append(Request.from_prompt(f"Which summary is better?\n\nSUMMARY 1:\n{first}\n\nSUMMARY 2:\n{second}",
                                            json_schema=PAIR_SCHEMA, prompt_type="pairwise_eval"))
            meta.append((pid, variant))
    rows = []
    for req, (pid, variant), resp in zip(reqs, meta, client.run_all(reqs)):
        parsed = getattr(resp, "parsed", None)
        ans = parsed.get("better") if isinstance(parsed, dict) else None
        rows.append(answer_row("evaluation", req, resp, item_id=pid, variant=variant, answer=ans, model=model))
    return rows


def verdict_stage(client: Client, model: str, n_outputs: int = 6, n_facts: int = 4) -> list[dict]:
    reqs, meta = [], []
    for o in range(n_outputs):
        for k in range(n_facts):
            word = "supported" if (o + k) % 2 else "invented"
            reqs.append(Request.from_prompt(f"Output {o}, fact {k}: this claim is {word}.",
                                            json_schema=VERDICT_SCHEMA, prompt_type="fact_hallucination"))
            meta.append((f"o{o}", k))
    rows = []
    for req, (oid, k), resp in zip(reqs, meta, client.run_all(reqs)):
        parsed = getattr(resp, "parsed", None)
        v = parsed.get("supported") if isinstance(parsed, dict) else None
        ans = None if not isinstance(v, bool) else ("yes" if v else "no")
        rows.append(answer_row("factors", req, resp, item_id=f"{oid}/{k}", variant=k, answer=ans, model=model))
    return rows


def facts_stage(client: Client, model: str, n: int = 12) -> list[dict]:
    reqs = [Request.from_prompt("Split into facts. Examples of replies: " + " or ".join(FACT_EXAMPLES)
                                + f"\n\nTEXT:\n{TEXTS[i]}", json_schema=FACTS_SCHEMA, prompt_type="atomic_facts")
            for i in range(n)]
    rows = []
    for i, (req, resp) in enumerate(zip(reqs, client.run_all(reqs))):
        parsed = getattr(resp, "parsed", None)
        facts = parsed.get("facts") if isinstance(parsed, dict) else None
        ans = json.dumps(facts) if isinstance(facts, list) else None
        rows.append(answer_row("factors", req, resp, item_id=f"o{i}", answer=ans, examples=FACT_EXAMPLES,
                               model=model))
    return rows


STAGES = {"pairwise": pairwise_stage, "verdict": verdict_stage, "facts": facts_stage}


def make_run(tmp_path, rule, stage: str = "pairwise", name: str = "run") -> RunDir:
    """A run directory produced by one stage with a scripted fake judge (cache.sqlite, usage.json, answers)."""
    rd = RunDir(tmp_path / name, create=True)
    rd.write_manifest({"status": "complete", "flags": []})
    model = "fake:scripted"
    client = Client(FakeBackend("json", rule=rule, model_id="fake-scripted"), cache=rd / "cache.sqlite",
                    progress=False, max_retries=0, model_label=model)
    try:
        rows = STAGES[stage](client, model)
    finally:
        client.close()
    rd.write_answers(pd.DataFrame(rows))
    rd.write_json("usage.json", client.accounting.to_dict())
    return rd
