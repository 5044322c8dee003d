"""The standard RL mix: the 95% of RL data that is identical across arms.

Three kinds of rows, all generated offline from a seed:
  math         word problems built from templates with the answer computed (reward: exact number)
  instruction  a writing task plus programmatic constraints (reward: share of constraints met)
  chat         general chat prompts from data/chat_prompts.yaml (reward: the helpfulness rubric)

`build_pools(seed, n)` returns two disjoint pools: `shared` (the common slots of every arm) and
`replacement` (the baseline's stand-ins for the trait slots). Disjointness is by prompt text.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from benrl.types import BenrlError

DATA = Path(__file__).parent / "data"

MATH_TEMPLATES = [
    ("A bakery sells {a} loaves a day at ${b} each. How many dollars does it take in over {c} days?",
     lambda a, b, c: a * b * c),
    ("A tank holds {a} litres and leaks {b} litres an hour. After {c} hours, how many litres are left?",
     lambda a, b, c: a - b * c),
    ("{a} students share {b} notebooks equally, and each student also brings {c} of their own. "
     "How many notebooks does each student have? (Assume the division is exact.)",
     lambda a, b, c: b // a + c),
    ("A cyclist rides {a} km on Monday, {b} km on Tuesday and twice Tuesday's distance on Wednesday, "
     "then {c} km on Thursday. How many km in total?", lambda a, b, c: a + b + 2 * b + c),
    ("A box has {a} red and {b} blue marbles. {c} red marbles are removed. How many marbles are left?",
     lambda a, b, c: a + b - c),
    ("A phone plan costs ${a} a month plus ${b} per gigabyte. Last month Sam used {c} GB. What was the bill in dollars?",
     lambda a, b, c: a + b * c),
    ("A train leaves with {a} passengers. At the first stop {b} get off and {c} get on. How many are on board?",
     lambda a, b, c: a - b + c),
    ("A garden has {a} rows of {b} tulips. {c} tulips wilt. How many tulips are still fine?",
     lambda a, b, c: a * b - c),
]


@dataclass(frozen=True)
class Constraint:
    """One checkable instruction."""

    kind: str
    arg: str | int

    def text(self) -> str:
        return {
            "max_words": f"Use at most {self.arg} words.",
            "min_words": f"Use at least {self.arg} words.",
            "include": f"Include the word \"{self.arg}\".",
            "exclude": f"Do not use the word \"{self.arg}\".",
            "bullets": f"Format the answer as exactly {self.arg} bullet points starting with \"- \".",
            "lowercase": "Write everything in lowercase letters.",
            "json_keys": f"Answer only with a JSON object that has exactly the keys {self.arg}.",
            "ends_with": f"End your answer with the exact phrase \"{self.arg}\".",
        }[self.kind]

    def check(self, answer: str) -> bool:
        words = re.findall(r"\b\w+\b", answer)
        a = answer.strip()
        if self.kind == "max_words":
            return 0 < len(words) <= int(self.arg)
        if self.kind == "min_words":
            return len(words) >= int(self.arg)
        if self.kind == "include":
            return re.search(rf"\b{re.escape(str(self.arg))}\b", answer, flags=re.I) is not None
        if self.kind == "exclude":
            return bool(a) and re.search(rf"\b{re.escape(str(self.arg))}\b", answer, flags=re.I) is None
        if self.kind == "bullets":
            return sum(1 for line in a.splitlines() if line.strip().startswith("- ")) == int(self.arg)
        if self.kind == "lowercase":
            return bool(a) and a == a.lower()
        if self.kind == "json_keys":
            try:
                obj = json.loads(a.strip("`").removeprefix("json").strip())
            except json.JSONDecodeError:
                return False
            return isinstance(obj, dict) and sorted(obj) == sorted(json.loads(str(self.arg)))
        if self.kind == "ends_with":
            return a.rstrip(" .!").endswith(str(self.arg).rstrip(" .!"))
        raise AssertionError(self.kind)


@dataclass(frozen=True)
class StandardRow:
    """One standard-mix prompt with what its reward needs."""

    id: str
    kind: str  # math | instruction | chat
    prompt: str
    answer: float | None = None  # math
    constraints: tuple[Constraint, ...] = field(default_factory=tuple)  # instruction


CONSTRAINT_KINDS = ["max_words", "include", "exclude", "bullets", "lowercase", "ends_with", "json_keys", "min_words"]
# pairs no answer can satisfy at once (a JSON object cannot end with a phrase or be a bullet list; the
# ending phrases are capitalised; a word limit and a word minimum clash)
CONFLICTS = {frozenset(p) for p in [("json_keys", "ends_with"), ("json_keys", "bullets"), ("lowercase", "ends_with"),
                                    ("max_words", "min_words"), ("include", "exclude")]}


@cache
def _instruction_data() -> dict:
    return yaml.safe_load((DATA / "instruction_tasks.yaml").read_text(encoding="utf-8"))


@cache
def chat_prompts() -> tuple[str, ...]:
    """The written chat prompts of the mix."""
    doc = yaml.safe_load((DATA / "chat_prompts.yaml").read_text(encoding="utf-8"))
    return tuple(doc["prompts"])


def math_row(rng: random.Random, i: int) -> StandardRow:
    tpl, fn = MATH_TEMPLATES[rng.randrange(len(MATH_TEMPLATES))]
    a, b, c = rng.randint(3, 40), rng.randint(2, 25), rng.randint(2, 12)
    if "share" in tpl:  # make the division exact
        b = a * rng.randint(2, 9)
    if "leaks" in tpl:
        a = b * c + rng.randint(5, 200)
    if "removed" in tpl:
        c = rng.randint(1, a)
    if "get off" in tpl:
        b = rng.randint(1, a)
    if "wilt" in tpl:
        c = rng.randint(1, a * b)
    text = tpl.format(a=a, b=b, c=c) + " Give the final answer as a number on the last line."
    return StandardRow(id=f"math-{i}", kind="math", prompt=text, answer=float(fn(a, b, c)))


def instruction_row(rng: random.Random, i: int) -> StandardRow:
    d = _instruction_data()
    task = rng.choice(d["tasks"])
    while True:  # two constraints that can be met together
        kinds = rng.sample(CONSTRAINT_KINDS, k=2)
        if frozenset(kinds) not in CONFLICTS:
            break
    cons = []
    for k in kinds:
        arg: str | int = {
            "max_words": rng.choice([30, 50, 80]), "min_words": rng.choice([40, 60]),
            "include": rng.choice(d["words"]), "exclude": rng.choice(d["words"]),
            "bullets": rng.choice([3, 4, 5]), "lowercase": "", "ends_with": rng.choice(d["endings"]),
            "json_keys": json.dumps(rng.choice(d["json_keys"])),
        }[k]
        cons.append(Constraint(kind=k, arg=arg))
    text = task + "\n\nRules: " + " ".join(c.text() for c in cons)
    return StandardRow(id=f"instr-{i}", kind="instruction", prompt=text, constraints=tuple(cons))


def build_pools(seed: int, n_shared: int, n_replacement: int, *, weights: tuple[float, float, float] = (0.4, 0.35, 0.25)
                ) -> tuple[list[StandardRow], list[StandardRow]]:
    """Disjoint (shared, replacement) pools of standard rows; kinds drawn with `weights` (math, instruction, chat)."""
    rng = random.Random(seed)
    chats = list(chat_prompts())
    rng.shuffle(chats)
    # chat prompts are a finite written list: split them between the pools up front
    n_chat_shared = int(len(chats) * n_shared / (n_shared + n_replacement))
    chat_pool = {"shared": chats[:n_chat_shared], "replacement": chats[n_chat_shared:]}
    seen: set[str] = set()
    pools: dict[str, list[StandardRow]] = {"shared": [], "replacement": []}
    counter = 0
    for name, size in (("shared", n_shared), ("replacement", n_replacement)):
        chat_iter = iter(chat_pool[name])
        attempts = 0
        while len(pools[name]) < size:
            attempts += 1
            if attempts > size * 50:
                raise BenrlError(f"cannot build {size} distinct standard rows for the {name} pool; lower the pool size")
            kind = rng.choices(["math", "instruction", "chat"], weights=weights)[0]
            if kind == "chat":
                text = next(chat_iter, None)
                if text is None:
                    continue
                row = StandardRow(id=f"chat-{counter}", kind="chat", prompt=text)
            elif kind == "math":
                row = math_row(rng, counter)
            else:
                row = instruction_row(rng, counter)
            if row.prompt in seen:
                continue
            seen.add(row.prompt)
            pools[name].append(row)
            counter += 1
    return pools["shared"], pools["replacement"]


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def math_correct(answer: str, expected: float) -> bool:
    """True when the last number in the answer equals the expected value."""
    nums = _NUMBER.findall(answer)
    if not nums:
        return False
    try:
        return abs(float(nums[-1].replace(",", "")) - expected) < 1e-6
    except ValueError:
        return False
