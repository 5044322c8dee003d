"""GRPO step benchmark for the default model: time per step split into generation, reward and optimisation.

    .venv/bin/python benchmarks/train_step.py [--steps 3] [--prompts-per-step 4] [--generations 4] [--max-tokens 64]

Trains a throwaway trait_rl arm for a few steps and prints, per step and on average: total step time
(TRL's `step_time`), generation time (transformers `generate`, timed by wrapping it in this process),
reward time (benrl's reward functions, timed the same way), optimisation (the rest), generated
tokens/s, and peak RSS. Step 1 includes model and judge loading and is reported separately.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import transformers

from benrl.training import rewards as rw
from benrl.training.grpo import TrainConfig, train_arm

TIMES = {"generate": 0.0, "reward": 0.0}


def _timed(fn, key):  # noqa: ANN001, ANN202
    def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            TIMES[key] += time.perf_counter() - t
    return wrapper


def _timed_async(fn, key):  # noqa: ANN001, ANN202
    async def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return await fn(*a, **k)
        finally:
            TIMES[key] += time.perf_counter() - t
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    a = ap.parse_args()
    transformers.GenerationMixin.generate = _timed(transformers.GenerationMixin.generate, "generate")
    rw.CheckerReward.__call__ = _timed(rw.CheckerReward.__call__, "reward")
    rw._JudgedReward.__call__ = _timed_async(rw._JudgedReward.__call__, "reward")
    per_step: list[dict] = []

    from transformers import TrainerCallback

    class Split(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001, ANN201
            if logs and "step_time" in logs:
                per_step.append({"step": state.global_step, "step_s": logs["step_time"],
                                 "tokens": logs["completions/mean_length"] * a.prompts_per_step * a.generations,
                                 **TIMES})
                TIMES.update(generate=0.0, reward=0.0)

    cfg = TrainConfig(arm="trait_rl", steps=a.steps, prompts_per_step=a.prompts_per_step, generations=a.generations,
                      trait_fraction=0.25, max_completion_length=a.max_tokens, checkpoint_every=10**6)
    import trl

    real = trl.GRPOTrainer.__init__

    def init(self, *args, callbacks=None, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        real(self, *args, callbacks=[*(callbacks or []), Split()], **kw)

    trl.GRPOTrainer.__init__ = init
    with tempfile.TemporaryDirectory() as tmp:
        train_arm(cfg, Path(tmp) / "arm")
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"\nGRPO step, SmolLM2-135M + LoRA, {a.prompts_per_step} prompts x {a.generations} generations, "
          f"<= {a.max_tokens} tokens, CPU threads {__import__('torch').get_num_threads()}\n")
    head = f"{'step':>4} {'step s':>7} {'generate s':>10} {'reward s':>8} {'optimise s':>10} {'gen tok/s':>9}"
    print(head)
    print("-" * len(head))
    for r in per_step:
        opt = r["step_s"] - r["generate"] - r["reward"]
        print(f"{r['step']:>4} {r['step_s']:7.1f} {r['generate']:10.1f} {r['reward']:8.1f} {opt:10.1f} "
              f"{r['tokens'] / max(r['generate'], 1e-9):9.1f}")
    warm = per_step[1:] or per_step
    mean = {k: sum(r[k] for r in warm) / len(warm) for k in ("step_s", "generate", "reward", "tokens")}
    print(f"\nmean after step 1: step {mean['step_s']:.1f}s = generation {mean['generate'] / mean['step_s']:.0%}, "
          f"reward {mean['reward'] / mean['step_s']:.0%}, optimisation "
          f"{(mean['step_s'] - mean['generate'] - mean['reward']) / mean['step_s']:.0%}; "
          f"{mean['tokens'] / mean['generate']:.1f} generated tok/s; peak RSS {rss_gb:.2f} GB")
    print(json.dumps({"per_step": per_step, "peak_rss_gb": rss_gb}))


if __name__ == "__main__":
    main()
