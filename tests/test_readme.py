"""The README's result tables say what reports/ says.

Each table is found by its header row; every number in its rows is compared with the value
recomputed from the files under reports/ the way the notebooks compute it, at the precision the
README prints (rounded half to even from the value's shortest repr, as pandas' round shows it in
the notebooks). One unit off in the last printed digit fails (test_a_one_digit_change_is_caught).
"""
import json
import os
import re
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import pandas as pd
import yaml

from conftest import ROOT
from mathtransfer import config, dynamics, schema

README = os.path.join(ROOT, "README.md")
RESULTS = os.path.join(ROOT, "reports", "results")
ARMS = ["sft-think", "sft-nothink", "rft", "grpo"]  # the main comparison's tables
ALL_ARMS = list(schema.ARMS)  # the sweep, the arm settings and notebook 08's tables (the ablation arms too)
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")

# the tables, each found by the start of its header row
TRAINING = "| arm | math gain, mean (seed range) |"
EVALUATION = "| arm | math | other reasoning | non-reasoning |"
TI = "| arm, group | change (points) | TI v2 (pooled sigma) | TI v2 (zoo sigma) | TI v1 |"
ONE_ITEM = "| arm, group | one item moves: change (points) |"
FORMAT = "| arm | other: strict / lenient / marker |"
TOKENS_EQ = "| arm | training tokens seen, final (seed range) |"
ABLATION = "| arm | math change (points) |"
MATH_TRACES = "| model | math right | every step taken |"
FITS = "| distance from the base (every checkpoint) |"
SPARSITY = "| arm | parameters changed in bf16: all |"
TRANSITIONS = "| arm | forgotten / gained: math |"
LATENT = "| arm | d math / other / non (paper pooling) |"
TOKENS = "| arm | kl_paper | kl_exact | rank_shift | share_changed |"
BASE = "| math | | | | other |"
STEP_SPLIT = "| arm | shared-step tasks (points) | control tasks (points) |"
SWEEP = "| arm and lr | math | other reasoning | non-reasoning | lowest math |"
KL = "| arm | forward KL to the base on math, final (seed range) |"
CHANNEL = "| channel task | base | after GRPO on it | change |"
ARM_SETTINGS = "| arm | data | steps x batch | lr |"


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(os.path.join(RESULTS, name))


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of every row of the markdown table whose header row starts with `header`."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header)]
    assert len(starts) == 1, f"README: expected one table with header {header!r}, found {len(starts)}"
    rows = []
    for line in lines[starts[0] + 2:]:  # after the header and the |---| row
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


def printed(text: str, header: str) -> dict[str, list[str]]:
    """Row name (first cell) -> the numbers printed in the rest of the row, as written."""
    return {row[0]: NUMBER.findall(" ".join(row[1:])) for row in table_rows(text, header)}


def rounded(value: float, places: int) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)


def compare(shown: dict[str, list[str]], expected: dict[str, list[float]], what: str) -> list[str]:
    """Mismatches between a table's printed numbers and the values they should round from."""
    if list(shown) != list(expected):
        return [f"{what}: rows {list(shown)}, expected {list(expected)}"]
    errors = []
    for row, values in expected.items():
        if len(shown[row]) != len(values):
            errors.append(f"{what}, {row}: {len(shown[row])} numbers printed, expected {len(values)}")
            continue
        for text, value in zip(shown[row], values):
            places = len(text.split(".")[1]) if "." in text else 0
            if Decimal(text) != rounded(value, places):
                errors.append(f"{what}, {row}: README {text}, reports give {float(value)!r} ({rounded(value, places)})")
    return errors


# --- what each table should say, from reports/ (cached: the one-digit test reuses them)


@lru_cache
def training_expected() -> dict[str, list[float]]:
    """Notebook 03: each run's change from step 0 at its last checkpoint (dynamics.final_gains), mean
    and range over seeds; then the matched-gain reading (matched_gain.csv), mean over seeds."""
    _, spread = dynamics.final_gains(dynamics.gains(read("train_checkpoints.csv")), ARMS)
    matched = read("matched_gain.csv").groupby("arm")[["other", "non", "step"]].mean()
    return {arm: [spread.loc[arm, ("math", "mean")], spread.loc[arm, ("math", "min")], spread.loc[arm, ("math", "max")],
                  spread.loc[arm, ("other", "mean")], spread.loc[arm, ("non", "mean")], *matched.loc[arm]]
            for arm in ARMS}


