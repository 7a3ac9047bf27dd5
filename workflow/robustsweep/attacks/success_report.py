"""How well a set of attacked images attacks: the success report of a store or white-box set.

A robust-accuracy number is only as good as the attack behind it, so every store (per split
and attack) and every white-box set (per run and attack) records, as HDF5 attributes:

  n_images          images in the set
  clean_accuracy    the attacked model's accuracy on their clean versions
  n_attacked        how many of them it classified correctly (the images success is over)
  success_float     share of those the attack's float output misclassifies
  success_rounded   share of those the stored uint8 images misclassify (after rounding and
                    repair, quantisation.py): what the store really holds
  linf_mean, linf_median, l2_mean, l2_median
                    size of the stored perturbation (stored - clean, in [0, 1] units) over
                    the correctly classified images
  linf_max, l2_max  its largest size over all images (never above the budget)
  repair_needed     images that fooled the model in float but not after rounding within the
                    budget; `repaired`: how many of them the repair made adversarial again
  budget_norm, budget_eps  the attack's budget ("" and NaN for minimal-norm attacks)
  baseline          a noise baseline (`gn`): reported, not held to attacks.min_success
  store_format      how the images are kept (attacks.store, image_storage.py): "uint8" (exact,
                    repaired), "JPEG q75, no repair" (tan2022's authors' storage), ...
  fooled_float      correctly classified images the attack's float output fooled;
  still_adversarial how many of those the stored images still fool, whichever the storage
                    (JPEG can wash a perturbation out; without repair, rounding can undo it)
  variant           what the attack ran where the parameters alone do not say (AutoAttack
                    below 10 classes: methods/autoattack.py); "" otherwise or in older files

The numbers come from per-image records (predictions, repair flag, norms) kept beside the
images, so a store resumed after a kill reports exactly what an uninterrupted one does.
`write_report`/`read_report` put the report on, and take it off, the group of a store or
white-box file; reporting/attack_table.py collects them into one table.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from robustsweep.input_errors import StoreError

FLOAT_FIELDS = (
    "clean_accuracy",
    "success_float",
    "success_rounded",
    "linf_mean",
    "linf_median",
    "linf_max",
    "l2_mean",
    "l2_median",
    "l2_max",
    "budget_eps",
)
INT_FIELDS = ("n_images", "n_attacked", "repair_needed", "repaired")
REPORT_FIELDS = (*INT_FIELDS, *FLOAT_FIELDS, "budget_norm", "baseline")
# added after the first reports: a file written before them reads with these values (exact
# uint8 with repair; the counts unknown)
STORAGE_FIELDS = {"store_format": "uint8", "fooled_float": -1, "still_adversarial": -1}


def perturbation_norms(clean: np.ndarray, attacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image L-inf and L2 size of (attacked - clean) for uint8 (n, H, W, C) images, in
    [0, 1] units (float64). The differences stay integers (int16) and the squares are summed
    exactly in int64, so the work is on 2-byte values, not 8-byte floats."""
    delta = (attacked.astype(np.int16) - clean).reshape(len(clean), -1)
    if delta.shape[1] == 0:
        return np.zeros(len(clean)), np.zeros(len(clean))
    squares = np.einsum("ij,ij->i", delta, delta, dtype=np.int64)
    return np.abs(delta).max(axis=1) / 255.0, np.sqrt(squares) / 255.0


def success_report(
    labels: np.ndarray,
    clean_pred: np.ndarray,
    float_pred: np.ndarray,
    final_pred: np.ndarray,
    repaired: np.ndarray,
    linf: np.ndarray,
    l2: np.ndarray,
    budget: tuple[str, float] | None,
    baseline: bool,
    storage: str = "uint8",
) -> dict:
    """The report of one attacked set from its per-image records (see the module docstring);
    predictions and labels in the same class numbering."""
    correct = clean_pred == labels
    n = len(labels)

    def share(mask: np.ndarray) -> float:
        return float(mask[correct].mean()) if correct.any() else float("nan")

    def stat(values: np.ndarray, how) -> float:
        return float(how(values[correct])) if correct.any() else float("nan")

    needed = repaired.astype(bool)
    return {
        "n_images": int(n),
        "n_attacked": int(correct.sum()),
        "repair_needed": int(needed.sum()),
        "repaired": int((needed & (final_pred != labels)).sum()),
        "clean_accuracy": float(correct.mean()) if n else float("nan"),
        "success_float": share(float_pred != labels),
        "success_rounded": share(final_pred != labels),
        "linf_mean": stat(linf, np.mean),
        "linf_median": stat(linf, np.median),
        "linf_max": float(linf.max()) if n else float("nan"),
        "l2_mean": stat(l2, np.mean),
        "l2_median": stat(l2, np.median),
        "l2_max": float(l2.max()) if n else float("nan"),
        "budget_norm": budget[0] if budget else "",
        "budget_eps": float(budget[1]) if budget else float("nan"),
        "baseline": bool(baseline),
        "store_format": storage,
        "fooled_float": int((correct & (float_pred != labels)).sum()),
        "still_adversarial": int((correct & (float_pred != labels) & (final_pred != labels)).sum()),
    }


