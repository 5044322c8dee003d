"""Judge meta-evaluation on labelled verdicts: `benrl judge calibrate --labels FILE --judge MODEL`.

Label file: JSONL, one line per (answer, criterion):
    {"prompt": [messages], "completion": str, "criterion": str, "points": int, "met": bool}
(optional: "scenario_id", "quality", "label_note"). Lines sharing prompt and completion form one answer,
graded in one `RubricJudge.grade` call, so per-item and batched modes see the same answers.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benrl.analysis.agreement import agreement
from benrl.judges.rubric import JudgeConfig, RubricJudge
from benrl.types import BenrlError, Message, RubricItem

LABELS_DIR = Path(__file__).parent / "data" / "labels"


class Label(BaseModel):
    """One gold verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: list[Message] = Field(min_length=1, description="The conversation the answer replies to.")
    completion: str = Field(description="The graded answer.")
    criterion: str = Field(min_length=1, description="The rubric item.")
    points: int = Field(ge=-10, le=10, description="Its signed points.")
    met: bool = Field(description="Gold verdict: does the answer show the behaviour?")
    scenario_id: str = Field(default="", description="Scenario the answer belongs to (splits by scenario).")
    quality: str = Field(default="", description="Answer kind: good, mediocre, subtly_wrong, bad, repetitive, smollm2.")
    label_note: str = Field(default="", description="Why the label is what it is, when not obvious.")

    @field_validator("points")
    @classmethod
    def _nonzero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("must be a non-zero integer in [-10, 10]")
        return v


def load_labels(path: Path) -> list[Label]:
    """All labels of a file, or a BenrlError naming every bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BenrlError(f"{path}: cannot read labels ({e})") from None
    out, problems = [], []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(Label.model_validate_json(line))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(line)"
            problems.append(f"{path}:{i}: field '{loc}': {err['msg']}")
    if problems:
        raise BenrlError("\n".join(problems[:20]))
    if not out:
        raise BenrlError(f"{path}: no labels")
    return out


@dataclass
class Calibration:
    """How well one judge agrees with the gold labels."""

    judge: str
    mode: str
    n: int
    n_answers: int
    accuracy: float
    kappa: float
    f1: float
    positive_rate: float
    gold_positive_rate: float
    unscored_rate: float
    calls_per_answer: float
    tokens_per_answer: float
    seconds: float
    accuracy_by_quality: dict[str, float]
    """Accuracy per answer kind (good, mediocre, subtly_wrong, bad, smollm2), where labels carry one."""

    def as_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


CALIBRATION_PATH = Path(__file__).parent / "data" / "calibration.json"


def recorded_agreement(judge: str) -> dict | None:
    """The shipped calibration of an offline judge on the held-out labels, if one was recorded."""
    if not CALIBRATION_PATH.exists():
        return None
    rec = json.loads(CALIBRATION_PATH.read_text(encoding="utf-8")).get(judge)
    return {k: rec[k] for k in ("accuracy", "kappa", "f1", "n", "labels")} if rec else None


def group_answers(labels: list[Label]) -> list[list[Label]]:
    """Labels grouped by answer (same prompt and completion), in first-seen order."""
    groups: dict[str, list[Label]] = {}
    for lab in labels:
        key = json.dumps([[m.model_dump() for m in lab.prompt], lab.completion])
        groups.setdefault(key, []).append(lab)
    return list(groups.values())


async def calibrate(labels: list[Label], config: JudgeConfig, *, progress: bool = True) -> Calibration:
    """Grade every labelled answer with the judge and compare verdicts with the gold labels."""
    import time

    judge = RubricJudge(config)
    answers = group_answers(labels)
    start = time.monotonic()
    grades = await judge.grade_many(
        [(g[0].prompt, g[0].completion, [RubricItem(criterion=x.criterion, points=x.points) for x in g])
         for g in answers], progress="calibrate" if progress else None)
    seconds = time.monotonic() - start
    pred, gold, unscored = [], [], 0
    by_quality: dict[str, list[bool]] = {}
    for g, grade in zip(answers, grades):
        for lab, v in zip(g, grade.verdicts):
            if v.met is None:
                unscored += 1
                continue
            pred.append(v.met)
            gold.append(lab.met)
            by_quality.setdefault(lab.quality or "(none)", []).append(v.met == lab.met)
    # a judge that left every label unscored has no agreement to report (NaN), only its unscored rate
    nan = float("nan")
    a = agreement(pred, gold) if pred else None
    n_ans = len(answers)
    return Calibration(
        judge=config.model, mode=config.mode, n=len(labels), n_answers=n_ans, accuracy=a.accuracy if a else nan,
        kappa=a.kappa if a else nan, f1=a.f1 if a else nan, positive_rate=a.positive_rate if a else nan,
        gold_positive_rate=sum(x.met for x in labels) / len(labels),
        unscored_rate=unscored / len(labels), calls_per_answer=sum(g.calls for g in grades) / n_ans,
        tokens_per_answer=sum(g.tokens for g in grades) / n_ans, seconds=seconds,
        accuracy_by_quality={k: round(sum(v) / len(v), 4) for k, v in sorted(by_quality.items())})


def run_calibrate(labels_path: Path, config: JudgeConfig, limit: int | None = None) -> Calibration:
    labels = load_labels(labels_path)
    if limit:
        keep = {id(g[0]) for g in group_answers(labels)[:limit]}
        labels = [x for g in group_answers(labels) if id(g[0]) in keep for x in g]
    return asyncio.run(calibrate(labels, config))
