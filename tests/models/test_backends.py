"""Model-answer parsing shared by the generator and the judge."""

from __future__ import annotations

import pytest

from benrl.models.backends import extract_json

# (model answer, expected object)
CASES = [
    ('Here:\n```json\n{"a": 1}\n```', {"a": 1}),  # fenced block
    ('Sure! {"a": {"b": 2}} hope this helps', {"a": {"b": 2}}),  # bare object after chatter
    ('[1, 2] then {"ok": true}', {"ok": True}),  # a list first is skipped
]


@pytest.mark.parametrize("text,expected", CASES)
def test_extract_json(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["no braces", "{broken", ""])
def test_extract_json_rejects(text):
    with pytest.raises(ValueError):
        extract_json(text)