@lru_cache
def evaluation_expected() -> dict[str, list[float]]:
    """Notebook 04: change over the base per group (group_gains.csv), mean over seeds; range on math."""
    change = read("group_gains.csv").groupby(["arm", "group"])["change"].agg(["mean", "min", "max"])
    return {arm: [*change.loc[(arm, "math")], change.loc[(arm, "other"), "mean"], change.loc[(arm, "non"), "mean"]]
            for arm in ARMS}


@lru_cache
def ti_expected() -> dict[str, list[float]]:
    """Notebook 05: per arm and group, the four readings (mean of its seeds) with their intervals
    over items and seeds (transfer.csv)."""
    arms = read("transfer.csv").query("model == 'mean of seeds'").set_index("method")
    return {f"{arm}, {group}": [arms.loc[arm, f"{name}_{group}{end}"] for name in ("change", "TI", "TI_fixed", "TI_v1")
                                for end in ("", "_low", "_high")]
            for arm in ARMS for group in ("other", "non")}


@lru_cache
def one_item_expected() -> dict[str, list[float]]:
    """Notebook 05: how many points one test item moves each reading of a run (ti_one_item.csv)."""
    moves = read("ti_one_item.csv").set_index(["arm", "group"])
    return {f"{arm}, {group}": list(moves.loc[(arm, group), ["change", "TI", "TI_fixed", "TI_v1"]])
            for arm in ARMS for group in ("other", "non")}


@lru_cache
def format_expected() -> dict[str, list[float]]:
    """Notebook 04: per arm, the other and non-reasoning change scored strictly, leniently, and
    their difference (format_content.csv)."""
    table = read("format_content.csv").set_index(["arm", "group"])
    return {arm: [table.loc[(arm, group), c] for group in ("other", "non") for c in ("strict", "lenient", "format")]
            for arm in ARMS}


@lru_cache
def tokens_eq_expected() -> dict[str, list[float]]:
    """Notebook 03, section 4c: each run's training tokens at its end, in thousands (mean and range
    over seeds), then the equal-tokens reading (matched_tokens.csv), mean over seeds."""
    final = read("train_curves.csv").groupby(["arm", "seed"]).tokens.max().groupby("arm").agg(["mean", "min", "max"])
    matched = read("matched_tokens.csv").groupby("arm")[["math", "other", "non", "step"]].mean()
    return {arm: [*(final.loc[arm] / 1000), *matched.loc[arm]] for arm in ARMS}


@lru_cache
def latent_expected() -> dict[str, list[float]]:
    """Notebook 06: d per task, mean over a group's tasks (latent.group_distances), then over seeds."""
    per_seed = read("latent.csv").groupby(["pooling", "arm", "seed", "group"])["d"].mean()
    d = per_seed.groupby(["pooling", "arm", "group"]).mean()
    return {arm: [d[(pooling, arm, group)] for pooling in ("paper", "mask") for group in ("math", "other", "non")]
            for arm in ARMS}


@lru_cache
def tokens_expected() -> dict[str, list[float]]:
    """Notebook 07: each measure's mean over tasks and seeds (tokens.versus_grpo), kl_paper's range
    of seed means, and the shares of logic / scaffold / content / symbol among the shifted tokens
    (percent)."""
    results = read("tokens.csv")
    measures = ["kl_paper", "kl_exact", "rank_shift", "share_changed"]
    mean = results.groupby("arm")[measures].mean()
    seeds = results.groupby(["arm", "seed"])["kl_paper"].mean().groupby("arm").agg(["min", "max"])
    kinds = read("shifted_tokens.csv").groupby(["arm", "kind"])["shifted"].sum().unstack("kind").fillna(0)
    shares = 100 * kinds.div(kinds.sum(axis=1), axis=0)
    return {arm: [mean.loc[arm, "kl_paper"], *seeds.loc[arm], *mean.loc[arm, measures[1:]],
                  *shares.loc[arm, ["logic", "scaffold", "content", "symbol"]]] for arm in ARMS}


