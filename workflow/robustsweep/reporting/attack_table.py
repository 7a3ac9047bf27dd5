"""The attack table: every store's and white-box set's success report in one tidy CSV.

Stores (per split and attack, against the surrogate) and white-box sets (per run and
attack, against the run's own model) record how well their images attack as HDF5 attributes
(attacks/success_report.py). This stage reads only those attributes, so it takes seconds,
and writes `tables/attacks.csv`, from which the "Stored attacks" table and the attack-success
figure are drawn. It also applies `attacks.min_success`: a set whose success after rounding
is below that share of its float success is flagged (`below_min_success`) and named in this
job's log, so changing the threshold redraws the table without rerunning any attack.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from robustsweep.atomic_output import atomic_path
from robustsweep.attacks.success_report import (
    REPORT_FIELDS,
    STORAGE_FIELDS,
    below_min_success,
    read_report,
    warning_line,
)
from robustsweep.set_names import WHITE_BOX_SET, attacked_test_set
from robustsweep.stage_settings import AttackTableSettings

SET_COLUMNS = ["origin", "split", "attack", "method", "model", "train_classes", "draw", "defence"]
# variant: what the attack ran where its parameters do not say (AutoAttack below 10 classes)
COLUMNS = [*SET_COLUMNS, "variant", *REPORT_FIELDS, *STORAGE_FIELDS, "below_min_success"]


def collect_attacks_stage(
    *, settings: AttackTableSettings, output: Path, files: list[Path] | None = None
) -> None:
    collect_attack_reports(output, settings.sets, files or [], settings.min_success)


def collect_attack_reports(
    output: Path, sets: list[dict], files: list[Path], min_success: float
) -> pd.DataFrame:
    """One row per attacked set: `sets[i]` (origin, split, attack and the attacked run's
    columns) is the set in `files[i]`."""
    if len(sets) != len(files):
        raise ValueError(f"{len(sets)} attacked sets but {len(files)} files")
    rows = []
    for attacked, path in zip(sets, files, strict=True):
        report = read_report(path)
        flagged = below_min_success(report, min_success)
        name = f"{attacked['origin']} {attacked['split']}/{attacked['attack']}"
        if attacked["origin"] == WHITE_BOX_SET:
            name += " of " + "/".join(str(attacked[k]) for k in SET_COLUMNS[4:])
        if flagged:
            print(warning_line(name, report, min_success))
        rows.append(
            {
                **attacked,
                "method": attacked_method(report["attrs"]),
                "variant": report["variant"],
                **{key: report[key] for key in (*REPORT_FIELDS, *STORAGE_FIELDS)},
                "below_min_success": flagged,
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    return table


def attacked_method(attrs: dict) -> str:
    """The attack method of a store (its `method` attribute) or white-box set (its `spec`)."""
    if "method" in attrs:
        return str(attrs["method"])
    return json.loads(attrs["spec"])["method"]


def read_attack_table(path: Path | None) -> pd.DataFrame:
    """The attack table, or an empty one with its columns (a study without attacks)."""
    if path is None:
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def variant_headers(attacks: pd.DataFrame | None) -> dict[str, str]:
    """Test set (`white_box-X`, `attack-X` of the test store) -> its column header naming the
    variant run, e.g. `white_box-autoattack (standard adapted to 5 classes, Linf)`, for the
    sets whose attack has a variant (AutoAttack); several variants are joined by ' / '."""
    if attacks is None or attacks.empty or "variant" not in attacks:
        return {}
    named = attacks[attacks.variant.astype(object).fillna("").astype(str) != ""]
    named = named[(named.origin == WHITE_BOX_SET) | (named.split == "test")]
    headers = {}
    for (origin, attack), group in named.groupby(["origin", "attack"], sort=True):
        test_set = attacked_test_set(origin, attack)
        short = sorted({v.split(":")[0].removeprefix("AutoAttack ") for v in group.variant})
        headers[test_set] = f"{test_set} ({' / '.join(short)})"
    return headers


def variant_lines(attacks: pd.DataFrame | None) -> str:
    """One line per attack and variant run, for the stored-attacks section."""
    if attacks is None or attacks.empty or "variant" not in attacks:
        return ""
    named = attacks[attacks.variant.astype(object).fillna("").astype(str) != ""]
    pairs = sorted(set(zip(named.origin, named.attack, named.variant, strict=True)))
    return "".join(
        f"Variant of {origin} `{attack}`: {variant}.\n" for origin, attack, variant in pairs
    )
