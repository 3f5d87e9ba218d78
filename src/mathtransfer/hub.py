"""The paper's real data from the Hugging Face Hub, as items with the mini-world's columns.

Two training sets (the authors' released math problems) and the twelve benchmarks, each returned
as a `datasets.Dataset` with exactly `data.COLUMNS` (all strings). Every loader reads the Hub
(source=None) or a local .jsonl/.json/.parquet copy with the Hub's columns, through the same
row->item code. A dataset that cannot be had (gated, missing, or the Hub out of reach) raises
`HubUnavailable` with a one-line reason; `load_benchmarks` goes on without it.

Prompts follow lm-evaluation-harness's doc_to_text where it has one, turned into generation
prompts that end by asking for "Answer: X" (a letter for multiple choice, yes/no for verdicts),
which tasks.scoring reads. Math items use the paper's prompt (`math_prompt`); the RL set's
training prompts may instead be the question followed by the paper's RL suffix (`load_math_rl`,
data.rl_prompt_suffix). Multiple-choice items carry their options in meta, in prompt order; the
gold `answer` is the option's text. Math golds are stored as score_math parses them: a plain
number as is, anything else as LaTeX in $...$ (score_math does not parse a bare "\\sqrt{2}").

Schemas confirmed against dataset cards, the authors' harness configs or lm-evaluation-harness:
all twelve benchmarks; math_rl_48k `question`/`golden_answer`; math_sft_40K `question` and
`no_think_response`. Guessed, not confirmed: math_sft_40K's thinking trace (`think_response`) and
gold (`golden_answer`). Fallbacks, each with a one-line note (`fallbacks`; data.build_hub reports
them): a guessed column that is absent is treated as missing (no gold: the trace's last
\\boxed{}; no thinking trace: teacher_think empty, so sft-think has no rows until data.sft_columns
maps it), while a column named in `columns` must exist; MC-TACO reads the repo, then, if that
fails (datasets 4+ refuses its loading script), the Hub's Parquet export.

Scorers (named in registry.BENCHMARKS, resolved by scorers.py): tasks.scoring's, plus sandbox.score_code for LiveCodeBench (the public tests, run in a
limited subprocess) and scoring.score_ifeval (lm-evaluation-harness's IFEval checks, strict,
instruction level); those two have an empty `answer` (their checks live in meta).
Left out: few-shot examples (ACPBench's 2-shot CoT), HaluEval's dialogue and summarization parts
(qa only), LiveCodeBench's private tests (pickled; unpickling downloaded data can run code).
"""
from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from typing import Callable

from datasets import Dataset, concatenate_datasets, load_dataset
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

from . import registry
from .schema import COLUMNS, RL_SET, SFT_SET
from .tasks.scoring import last_boxed

MATH_PROMPT = ("Solve the following math problem. Present the final answer in the format: "
               "Final Answer: \\boxed{{your_answer}}.\nProblem: {problem}\nAnswer:")
LETTERS = "ABCDE"  # score_choice reads letters A-E: items with more options are skipped
CHOICE_INSTRUCTION = 'Finish your response with "Answer: X", where X is the letter of the correct choice.'
YES_NO_INSTRUCTION = 'Finish your response with "Answer: yes" or "Answer: no".'
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")  # the golds score_math compares as numbers
_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


class HubUnavailable(Exception):
    """A dataset that cannot be loaded now: gated, missing, or the Hub out of reach."""


def math_prompt(problem: str) -> str:
    """The paper's math prompt around one problem."""
    return MATH_PROMPT.format(problem=problem.strip())


def math_gold(answer: object) -> str:
    """A gold math answer in the form score_math parses: a plain number, else LaTeX in $...$."""
    text = str(answer).strip()
    if len(text) > 1 and text.startswith("$") and text.endswith("$"):
        text = text.strip("$").strip()
    return text if _PLAIN_NUMBER.fullmatch(text) else f"${text}$"


def _meta(fields: dict) -> str:
    """meta as JSON; values JSON lacks (a timestamp parsed from a date string) become strings."""
    return json.dumps(fields, default=str)