@lru_cache
def base_expected() -> dict[str, float]:
    """Notebook 01_base_eval: the base's greedy accuracy per task (base_accuracy.csv)."""
    return read("base_accuracy.csv").set_index("task")["accuracy"].to_dict()


def base_printed(text: str) -> dict[str, str]:
    names, values = table_rows(text, BASE)[:2]  # under the group row: task names, then accuracies
    return dict(zip(names, values))


@lru_cache
def step_split_expected() -> dict[str, list[float]]:
    """Notebook 04: each arm's change on the shared-step and the control tasks, mean of seeds with
    its paired bootstrap interval (step_split.csv)."""
    split = read("step_split.csv").query("seed == -1").set_index(["arm", "split"])
    return {arm: [*split.loc[(arm, "shared step"), ["change", "low", "high"]],
                  *split.loc[(arm, "control"), ["change", "low", "high"]]] for arm in ARMS}


@lru_cache
def sweep_expected() -> dict[str, list[float]]:
    """Notebook 03, section 5: each swept rate's final change per group and lowest math change
    (lr_sweep.csv), in registry order of the arms."""
    sweep = read("lr_sweep.csv")
    sweep["arm"] = pd.Categorical(sweep["arm"], ALL_ARMS, ordered=True)
    return {f"{row.arm} {row.lr:g}": [row.math, row.other, row.non, row.min_math]
            for row in sweep.sort_values(["arm", "lr"]).itertuples()}


@lru_cache
def kl_expected() -> dict[str, list[float]]:
    """Notebook 03, section 4b: each run's forward KL at its last checkpoint (mean and range over
    seeds), then the matched-KL reading (matched_kl.csv), mean over seeds."""
    run_kl = dynamics.distance_path(read("train_checkpoints.csv"))
    final = run_kl.loc[run_kl.groupby(["arm", "seed"]).step.idxmax()].groupby("arm").kl.agg(["mean", "min", "max"])
    matched = read("matched_kl.csv").groupby("arm")[["math", "other", "non", "step"]].mean()
    return {arm: [*final.loc[arm], *matched.loc[arm]] for arm in ARMS}


@lru_cache
def channel_expected() -> dict[str, list[float]]:
    """Notebook 01_world_check: the channel task's greedy accuracy before and after GRPO on it."""
    return {row.task: [row.base, row.trained, row.change] for row in read("channel_check.csv").itertuples()}


@lru_cache
def fits_expected() -> dict[str, list[float]]:
    """Notebook 08: R^2 of the quadratic fit of forgetting on each distance, with its interval, per
    group, across all arms (forgetting_fits.csv) and within the on-policy arms (forgetting_fits_near.csv)."""
    from mathtransfer.forgetting import PREDICTORS

    tables = [read(name).set_index(["predictor", "group"]) for name in ("forgetting_fits.csv", "forgetting_fits_near.csv")]
    return {label: [t.loc[(p, g), c] for t in tables for g in ("other", "non") for c in ("r2", "r2_low", "r2_high")]
            for p, label in PREDICTORS.items()}


@lru_cache
def sparsity_expected() -> dict[str, list[float]]:
    """Notebook 08: per arm, the share of parameters whose bf16 value changed (seed mean): all, then
    attention (q, k, v, o pooled by parameters), MLP, embedding, norm; then the mean rank share of
    the weight matrices' updates (update_sparsity.csv, update_rank.csv)."""
    sparsity = read("update_sparsity.csv")
    sparsity["kind"] = sparsity["kind"].where(~sparsity["kind"].str.startswith("attention"), "attention")
    sparsity["changed_n"] = sparsity["changed"] * sparsity["parameters"]
    pooled = sparsity.groupby(["arm", "seed", "kind"])[["changed_n", "parameters"]].sum()
    share = (pooled["changed_n"] / pooled["parameters"]).groupby(["arm", "kind"]).mean()
    rank = read("update_rank.csv").groupby("arm")["rank_share"].mean()
    return {arm: [share[(arm, k)] for k in ("all", "attention", "MLP", "embedding", "norm")] + [rank[arm]]
            for arm in ALL_ARMS}


