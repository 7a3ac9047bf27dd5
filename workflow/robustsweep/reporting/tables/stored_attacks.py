"""How well each stored and white-box attack attacks: its success in float and after rounding
(this project's own check of the uint8 store; the papers report no such rates)."""

from __future__ import annotations

import textwrap

import pandas as pd

from robustsweep.reporting.attack_table import variant_lines
from robustsweep.reporting.tables import TABLES, WIDTH, TableContext
from robustsweep.set_names import STORE_SET, WHITE_BOX_SET

FLAG = "below min_success"
# attack-table column -> heading; success and accuracy in %, sizes in [0, 1] units
HEADINGS = {
    "clean_accuracy": "clean acc. (%)",
    "success_float": "success float (%)",
    "success_rounded": "success uint8 (%)",
    "linf_mean": "L-inf mean",
    "linf_median": "L-inf median",
    "linf_max": "L-inf max",
    "l2_mean": "L2 mean",
    "l2_median": "L2 median",
    "l2_max": "L2 max",
    "budget": "budget",
    "repaired": "repaired",
    "store_format": "stored as",
    "still_adversarial": "still adversarial",
    "flag": "flag",
}
TEXT = ("budget", "repaired", "store_format", "still_adversarial", "flag")
PERCENT = ("clean_accuracy", "success_float", "success_rounded")


def attack_rows(attacks: pd.DataFrame, origin: str, index: list[str]) -> pd.DataFrame:
    """The sets of one origin (store or white-box), one row each, in the table's units and
    headings."""
    rows = attacks[attacks.origin == origin].copy()
    if rows.empty:
        return pd.DataFrame()
    rows = rows.astype({"train_classes": int, "draw": int})
    for column in HEADINGS:
        if column in PERCENT:
            rows[column] = [_cell(v * 100, 1) for v in rows[column]]
        elif column.startswith(("linf", "l2")):
            rows[column] = [_cell(v, 4) for v in rows[column]]
    rows["budget"] = [
        f"{norm} {eps:.4g}" if isinstance(norm, str) and norm else "minimal norm"
        for norm, eps in zip(rows.budget_norm, rows.budget_eps, strict=True)
    ]
    rows.loc[rows.baseline.astype(bool), "budget"] = "noise"
    pairs = zip(rows.repaired, rows.repair_needed, strict=True)
    rows["repaired"] = [f"{done} of {needed}" for done, needed in pairs]
    counts = zip(rows.still_adversarial, rows.fooled_float, strict=True)
    rows["still_adversarial"] = [_still(still, fooled) for still, fooled in counts]
    rows["flag"] = [FLAG if bool(f) else "" for f in rows.below_min_success]
    rows = rows.sort_values(index)
    return rows[[*index, *HEADINGS]].rename(columns=HEADINGS)


def rendered(table: pd.DataFrame, empty: str) -> str:
    """Markdown of pre-formatted cells (numbers keep their own digits)."""
    if table.empty:
        return f"_{empty}_\n"
    numbers = set(HEADINGS.values()) - {HEADINGS[c] for c in TEXT}
    align = ["right" if column in numbers else "left" for column in table.columns]
    return table.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def _still(still, fooled) -> str:
    """'k of n (x %)': the images the float attack fooled that the stored ones still fool."""
    if pd.isna(fooled) or int(fooled) < 0:
        return ""
    share = f" ({100 * still / fooled:.1f} %)" if fooled else ""
    return f"{int(still)} of {int(fooled)}{share}"


def _cell(value: float, digits: int) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


@TABLES.register("stored_attacks", order=45)
def stored_attacks(metrics: pd.DataFrame, context: TableContext) -> str:
    empty = pd.DataFrame(columns=["origin", "model", "draw"])
    attacks = context.attacks if context.attacks is not None else empty
    stores = attack_rows(attacks, STORE_SET, ["split", "attack", "method"])
    white_box = attack_rows(
        attacks, WHITE_BOX_SET, ["model", "train_classes", "draw", "defence", "attack"]
    )
    note = (
        "How well each attack attacks the model it was made against: the store's against the "
        "surrogate, a white-box set against the run's own model. Success is over the images "
        "that model classifies correctly when clean: in float (the attack's output) and after "
        "rounding to uint8 (what is stored and evaluated), rounded within the budget and "
        "repaired where rounding undid the attack (`repaired`: repaired of needing repair; "
        "`attacks.store.repair: false` leaves them unrepaired). `stored as`: how the images "
        "are kept (`attacks.store.format`: exact uint8 or JPEG, as tan2022's authors stored "
        "theirs); `still adversarial`: of the images the float attack fooled, how many the "
        "stored images still fool. "
        "Sizes are of the stored perturbation in [0, 1] units: mean and median over those "
        "images, max over all. `below min_success`: success after rounding below "
        "`attacks.min_success` times the float success (noise baselines are not held to it).\n"
    )
    surrogates = attacks[attacks.origin == STORE_SET][["model", "draw"]].drop_duplicates()
    surrogate = "".join(f"Surrogate: {m}, draw {d}.\n" for m, d in surrogates.itertuples(False))
    return "\n".join(
        [
            "## Stored attacks\n",
            textwrap.fill(note, WIDTH) + "\n",
            *([surrogate] if surrogate else []),
            *(
                ["".join(textwrap.fill(line, WIDTH) + "\n" for line in variants.splitlines())]
                if (variants := variant_lines(attacks))
                else []
            ),
            rendered(stores, "no stored attacks in this study"),
            "### White-box sets\n",
            rendered(white_box, "no white-box attacks in this study"),
        ]
    )