def _final_answer(text: str) -> str:
    """A gold that may be a short solution: its last \\boxed{} or what follows '####', else all."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    return text.split("####")[-1].strip()


# ----------------------------------------------------------------------------- reading
def _offline() -> bool:
    """Whether the environment forbids Hub access (read at call time, not import time)."""
    return any(os.environ.get(v, "").upper() in {"1", "ON", "YES", "TRUE"}
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _unavailable(label: str, hub_id: str, error: Exception, access: str) -> HubUnavailable | None:
    """A one-line HubUnavailable for an error that means 'cannot be had now', else None."""
    gated = isinstance(error, GatedRepoError) or "gated" in str(error).lower()
    if gated:
        why = "gated on the Hub and this account has no access"
    elif isinstance(error, (ConnectionError, OfflineModeIsEnabled)) or _offline():
        why = "the Hub is out of reach (offline mode or no network) and no copy is cached"
    elif isinstance(error, (DatasetNotFoundError, RepositoryNotFoundError, FileNotFoundError)):
        why = "not found on the Hub, or not visible to this account"
    else:
        return None
    how = access if gated and access else (
        "get Hub access (unset HF_HUB_OFFLINE and HF_DATASETS_OFFLINE), "
        "or pass a local .jsonl/.json/.parquet copy as source")
    return HubUnavailable(f"{label} ({hub_id}) unavailable: {why} [{type(error).__name__}]; {how}")


def _read_files(hub_id: str, files: tuple[str, ...]) -> Dataset:
    """Raw files of a Hub repo (a name starting with "@" names a revision: the Parquet export)."""
    paths = [f"hf://datasets/{hub_id}{'' if f.startswith('@') else '/'}{f}" for f in files]
    return load_dataset(_BUILDERS[os.path.splitext(files[0])[1]], data_files=paths, split="train")


def _read(label: str, hub_id: str, configs: tuple, split: str, source: str | None, hub_files: tuple[str, ...] = (),
          access: str = "", fallback_files: tuple[str, ...] = ()) -> tuple[Dataset, str]:
    """The raw rows, and a one-line note if the Hub read fell back to fallback_files (read when the
    repo read fails; hub_files are read instead of it). From a local file when source names one,
    else the Hub (a source without a file extension is another hub id to read instead)."""
    if source is not None and os.path.splitext(source)[1].lower() not in _BUILDERS and "/" in source \
            and not os.path.exists(source):
        hub_id, source = source, None
    if source is not None:
        builder = _BUILDERS.get(os.path.splitext(source)[1].lower())
        if builder is None:
            raise ValueError(f"{label}: source {source} is not a .jsonl, .json or .parquet file")
        if not os.path.isfile(source):
            raise HubUnavailable(f"{label} unavailable: no file at {source}; pass an existing local "
                                 f"copy, or source=None to read {hub_id} from the Hub")
        return load_dataset(builder, data_files=source, split="train"), ""
    note = ""
    try:
        if hub_files:  # repos whose loading script datasets no longer runs: read the raw files
            return _read_files(hub_id, hub_files), ""
        try:
            parts = [load_dataset(hub_id, config, split=split) for config in configs]
        except Exception as first:  # e.g. "Dataset scripts are no longer supported" (datasets 4+)
            if not fallback_files:
                raise
            note = (f"{label}: read {hub_id}'s {', '.join(fallback_files)}, as reading the repo failed "
                    f"[{type(first).__name__}: {(str(first).splitlines() or [''])[0][:160]}]")
            parts = [_read_files(hub_id, fallback_files)]
    except Exception as error:
        unavailable = _unavailable(label, hub_id, error, access)
        if unavailable is None:
            raise
        raise unavailable from error
    return (parts[0] if len(parts) == 1 else concatenate_datasets(parts)), note


def _noted(items: Dataset, label: str, notes: list[str]) -> Dataset:
    """items, with the loader's one-line fallback notes kept in its info (see `fallbacks`)."""
    if notes:
        items.info.description = json.dumps({"fallbacks": {label: notes}})
    return items


def fallbacks(items: Dataset) -> dict[str, list[str]]:
    """Which fallbacks a loader took (set name -> one-line notes); empty when none."""
    text = items.info.description or ""
    return json.loads(text).get("fallbacks", {}) if text.startswith('{"fallbacks"') else {}


