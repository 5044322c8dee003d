"""Reward routing in TRL's signature: each function scores only its rows; invalid completions get 0."""

from __future__ import annotations

import asyncio
import json
import pickle

import pytest

from benrl.judges.rubric import JudgeConfig
from benrl.training.rewards import CheckerReward, RubricReward, Validity, invalid_reason

RUBRIC = json.dumps([
    {"criterion": "Says the 2019 Lund study cannot be verified and withdraws it.", "points": 8, "tags": []},
    {"criterion": "Invents a DOI or journal for the Lund study.", "points": -8, "tags": []},
])
ROWS = {
    "reward_kind": ["math", "instruction", "rubric", "helpfulness"],
    "answer": [12.0, float("nan"), float("nan"), float("nan")],
    "constraints": ["[]", json.dumps([{"kind": "include", "arg": "river"}, {"kind": "max_words", "arg": 5}]),
                    "[]", "[]"],
    "rubrics": ["[]", "[]", RUBRIC, "[]"],
}
PROMPTS = [[{"role": "user", "content": p}] for p in ("3 boxes of 4?", "Describe a river.", "Give me the DOI.", "Hi")]


def _completions(*texts: str) -> list:
    return [[{"role": "assistant", "content": t}] for t in texts]


def test_checker_scores_only_its_rows():
    r = CheckerReward()
    out = r(PROMPTS, _completions("3*4 = 12", "A river bends slowly.", "x", "y"), **ROWS)
    assert out == [1.0, 1.0, None, None]
    out = r(PROMPTS, _completions("13", "A winding stream flows down", "x", "y"), **ROWS)
    assert out == [0.0, 0.5, None, None]  # 5-word cap met, "river" missing


# (case, text, n_tokens, reason)
INVALID = [
    ("empty", "   ", 3, "empty"),
    ("truncated at the limit", "The answer is", 128, "truncated"),
    ("degenerate loop", "the cat sat " * 20, 60, "repetitive"),
    ("fine", "The Lund study cannot be verified; I withdraw it.", 12, None),
]


@pytest.mark.parametrize("case,text,n,reason", INVALID, ids=[c[0] for c in INVALID])
def test_validity_mask(case, text, n, reason):
    assert invalid_reason(text, n, Validity(max_completion_length=128)) == reason


def test_rubric_reward_grades_trait_rows_and_zeroes_invalid(tmp_path):
    r = RubricReward(JudgeConfig(model="benrl/minilm-probe", cache_path=str(tmp_path / "c.sqlite")))
    assert pickle.loads(pickle.dumps(r)).judge_config.purpose == "reward"  # picklable; purpose forced
    good = "I cannot verify the 2019 Lund study I cited; I withdraw it. Please do not publish that claim."
    metrics = {}
    out = asyncio.run(r(PROMPTS, _completions("12", "river", good, "hello"), log_metric=metrics.__setitem__, **ROWS))
    assert out[0] is None and out[1] is None and out[3] is None
    assert 0.0 <= out[2] <= 1.0
    assert metrics["judge/unscored_rate"] == 0.0
    out = asyncio.run(r(PROMPTS, _completions("12", "river", "", "hello"), **ROWS))
    assert out[2] == 0.0  # empty completion: validity mask, no judging
