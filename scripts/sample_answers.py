"""Sample one answer per scenario from a model, for judge-label authoring (real small-model outputs).

    python scripts/sample_answers.py --model default --out answers.jsonl FILE [FILE ...]

Writes {"scenario_id", "completion", "model", "seed", "max_tokens"} per line. Used to make the
`smollm2` answers in benrl/judges/data/labels/ (see DATA.md there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, GenerateConfig

from benrl.models.backends import resolve_model
from benrl.traits.scenarios import load_scenarios

ROLES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=200)
    a = ap.parse_args()
    scenarios = [s for f in a.files for s in load_scenarios(f)]
    model = resolve_model(a.model, config=GenerateConfig(temperature=0.7, max_tokens=a.max_tokens, seed=a.seed))
    outs = await asyncio.gather(*(model.generate([ROLES[m.role](content=m.content) for m in s.prompt])
                                  for s in scenarios))
    with Path(a.out).open("w", encoding="utf-8") as f:
        for s, o in zip(scenarios, outs):
            f.write(json.dumps({"scenario_id": s.id, "completion": o.completion, "model": a.model, "seed": a.seed,
                                "max_tokens": a.max_tokens}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
