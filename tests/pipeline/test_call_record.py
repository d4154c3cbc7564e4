"""The one record of every model call: every count a user sees is derived from it, so they agree
(issue 12: terminal summary, manifest, diagnostics.json, `diagnose`, both places in the report), and
usage is cumulative over the invocations of a resumed run."""

import json
import re

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from profile_align.backends import accounting
from profile_align.backends.fake import FakeBackend
from profile_align.cli import app
from profile_align.pipeline import run
from profile_align.rundir import RunDir

# fluency and coherence by the UniEval protocol on the LLM: logprob requests whose first token has no
# yes/no alternative (the fake "json" script answers JSON), so every such answer is unusable
CONFIG = {
    "name": "record",
    "dataset": {"source": "summeval"},
    "sample": {"examples": 2, "pairs_per_example": 2, "seed": 3},
    "factors": {"names": ["length", "fluency", "coherence"], "unieval": "proxy"},
    "judges": [{"model": "fakej", "name": "fk", "settings": ["evaluation"]}],
    "stats": {"n_boot": 20, "difference_boot": 20},
}


def _html_text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def test_failure_count_is_the_same_in_all_five_places(tmp_path):
    out = tmp_path / "run"
    fb = FakeBackend("json", model_id="fake-judge")
    con = Console(record=True, width=250)
    res = run(CONFIG, out, backends={"fakej": fb}, progress=False, console=con)
    rd = RunDir(out)

    # hand count, independent of the records: one unusable answer per UniEval-proxy request, which the
    # answers table lists one row each (fluency: per sentence; coherence: per text)
    ans = rd.read_answers()
    unieval = ans[ans["prompt_type"].str.startswith("unieval_")]
    bad = len(unieval)
    assert bad > 0 and not unieval["valid"].any() and ans[~ans["prompt_type"].str.startswith("unieval_")]["valid"].all()
    total = len(ans)  # here every call has exactly one answers row (one verdict or one score per request)
    assert fb.calls <= total  # an identical sentence asked twice at once is answered once, recorded twice

    # 1. terminal summary
    text = con.export_text()
    assert f"LLM calls: {bad} of {total} failed or unparseable" in text
    # 2. manifest.json
    m = json.loads((out / "manifest.json").read_text())
    u = m["usage"]
    assert u["requests"] == total and u["failures"] + u["parse_failures"] + u.get("refused", 0) == bad
    assert sum(v["failed"] + v["parse_failed"] for v in m["failures"].values()) == bad
    assert m["failures"]["factors/unieval_fluency"]["parse_failed"] == (unieval["prompt_type"] == "unieval_fluency").sum()
    assert m["diagnostics"]["failed"] == bad and m["diagnostics"]["of"] == total
    # 3. diagnostics.json
    d = json.loads((out / "diagnostics.json").read_text())
    assert d["totals"]["failed"] == bad and d["totals"]["of"] == total
    # 4. `profile-align diagnose`
    r = CliRunner().invoke(app, ["diagnose", str(out), "--no-write"])
    assert r.exit_code == 0, r.output
    assert f"failed or unreadable answers: {bad}/{total}" in r.output
    # 5. report.html: the header and the Run section
    html = (out / "report.html").read_text()
    header = _html_text(html.split("<header", 1)[1].split("</header>", 1)[0])
    assert f"{bad} of {total} LLM answers failed or unparseable" in header
    run_section = _html_text(html.split('id="run"', 1)[1].split("<section", 1)[0])
    assert f"{total} ({u['cached']} from cache), {bad} failed or unparseable" in run_section
    assert not res.ok  # 100% of the UniEval-proxy answers failed: above max_failure_rate


class Killed(BaseException):
    """Like Ctrl-C: not an Exception, so nothing on the way catches it."""