def _items(rows: Dataset, to_item: Callable[[dict], dict | None], fields: dict[str, str],
           n: int | None, seed: int) -> Dataset:
    """Rows -> items with data.COLUMNS; n of them in a seeded random order (all, in file order,
    when n is None or >= the rows). Rows that to_item skips (None) are not counted."""
    order = range(len(rows))
    if n is not None and n < len(rows):
        order = list(order)
        random.Random(seed).shuffle(order)
    items = []
    for index in order:
        if n is not None and len(items) == n:
            break
        item = to_item(rows[index])
        if item is None:
            continue
        items.append({"id": f"{fields['task']}-{index:05d}", **fields, "target": "",
                      "teacher_think": "", "teacher_nothink": "", "meta": "{}", **item})
    if not items:
        return Dataset.from_dict({c: [] for c in COLUMNS})
    return Dataset.from_list(items).select_columns(COLUMNS)


# ----------------------------------------------------------------------------- training sets
MATH_SFT_HUB_ID = "ReasoningTransferability/math_sft_40K"
MATH_RL_HUB_ID = "ReasoningTransferability/math_rl_48k"
# our field -> the dataset's column (None: the set has none). question, no_think_response: confirmed
# (a public script converting this set to TRL format checks for exactly these two). The others are
# guesses: the card lists no columns and the authors' repo (github.com/ReasoningTransfer/
# Transferability-of-LLM-Reasoning, July 2025) has no training code; absent, they fall back:
MATH_SFT_COLUMNS = {"question": "question", "teacher_nothink": "no_think_response",
                    "teacher_think": "think_response", "answer": "golden_answer"}
MATH_SFT_GUESSED = {"teacher_think": "teacher_think is left empty, so the sft-think arm has no rows",
                    "answer": "each gold is the last \\boxed{} of its teacher trace (rows without one are skipped)"}
MATH_RL_COLUMNS = {"question": "question", "answer": "golden_answer"}  # both confirmed


def _column_map(label: str, defaults: dict, columns: dict | None, present: list[str],
                guessed: dict | None = None) -> tuple[dict, list[str]]:
    """Our field -> the data's column (defaults overridden by columns), checked against the data,
    and one-line notes on the guessed defaults that are absent (mapped to None: their fallback)."""
    columns, guessed = columns or {}, guessed or {}
    mapping = {**defaults, **columns}
    unknown = sorted(set(mapping) - set(defaults))
    if unknown:
        raise ValueError(f"{label}: columns names unknown fields {unknown}; fields: {sorted(defaults)}")
    if mapping["question"] is None:
        raise ValueError(f"{label}: the question column cannot be None")
    notes = []
    for field, fallback in guessed.items():
        if field not in columns and mapping[field] is not None and mapping[field] not in present:
            notes.append(f"{label}: no column {mapping[field]!r} (a guess for {field}) in the data, which has "
                         f"{sorted(present)}: {fallback}; map it with data.sft_columns: {{{field}: <column>}}")
            mapping[field] = None
    missing = [c for c in mapping.values() if c is not None and c not in present]
    if missing:
        raise ValueError(f"{label}: no column {missing} in the data (it has {sorted(present)}); pass "
                         "columns={our field: its column}, or None for a field the set lacks")
    return mapping, notes


def load_math_sft(source: str | None = None, columns: dict | None = None, n: int | None = None,
                  seed: int = 0) -> Dataset:
    """math_sft_40K: problems with Qwen3-32B teacher traces, and their gold answers.

    teacher_think is the thinking-mode trace as stored (with its <think>...</think>),
    teacher_nothink the non-thinking one ("" where columns maps it to None). Guessed columns that
    are absent fall back (MATH_SFT_GUESSED); `fallbacks(result)` says which."""
    rows, _ = _read(SFT_SET, MATH_SFT_HUB_ID, (None,), "train", source)
    m, notes = _column_map(SFT_SET, MATH_SFT_COLUMNS, columns, rows.column_names, MATH_SFT_GUESSED)
    if m["teacher_think"] is None and m["teacher_nothink"] is None:
        raise ValueError(f"{SFT_SET}: no teacher trace column (the data has {sorted(rows.column_names)}); "
                         "an SFT set needs one: map it with data.sft_columns: {teacher_nothink: <column>}")

    def to_item(row: dict) -> dict | None:
        think = (row[m["teacher_think"]] or "") if m["teacher_think"] else ""
        nothink = (row[m["teacher_nothink"]] or "") if m["teacher_nothink"] else ""
        stored = row[m["answer"]] if m["answer"] else None
        # traces were kept only when correct, so without a gold column a trace's boxed answer is it
        gold = _final_answer(str(stored)) if stored not in (None, "") else last_boxed(nothink or think)
        if not gold:
            return None
        return dict(prompt=math_prompt(row[m["question"]]), answer=math_gold(gold),
                    teacher_think=think, teacher_nothink=nothink)

    fields = dict(task="math_sft", group="math", benchmark=SFT_SET)
    return _noted(_items(rows, to_item, fields, n, seed), SFT_SET, notes)


