"""The fixed, versioned generic-helpfulness rubric (`data/helpfulness.yaml`).

Used for chat rows of the standard RL mix and by the helpfulness-control arm, which grades the trait
prompts with this rubric instead of their own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from benrl.types import RubricItem

PATH = Path(__file__).parent / "data" / "helpfulness.yaml"


@cache
def helpfulness_rubric() -> tuple[str, tuple[RubricItem, ...]]:
    """(version, items) of the generic helpfulness rubric."""
    doc = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    return doc["version"], tuple(RubricItem.model_validate(r) for r in doc["rubrics"])
