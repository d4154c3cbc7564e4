import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from profile_align.data.loaders import load_dataset
from profile_align.data.model import Verdict
from profile_align.judges import RewardModelJudge, ServerScorer, make_scorer, read_scores


class _Handler(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body)
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        # reward = number of words; the same text always gets the same reward
        data = [{"index": i, "data": [float(len(t.split()))]} for i, t in enumerate(body["input"])]
        out = json.dumps({"object": "list", "data": list(reversed(data))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


@pytest.fixture()
def server():
    _Handler.calls = []
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/pooling"
    srv.shutdown()


@pytest.fixture(scope="module")
def ds():
    full = load_dataset("summeval")
    return full.subset([full.examples[0].id])


def _scorer(url, tmp_path, **kw):
    from profile_align.backends import Client

    client = Client(f"rm-server:{url}::rm-test", cache=tmp_path / "c.sqlite", progress=False,
                    backoff_initial_s=0.01, **kw)
    return ServerScorer("rm-test", url=url, client=client), client


def test_server_scorer_and_ordering(server, ds, tmp_path):
    _Handler.fail_first = 1  # one 503, retried by the Client
    scorer, client = _scorer(server, tmp_path, max_retries=2)
    res = RewardModelJudge(scorer, label="t").run(ds.examples, ds.outputs, ds.pairs[:12])
    assert res.name == "rm:t" and res.kind == "reward_model"
    assert all(c["model"] == "rm-test" for c in _Handler.calls)
    outs = ds.output_map()
    prompt_words = len(ds.examples[0].input.split())
    for p, pr in zip(ds.pairs[:12], res.preferences):
        la, lb = len(outs[p.a].text.split()), len(outs[p.b].text.split())
        assert pr.verdict == (Verdict.A if la > lb else Verdict.B if lb > la else Verdict.TIE)
        assert pr.metadata["reward_a"] == pytest.approx(prompt_words + la)
    n_texts = len({o for p in ds.pairs[:12] for o in (p.a, p.b)})
    assert all(len(c["input"]) == 1 for c in _Handler.calls)  # one text per request
    assert len(_Handler.calls) == n_texts + 1  # + the retried request
    assert len(res.tables["rewards"]) == n_texts
    # every score is a call record (stage reward_model), and a rerun is answered from the cache
    recs = client.records()
    assert len(recs) == n_texts and {(r.stage, r.prompt_type, r.model_id) for r in recs} == {
        ("reward_model", "reward", "rm-test")}
    assert res.n_requests == n_texts and res.n_failed == 0
    res2 = RewardModelJudge(scorer, label="t").run(ds.examples, ds.outputs, ds.pairs[:12])
    assert len(_Handler.calls) == n_texts + 1 and [p.verdict for p in res2.preferences] == [
        p.verdict for p in res.preferences]
    assert client.records().tally().cached == n_texts
    client.close()


def test_server_failures_skip_pairs_and_are_counted(ds, tmp_path):
    scorer, client = _scorer("http://127.0.0.1:9/pooling", tmp_path, max_retries=0)  # nothing listens there
    res = RewardModelJudge(scorer, label="down").run(ds.examples, ds.outputs, ds.pairs[:3])
    n_texts = len({o for p in ds.pairs[:3] for o in (p.a, p.b)})
    assert res.preferences == [] and res.stats["n_pairs_skipped"] == 3
    assert res.n_failed == res.n_requests == n_texts
    assert client.records().failure_counts() == {"reward_model/reward": {
        "requests": n_texts, "failed": n_texts, "parse_failed": 0}}
    assert any("no reward" in r for r in res.failures.reasons)
    client.close()


def test_equal_rewards_are_ties(ds):
    class Const:
        model = "const"

        def score(self, prompts, responses, calls=None):
            return [1.0 for _ in responses]

    res = RewardModelJudge(Const(), label="c").run(ds.examples, ds.outputs, ds.pairs[:5])
    assert all(p.verdict == Verdict.TIE for p in res.preferences) and res.stats["tie_rate"] == 1.0

    class Near:
        model = "near"

        def score(self, prompts, responses, calls=None):
            return [len(r) * 1e-9 for r in responses]

    res = RewardModelJudge(Near(), label="n", tie_tol=1e-3).run(ds.examples, ds.outputs, ds.pairs[:5])
    assert all(p.verdict == Verdict.TIE for p in res.preferences)


def test_read_scores_formats():
    assert read_scores({"scores": [1, 2.5]}, 2) == [1.0, 2.5]
    assert read_scores({"data": [{"score": 0.3}, {"reward": -1}]}, 2) == [0.3, -1.0]
    assert read_scores([[0.1], [0.2]], 2) == [0.1, 0.2]
    with pytest.raises(ValueError, match="2 scores for 3"):
        read_scores({"scores": [1, 2]}, 3)
    with pytest.raises(ValueError, match="no 'data'"):
        read_scores({"result": 1}, 1)
    with pytest.raises(ValueError, match="without a number"):
        read_scores({"data": [{"label": "x"}]}, 1)


def test_unknown_kind_and_missing_url():
    with pytest.raises(ValueError, match="unknown reward-model kind"):
        make_scorer("magic", "m")
    with pytest.raises(ValueError, match="needs a url"):
        make_scorer("server", "m", url=None)


HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None and importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(HAS_TRANSFORMERS, reason="transformers is installed: the missing-extra message cannot be tested")
def test_transformers_missing_gives_clear_error():
    with pytest.raises(ImportError, match=r"profile-align\[rm\]"):
        make_scorer("transformers", "some/reward-model")


@pytest.mark.skipif(not HAS_TRANSFORMERS, reason="the 'rm' extra (transformers, torch) is not installed")
def test_transformers_tiny_random_reward_model(ds):
    import torch
    import transformers

    from profile_align.judges import TransformersScorer

    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=200, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, num_labels=1)
    net = transformers.BertForSequenceClassification(cfg)

    class Tok:
        chat_template = None

        def __call__(self, texts, **kw):
            ids = [[(hash(w) % 190) + 5 for w in t.split()][:64] for t in texts]
            n = max(len(x) for x in ids)
            pad = [x + [0] * (n - len(x)) for x in ids]
            mask = [[1] * len(x) + [0] * (n - len(x)) for x in ids]
            return transformers.BatchEncoding({"input_ids": torch.tensor(pad), "attention_mask": torch.tensor(mask)})

    scorer = TransformersScorer("tiny-random", model_obj=net, tokenizer=Tok())
    res = RewardModelJudge(scorer, label="tiny").run(ds.examples, ds.outputs, ds.pairs[:6])
    r = res.tables["rewards"].set_index("output_id")["reward"]
    for p, pr in zip(ds.pairs[:6], res.preferences):
        assert pr.verdict == (Verdict.A if r[p.a] > r[p.b] else Verdict.B if r[p.b] > r[p.a] else Verdict.TIE)
