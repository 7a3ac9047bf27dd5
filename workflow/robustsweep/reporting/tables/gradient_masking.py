"""Runs whose robust accuracy may be inflated by gradient masking: the checklist of Carlini et al.
2019 (arXiv:1902.06705) as RobustBench and AutoAttack apply it, and the label leaking of
Kurakin et al. 2017 (arXiv:1611.01236)."""

from __future__ import annotations

import textwrap

import pandas as pd

from robustsweep.reporting.metric_table import RUN_KEYS
from robustsweep.reporting.tables import LEVELS, TABLES, WIDTH, TableContext, section


def masking_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Every run whose robust numbers fail a gradient-masking check, with what failed."""
    keys = [*RUN_KEYS, "zero_gradient_fraction", "huge_eps_accuracy", "masking_flags"]
    runs = metrics[keys].drop_duplicates(RUN_KEYS)
    flagged = runs[runs.masking_flags.astype(object).fillna("") != ""]
    return flagged.set_index(RUN_KEYS)


def flag_lines(flagged: pd.DataFrame) -> str:
    """What failed, one wrapped list item per run: the flags are sentences, too long for a
    table cell within WIDTH characters."""
    items = [
        textwrap.fill(
            f"- {LEVELS.join(str(k) for k in key)}: {flags}", WIDTH, subsequent_indent="  "
        )
        for key, flags in flagged.masking_flags.items()
    ]
    return "\n".join(items) + "\n" if items else ""


@TABLES.register("gradient_masking", order=90)
def gradient_masking(metrics: pd.DataFrame, context: TableContext) -> str:
    flagged = masking_table(metrics)
    text = section(
        "Gradient-masking checks",
        flagged.drop(columns="masking_flags"),
        4,
        note="Runs whose robust accuracy may be inflated: zero input gradients, accuracy above "
        "chance under PGD at a huge eps, a black-box/transfer attack beating a white-box "
        "one, label leaking, two forward passes that disagree (randomness), or a budget "
        "sweep that does not fall to 0. Robust numbers of a listed run need an adaptive "
        "attack before they are trusted.\n",
        empty="every run passes the checks",
    )
    return text + ("\n" + flag_lines(flagged) if not flagged.empty else "")
