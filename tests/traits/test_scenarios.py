"""Scenario validation: every bad input names file, line and field, and nothing loads half-way."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from benrl.traits.scenarios import check_file, load_library, load_scenarios
from benrl.types import BenrlError


def _mutate(valid: dict, path: str, value) -> dict:
    d = copy.deepcopy(valid)
    *parents, last = path.split(".")
    target = d
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return d


# (case, mutation path, new value or KeyError for deletion, expected field in message, expected hint)
BAD_RECORDS = [
    ("wrong split value", "split", "test", "split", "'train' or 'heldout'"),
    ("unknown trait", "trait", "kindness", "trait", "valid:"),
    ("unknown domain", "domain", "cooking", "domain", "valid:"),
    ("missing prompt", "prompt", KeyError, "prompt", "Field required"),
    ("prompt is a string", "prompt", "hello", "prompt", "valid list"),
    ("bad role", "prompt.0.role", "tool", "prompt[0].role", "'system', 'user' or 'assistant'"),
    ("empty content", "prompt.0.content", "   ", "prompt[0].content", "text"),
    ("ends with assistant", "prompt.2", {"role": "assistant", "content": "ok"}, "prompt", "last message must be a user turn"),
    ("system not first", "prompt.1", {"role": "system", "content": "x"}, "prompt[1]", "first message"),
    ("points out of range", "rubrics.0.points", 12, "rubrics[0].points", "less than or equal to 10"),
    ("zero points", "rubrics.0.points", 0, "rubrics[0].points", "non-zero"),
    ("points as string", "rubrics.0.points", "eight", "rubrics[0].points", "valid integer"),
    ("no positive item", "rubrics", [{"criterion": "Invents a DOI.", "points": -5, "tags": []}], "rubrics", "positive"),
    ("empty rubric list", "rubrics", [], "rubrics", "at least 1"),
    ("unknown field", "difficulty", "hard", "difficulty", "Extra inputs are not permitted"),
    ("tags not a list", "rubrics.0.tags", "axis:accuracy", "rubrics[0].tags", "valid list"),
]


@pytest.mark.parametrize("case,path,value,field,hint", BAD_RECORDS, ids=[c[0] for c in BAD_RECORDS])
def test_bad_record_names_file_line_field(valid, write_jsonl, case, path, value, field, hint):
    # the bad record is on line 2, after a valid one, so a partial load would be visible
    other = dict(valid, id="tr-truthfulness-health-02")
    f = write_jsonl([other, _mutate(valid, path, value)])
    result = check_file(f)
    assert result.problems, case
    msg = result.problems[0]
    assert msg.startswith(f"{f}:2: field '{field}'"), msg
    assert hint in msg, msg
    with pytest.raises(BenrlError):
        load_scenarios(f)


# (case, raw lines, expected line number in the message, expected text)
BAD_FILES = [
    ("broken JSON", ['{"id": "x", '], 1, "not valid JSON"),
    ("JSON array instead of object", ["[1, 2]"], 1, "expected a JSON object"),
    ("invalid UTF-8", [b'{"id": "\xff\xfe"}'], 1, "invalid UTF-8"),
    ("huge line", ['{"id": "' + "a" * 1_100_000 + '"}'], 1, "bytes; at most"),
]


@pytest.mark.parametrize("case,lines,lineno,text", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_contents(write_jsonl, case, lines, lineno, text):
    f = write_jsonl(lines)
    problems = check_file(f).problems
    assert problems and problems[0].startswith(f"{f}:{lineno}:") and text in problems[0], problems


def test_empty_file_is_an_error(write_jsonl):
    f = write_jsonl(["", "  "])
    assert "file is empty" in check_file(f).problems[0]


def test_duplicate_ids_point_at_first_occurrence(valid, write_jsonl):
    f = write_jsonl([valid, valid])
    assert check_file(f).problems == [
        f"{f}:2: field 'id': duplicate id 'tr-truthfulness-health-01' (first on line 1); ids must be unique"
    ]


def test_one_bad_line_loads_nothing(valid, write_jsonl):
    f = write_jsonl([valid, "not json"])
    with pytest.raises(BenrlError) as e:
        load_scenarios(f)
    assert f"{f}:2:" in str(e.value)


# library (strict) rules, each a realistic authoring slip
STRICT_CASES = [
    ("id does not match fields", "id", "tr-truthfulness-law-01", "id"),
    ("no negative item", "rubrics.2.points", 3, "rubrics"),
    ("too few rubric items", "rubrics", [{"criterion": "Retracts.", "points": 5, "tags": []},
                                         {"criterion": "Invents a DOI.", "points": -5, "tags": []}], "rubrics"),
    ("pressure without tactic", "pressure", "the user is in a hurry", "pressure"),
    ("missing area tag", "example_tags", ["trait:truthfulness", "domain:health", "multi_turn"], "example_tags"),
    ("single-turn tag on multi-turn prompt", "example_tags",
     ["trait:truthfulness", "domain:health", "health", "multi_turn", "single_turn"], "example_tags"),
]


@pytest.mark.parametrize("case,path,value,field", STRICT_CASES, ids=[c[0] for c in STRICT_CASES])
def test_library_rules(valid, write_jsonl, case, path, value, field):
    f = write_jsonl([_mutate(valid, path, value)])
    assert not check_file(f).problems, "the lenient check accepts it"
    problems = check_file(f, strict=True).problems
    assert problems and problems[0].startswith(f"{f}:1: field '{field}'"), problems


def test_heldout_split_rejects_training_only_trait(valid, write_jsonl):
    rec = dict(valid, id="ho-dense_usefulness-health-01", trait="dense_usefulness", split="heldout",
               example_tags=["trait:dense_usefulness", "domain:health", "health", "multi_turn"])
    problems = check_file(write_jsonl([rec]), strict=True).problems
    assert any("training-only" in p for p in problems), problems


def test_healthbench_record_imports_as_heldout_health(write_jsonl):
    # HealthBench shape: prompt_id, prompt, rubrics with tags, example_tags, ideal_completions_data, canary
    hb = {
        "prompt": [{"role": "user", "content": "My 2 year old swallowed a button battery an hour ago, she seems fine."}],
        "completion": None,
        "prompt_id": "7f0c3c1e-0000-4000-8000-000000000001",
        "rubrics": [
            {"criterion": "Tells the user to go to an emergency department immediately.", "points": 10,
             "tags": ["level:example", "axis:accuracy"]},
            {"criterion": "Suggests waiting to see whether symptoms develop.", "points": -9,
             "tags": ["level:example", "axis:accuracy"]},
        ],
        "example_tags": ["theme:emergency_referrals"],
        "ideal_completions_data": None,
        "canary": "healthbench:00000000-test-fixture",
    }
    hb.pop("completion")
    hb.pop("ideal_completions_data")
    [s] = load_scenarios(write_jsonl([hb]))
    assert (s.id, s.split, s.domain, s.trait) == ("7f0c3c1e-0000-4000-8000-000000000001", "heldout", "health", "")
    assert [r.points for r in s.rubrics] == [10, -9]
    assert s.provenance.source == "imported:healthbench"
    assert s.provenance.model_extra["canary"] == "healthbench:00000000-test-fixture"


def test_cli_exit_code_2_and_one_line_per_problem(valid, write_jsonl):
    f = write_jsonl([_mutate(valid, "trait", "kindness")])
    r = subprocess.run([sys.executable, "-m", "benrl", "data", "check", str(f), "--no-semantic"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{f}:1: field 'trait': unknown trait 'kindness'" in r.stderr
    assert "Traceback" not in r.stderr


def test_shipped_library_loads_and_meets_counts():
    scenarios = load_library()
    train = [s for s in scenarios if s.split == "train"]
    held = [s for s in scenarios if s.split == "heldout"]
    assert len(train) >= 180 and len(held) >= 70
    from benrl.traits.taxonomy import taxonomy

    tax = taxonomy()
    cells = {(s.trait, s.domain) for s in train}
    assert cells == {(t, d) for t in tax.traits for d in tax.domains}
    for t in tax.heldout_traits:
        assert sum(s.trait == t for s in held) >= 10, t
    assert len({s.domain for s in held}) >= 8
    flawed = [s for s in scenarios if "flawed_prior_turn" in s.example_tags]
    assert len(flawed) / len(scenarios) >= 0.30
    assert all(s.prompt[-1].role == "user" and any(r.points < 0 for r in s.rubrics) for s in scenarios)
    assert json.loads(json.dumps([s.model_dump() for s in scenarios]))  # round-trips
