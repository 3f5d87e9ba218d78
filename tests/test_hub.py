"""Hub loaders on hand-written fixtures with the real columns (tests/fixtures/hub); never online."""
import dataclasses
import json
import os
from types import SimpleNamespace

import pytest
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub.errors import GatedRepoError

from mathtransfer import hub, registry, scorers, storage
from mathtransfer.schema import COLUMNS, RL_SET
from mathtransfer.tasks import scoring

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "hub")
NAMES = list(registry.BENCHMARKS)


def fixture(name):
    return os.path.join(FIXTURES, f"{name}.jsonl")


@pytest.fixture(scope="module")
def loaded():
    return {name: hub.load_benchmark(name, source=fixture(name)) for name in NAMES}


def test_registry_has_the_twelve_benchmarks_in_three_groups_of_four():
    assert len(NAMES) == 12 and list(hub.SOURCES) == NAMES  # one loader per registered benchmark
    for group in ("math", "other", "non"):
        assert sum(b.group == group for b in registry.BENCHMARKS.values()) == 4
    assert registry.benchmark("gpqa_diamond") is registry.benchmark("GPQA-Diamond") is registry.benchmark("gpqa-diamond")
    with pytest.raises(KeyError, match="known"):
        registry.benchmark("MMLU")


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_fixture_gives_the_item_schema(loaded, name):
    spec, ds = registry.BENCHMARKS[name], loaded[name]
    assert ds.column_names == COLUMNS and len(ds) >= 3
    assert len(set(ds["id"])) == len(ds)
    for item in ds:
        assert all(isinstance(item[c], str) for c in COLUMNS)
        assert (item["task"], item["group"], item["benchmark"]) == (spec.name, spec.group, spec.benchmark)
        assert item["prompt"].strip()
        assert item["answer"].strip() or spec.name in ("livecodebench", "ifeval")  # their checks live in meta
        meta = json.loads(item["meta"])
        if spec.scorer == "choice":
            assert item["answer"] in meta["options"] and len(meta["options"]) <= 5
            assert "(A) " in item["prompt"] and item["prompt"].endswith(hub.CHOICE_INSTRUCTION)
        if spec.scorer == "yesno":
            assert item["answer"] in ("yes", "no") and item["prompt"].endswith(hub.YES_NO_INSTRUCTION)


def test_headqa_keeps_five_option_questions(loaded):
    five = [item for item in loaded["HeadQA"] if len(json.loads(item["meta"])["options"]) == 5]
    assert len(loaded["HeadQA"]) == 4 and len(five) == 1  # the fixture's fourth question has five options
    item = five[0]
    letter = "ABCDE"[json.loads(item["meta"])["options"].index(item["answer"])]
    assert scoring.score_choice(f"Answer: {letter}", item["answer"], item["meta"]) == 1.0


def test_structured_meta(loaded):
    lcb = [json.loads(m) for m in loaded["LiveCodeBench"]["meta"]]
    assert lcb[0]["tests"][0] == {"input": "5\nTTAAT\n", "output": "T\n", "testtype": "stdin"}
    assert lcb[1]["func_name"] == "distinctDifferenceArray" and "class Solution" in lcb[1]["starter_code"]
    assert all("private" not in key for m in lcb for key in m)
    ifeval = json.loads(loaded["IFEval"][0]["meta"])
    assert ifeval["instruction_id_list"][1] == "detectable_format:number_highlighted_sections"
    assert ifeval["kwargs"] == [{}, {"num_highlights": 3}, {"relation": "at least", "num_words": 300}]
    coqa = loaded["CoQA"][0]
    assert coqa["answer"] == "with her mommy and 5 sisters"
    assert "Q: Did she live alone?\nA: no" in coqa["prompt"] and "A: with her mommy" not in coqa["prompt"]


def test_gpqa_options_are_shuffled_the_same_way_every_time(loaded):
    again = hub.load_benchmark("GPQA-Diamond", source=fixture("GPQA-Diamond"), n=10, seed=5)
    assert list(again["meta"]) == list(loaded["GPQA-Diamond"]["meta"])
    positions = [json.loads(m)["options"].index(a) for m, a in zip(again["meta"], again["answer"])]
    assert positions != [0, 0, 0]  # the correct answer is not always first, as in the raw file


