"""Stage 5: the tidy metric table and paper-style Markdown tables (seed 000, Tables 1-5).

Paper-style means: one row per draw or trial, then the mean, values in percent as printed in
the papers. Every table is a pivot of the one tidy CSV, so tables and figures never disagree.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from robustsweep.atomic_output import atomic_path, write_text

RUN_KEYS = ["model", "n_train_classes", "seed", "defence"]


def collect_metrics(output: Path, inputs: list[Path]) -> None:
    """Concatenate per-run metric CSVs into one tidy table in a stable row order."""
    table = pd.concat([pd.read_csv(path) for path in inputs], ignore_index=True)
    table = table.sort_values(RUN_KEYS + ["test_set", "pattern", "m_classes", "trial"])
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")


def full_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Rows evaluated over all of a run's classes (M = N), all patterns pooled."""
    return metrics[(metrics.m_classes == metrics.n_train_classes) & (metrics.pattern == "all")]


def with_mean(table: pd.DataFrame, label: str = "Mean") -> pd.DataFrame:
    """Append the column means as a last row, as the papers print them."""
    return pd.concat([table, table.mean(numeric_only=True).to_frame(label).T])


def architecture_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Table 1: Acc/AUC/AP on the natural adversarial set per all-class model (mean of seeds)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & (rows.defence == "standard")]
    natural = rows[rows.test_set == "natural"].groupby("model")[["accuracy", "auc", "ap"]].mean()
    natural.columns = ["Acc", "AUC", "AP"]
    natural.insert(0, "Clean acc", rows[rows.test_set == "clean"].groupby("model").accuracy.mean())
    millions = rows.groupby("model").parameters.first() / 1e6
    natural.insert(0, "Parameters", millions.map(lambda value: f"{value:.2f} M"))
    return natural