def below_min_success(report: dict, min_success: float) -> bool:
    """Whether rounding lost too much of the attack: success after rounding below
    `min_success` times the success in float. Noise baselines are never held to it."""
    if report["baseline"] or not np.isfinite(report["success_float"]):
        return False
    return report["success_rounded"] < min_success * report["success_float"]


def summary_line(name: str, report: dict) -> str:
    """One line for the job log."""
    variant = f" ({report['variant']})" if report.get("variant") else ""
    return (
        f"{name}{variant}: clean accuracy {report['clean_accuracy']:.1%}; success over its "
        f"{report['n_attacked']} correctly classified images {report['success_float']:.1%} in "
        f"float, {report['success_rounded']:.1%} after rounding to uint8 "
        f"({report['repaired']} of {report['repair_needed']} repaired); median L-inf "
        f"{report['linf_median']:.4f}, median L2 {report['l2_median']:.4f}, largest L-inf "
        f"{report['linf_max']:.4f}, L2 {report['l2_max']:.4f}; stored as "
        f"{report['store_format']}: {still_adversarial(report)}"
    )


def still_adversarial(report: dict) -> str:
    """'k of n fooled in float still adversarial (x %)', or '' for a report from before the
    count existed."""
    fooled, still = report.get("fooled_float", -1), report.get("still_adversarial", -1)
    if fooled < 0:
        return ""
    share = f" ({still / fooled:.1%})" if fooled else ""
    return f"{still} of {fooled} fooled in float still adversarial{share}"


def log_report(name: str, report: dict, min_success: float | None) -> None:
    """The job log's summary line, and the warning where rounding lost too much (store and
    white-box jobs alike)."""
    print(summary_line(name, report))
    if min_success is not None and below_min_success(report, min_success):
        print(warning_line(name, report, min_success))


def warning_line(name: str, report: dict, min_success: float) -> str:
    return (
        f"warning: {name}: success after rounding {report['success_rounded']:.1%} is below "
        f"attacks.min_success ({min_success:g}) x success in float "
        f"({report['success_float']:.1%}); the stored images attack less than the attack did"
    )


# -- the report as HDF5 attributes of a store's or white-box file's group ---------------


def write_report(group: h5py.Group, report: dict) -> None:
    group.attrs.update({key: report[key] for key in (*REPORT_FIELDS, *STORAGE_FIELDS)})
    if report.get("variant"):
        group.attrs["variant"] = report["variant"]


def read_report(path: Path) -> dict:
    """The success report of a completed store (or white-box file), its group's attributes
    with the report's fields; a file written before reports existed names the fix."""
    try:
        with h5py.File(path, "r") as h5:
            # a white-box file's attacks on M-restricted classifiers (`white_box-x@m..`,
            # evaluation/white_box.py) report in their own groups; the table lists the N-way one
            (name,) = [key for key in h5 if "@" not in key]
            attrs = dict(h5[name].attrs)
    except (OSError, ValueError) as error:
        raise StoreError(
            f"{path}: attacked-image file is corrupt or truncated ({error}); delete it and "
            "rerun the workflow to regenerate it"
        ) from error
    missing = [key for key in REPORT_FIELDS if key not in attrs]
    if missing:
        raise StoreError(
            f"{path}: has no success report (written before attack reports existed); delete "
            "it and rerun the workflow to regenerate it"
        )
    report = {key: _plain(attrs[key]) for key in REPORT_FIELDS}
    report |= {key: _plain(attrs.get(key, value)) for key, value in STORAGE_FIELDS.items()}
    report["variant"] = _plain(attrs.get("variant", ""))
    return {"group": name, **report, "attrs": attrs}


def _plain(value):
    """HDF5 attribute values (numpy scalars, bytes) as plain Python values."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if hasattr(value, "item") else value