@lru_cache
def transitions_expected() -> dict[str, list[float]]:
    """Notebook 08: per arm and group, the shares of items forgotten and gained (mean over the
    group's tasks of the seed means; transitions.csv)."""
    moves = read("transitions.csv").groupby(["arm", "group"])[["forgotten", "gained"]].mean()
    return {arm: [moves.loc[(arm, g), c] for g in ("math", "other", "non") for c in ("forgotten", "gained")]
            for arm in ALL_ARMS}


@lru_cache
def ablation_expected() -> dict[str, list[float]]:
    """Notebook 08, section 1: per arm, the change on each group with its interval (points, seed
    mean; intervals over items and seeds), then TI v2 (pooled sigma) on non-reasoning with its
    interval (ablation.csv)."""
    table = read("ablation.csv").set_index("arm")
    columns = [f"{c}{end}" for c in ("change_math", "change_other", "change_non", "TI_non") for end in ("", "_low", "_high")]
    return {arm: list(table.loc[arm, columns]) for arm in ALL_ARMS}


@lru_cache
def math_traces_expected() -> dict[str, list[float]]:
    """Notebook 08, section 4b: per model, the shares of math answers right, taking every step, and
    holding a step with a wrong result (math_traces.csv)."""
    table = read("math_traces.csv").set_index("arm")
    return {arm: list(table.loc[arm, ["right", "full_steps", "arithmetic_error"]]) for arm in table.index}


RESULT_TABLES = {ABLATION: ablation_expected, MATH_TRACES: math_traces_expected, FITS: fits_expected, SPARSITY: sparsity_expected, TRANSITIONS: transitions_expected,
                 TRAINING: training_expected, EVALUATION: evaluation_expected, TI: ti_expected,
                 ONE_ITEM: one_item_expected, FORMAT: format_expected, TOKENS_EQ: tokens_eq_expected,
                 LATENT: latent_expected, TOKENS: tokens_expected, STEP_SPLIT: step_split_expected,
                 SWEEP: sweep_expected, KL: kl_expected, CHANNEL: channel_expected}


def mismatches(text: str) -> list[str]:
    """Every result table of the README text against reports/."""
    errors = []
    for header, expected in RESULT_TABLES.items():
        errors += compare(printed(text, header), expected(), header)
    base = base_printed(text)
    errors += compare({t: [v] for t, v in base.items()}, {t: [a] for t, a in base_expected().items()}, BASE)
    return errors


# --- the tests


def test_the_result_tables_match_reports():
    errors = mismatches(open(README).read())
    assert not errors, "README tables disagree with reports/:\n" + "\n".join(errors)


def test_the_matched_level_in_the_training_header_is_the_one_notebook_03_used():
    level = read("matched_gain.csv")["math"].unique()
    header = next(line for line in open(README) if line.startswith(TRAINING))
    assert len(level) == 1 and f"at math {level[0]:+.2f}:" in header


def test_the_matched_kl_in_the_kl_header_is_the_one_notebook_03_used():
    level = read("matched_kl.csv")["kl"].unique()
    header = next(line for line in open(README) if line.startswith(KL))
    assert len(level) == 1 and f"at KL {level[0]:g}:" in header


def test_the_token_level_in_the_tokens_header_is_the_one_notebook_03_used():
    level = read("matched_tokens.csv")["tokens"].unique()
    header = next(line for line in open(README) if line.startswith(TOKENS_EQ))
    assert len(level) == 1 and f"at {level[0] / 1000:g}k tokens:" in header


def test_the_arm_settings_match_params_and_the_rft_runs():
    train = yaml.safe_load(open(os.path.join(ROOT, "params.yaml")))["train"]
    lrs = config.arm_lrs(config.parse(config.TrainConfig, train, "train"))
    rows = {row[0]: row for row in table_rows(open(README).read(), ARM_SETTINGS)}
    assert list(rows) == ALL_ARMS
    for arm in ("sft-think", "sft-nothink", "rft", "sft-self", "sft-think-lora", "rl-offpolicy"):
        assert rows[arm][2].startswith(f"{train['sft_steps']} x {train['sft_batch_size']}"), arm
    for arm in ("grpo", "grpo-kl", "grpo-random"):
        assert rows[arm][2].startswith(f"{train['rl_steps']} x ({train['rl_prompts_per_step']} prompts x "
                                       f"{train['num_generations']} rollouts)"), arm
    for arm in ALL_ARMS:
        assert float(rows[arm][3].split(",")[0]) == lrs[arm], arm
    runs = [json.load(open(os.path.join(RESULTS, "train", f"rft-seed{seed}_run.json"))) for seed in train["seeds"]]
    kept = re.search(r"([\d,]+)-([\d,]+) of ([\d,]+) kept", rows["rft"][1])
    assert kept, f"rft row: no 'N-M of K kept' in {rows['rft'][1]!r}"
    low, high, samples = (int(n.replace(",", "")) for n in kept.groups())
    assert (low, high) == (min(r["kept"] for r in runs), max(r["kept"] for r in runs))
    assert {samples} == {r["samples"] for r in runs}