def training_class_table(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Table 2: natural-adversarial accuracy (%) per draw (rows) and N (columns); a pretrained
    ImageNet-1k model of the same architecture adds the paper's 1000-class column (its
    accuracy over all the study's classes, in the first row, as the paper prints it)."""
    rows = full_rows(metrics)
    natural = rows[(rows.defence == "standard") & (rows.test_set == "natural")]
    own = natural[natural.model == model]
    table = own.pivot_table(index="seed", columns="n_train_classes", values="accuracy") * 100
    table.index = [f"draw {seed}" for seed in table.index]
    table = with_mean(table)
    if "pretrained_weights" in natural and not own.empty and table.shape[1] > 1:
        pretrained = natural[
            (natural.architecture == own.architecture.iloc[0])
            & (natural.pretrained_weights.fillna("") != "")
            & (natural.n_train_classes == metrics.n_train_classes.max())
        ]
        for name, group in pretrained.groupby("model"):
            column = f"1000 ({name}, pretrained)"
            table[column] = float("nan")
            table.loc[table.index[0], column] = group.accuracy.iloc[0] * 100
    return table


def predicted_class_table(metrics: pd.DataFrame, model: str, pool: int) -> pd.DataFrame:
    """Tables 3-5: natural-adversarial accuracy (%) per trial (rows) and M (columns)."""
    rows = metrics[
        (metrics.model == model)
        & (metrics.n_train_classes == pool)
        & (metrics.defence == "standard")
        & (metrics.test_set == "natural")
        & (metrics.pattern == "all")
    ]
    table = rows.pivot_table(index=["seed", "trial"], columns="m_classes", values="accuracy") * 100
    table.index = [f"seed {seed} trial {trial + 1}" for seed, trial in table.index]
    return with_mean(table)


def robustness_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Accuracy (%) per test set for each (model, defence), all-class runs, mean of seeds."""
    rows = full_rows(metrics)
    rows = rows[rows.n_train_classes == pool]
    return rows.pivot_table(index=["model", "defence"], columns="test_set", values="accuracy") * 100


def consistency_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Consistent accuracy (%): predictions an attack leaves unchanged, per attacked test set
    (transfer `attack-*`, white-box `whitebox-*`), all-class runs, mean of seeds (seed 003)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & rows.consistency.notna()]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=["model", "defence"], columns="test_set", values="consistency")
    return table * 100


def clean_quality_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Seed 002's Table 2 columns on the clean test set: loss, accuracy, precision, recall (%)."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & (rows.test_set == "clean")]
    table = rows.groupby(["model", "defence"])[["loss", "accuracy", "precision", "recall"]].mean()
    table[["accuracy", "precision", "recall"]] *= 100
    table.columns = ["Loss", "Acc (%)", "Precision (%)", "Recall (%)"]
    return table


def hybrid_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Seed 002's Tables 3-5: accuracy (%) on test mixtures with a few % adversarial images,
    on the whole mixture and on its real and adversarial parts, per (model, defence),
    all-class runs, mean of seeds."""
    rows = metrics[
        metrics.test_set.str.startswith("hybrid-")
        & (metrics.m_classes == metrics.n_train_classes)
        & (metrics.n_train_classes == pool)
    ]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(
        index=["model", "defence"], columns=["test_set", "pattern"], values="accuracy"
    )
    table.columns = [f"{mixture} {part}" for mixture, part in table.columns]
    return table * 100


def detector_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Seed 001's detector accuracy (%) per test set for runs with a detector head."""
    rows = full_rows(metrics)
    rows = rows[(rows.n_train_classes == pool) & rows.detector_accuracy.notna()]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(
        index=["model", "defence"], columns="test_set", values="detector_accuracy"
    )
    return table * 100


def masking_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Every run whose robust numbers fail a gradient-masking check, with what failed."""
    keys = [*RUN_KEYS, "zero_gradient_fraction", "huge_eps_accuracy", "masking_flags"]
    runs = metrics[keys].drop_duplicates(RUN_KEYS)
    flagged = runs[runs.masking_flags.fillna("") != ""]
    return flagged.set_index(RUN_KEYS)


def pattern_table(metrics: pd.DataFrame, pool: int) -> pd.DataFrame:
    """Accuracy (%) per natural pattern for each all-class standard model."""
    rows = metrics[
        (metrics.test_set == "natural")
        & (metrics.pattern != "all")
        & (metrics.n_train_classes == pool)
        & (metrics.defence == "standard")
    ]
    return rows.pivot_table(index="model", columns="pattern", values="accuracy") * 100


def _markdown(
    table: pd.DataFrame, digits: int = 2, empty: str = "no runs in this study produce this table"
) -> str:
    if table.empty:
        return f"_{empty}_\n"
    # tabulate leaves only None blank; NaN marks cells the design leaves empty (M = N has
    # one trial, as in the papers' tables)
    cells = table.astype(object).where(table.notna(), None)
    return cells.to_markdown(floatfmt=f".{digits}f", missingval="") + "\n"


def write_tables(metrics_path: Path, output: Path, pool: int) -> None:
    """All paper-style tables in one Markdown file."""
    metrics = pd.read_csv(metrics_path)
    parts = [
        "# Study tables\n",
        "## Table 1: natural adversarial set, all-class models (Acc, AUC, AP)\n",
        _markdown(architecture_table(metrics, pool), 4),
    ]
    for model in sorted(metrics.model.unique()):
        table = training_class_table(metrics, model)
        if table.shape[1] > 1:
            parts += [
                f"## Table 2: {model}, accuracy (%) vs training classes N\n",
                _markdown(table),
            ]
    for model in sorted(metrics.model.unique()):
        table = predicted_class_table(metrics, model, pool)
        if table.shape[1] > 1:
            parts += [
                f"## Tables 3-5: {model}, accuracy (%) vs predicted classes M\n",
                _markdown(table),
            ]
    parts += [
        "## Clean test set: loss, accuracy, precision, recall (all-class runs)\n",
        _markdown(clean_quality_table(metrics, pool), 4),
        "## Robust accuracy (%) per test set and defence\n",
        "`attack-*`: transfer from the store's source model; `whitebox-*`: attacked directly.\n",
        _markdown(robustness_table(metrics, pool)),
        "## Consistent accuracy (%): predictions the attack leaves unchanged\n",
        _markdown(consistency_table(metrics, pool)),
        "## Test mixtures (%): accuracy with a few % adversarial images (seed 002, Tables 3-5)\n",
        _markdown(hybrid_table(metrics, pool)),
        "## Detector accuracy (%) of detector-head runs (seed 001, Table 3)\n",
        _markdown(detector_table(metrics, pool)),
        "## Gradient-masking checks\n",
        "Runs whose robust accuracy may be inflated: zero input gradients, accuracy above "
        "chance under PGD at a huge eps, or a black-box/transfer attack beating a white-box "
        "one. Robust numbers of a listed run need an adaptive attack before they are trusted.\n",
        _markdown(masking_table(metrics), 4, empty="every run passes the checks"),
        "## Accuracy (%) per natural pattern\n",
        _markdown(pattern_table(metrics, pool)),
    ]
    write_text(output, "\n".join(parts))
