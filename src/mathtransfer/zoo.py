"""The paper's model zoo (section 2.1): 18 released (math-tuned, base) pairs, their published
per-benchmark scores and TI values (data/paper/), the TI recomputed from those scores, and the
comparison of the two.

Also the zoo's pooled sigma per group (`zoo_sigma`): the fixed, declared scale of transfer.py's
fixed-sigma TI, so that an arm's TI does not depend on which other arms it is compared with.
Left out: the index itself (ti.py), our runs (transfer.py), figures (plots.py).
"""
from __future__ import annotations

import pandas as pd

from .ti import pooled_sigma, transferability_index

# the paper's Table 1 columns (data/paper/zoo_scores.tsv) by group
ZOO_GROUPS = {"math": ["AIME24", "AIME25", "MATH500", "Olympiad"],
              "other": ["GPQA", "LiveCodeBench2", "ACPBench", "HeadQA"],
              "non": ["CoQA", "MC-TACO", "IFEval", "HaluEval"]}


def read_zoo(folder: str = "data/paper") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores indexed by model, one column per benchmark in percent; pairs: model, base, method)."""
    scores = pd.read_csv(f"{folder}/zoo_scores.tsv", sep="\t", index_col="Model")
    return scores, pd.read_csv(f"{folder}/zoo_pairs.tsv", sep="\t")


def zoo_sigma(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict = ZOO_GROUPS) -> dict[str, float]:
    """Per group (math, other, non): the std of the score changes pooled over the zoo's pairs, in points."""
    return pooled_sigma(scores, pairs, groups)


def zoo_table(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]] = ZOO_GROUPS) -> pd.DataFrame:
    """TI v2 (and its DI terms) of every zoo pair, sigma pooled over all pairs, with v1's TIs
    (suffix _v1), the base and the method (RL or SFT) beside it."""
    v2 = transferability_index(scores, pairs, groups, "v2")
    v1 = transferability_index(scores, pairs, groups, "v1")
    ti_v1 = [f"TI_{g}" for g in groups if g != "math"]
    return v2.join(v1[ti_v1].add_suffix("_v1")).join(pairs.set_index("model")[["base", "method"]])


def zoo_by_method(zoo: pd.DataFrame) -> pd.DataFrame:
    """Per method: the median TI_other and TI_non, how many pairs have each above 0, and the pairs."""
    ti = zoo[["TI_other", "TI_non"]]
    positive = (ti > 0).groupby(zoo["method"]).sum().add_suffix(" > 0")
    return (ti.groupby(zoo["method"]).median().add_suffix(" median").join(positive)
              .join(zoo["method"].value_counts().rename("pairs")))


def zoo_sentences(zoo: pd.DataFrame) -> list[str]:
    """Per group: the median TI of the RL and of the SFT pairs, and how many of each are positive."""
    rl, sft = zoo[zoo["method"] == "RL"], zoo[zoo["method"] == "SFT"]
    return [f"TI_{g}: median RL {rl[f'TI_{g}'].median():+.1f} ({(rl[f'TI_{g}'] > 0).sum()} of {len(rl)} positive), "
            f"median SFT {sft[f'TI_{g}'].median():+.1f} ({(sft[f'TI_{g}'] > 0).sum()} of {len(sft)} positive)"
            for g in ("other", "non")]


REPRODUCED = 1.1  # TI points: a recomputed zoo TI this close to the published one counts as reproduced


def read_reported(folder: str = "data/paper") -> pd.DataFrame:
    """The TI values the paper publishes for its zoo (ti_reported.tsv: model, base, method, TI_other,
    TI_non), indexed by model."""
    return pd.read_csv(f"{folder}/ti_reported.tsv", sep="\t", index_col="model")


def reported_vs_recomputed(zoo: pd.DataFrame, reported: pd.DataFrame, tolerance: float = REPRODUCED) -> pd.DataFrame:
    """Per zoo pair and group: the published TI, ours recomputed from the published per-benchmark
    scores (zoo_table), their difference and whether it is within `tolerance`."""
    rows = []
    for model in zoo.index:
        for group in ("other", "non"):
            published, ours = reported.loc[model, f"TI_{group}"], zoo.loc[model, f"TI_{group}"]
            rows.append(dict(model=model, method=zoo.loc[model, "method"], group=group, reported=published,
                             recomputed=ours, difference=ours - published,
                             reproduced=bool(abs(ours - published) <= tolerance)))
    return pd.DataFrame(rows)


def reproduction_sentence(table: pd.DataFrame, tolerance: float = REPRODUCED) -> str:
    """How many published TI values reproduce, and which do not (with both values)."""
    missed = table[~table["reproduced"]]
    listed = "; ".join(f"{r.model} TI_{r.group} {r.reported:+.1f} published vs {r.recomputed:+.1f} recomputed"
                       for r in missed.itertuples())
    return (f"{int(table['reproduced'].sum())} of {len(table)} published TI values reproduce within {tolerance} "
            f"points" + (f"; not: {listed}" if listed else ""))


def ti_points(zoo: pd.DataFrame, per_arm: pd.DataFrame) -> pd.DataFrame:
    """The zoo pairs ("zoo RL", "zoo SFT") and our arms ("mini-world <arm>", with intervals) as
    one table of points for plots.ti_scatter."""
    zoo_points = zoo.rename_axis("model").reset_index()[["model", "method", "TI_other", "TI_non"]]
    arm_points = per_arm.rename_axis("model").reset_index()
    return pd.concat([zoo_points.assign(method="zoo " + zoo_points["method"]),
                      arm_points.assign(method="mini-world " + arm_points["model"])])
