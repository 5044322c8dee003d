"""Standard-mix checkers: numeric answers and instruction constraints, table-driven."""

from __future__ import annotations

import random

import pytest

from benrl.training.standard_mix import Constraint, math_correct, math_row

# (answer text, expected, correct?)
MATH = [
    ("First 3*4=12, then 12+5 = 17.\n17", 17, True),
    ("The total is 1,250 dollars.", 1250, True),
    ("It is 16. No wait, 18", 16, False),  # the last number counts
    ("I am not sure.", 3, False),
]


@pytest.mark.parametrize("text,expected,ok", MATH)
def test_math_correct(text, expected, ok):
    assert math_correct(text, expected) is ok


def test_math_rows_have_integral_answers():
    rng = random.Random(0)
    for i in range(200):
        row = math_row(rng, i)
        assert row.answer is not None and row.answer == int(row.answer) and row.answer >= 0, row.prompt


# (constraint, answer, satisfied?)
CONSTRAINTS = [
    (Constraint("max_words", 5), "one two three", True),
    (Constraint("max_words", 2), "one two three", False),
    (Constraint("max_words", 5), "", False),  # empty never satisfies a length cap
    (Constraint("include", "river"), "The River runs.", True),
    (Constraint("include", "river"), "The riverbank.", False),  # whole words only
    (Constraint("exclude", "simple"), "It is easy.", True),
    (Constraint("exclude", "simple"), "Simple!", False),
    (Constraint("bullets", 3), "- a\n- b\n- c", True),
    (Constraint("bullets", 3), "- a\n- b", False),
    (Constraint("lowercase", ""), "all small here", True),
    (Constraint("lowercase", ""), "Not small", False),
    (Constraint("json_keys", '["title", "summary"]'), '{"summary": "s", "title": "t"}', True),
    (Constraint("json_keys", '["title", "summary"]'), '{"title": "t"}', False),
    (Constraint("json_keys", '["title", "summary"]'), "title: t", False),
    (Constraint("ends_with", "Good luck!"), "Study hard. Good luck!", True),
    (Constraint("ends_with", "Good luck!"), "Good luck! Study hard.", False),
]


@pytest.mark.parametrize("c,answer,ok", CONSTRAINTS)
def test_constraints(c, answer, ok):
    assert c.check(answer) is ok


def test_instruction_rows_never_pair_conflicting_constraints():
    from benrl.training.standard_mix import CONFLICTS, instruction_row

    rng = random.Random(1)
    for i in range(300):
        row = instruction_row(rng, i)
        assert len(row.constraints) == 2 and frozenset(c.kind for c in row.constraints) not in CONFLICTS
