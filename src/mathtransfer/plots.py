"""The figures, one function per figure; each takes tidy DataFrames and returns a matplotlib Figure.

Imports only schema's names from the package: plots read the tidy CSVs' columns.
Left out: styling beyond seaborn's defaults.
"""
from __future__ import annotations

import os
import sys

import matplotlib

if "ipykernel" not in sys.modules and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")  # headless scripts and tests; a notebook keeps its inline backend and shows figures
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import numpy as np  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from .schema import ARMS, GROUP_LABELS, GROUPS  # noqa: E402

GROUP_ORDER = list(GROUPS)


@contextmanager
def _same_jitter(seed: int = 0):
    """seaborn jitters strip-plot dots with numpy's global generator: fix it for the call (the same
    figure on every rerun) and give the caller its state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def loss_curve(log: pd.DataFrame, title: str = "Training loss"):
    """Loss (and gradient norm, if logged) against optimizer step."""
    rows = log.dropna(subset=["loss"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    sns.lineplot(data=rows, x="step", y="loss", ax=axes[0])
    axes[0].set_title(title)
    if "grad_norm" in rows:
        sns.lineplot(data=rows, x="step", y="grad_norm", ax=axes[1], color="tab:orange")
        axes[1].set_title("Gradient norm")
    fig.tight_layout()
    return fig


def task_accuracy(acc: pd.DataFrame, title: str = "Per-task accuracy"):
    """Bars of accuracy per task, coloured by group, with each task's chance level marked."""
    acc = acc.assign(group_label=acc["group"].map(GROUP_LABELS))
    fig, ax = plt.subplots(figsize=(12, 4))
    sns.barplot(data=acc, x="task", y="accuracy", hue="group_label", dodge=False, ax=ax,
                hue_order=[GROUP_LABELS[g] for g in GROUP_ORDER])
    for i, chance in enumerate(acc.drop_duplicates("task")["chance"]):
        ax.hlines(chance, i - 0.4, i + 0.4, colors="black", linestyles="dashed", linewidth=1)
    labels = acc.drop_duplicates("task")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([f"{t}\n({b})" for t, b in zip(labels["task"], labels["benchmark"])],
                       fontsize=8, rotation=30, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("")
    ax.set_title(title + "  (dashed: chance)")
    ax.legend(title="", loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


ARM_ORDER = list(ARMS)  # every figure orders the arms as schema.ARMS does


def training_curves(curves: pd.DataFrame, metrics: list[str], title: str = "Training curves"):
    """One panel per metric against step; one line per arm (mean over seeds, band: seed range).
    curves has columns arm, seed, step and the metrics."""
    metrics = [m for m in metrics if m in curves and curves[m].notna().any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    hue_order = [a for a in ARM_ORDER if a in set(curves["arm"])]
    for ax, metric in zip(axes[0], metrics):
        sns.lineplot(data=curves.dropna(subset=[metric]), x="step", y=metric, hue="arm", hue_order=hue_order,
                     errorbar=("pi", 100), ax=ax, linewidth=1)
        ax.set_title(metric)
        if ax is not axes[0][0]:
            ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def matched_gain(run_gains: pd.DataFrame, title: str = "Change on other skills against math gain", x: str = "math",
                 xlabel: str = "change in math accuracy"):
    """Two panels: other-reasoning and non-reasoning change (y) against math change (x; or another
    column such as the forward KL to the base), one line per run along its checkpoints (start at
    the base)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    hue_order = [a for a in ARM_ORDER if a in set(run_gains["arm"])]
    for ax, group in zip(axes, ["other", "non"]):
        sns.lineplot(data=run_gains, x=x, y=group, hue="arm", hue_order=hue_order, units="seed",
                     estimator=None, sort=False, marker="o", markersize=4, linewidth=1, ax=ax)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("change in accuracy")
        ax.set_title(GROUP_LABELS[group])
        if group == "non":
            ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def matched_kl(run_kl: pd.DataFrame, title: str = "Change on other skills against distance from the base"):
    """matched_gain with the forward KL to the base on math prompts as x, on a symlog axis (the
    arms' KLs lie orders of magnitude apart; 0, the base, stays on the axis)."""
    fig = matched_gain(run_kl, title, x="kl", xlabel="KL(base || model) on math, nats per token")
    for ax in fig.axes:
        positive = run_kl["kl"][run_kl["kl"] > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1e-3)
    return fig


def matched_tokens(run_tokens: pd.DataFrame, title: str = "Change on other skills against training tokens"):
    """matched_gain with the training tokens seen (prompt + response) as x."""
    return matched_gain(run_tokens, title, x="tokens", xlabel="training tokens seen (prompt + response)")


def group_gains(gains: pd.DataFrame, title: str = "Change over the base, per group"):
    """Figure 1 analogue: bars of each arm's mean change per group, with one dot per seed.
    gains has columns arm, seed, group, change (accuracy points, 0-100)."""
    gains = gains.assign(group_label=gains["group"].map(GROUP_LABELS))
    hue_order = [a for a in ARM_ORDER if a in set(gains["arm"])]
    order = [GROUP_LABELS[g] for g in GROUP_ORDER]
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(data=gains, x="group_label", y="change", hue="arm", hue_order=hue_order, order=order,
                errorbar=None, alpha=0.75, ax=ax)
    with _same_jitter():
        sns.stripplot(data=gains, x="group_label", y="change", hue="arm", hue_order=hue_order, order=order,
                      dodge=True, palette={a: "black" for a in hue_order}, size=4, legend=False, ax=ax)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("accuracy change vs base (points)")
    ax.set_title(title + "  (bars: seed mean; dots: seeds)")
    ax.legend(title="", fontsize=8)
    fig.tight_layout()
    return fig


def ti_scatter(ti: pd.DataFrame, title: str = "Transferability Index", label_column: str | None = None):
    """Figure 2 analogue: TI_non (x) against TI_other (y), one point per model, coloured by
    `method`, with error bars where TI_<g>_low/high columns exist and text labels if asked."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for method, part in ti.groupby("method", sort=True):
        xerr = yerr = None
        if "TI_non_low" in part:
            xerr = [part["TI_non"] - part["TI_non_low"], part["TI_non_high"] - part["TI_non"]]
            yerr = [part["TI_other"] - part["TI_other_low"], part["TI_other_high"] - part["TI_other"]]
        ax.errorbar(part["TI_non"], part["TI_other"], xerr=xerr, yerr=yerr, fmt="o", capsize=3, label=method)
        if label_column:
            for _, row in part.iterrows():
                ax.annotate(str(row[label_column]), (row["TI_non"], row["TI_other"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("TI non-reasoning")
    ax.set_ylabel("TI other reasoning")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def latent_layers(layers: pd.DataFrame, title: str = "Hidden-state shift per layer"):
    """Figure 3 analogue: per layer, the tuned model's mean PC1 shift (top) and mean PC2 (bottom)
    against the base's PCA axes; one column per group, one line per arm (mean over its seeds and
    the group's tasks; band: seed range). layers has columns arm, seed, group, layer, pc1_shift,
    pc2_tuned."""
    groups = [g for g in GROUP_ORDER if g in set(layers["group"])]
    hue_order = [a for a in ARM_ORDER if a in set(layers["arm"])]
    per_seed = layers.groupby(["arm", "seed", "group", "layer"], as_index=False)[["pc1_shift", "pc2_tuned"]].mean()
    fig, axes = plt.subplots(2, len(groups), figsize=(4.2 * len(groups), 6), squeeze=False, sharex=True)
    for col, group in enumerate(groups):
        part = per_seed[per_seed["group"] == group]
        for row, (value, label) in enumerate([("pc1_shift", "PC1 shift"), ("pc2_tuned", "PC2 mean")]):
            ax = axes[row][col]
            sns.lineplot(data=part, x="layer", y=value, hue="arm", hue_order=hue_order, errorbar=("pi", 100),
                         marker="o", ax=ax, legend=(row == 0 and col == 0))
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.set_ylabel(label)
            ax.set_title(GROUP_LABELS[group] if row == 0 else "")
    axes[1][0].set_xlabel("layer (0: embeddings)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def token_shift(shift: pd.DataFrame, measures: list[str], title: str = "Token-distribution shift"):
    """Figure 4 analogue: one panel per measure, bars per task and arm (seed mean; dots: seeds).
    shift has columns arm, seed, task and the measures."""
    hue_order = [a for a in ARM_ORDER if a in set(shift["arm"])]
    fig, axes = plt.subplots(len(measures), 1, figsize=(12, 3.2 * len(measures)), squeeze=False)
    for ax, measure in zip(axes[:, 0], measures):
        sns.barplot(data=shift, x="task", y=measure, hue="arm", hue_order=hue_order, errorbar=None,
                    alpha=0.75, ax=ax)
        with _same_jitter():
            sns.stripplot(data=shift, x="task", y=measure, hue="arm", hue_order=hue_order, dodge=True,
                          palette={a: "black" for a in hue_order}, size=3, legend=False, ax=ax)
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xlabel("")
        ax.set_title(measure)
        if ax is not axes[0, 0]:
            ax.get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def shifted_tokens(words: pd.DataFrame, top: int = 15, title: str = "Most-shifted tokens"):
    """Figure 5 analogue (bars instead of word clouds): per arm, its `top` most-shifted tokens,
    coloured by kind (logic / scaffold / content / symbol). words has columns arm, token, kind, shifted."""
    arms = [a for a in ARM_ORDER if a in set(words["arm"])]
    fig, axes = plt.subplots(1, len(arms), figsize=(3.6 * len(arms), 0.28 * top + 1.5), squeeze=False)
    palette = {"logic": "tab:orange", "scaffold": "tab:green", "content": "tab:blue", "symbol": "tab:grey"}
    for ax, arm in zip(axes[0], arms):
        part = words[words["arm"] == arm].nlargest(top, "shifted")
        sns.barplot(data=part, y="token", x="shifted", hue="kind", palette=palette, dodge=False,
                    hue_order=list(palette), ax=ax, legend=(arm == arms[0]))
        ax.set_title(arm)
        ax.set_ylabel("")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def lr_sweep(sweep_gains: pd.DataFrame, title: str = "Learning-rate sweep (one seed): change over the base"):
    """A grid: one column per arm, one row per group (math, other, non); change against step, one
    line per learning rate. sweep_gains has columns arm, lr, step, math, other, non."""
    arms = [a for a in ARM_ORDER if a in set(sweep_gains["arm"])]
    groups = [g for g in GROUP_ORDER if g in sweep_gains]
    fig, axes = plt.subplots(len(groups), len(arms), figsize=(3.6 * len(arms), 2.6 * len(groups)),
                             squeeze=False, sharey="row")
    for j, arm in enumerate(arms):
        runs = sweep_gains[sweep_gains["arm"] == arm].assign(lr=lambda d: d["lr"].map("{:g}".format))
        for i, group in enumerate(groups):
            ax = axes[i][j]
            sns.lineplot(data=runs, x="step", y=group, hue="lr", marker="o", markersize=3, linewidth=1, ax=ax)
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.set_title(f"{arm}: {GROUP_LABELS[group]}", fontsize=9)
            ax.set_ylabel("change in accuracy" if j == 0 else "")
            if i or ax.get_legend() is None:
                if ax.get_legend() is not None:
                    ax.get_legend().remove()
            else:
                ax.legend(title="lr", fontsize=7, title_fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def forgetting_fits(points: pd.DataFrame, fits: pd.DataFrame, labels: dict[str, str],
                    title: str = "Forgetting against distance from the base, every checkpoint"):
    """Rows: other, non-reasoning; columns: the predictors (labels: column -> axis label). Each
    checkpoint a dot (coloured by arm), the quadratic fit a*x + b*x^2 (fits: predictor, group, a,
    b, r2) a line, its R^2 in the panel's title."""
    predictors = [p for p in labels if p in points and points[p].notna().any()]
    fig, axes = plt.subplots(2, len(predictors), figsize=(4 * len(predictors), 7), squeeze=False)
    hue_order = [a for a in ARM_ORDER if a in set(points["arm"])]
    for row, group in enumerate(["other", "non"]):
        for col, predictor in enumerate(predictors):
            ax = axes[row][col]
            sns.scatterplot(data=points.assign(drop=-points[group]), x=predictor, y="drop", hue="arm",
                            hue_order=hue_order, s=18, ax=ax, legend=(row == 0 and col == 0))
            fit = fits[(fits.predictor == predictor) & (fits.group == group)].iloc[0]
            x = np.linspace(0, float(points[predictor].max()), 100)
            ax.plot(x, fit.a * x + fit.b * x ** 2, color="black", linewidth=1)
            ax.set_xscale("symlog", linthresh=float(points[predictor][points[predictor] > 0].min()))
            ax.set_title(f"{GROUP_LABELS[group]}: R^2 {fit.r2:.2f}", fontsize=10)
            ax.set_xlabel(labels[predictor])
            ax.set_ylabel("drop in accuracy" if col == 0 else "")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def transitions(table: pd.DataFrame, title: str = "Items forgotten and gained, per group (seed means)"):
    """Per group (panel) and arm: the share of items forgotten (right -> wrong, drawn below 0) and
    gained (wrong -> right, above 0), the mean over the group's tasks. table: forgetting.transitions."""
    by_group = table.groupby(["arm", "group"], sort=False)[["forgotten", "gained"]].mean().reset_index()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    hue_order = [a for a in ARM_ORDER if a in set(by_group["arm"])]
    for ax, group in zip(axes, GROUP_ORDER):
        part = by_group[by_group.group == group].set_index("arm").reindex(hue_order)
        ax.bar(hue_order, part["gained"], color="tab:green", label="gained")
        ax.bar(hue_order, -part["forgotten"], color="tab:red", label="forgotten")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(GROUP_LABELS[group])
        ax.tick_params(axis="x", rotation=30)
    axes[0].set_ylabel("share of items (forgotten below 0)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
