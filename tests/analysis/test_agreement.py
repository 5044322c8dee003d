"""Agreement metrics against scikit-learn-free hand computations and edge cases."""

from __future__ import annotations

import pytest

from benrl.analysis.agreement import agreement

# (case, pred, gold, accuracy, kappa, f1)
CASES = [
    ("perfect", [True, False, True, False], [True, False, True, False], 1.0, 1.0, 1.0),
    ("all wrong", [False, True, False, True], [True, False, True, False], 0.0, -1.0, 0.0),
    # tp=2 fp=1 fn=1 tn=1: acc .6; pe = .6*.6+.4*.4 = .52; kappa = (.6-.52)/.48 = 1/6; f1 = 4/6
    ("mixed", [True, True, True, False, False], [True, True, False, True, False], 0.6, 1 / 6, 4 / 6),
    ("constant prediction has kappa 0", [True] * 4, [True, True, False, False], 0.5, 0.0, 2 / 3),
    ("single class both sides", [False] * 3, [False] * 3, 1.0, 1.0, 1.0),
]


@pytest.mark.parametrize("case,pred,gold,acc,kappa,f1", CASES, ids=[c[0] for c in CASES])
def test_agreement(case, pred, gold, acc, kappa, f1):
    a = agreement(pred, gold)
    assert (a.accuracy, a.kappa, a.f1) == pytest.approx((acc, kappa, f1))
    assert a.n == len(pred)
