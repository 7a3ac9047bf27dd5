"""Attack success in float and after rounding to uint8, per stored and white-box attack (this
project's own check of the uint8 store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.reporting.figures import FIGURES, seaborn
from robustsweep.set_names import STORE_SET, WHITE_BOX_SET

if TYPE_CHECKING:
    import pandas as pd
    import seaborn as sns

STAGES = {"success_float": "float", "success_rounded": "uint8 (stored)"}


@FIGURES.register("attack_success", reads="attacks")
def attack_success(attacks: pd.DataFrame) -> sns.FacetGrid | None:
    """Success of each attack (%) over the images its model classifies correctly, in float
    and after rounding to uint8: the store's against the surrogate (per split), white-box
    sets against each run's own model (mean +- sd over runs). A bar that drops from float to
    uint8 is an attack that rounding undid."""
    if attacks.empty:
        return None
    panel = attacks.origin.map({STORE_SET: "store ", WHITE_BOX_SET: "white-box "}) + attacks.split
    rows = attacks.assign(panel=panel).melt(
        id_vars=["panel", "attack"],
        value_vars=list(STAGES),
        var_name="images",
        value_name="success (%)",
    )
    rows["images"] = rows["images"].map(STAGES)
    rows["success (%)"] *= 100
    grid = seaborn().catplot(
        data=rows,
        x="attack",
        y="success (%)",
        hue="images",
        hue_order=list(STAGES.values()),
        col="panel",
        kind="bar",
        errorbar="sd",
        height=3.2,
        aspect=1.2,
        sharex=False,
    )
    grid.set_titles("{col_name}")
    grid.set_xticklabels(rotation=45, ha="right")
    grid.set_axis_labels("attack", "success (%)")
    grid.set(ylim=(0, 100))
    return grid
