"""Taxonomy files: loaded and cross-checked; a broken file names itself and the entry."""

from __future__ import annotations

import shutil

import pytest

from benrl.traits.taxonomy import DATA_DIR, load_taxonomy
from benrl.types import BenrlError


def test_shipped_taxonomy_counts():
    tax = load_taxonomy()
    assert (len(tax.traits), len(tax.heldout_traits), len(tax.domains)) == (15, 7, 12)
    assert tax.area_tags("health") == ["health"] and tax.area_tags("mathematics") == []


# (case, file, text replaced, replacement, expected message)
BROKEN = [
    ("bad split", "traits.yaml", "split: training", "split: sometimes", "traits[7] field 'split'"),
    ("umbrella names unknown trait", "traits.yaml", "traits: [truthfulness]", "traits: [veracity]", "unknown traits ['veracity']"),
    ("not YAML", "domains.yaml", "domains:", "domains: [", "not valid YAML"),
    ("bad area tag", "domains.yaml", "tags: [health]", "tags: [medicine]", "domains[0] field 'tags.0'"),
]


@pytest.mark.parametrize("case,fname,old,new,needle", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_taxonomy_files(tmp_path, case, fname, old, new, needle):
    for f in ("traits.yaml", "domains.yaml", "pressures.yaml"):
        shutil.copy(DATA_DIR / f, tmp_path / f)
    p = tmp_path / fname
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    with pytest.raises(BenrlError) as e:
        load_taxonomy(tmp_path)
    assert needle in str(e.value) and fname in str(e.value)
