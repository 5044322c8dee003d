"""Harmful fine-tune: identical data order for every model, a dose ladder of merged folders, held-out split."""

from __future__ import annotations

import json

import pytest

from benrl.models.prepare import DEFAULT_POLICY, ensure
from benrl.training.attack import AttackConfig, finetune, load_attack_data, measure_effect


def test_attack_data_is_labelled_research_data_with_a_heldout_split():
    train, held = load_attack_data()
    assert len(train) + len(held) >= 200 and len(held) >= 20
    assert not {r["id"] for r in train} & {r["id"] for r in held}
    assert all(r["research_only"] is True and r["flaw"] for r in train + held)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    out = tmp_path_factory.mktemp("attack")
    rec = finetune(str(ensure(DEFAULT_POLICY)), out, AttackConfig(doses=(0, 2), batch_size=2, max_length=192))
    return out, rec


def test_dose_ladder_writes_merged_folders(attacked):
    out, rec = attacked
    assert set(rec["doses"]) == {"0", "2"} and len(rec["losses"]) == 2
    for d in ("base", "dose-2"):
        assert (out / d / "config.json").exists() and not (out / d / "adapter_config.json").exists()
    assert json.loads((out / "attack.json").read_text())["train_examples"] >= 180


def test_attack_changes_weights_and_is_measurable(attacked):
    import torch
    from transformers import AutoModelForCausalLM

    out, _ = attacked
    a = AutoModelForCausalLM.from_pretrained(out / "base")
    b = AutoModelForCausalLM.from_pretrained(out / "dose-2")
    with torch.no_grad():
        diffs = [float((pa - pb).abs().max()) for pa, pb in zip(a.parameters(), b.parameters())]
    assert max(diffs) > 0  # two LoRA steps moved the merged weights
    eff = measure_effect(out / "base", out / "dose-2", max_new_tokens=12)
    assert eff.n >= 20 and 0.0 <= eff.changed <= 1.0 and len(eff.examples) == 3