def load_math_rl(source: str | None = None, columns: dict | None = None, n: int | None = None,
                 seed: int = 0, prompt_suffix: str = "") -> Dataset:
    """math_rl_48k: problems with gold answers, for correctness-rewarded RL (no traces).
    prompt_suffix non-empty: the prompt is the question followed by it (the paper's RL prompt,
    data.rl_prompt_suffix); empty: the evaluation's math_prompt."""
    rows, _ = _read(RL_SET, MATH_RL_HUB_ID, (None,), "train", source)
    m, _ = _column_map(RL_SET, MATH_RL_COLUMNS, columns, rows.column_names)
    if m["answer"] is None:
        raise ValueError("math_rl_48k: the answer column cannot be None (RL needs the gold)")

    def to_item(row: dict) -> dict:
        question = row[m["question"]]
        return dict(prompt=question.strip() + prompt_suffix if prompt_suffix else math_prompt(question),
                    answer=math_gold(_final_answer(str(row[m["answer"]]))))

    fields = dict(task="math_rl", group="math", benchmark=RL_SET)
    return _items(rows, to_item, fields, n, seed)


# ----------------------------------------------------------------------------- benchmarks
def _choice_item(stem: str, options: list[str], gold: str, meta: dict) -> dict | None:
    """A multiple-choice item; None where score_choice could not score it (over four options,
    or repeated ones: an answer maps to its first position)."""
    if len(options) > len(LETTERS) or len(set(options)) != len(options) or gold not in options:
        return None
    lines = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))
    return dict(prompt=f"{stem}\nChoices:\n{lines}\n{CHOICE_INSTRUCTION}", answer=gold,
                meta=_meta({"options": options, **meta}))


def _math_row(problem: str, answer: str, meta_keys: tuple[str, ...] = ()):
    def to_item(row: dict) -> dict:
        return dict(prompt=math_prompt(row[problem]), answer=math_gold(row[answer]),
                    meta=_meta({k: row.get(k) for k in meta_keys}))
    return to_item


def _olympiad(row: dict) -> dict:
    problem = "\n".join(p for p in (row.get("context"), row["question"]) if p)
    meta = {k: row.get(k) for k in ("id", "answer_type", "unit", "is_multiple_answer")}
    return dict(prompt=math_prompt(problem), answer=math_gold(row["final_answer"][0]), meta=_meta(meta))


def _gpqa(row: dict) -> dict | None:
    correct = str(row["Correct Answer"]).strip()  # str: a CSV reader may type "11" as a number
    options = [correct] + [str(row[f"Incorrect Answer {k}"]).strip() for k in (1, 2, 3)]
    # fixed per question (not per run), so the same item always shows the same order
    random.Random(f"GPQA-Diamond/{row.get('Record ID') or row['Question']}").shuffle(options)
    return _choice_item(f"What is the correct answer to this question: {row['Question'].strip()}",
                        options, correct, {"record_id": row.get("Record ID")})