def test_math_items_use_the_papers_prompt(loaded):
    item = loaded["MATH500"][2]
    assert item["prompt"] == ("Solve the following math problem. Present the final answer in the format: "
                              "Final Answer: \\boxed{your_answer}.\nProblem: How many positive whole-number "
                              "divisors does 196 have?\nAnswer:")
    for name in ("AIME24", "AIME25", "OlympiadBench"):
        assert all(p.startswith("Solve the following math problem.") and p.endswith("\nAnswer:")
                   for p in loaded[name]["prompt"])


def test_math_golds_take_the_form_score_math_parses():
    assert hub.math_gold("204") == "204" and hub.math_gold(17) == "17"
    assert hub.math_gold("\\frac{14}{3}") == "$\\frac{14}{3}$"
    assert hub.math_gold("$\\frac{\\pi}{3}$") == "$\\frac{\\pi}{3}$"
    assert scoring.last_boxed("so \\boxed{1} then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"
    assert scoring.last_boxed("no box") is None


def test_subsampling_is_seeded_and_n_beyond_the_file_gives_all(loaded):
    first = hub.load_benchmark("MATH500", source=fixture("MATH500"), n=2, seed=1)
    again = hub.load_benchmark("MATH500", source=fixture("MATH500"), n=2, seed=1)
    assert len(first) == 2 and first["id"] == again["id"]
    picks = {tuple(hub.load_benchmark("MATH500", source=fixture("MATH500"), n=2, seed=s)["id"]) for s in range(6)}
    assert len(picks) > 1  # the seed matters
    full = loaded["MATH500"]
    for n in (None, 4, 100):
        assert hub.load_benchmark("MATH500", source=fixture("MATH500"), n=n, seed=3)["id"] == full["id"]
    assert len(hub.load_benchmark("HeadQA", source=fixture("HeadQA"), n=3, seed=0)) == 3


def test_math_sft_fills_both_teacher_traces():
    ds = hub.load_math_sft(source=fixture("math_sft_40K"))
    assert ds.column_names == COLUMNS and len(ds) == 4
    assert set(ds["task"]) == {"math_sft"} and set(ds["group"]) == {"math"}
    for item in ds:
        assert item["teacher_think"].startswith("<think>") and "</think>" in item["teacher_think"]
        assert item["teacher_nothink"] and "<think>" not in item["teacher_nothink"]
        assert item["prompt"].startswith("Solve the following math problem.")
    assert ds["answer"] == ["9", "$\\frac{1}{2}$", "27", "$3\\sqrt{2}$"]
    assert len(hub.load_math_sft(source=fixture("math_sft_40K"), n=2, seed=7)) == 2


def test_math_sft_column_mapping():
    # no gold column: the gold is the traces' boxed answer (traces were kept only when correct)
    no_gold = hub.load_math_sft(source=fixture("math_sft_40K"), columns={"answer": None})
    assert no_gold["answer"] == hub.load_math_sft(source=fixture("math_sft_40K"))["answer"]
    think_only = hub.load_math_sft(source=fixture("math_sft_40K"), columns={"teacher_nothink": None})
    assert set(think_only["teacher_nothink"]) == {""}
    with pytest.raises(ValueError, match=r"no column \['response'\].*columns="):
        hub.load_math_sft(source=fixture("math_sft_40K"), columns={"teacher_think": "response"})
    with pytest.raises(ValueError, match="unknown fields"):
        hub.load_math_sft(source=fixture("math_sft_40K"), columns={"solution": "x"})


def test_math_rl_has_gold_answers_and_no_traces():
    ds = hub.load_math_rl(source=fixture("math_rl_48k"))
    assert ds.column_names == COLUMNS and set(ds["task"]) == {"math_rl"}
    assert ds["answer"] == ["72", "70", "$\\frac{14}{3}$", "$\\frac{\\sqrt{3}}{2}$"]  # the boxed gold unwrapped
    assert set(ds["teacher_think"]) == set(ds["teacher_nothink"]) == set(ds["target"]) == {""}


def test_math_rl_prompt_is_the_question_and_the_papers_suffix():
    from mathtransfer.config import DataConfig

    suffix = DataConfig().rl_prompt_suffix
    assert suffix == " Let's think step by step and output the final answer in the \\boxed{}."
    question = "Compute $\\sin 60^\\circ$."
    paper = hub.load_math_rl(source=fixture("math_rl_48k"), prompt_suffix=suffix)
    assert paper["prompt"][3] == question + suffix
    assert all(p.endswith(suffix) and not p.startswith("Solve the following") for p in paper["prompt"])
    plain = hub.load_math_rl(source=fixture("math_rl_48k"), prompt_suffix="")  # empty: the math prompt
    assert plain["prompt"][3] == hub.math_prompt(question) == hub.load_math_rl(source=fixture("math_rl_48k"))["prompt"][3]
    assert plain["answer"] == paper["answer"] and plain["id"] == paper["id"]
    # the SFT set and the benchmarks keep the math prompt
    assert all(p.startswith("Solve the following") for p in hub.load_math_sft(source=fixture("math_sft_40K"))["prompt"])


def test_math_sft_absent_guessed_columns_fall_back_with_a_note():
    other = fixture("math_sft_40K_other_columns")  # question, thinking, no_think_response: no guessed column
    ds = hub.load_math_sft(source=other)
    assert len(ds) == 3 and set(ds["teacher_think"]) == {""} and all(ds["teacher_nothink"])
    assert ds["answer"] == ["9", "$\\frac{1}{2}$", "27"]  # each trace's last \\boxed{}
    notes = hub.fallbacks(ds)["math_sft_40K"]
    assert len(notes) == 2 and all(one_line(n) for n in notes)
    think = next(n for n in notes if "'think_response'" in n)
    assert "sft-think arm has no rows" in think and "data.sft_columns: {teacher_think: <column>}" in think
    assert "['no_think_response', 'question', 'thinking']" in think  # the columns that exist
    assert "golden_answer" in next(n for n in notes if n is not think)
    mapped = hub.load_math_sft(source=other, columns={"teacher_think": "thinking"})
    assert all(t.startswith("<think>") for t in mapped["teacher_think"])
    assert len(hub.fallbacks(mapped)["math_sft_40K"]) == 1  # only the gold still falls back
    assert hub.fallbacks(hub.load_math_sft(source=fixture("math_sft_40K"))) == {}  # the guesses hold there


def test_math_sft_explicit_columns_must_exist():
    other = fixture("math_sft_40K_other_columns")
    for columns in ({"answer": "golden_answer"}, {"teacher_think": "think_response"}):
        with pytest.raises(ValueError) as raised:
            hub.load_math_sft(source=other, columns=columns)
        assert one_line(str(raised.value)) and "['no_think_response', 'question', 'thinking']" in str(raised.value)
    with pytest.raises(ValueError, match="no teacher trace column"):
        hub.load_math_sft(source=other, columns={"teacher_nothink": None})


MC_TACO_EXPORT = "hf://datasets/CogComp/mc_taco@refs%2Fconvert%2Fparquet/plain_text/test/0000.parquet"


def mc_taco_reader(monkeypatch, repo_error=None, export_error=None):
    """hub.load_dataset replaced: the repo read and the Parquet export read are recorded, and
    answered with the fixture or the given errors."""
    real, calls = hub.load_dataset, []

    def reader(path, name=None, split=None, data_files=None):
        calls.append((path, name, split, data_files))
        error = repo_error if path == "CogComp/mc_taco" else export_error
        if error is not None:
            raise error
        return real("json", data_files=fixture("MC-TACO"), split="train")
    monkeypatch.setattr(hub, "load_dataset", reader)
    return calls


def test_mc_taco_reads_the_repo_first(monkeypatch):
    calls = mc_taco_reader(monkeypatch)
    ds = hub.load_benchmark("MC-TACO")
    assert calls == [("CogComp/mc_taco", None, "test", None)]  # lm-eval's dataset_path, no config, test split
    assert ds["prompt"] == hub.load_benchmark("MC-TACO", source=fixture("MC-TACO"))["prompt"]
    assert hub.fallbacks(ds) == {}


def test_mc_taco_falls_back_to_the_parquet_export(monkeypatch):
    refused = RuntimeError("Dataset scripts are no longer supported, but found mc_taco.py")
    calls = mc_taco_reader(monkeypatch, repo_error=refused)
    ds = hub.load_benchmark("MC-TACO", n=3, seed=1)
    assert calls == [("CogComp/mc_taco", None, "test", None), ("parquet", None, "train", [MC_TACO_EXPORT])]
    assert ds["id"] == hub.load_benchmark("MC-TACO", source=fixture("MC-TACO"), n=3, seed=1)["id"]
    [note] = hub.fallbacks(ds)["MC-TACO"]
    assert one_line(note) and "refs%2Fconvert%2Fparquet" in note and "Dataset scripts are no longer supported" in note
    # both reads failing: the export's error decides (here: unavailable, so the run goes on without it)
    mc_taco_reader(monkeypatch, repo_error=refused, export_error=FileNotFoundError("no export"))
    with pytest.raises(hub.HubUnavailable) as raised:
        hub.load_benchmark("MC-TACO")
    assert one_line(str(raised.value)) and "MC-TACO" in str(raised.value)


def one_line(message):
    return message and "\n" not in message


def test_missing_local_copy_raises_hub_unavailable():
    with pytest.raises(hub.HubUnavailable) as error:
        hub.load_benchmark("GPQA-Diamond", source="/nonexistent/gpqa.jsonl")
    assert one_line(str(error.value)) and "GPQA-Diamond" in str(error.value)


def gated_error():
    # what the Hub raises for a gated repo; the response is a stand-in (no network)
    response = SimpleNamespace(headers={}, request=None, status_code=401)
    return GatedRepoError("Access to dataset Idavidrein/gpqa is restricted.", response=response)


@pytest.mark.parametrize("error", [
    gated_error(),
    DatasetNotFoundError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. You must be authenticated to access it."),
])
def test_gated_gpqa_says_how_to_get_access(monkeypatch, error):
    def refuse(*args, **kwargs):
        raise error
    monkeypatch.setattr(hub, "load_dataset", refuse)
    with pytest.raises(hub.HubUnavailable) as raised:
        hub.load_benchmark("GPQA-Diamond")
    message = str(raised.value)
    assert one_line(message) and "GPQA-Diamond" in message and "Idavidrein/gpqa" in message
    assert "gated" in message and "accept the terms" in message and "hf auth login" in message
    assert "huggingface-cli" not in message  # gone from huggingface_hub's CLI


def test_offline_hub_raises_hub_unavailable(monkeypatch):
    # the real datasets code path, offline (conftest sets HF_HUB_OFFLINE=1): nothing reaches a network
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    absent = dataclasses.replace(hub.SOURCES["MATH500"], hub_id="mathtransfer-tests/no-such-dataset")
    monkeypatch.setitem(hub.SOURCES, "MATH500", absent)
    with pytest.raises(hub.HubUnavailable) as raised:
        hub.load_benchmark("MATH500")
    assert one_line(str(raised.value)) and "MATH500" in str(raised.value)


def test_other_errors_are_not_hidden(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not an availability problem")
    monkeypatch.setattr(hub, "load_dataset", broken)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    with pytest.raises(RuntimeError, match="a bug"):
        hub.load_benchmark("AIME25")


def test_load_benchmarks_goes_on_without_the_missing_ones():
    sources = {name: fixture(name) for name in NAMES}
    sources["GPQA-Diamond"] = "/nonexistent/gpqa.jsonl"
    available, missing = hub.load_benchmarks(n=2, seed=0, sources=sources)
    assert set(available) == set(NAMES) - {"GPQA-Diamond"}
    assert all(len(ds) == 2 for ds in available.values())
    assert list(missing) == ["GPQA-Diamond"] and one_line(missing["GPQA-Diamond"])
    some, none_missing = hub.load_benchmarks(["aime24", "MC-TACO"], sources={"AIME24": fixture("AIME24"),
                                                                           "MC-TACO": fixture("MC-TACO")})
    assert list(some) == ["AIME24", "MC-TACO"] and none_missing == {}


# Hand-written (correct, wrong) responses for the first item of each benchmark with a scorer.
RESPONSES = {
    "MATH500": ("r = 3 and theta = pi/2.\nFinal Answer: \\boxed{(3, \\frac{\\pi}{2})}",
                "Final Answer: \\boxed{(3, \\pi)}"),
    "AIME24": ("She walks 3.4 hours.\nFinal Answer: \\boxed{204}", "Final Answer: \\boxed{240}"),
    "AIME25": ("b + 7 divides 56, so b = 21 or 49.\nFinal Answer: \\boxed{70}", "Final Answer: \\boxed{49}"),
    "OlympiadBench": ("2, 6, 10, 14, 18, 22.\nFinal Answer: \\boxed{6}", "Final Answer: \\boxed{7}"),
    "GPQA-Diamond": ("The width is about 1e-7 eV, so only the largest gap resolves. Answer: 10^-4 eV",
                     "Answer: 10^-11 eV"),
    "ACPBench": ("The ferry is at l1, so it can sail to l0. Answer: B", "Answer: C"),
    "HeadQA": ("Omeprazole blocks the proton pump. Answer: B", "Answer: A"),
    "CoQA": ("Answer: with her mommy and 5 sisters", "Answer: alone"),
    "HaluEval": ("Arthur's Magazine started in 1844. Answer: no", "Answer: yes"),
    "MC-TACO": ("A short statement takes seconds. Answer: yes", "Answer: no"),
    # the program runs in the sandbox on the item's public tests
    "LiveCodeBench": ("```python\nn = int(input())\ns = input().strip()\nt, a = s.count('T'), s.count('A')\n"
                      "print('T' if t > a or (t == a and s[-1] == 'A') else 'A')\n```",
                      "```python\nprint('A')\n```"),
    # no comma, three *highlighted* sections, >= 300 words: all three instructions followed (or none)
    "IFEval": ("*Early life* *Regency* *Legacy* " + "Raymond ruled Tripoli well " * 75,
               "Raymond, Count of Tripoli, ruled."),
}


def test_every_benchmark_has_hand_written_responses():
    assert set(RESPONSES) == set(registry.BENCHMARKS)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_existing_scorers_read_the_items(loaded, name):
    item, score = loaded[name][0], scorers.scorer(registry.BENCHMARKS[name].name)
    correct, wrong = RESPONSES[name]
    assert score(correct, item["answer"], item["meta"]) == 1.0
    assert score(wrong, item["answer"], item["meta"]) == 0.0


@pytest.mark.parametrize("name", ["GPQA-Diamond", "ACPBench", "HeadQA"])
def test_choice_items_score_by_letter(loaded, name):
    for item in loaded[name]:
        options = json.loads(item["meta"])["options"]
        right = "ABCDE"[options.index(item["answer"])]
        assert f"({right}) {item['answer']}" in item["prompt"]
        wrong = next(letter for letter in "ABCD" if letter != right)
        assert scoring.score_choice(f"Answer: {right}", item["answer"], item["meta"]) == 1.0
        assert scoring.score_choice(f"Answer: {wrong}", item["answer"], item["meta"]) == 0.0


def test_data_stage_builds_hub_data_from_local_copies(tmp_path):
    """data.build with source hub, every set read from its fixture: the pipeline's one code path."""
    from mathtransfer import arms, data
    from mathtransfer.config import DataConfig

    sources = {name: os.path.join(FIXTURES, f"{name}.jsonl") for name in registry.BENCHMARKS}
    sources["GPQA-Diamond"] = str(tmp_path / "not-downloaded.jsonl")  # as if gated: left out, reported
    cfg = DataConfig(source="hub", n_train=3, n_test=2, hub_sft=os.path.join(FIXTURES, "math_sft_40K.jsonl"),
                     hub_rl=os.path.join(FIXTURES, "math_rl_48k.jsonl"), benchmark_sources=sources)
    built = data.build(cfg, seed=0)
    assert built["train"].column_names == COLUMNS == built["test"].column_names
    assert set(built["test"]["benchmark"]) == set(registry.BENCHMARKS) - {"GPQA-Diamond"}
    assert list(data.missing(built)) == ["GPQA-Diamond"]
    summary = data.summary(built)
    assert summary.set_index("benchmark").loc["GPQA-Diamond", "items"] == 0
    assert not set(built["train"]["prompt"]) & set(built["test"]["prompt"])
    storage.save_dataset(built, str(tmp_path / "hub"))
    again = storage.load_dataset(str(tmp_path / "hub"))
    assert list(data.missing(again)) == ["GPQA-Diamond"]
    rl_rows = sum(b == RL_SET for b in again["train"]["benchmark"])
    assert 0 < rl_rows == len(arms.math_split(again["train"], 0, "grpo"))  # the RL set's rows only
    assert all(arms.math_split(again["train"], 0, "sft-think")["teacher_think"])
    from mathtransfer.registry import chance
    from mathtransfer.scorers import score
    item = again["test"].filter(lambda t: t == "mc_taco", input_columns="task")[0]
    assert chance("mc_taco") == 0.5 and score("mc_taco", "Answer: maybe", item["answer"], item["meta"]) == 0.0


def test_data_stage_reports_fallbacks_and_keeps_test_problems_out_of_rl(tmp_path, capsys):
    """Hub data built from an SFT copy without the guessed columns, RL prompts with the paper's suffix."""
    from mathtransfer import arms, data
    from mathtransfer.config import DataConfig
    from mathtransfer.schema import SFT_SET

    cfg = DataConfig(source="hub", n_train=10, n_test=10, hub_sft=fixture("math_sft_40K_other_columns"),
                     hub_rl=fixture("math_rl_48k"), benchmarks=["MATH500", "AIME25"],
                     benchmark_sources={name: fixture(name) for name in ("MATH500", "AIME25")})
    built = data.build(cfg, seed=0)
    train = built["train"]
    # two RL problems are test items (MATH500's f(x), AIME25's bases): dropped though their prompts differ
    rl = sorted(p for p, b in zip(train["prompt"], train["benchmark"]) if b == RL_SET)
    assert rl == sorted(q + cfg.rl_prompt_suffix for q in (
        "Compute $\\sin 60^\\circ$.", "Natalia sold clips to 48 of her friends in April, and then she sold half as "
        "many clips in May. How many clips did Natalia sell altogether in April and May?"))
    assert sum(b == SFT_SET for b in train["benchmark"]) == 1  # the coin; 196 and the cube are MATH500 items
    assert len(arms.math_split(train, 0, "sft-think")) == 0 and len(arms.math_split(train, 0, "sft-nothink")) == 1
    notes = data.fallbacks(built)[SFT_SET]
    assert len(notes) == 2 and "think_response" in notes[0] + notes[1]
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FALLBACK")]
    assert printed == [f"FALLBACK {n}" for n in notes]
    summary = data.summary(built).set_index("benchmark")
    assert "sft-think arm has no rows" in summary.loc[SFT_SET, "fallback"]
    assert summary.loc[["MATH500", "AIME25", RL_SET], "fallback"].isna().all()
    storage.save_dataset(built, str(tmp_path / "hub"))
    assert data.fallbacks(storage.load_dataset(str(tmp_path / "hub"))) == data.fallbacks(built)
    assert data.fallbacks(data.build(DataConfig(n_train=2, n_test=2), seed=0)) == {}  # the mini-world has none
    assert "fallback" not in data.summary(data.build(DataConfig(n_train=2, n_test=2), seed=0))
