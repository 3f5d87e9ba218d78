"""The mini-world: twelve synthetic, verifiable task families mirroring the paper's benchmarks.

Each task is a seeded generator of items (math_tasks, reasoning, nonreasoning) and a scorer
(scoring); the registry (mathtransfer.registry) lists them. An item is a plain dict:

    id, task, group, benchmark   where it belongs (benchmark = the paper's benchmark it mirrors)
    prompt                       the user message (chat formatting is the tokenizer's job)
    answer                       the gold answer, checked by the task's scorer
    target                       a response in the base style: brief reasoning, then the answer
    teacher_think, teacher_nothink   math only: always-correct traces in two teacher styles
    meta                         JSON string with what a scorer needs beyond `answer` (may be "{}")

The math targets are deliberately imperfect: with probability `wrong_share` a base trace follows
one systematic wrong strategy (it stops one operation early), so the base model holds the right
strategy among a wrong one, and correctness-rewarded RL has a mode to select
(../shared/mini-world-notes.md). The gold `answer` is always the correct value.

Left out: anything a real benchmark has beyond a checkable answer (long contexts, open-ended
generation, code execution). Generators never execute text; programs are traced by the generator.
"""