def _livecodebench(row: dict) -> dict:
    """LiveCodeBench's own prompt layout (question, format, answer slot), reworded."""
    starter = row.get("starter_code") or ""
    if starter:
        code_format = ("Use the starter code below and put your solution in a Python code block.\n"
                       f"```python\n{starter}\n```")
    else:
        code_format = ("Read the input from stdin, solve the problem and write the answer to stdout "
                       "(do not test on the sample inputs directly). Put your program in a Python "
                       "code block.\n```python\n# YOUR CODE HERE\n```")
    prompt = ("Write a correct Python program for this problem specification; it must pass all "
              f"tests.\n\n### Question:\n{row['question_content'].strip()}\n\n"
              f"### Format: {code_format}\n\n### Answer: (use the format above, with the backticks)")
    meta = {"tests": json.loads(row["public_test_cases"]),  # the key sandbox.score_code reads
            "func_name": json.loads(row.get("metadata") or "{}").get("func_name"), "starter_code": starter,
            **{k: row.get(k) for k in ("question_id", "platform", "contest_date", "difficulty")}}
    return dict(prompt=prompt, answer="", meta=_meta(meta))


def _acpbench(row: dict) -> dict | None:
    labels, texts = list(row["choices"]["label"]), [t.strip() for t in row["choices"]["text"]]
    if row["answer"] not in labels:
        return None
    # `query` is `question` without the option list it embeds; the options come from `choices`
    return _choice_item(f"{row['context'].strip()}\n{row['query'].strip()}", texts,
                        texts[labels.index(row["answer"])], {"group": row.get("group")})


def _headqa(row: dict) -> dict | None:
    answers = sorted(row["answers"], key=lambda a: a["aid"])
    golds = [a["atext"].strip() for a in answers if a["aid"] == row["ra"]]
    if not golds:
        return None
    return _choice_item(f"Question: {row['qtext'].strip()}", [a["atext"].strip() for a in answers],
                        golds[0], {"category": row.get("category"), "year": row.get("year")})


def _coqa(row: dict) -> dict:
    questions, answers = row["questions"], row["answers"]["input_text"]
    turns = [f"Q: {q}\nA: {a}" for q, a in zip(questions[:-1], answers[:-1])]
    instruction = 'Answer the last question briefly. Finish your response with "Answer: <your answer>".'
    prompt = "\n\n".join([row["story"].strip(), *turns, f"Q: {questions[-1]}", instruction])
    return dict(prompt=prompt, answer=answers[len(questions) - 1].strip(),
                meta=_meta({"source": row.get("source"), "turn": len(questions)}))


def _ifeval(row: dict) -> dict:
    # datasets unifies the kwargs dicts into one struct, filling absent keys with None: drop them
    kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in row["kwargs"]]
    meta = {"key": row.get("key"), "instruction_id_list": list(row["instruction_id_list"]),
            "kwargs": kwargs, "prompt": row["prompt"]}  # some checks read the prompt
    return dict(prompt=row["prompt"], answer="", meta=_meta(meta))


def _halueval(row: dict) -> dict:
    prompt = ("Judge whether the answer below contains non-factual or hallucinated information, "
              "given the knowledge and the question.\n\n"
              f"#Knowledge#: {row['knowledge'].strip()}\n#Question#: {row['question'].strip()}\n"
              f"#Answer#: {row['answer'].strip()}\n\n"
              f"Does the answer contain non-factual or hallucinated information? {YES_NO_INSTRUCTION}")
    return dict(prompt=prompt, answer=row["hallucination"].strip().lower())


def _mc_taco(row: dict) -> dict:
    label = row["label"]  # ClassLabel ["no", "yes"]: an int in the Hub's Parquet
    # lm-eval's "Answer: {answer}" label is renamed: the only "Answer:" asked for is the verdict
    prompt = (f"{row['sentence'].strip()}\nQuestion: {row['question'].strip()}\n"
              f"Candidate answer: {row['answer'].strip()}\n"
              f"Is the candidate answer plausible? {YES_NO_INSTRUCTION}")
    return dict(prompt=prompt, answer=label if isinstance(label, str) else ("no", "yes")[int(label)],
                meta=_meta({"category": row.get("category")}))


@dataclass(frozen=True)
class Source:
    """Where one of the paper's benchmarks lives on the Hub and how its rows become items (its
    task name, group, scorer and chance are in registry.BENCHMARKS)."""
    hub_id: str
    configs: tuple[str | None, ...]  # read and concatenated in order (None: the default config)
    split: str
    to_item: Callable[[dict], dict | None]  # row -> prompt, answer, meta (None: row skipped)
    hub_files: tuple[str, ...] = ()  # raw files read instead, where the repo has a loading script
    access: str = ""  # how to get access, for gated sets
    fallback_files: tuple[str, ...] = ()  # raw files read when reading the repo fails


