"""The figures, one function per figure; each takes tidy DataFrames and returns a matplotlib Figure.

Imports nothing from the rest of the package: plots read the tidy CSVs' columns only.
Left out: styling beyond seaborn's defaults.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: notebooks display the returned figures themselves
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

GROUP_ORDER = ["math", "other", "non"]
GROUP_LABELS = {"math": "math", "other": "other reasoning", "non": "non-reasoning"}


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