def test_resumed_run_shows_cumulative_usage_and_what_came_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setitem(accounting.DEFAULT_PRICES, "fake:*", (1000.0, 2000.0))  # $ per 1M tokens in, out
    cfg = {**CONFIG, "factors": {"names": ["length"]}, "sample": {"examples": 3, "pairs_per_example": 4, "seed": 1}}
    out = tmp_path / "run"

    def answer(req):
        return {"better": "1", "justification": "more detail"}

    n_before_kill = 10

    def dying(req):
        if dying.n >= n_before_kill:
            raise Killed()
        dying.n += 1
        return answer(req)

    dying.n = 0
    fb1 = FakeBackend("json", rule=dying, model_id="fake-judge", max_concurrency=1)
    with pytest.raises(Killed):
        run(cfg, out, backends={"fakej": fb1}, progress=False, print_summary=False)
    m1 = json.loads((out / "manifest.json").read_text())
    assert m1["status"] == "failed" and "Killed" in m1["error"]
    u1 = m1["usage"]
    assert u1["new_requests"] == n_before_kill and u1["cached"] == 0 and u1["prompt_tokens"] > 0

    fb2 = FakeBackend("json", rule=answer, model_id="fake-judge")
    res = run(cfg, out, backends={"fakej": fb2}, progress=False, print_summary=False)
    m2 = res.manifest
    u2 = m2["usage"]
    n_total = 2 * len(res.dataset.pairs)  # both orders of every pair
    assert fb2.calls == n_total - n_before_kill  # the answers paid before the kill are not paid again
    assert u2["requests"] == n_total and u2["cached"] == n_before_kill and u2["new_requests"] == fb2.calls
    assert m2["invocations"] == [m1["invocation"], m2["invocation"]] and m1["invocation"] != m2["invocation"]
    # what came from the cache is exactly what the first invocation paid
    fc = u2["from_cache"]
    assert (fc["requests"], fc["prompt_tokens"], fc["completion_tokens"]) == (
        u1["new_requests"], u1["prompt_tokens"], u1["completion_tokens"])
    assert fc["cost_usd"] == pytest.approx(u1["cost_usd"])
    # earlier + this = cumulative; cost = tokens x price
    e, c = u2["earlier"], u2["cumulative"]
    assert e == {"invocations": 1, "requests": u1["new_requests"], "prompt_tokens": u1["prompt_tokens"],
                 "completion_tokens": u1["completion_tokens"], "cost_usd": pytest.approx(u1["cost_usd"])}
    assert c["invocations"] == 2 and c["requests"] == n_total
    assert c["prompt_tokens"] == u1["prompt_tokens"] + u2["prompt_tokens"]
    assert c["completion_tokens"] == u1["completion_tokens"] + u2["completion_tokens"]
    assert u1["cost_usd"] == pytest.approx((u1["prompt_tokens"] * 1000 + u1["completion_tokens"] * 2000) / 1e6)
    assert c["cost_usd"] == pytest.approx(u1["cost_usd"] + u2["cost_usd"]) and u2["cost_usd"] > 0
    # the report's Run section shows all three
    html = _html_text((out / "report.html").read_text())
    assert f"earlier invocations 1: {u1['new_requests']} requests" in html
    assert f"all invocations 2: {n_total} requests paid" in html and f"${c['cost_usd']:.4f}" in html
    assert f"from cache {n_before_kill} requests" in html
    # the records themselves: one per call of each invocation
    from profile_align.backends import Cache

    with Cache(out / "cache.sqlite") as cache:
        frame = cache.records().to_frame()
    per_inv = frame.groupby("invocation")["cached"].agg(["count", "sum"])
    assert per_inv.loc[m1["invocation"]].tolist() == [n_before_kill, 0]
    assert per_inv.loc[m2["invocation"]].tolist() == [n_total, n_before_kill]
    assert isinstance(frame, pd.DataFrame)


def test_reward_server_scores_are_call_records_and_resume_from_the_cache(tmp_path):
    """The reward-model server judge goes through the run's Client: its calls are in the records (usage,
    failures) and a rerun pays for no score again."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.extend(body["input"])
            out = json.dumps({"data": [{"index": 0, "data": [float(len(body["input"][0].split()))]}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/pooling"
    cfg = {**CONFIG, "judges": [], "factors": {"names": ["length"]},
           "reward_models": [{"name": "wc", "kind": "server", "model": "rm-test", "url": url}]}
    try:
        res = run(cfg, tmp_path / "r", progress=False, print_summary=False)
        outs = res.dataset.output_map()
        n_texts = len({(outs[o].example_id, outs[o].text) for p in res.dataset.pairs for o in (p.a, p.b)})
        assert len(seen) == n_texts
        m = res.manifest
        assert m["failures"] == {"reward_model/reward": {"requests": n_texts, "failed": 0, "parse_failed": 0}}
        assert m["usage"]["requests"] == m["usage"]["new_requests"] == n_texts
        rm = next(j for j in m["judges"] if j["name"] == "rm:wc")
        assert rm["n_requests"] == n_texts and rm["n_failed"] == 0 and rm["n_pairs"] == len(res.dataset.pairs)
        res2 = run(cfg, tmp_path / "r", progress=False, print_summary=False)
        assert len(seen) == n_texts  # resumed: every score came from the cache
        assert res2.manifest["usage"]["cached"] == n_texts and res2.manifest["usage"]["new_requests"] == 0
        assert [p.verdict for p in res2.judges[-1].preferences] == [p.verdict for p in res.judges[-1].preferences]
    finally:
        srv.shutdown()