_ACP_CONFIGS = tuple(f"acp_{t}_mcq" for t in ("app", "areach", "just", "land", "prog", "reach", "val"))
_GPQA_ACCESS = ("accept the terms on https://huggingface.co/datasets/Idavidrein/gpqa, "
                "then run `hf auth login` (or set HF_TOKEN)")
# by paper name, in registry.BENCHMARKS' order
SOURCES: dict[str, Source] = {
    "MATH500": Source("HuggingFaceH4/MATH-500", (None,), "test",
                      _math_row("problem", "answer", ("unique_id", "subject", "level"))),
    "AIME24": Source("HuggingFaceH4/aime_2024", (None,), "train", _math_row("problem", "answer", ("id", "url"))),
    "AIME25": Source("math-ai/aime25", (None,), "test", _math_row("problem", "answer", ("id",))),
    "OlympiadBench": Source("Hothan/OlympiadBench", ("OE_TO_maths_en_COMP",), "train", _olympiad),
    "GPQA-Diamond": Source("Idavidrein/gpqa", ("gpqa_diamond",), "train", _gpqa, access=_GPQA_ACCESS),
    # the repo ships a loading script datasets no longer runs; the paper's "LiveCodeBench v2"
    # (release_v2) is its files test.jsonl + test2.jsonl
    "LiveCodeBench": Source("livecodebench/code_generation_lite", (None,), "test", _livecodebench,
                            hub_files=("test.jsonl", "test2.jsonl")),
    "ACPBench": Source("ibm-research/acp_bench", _ACP_CONFIGS, "test", _acpbench),
    "HeadQA": Source("EleutherAI/headqa", ("en",), "test", _headqa),
    "CoQA": Source("stanfordnlp/coqa", (None,), "validation", _coqa),
    "IFEval": Source("google/IFEval", (None,), "train", _ifeval),
    "HaluEval": Source("pminervini/HaluEval", ("qa_samples",), "data", _halueval),
    # as lm-evaluation-harness's lm_eval/tasks/mc_taco/default.yaml (dataset_path CogComp/mc_taco, no
    # dataset_name, test_split test); the repo ships a loading script datasets 4+ refuses, so a failed
    # read falls back to the Hub's Parquet export of the test split
    "MC-TACO": Source("CogComp/mc_taco", (None,), "test", _mc_taco,
                      fallback_files=("@refs%2Fconvert%2Fparquet/plain_text/test/0000.parquet",)),
}


def load_benchmark(name: str, source: str | None = None, n: int | None = None,
                   seed: int = 0) -> Dataset:
    """One benchmark's items, from the Hub (source None) or a local copy; n of them by a seeded
    shuffle (all when n is None or >= the size). Raises HubUnavailable if it cannot be had."""
    spec = registry.benchmark(name)
    where = SOURCES[spec.benchmark]
    rows, note = _read(spec.benchmark, where.hub_id, where.configs, where.split, source, where.hub_files,
                       where.access, where.fallback_files)
    fields = dict(task=spec.name, group=spec.group, benchmark=spec.benchmark)
    return _noted(_items(rows, where.to_item, fields, n, seed), spec.benchmark, [note] if note else [])


def load_benchmarks(names: list[str] | None = None, n: int | None = None, seed: int = 0,
                    sources: dict[str, str] | None = None
                    ) -> tuple[dict[str, Dataset], dict[str, str]]:
    """(available, missing): the benchmarks that loaded, by paper name, and the ones that could
    not be had, with their one-line reasons, so that a run goes on without them.
    names None: all twelve; sources: benchmark name -> local file (else the Hub)."""
    sources = sources or {}
    available, missing = {}, {}
    for name in list(registry.BENCHMARKS) if names is None else names:
        spec = registry.benchmark(name)
        source = sources.get(spec.benchmark, sources.get(name))
        try:
            available[spec.benchmark] = load_benchmark(spec.benchmark, source, n, seed)
        except HubUnavailable as error:
            missing[spec.benchmark] = str(error)
    return available, missing
