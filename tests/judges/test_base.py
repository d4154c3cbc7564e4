"""The judge interface: one kind spelling, a registry of builders, every judge implements the protocol."""

import pytest

from profile_align.data.loaders import load_dataset
from profile_align.judges import (JUDGE_BUILDERS, EvaluationJudge, GenerationJudge, HumanJudge, Judge, JudgeContext,
                                  JudgeKind, JudgeResult, RewardModelJudge, judge_builder, register_judge)


class WordCount:
    model = "wc"

    def score(self, prompts, responses, calls=None):
        return [float(len(r.split())) for r in responses]


def test_kind_has_one_spelling_and_reads_the_old_one():
    assert JudgeKind.parse("rm") is JudgeKind.REWARD_MODEL and JudgeKind.parse("reward_model").value == "reward_model"
    assert str(JudgeKind.EVALUATION) == "evaluation" and JudgeKind.GENERATION == "generation"
    with pytest.raises(ValueError, match="unknown judge kind 'robot'"):
        JudgeKind.parse("robot")
    assert JudgeResult("x", "rm", None, "evaluation").kind is JudgeKind.REWARD_MODEL


def test_every_judge_implements_the_protocol():
    judges = [HumanJudge(), RewardModelJudge(WordCount(), label="w"),
              EvaluationJudge.__new__(EvaluationJudge), GenerationJudge.__new__(GenerationJudge)]
    for j in judges[:2]:
        assert isinstance(j, Judge)
    assert {(type(j).kind, type(j).setting) for j in judges[2:]} == {
        (JudgeKind.EVALUATION, "evaluation"), (JudgeKind.GENERATION, "generation")}
    assert all(callable(getattr(j, "judge")) for j in judges)


def test_unknown_builder_and_setting_are_clear_errors():
    with pytest.raises(ValueError, match="no judge builder for human/generation"):
        judge_builder("human", "generation")
    with pytest.raises(ValueError, match="unknown setting 'discrimination'"):
        register_judge("evaluation", "discrimination")


def test_reward_model_in_both_settings():
    full = load_dataset("summeval")
    ds = full.subset([full.examples[0].id])
    ctx = JudgeContext(ds)
    ev = RewardModelJudge(WordCount(), label="w").judge(ctx)
    assert ev.name == "rm:w" and ev.setting == "evaluation" and len(ev.preferences) == len(ds.pairs)
    # a "generator" whose outputs for the higher target are shorter: the RM (longer = better) disagrees
    from profile_align.data.model import Output, Pair, Preference, Verdict

    ex = ds.examples[0].id
    outs = [Output(f"g::{s}", ex, "w " * (10 - s), "g:generation", {"target_score": s}) for s in (1, 2, 3)]
    pairs = [Pair(f"g::{hi}>{lo}", ex, f"g::{hi}", f"g::{lo}") for hi, lo in ((3, 2), (3, 1), (2, 1))]
    gen = JudgeResult("g:generation", "generation", "m", "generation", outputs=outs, pairs=pairs,
                      preferences=[Preference(p.id, "g:generation", Verdict.A) for p in pairs])
    rg = RewardModelJudge(WordCount(), label="w", setting="generation").judge(JudgeContext(ds, [ev, gen]))
    assert rg.name == "rm:w/generation" and rg.kind is JudgeKind.REWARD_MODEL and rg.setting == "generation"
    assert [p.verdict for p in rg.preferences] == [Verdict.B] * 3
    assert rg.stats["target_agreement"] == 0.0 and rg.stats["generators"] == ["g:generation"]
    assert set(rg.tables["rewards"]["output_id"]) == {o.id for o in outs}


def test_builtin_builders_are_registered():
    import profile_align.pipeline.judging  # noqa: F401 - registers the built-in builders

    assert {(k.value, s) for k, s in JUDGE_BUILDERS} >= {
        ("human", "evaluation"), ("evaluation", "evaluation"), ("generation", "generation"),
        ("reward_model", "evaluation"), ("reward_model", "generation")}
