"""Agreement between predicted and gold binary labels: accuracy, Cohen's kappa, F1. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    """Agreement of scored predictions with gold labels (positive class = True)."""

    n: int
    accuracy: float
    kappa: float
    f1: float
    positive_rate: float
    gold_positive_rate: float


def agreement(pred: list[bool], gold: list[bool]) -> Agreement:
    """Accuracy, Cohen's kappa and F1 of `pred` against `gold` (same length, at least one pair)."""
    assert len(pred) == len(gold) and pred, "need paired, non-empty labels"
    n = len(pred)
    tp = sum(p and g for p, g in zip(pred, gold))
    tn = sum((not p) and (not g) for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum((not p) and g for p, g in zip(pred, gold))
    acc = (tp + tn) / n
    pp, gp = (tp + fp) / n, (tp + fn) / n
    expected = pp * gp + (1 - pp) * (1 - gp)
    kappa = (acc - expected) / (1 - expected) if expected < 1 else (1.0 if acc == 1 else 0.0)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return Agreement(n=n, accuracy=acc, kappa=kappa, f1=f1, positive_rate=pp, gold_positive_rate=gp)
