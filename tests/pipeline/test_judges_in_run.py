"""Judges built from the config through the registry, the single-order protocol, both agreement rules,
and reward models in the generation setting (issue 19) — end to end through ``run``."""

import inspect
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from profile_align.backends.fake import FakeBackend, last_user
from profile_align.pipeline import run
from profile_align.pipeline.run import run as run_fn
from profile_align.rundir import RunDir


def test_run_is_orchestration_only():
    assert len(inspect.getsourcelines(run_fn)[0]) <= 80
    src = inspect.getsource(run_fn)
    assert "_extract" not in src and "EvaluationJudge" not in src and "if \"evaluation\" in" not in src


def always_first(req):
    if req.prompt_type == "pairwise_eval":
        return {"better": "1", "justification": "the first one"}
    if req.prompt_type == "scored_generation":
        return {"outputs": [{"score": s, "text": "v " * (3 * s)} for s in (2, 5, 1, 4, 3)]}
    raise AssertionError(req.prompt_type)


BASE = {"dataset": {"source": "summeval"}, "sample": {"examples": 2, "pairs_per_example": 6, "seed": 3},
        "factors": {"names": ["length", "novel_words"]}, "stats": {"n_boot": 20, "difference_boot": 20}}


def _human_share_a(rd):
    ds = rd.read_dataset()
    hum = ds.preferences_of("human")
    return sum(int(p.verdict) == 1 for p in hum) / len(hum), len(hum)


def test_both_orders_reports_both_agreement_rules(tmp_path):
    cfg = {**BASE, "judges": [{"model": "pos", "name": "p", "settings": ["evaluation"]}]}
    run(cfg, tmp_path, backends={"pos": FakeBackend("json", rule=always_first, model_id="pos")}, progress=False,
        print_summary=False)
    rd = RunDir(tmp_path)
    al = rd.read_table("tables/alignment").set_index("judge").loc["p:evaluation"]
    share_a, n = _human_share_a(rd)
    # "1" in both orders: (A,B) says A, (B,A) says B -> combined Tie on every pair -> no agreement
    assert al["agreement"] == 0.0 and al["n_agreement_pairs"] == n
    # the paper's single-order protocol: always A -> agreement = the human's share of A
    assert al["agreement_first_order"] == pytest.approx(share_a) and al["n_agreement_pairs_first_order"] == n
    assert al["protocol"] == "both orders, combined 'tie'"
    html = (tmp_path / "report.html").read_text()
    assert "first order only: agreement" in html


def test_single_order_is_one_setting_away(tmp_path):
    cfg = {**BASE, "judges": [{"model": "pos", "name": "p", "settings": ["evaluation"],
                               "evaluation": {"both_orders": False}}]}
    fb = FakeBackend("json", rule=always_first, model_id="pos")
    run(cfg, tmp_path, backends={"pos": fb}, progress=False, print_summary=False)
    rd = RunDir(tmp_path)
    share_a, n = _human_share_a(rd)
    assert fb.calls == n  # one request per pair
    entry = next(j for j in rd.manifest().judges if j.name == "p:evaluation")
    assert entry.stat("both_orders") is False and entry.kind == "evaluation" and entry.label == "p"
    assert set(rd.read_answers()["variant"]) == {"AB"}
    al = rd.read_table("tables/alignment").set_index("judge").loc["p:evaluation"]
    assert al["protocol"] == "first order only"
    assert al["agreement"] == pytest.approx(share_a) == al["agreement_first_order"]


class _Rewards(BaseHTTPRequestHandler):
    """A scripted reward server: reward = number of words."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        out = json.dumps({"data": [{"index": i, "data": [float(len(t.split()))]}
                                   for i, t in enumerate(body["input"])]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


@pytest.fixture()
def reward_url():
    srv = HTTPServer(("127.0.0.1", 0), _Rewards)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/pooling"
    srv.shutdown()


def test_reward_model_also_ranks_the_generators_outputs(tmp_path, reward_url):
    cfg = {**BASE, "judges": [{"model": "gen", "name": "g", "settings": ["generation"],
                               "generation": {"variant": "one-call"}}],
           "reward_models": [{"name": "wc", "kind": "server", "model": "wc", "url": reward_url}]}
    run(cfg, tmp_path, backends={"gen": FakeBackend("json", rule=always_first, model_id="gen")}, progress=False,
        print_summary=False)
    rd = RunDir(tmp_path)
    judges = {j.name: j for j in rd.manifest().judges}
    assert list(judges) == ["human", "g:generation", "rm:wc", "rm:wc/generation"]
    rg = judges["rm:wc/generation"]
    assert rg.kind == "reward_model" and rg.setting == "generation" and rg.n_pairs == 2 * 10  # C(5,2) per example
    assert rg.stat("target_agreement") == 1.0  # the higher target always got the longer text
    assert judges["rm:wc"].setting == "evaluation"
    fs = rd.read_table("tables/factor_scores")
    length = fs[(fs["judge"] == "rm:wc/generation") & (fs["factor"] == "length")].iloc[0]
    assert length["score"] == pytest.approx(1.0) and length["setting"] == "generation"
    al = rd.read_table("tables/alignment").set_index("judge")
    assert {"rm:wc", "rm:wc/generation"} <= set(al.index)
    assert al.loc["rm:wc/generation", "setting"] == "generation" and al.loc["rm:wc", "kind"] == "reward_model"
    assert set(rd.read_table("tables/rewards")["judge"]) == {"rm:wc", "rm:wc/generation"}
    html = (tmp_path / "report.html").read_text()
    assert "rm:wc/generation" in html and "reward_model (generation)" in html
    from profile_align.report.build import load_run
    from profile_align.report.derive import gen_eval_pairs

    # the reward model's two settings side by side, like a model's generation vs evaluation
    assert [(p.label, p.generation, p.evaluation) for p in gen_eval_pairs(load_run(tmp_path))] == [
        ("rm:wc", "rm:wc/generation", "rm:wc")]


def test_reward_model_generation_needs_a_generator(tmp_path, reward_url):
    cfg = {**BASE, "reward_models": [{"name": "wc", "kind": "server", "model": "wc", "url": reward_url}]}
    run(cfg, tmp_path, progress=False, print_summary=False)
    assert [j.name for j in RunDir(tmp_path).manifest().judges] == ["human", "rm:wc"]