def number_positions(text: str) -> list[tuple[int, int]]:
    """(start, end) in text of every number in the checked tables' rows."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    positions = []
    for header in [*RESULT_TABLES, BASE]:
        start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 2
        for i in range(start, len(lines)):
            if not lines[i].startswith("|"):
                break
            cells = lines[i].split("|")
            skip = len(cells[0]) + len(cells[1]) + 2 if header != BASE else 0  # not the row's name
            positions += [(offsets[i] + m.start(), offsets[i] + m.end())
                          for m in NUMBER.finditer(lines[i], skip)]
    return positions


def test_a_one_digit_change_is_caught():
    text = open(README).read()
    positions = number_positions(text)
    assert len(positions) > 100
    missed = []
    for start, end in positions:
        number = text[start:end]
        digits = number.lstrip("+-")
        last = int(digits[-1])
        changed = number[:-1] + str(last + 1 if last < 9 else last - 1)
        if not mismatches(text[:start] + changed + text[end:]):
            missed.append(f"{number} -> {changed} at {start}")
    assert not missed, "changed numbers that no table check noticed: " + ", ".join(missed)



def test_the_layout_section_matches_the_tree():
    """Every module of the package is in the README's layout, and every folder it names exists."""
    import glob

    layout = open(README).read().split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^  (\S+\.py|tasks/)\s", layout, flags=re.M))
    package = os.path.join(ROOT, "src", "mathtransfer")
    modules = {os.path.basename(p) for p in glob.glob(os.path.join(package, "*.py"))} | {"tasks/"}
    assert listed == modules, listed ^ modules
    folders = re.findall(r"^([a-z_/]+)/\s", layout, flags=re.M)
    assert "notebooks" in folders and "tests" in folders
    for folder in folders:
        assert os.path.isdir(os.path.join(ROOT, folder)), folder


def test_the_zoo_reproduction_sentence_matches_reports():
    table = read("zoo_ti_reported.csv")
    text = " ".join(open(README).read().split())  # the sentence is wrapped over lines
    assert f"{int(table.reproduced.sum())} of the {len(table)} reproduce" in text
    for row in table[~table.reproduced].itertuples():
        assert row.model in text and f"{row.reported:+.1f}" in text and f"{row.recomputed:+.1f}" in text, row


def test_the_world_check_sentence_matches_reports():
    in_band = json.load(open(os.path.join(ROOT, "reports", "metrics", "world_check.json")))["bases_in_band"]
    claimed = "has every\ntask in the 25-85% band on both bases" in open(README).read()
    assert claimed == (len(in_band) == 2 and all(n == 12 for n in in_band.values()))


def test_the_base_seed_sentence_matches_the_two_bases():
    bases = read("world_check_bases.csv")
    task = bases.pivot(index="task", columns="base_seed", values="greedy")
    diff = (task[1] - task[0]).abs()
    groups = bases.groupby(["group", "base_seed"]).greedy.mean().unstack("base_seed")
    moves = (groups[1] - groups[0]).abs()
    text = " ".join(open(README).read().split())
    top = diff.idxmax()
    assert (f"differs from the default by at most {diff.max():.2f} on a task ({top}: {task.loc[top, 0]:.2f} vs "
            f"{task.loc[top, 1]:.2f}) and by {moves.min():.2f}-{moves.max():.2f} on the group means (math "
            f"{groups.loc['math', 0]:.3f} vs {groups.loc['math', 1]:.3f}, other {groups.loc['other', 0]:.3f} vs "
            f"{groups.loc['other', 1]:.3f}, non {groups.loc['non', 0]:.3f} vs {groups.loc['non', 1]:.3f})") in text
