"""Metrics over M predicted classes, derived from the cached logits only.

For each test set, each M and each trial, M of the run's classes are chosen (seeded, the same
choice for every model with the same class set), and Acc/AUC/AP are computed with predictions
restricted to those M logits. M equal to the run's class count is the plain evaluation on the
N chosen classes (Table 2); it has one trial, since every draw would be the same. The natural
adversarial set is also scored per pattern at M = N. Attacked test sets (transfer and
white-box) also get `consistency`: the share of images whose restricted prediction the attack
left unchanged (xu2024's consistent accuracy).

Which images an M < N row scores is the study's choice (`evaluation.m_sweep_scoring`), one
metric column per protocol:
- `chosen_class_images` (column `accuracy`): only the images of the M chosen classes, so the
  denominator shrinks with M and accuracy can only fall as M grows (Algorithm 2 as written).
- `all_images` (column `accuracy_all_images`): every test image of the run's N classes; one
  whose class is not among the M counts as wrong. It equals (images of the M classes) / (all
  images) times the first, so it rises with M for a model that is good within few classes.
  zhu2025's Tables 3-5 fit this one (its M = 200 equals Table 1; its ConvNeXt rises from 6.34 %
  at M = 20 = 0.1 x 63.4 % to 23.47 % at M = 200).
A protocol the study does not list leaves its column empty on M < N rows; at M = N both are
the same number. AUC, AP, precision, recall and loss are always over the chosen classes'
images.

A pretrained ImageNet model's logits are sliced to the study's classes (Lee et al.'s protocol,
and Hendrycks et al.'s 200-class mask for ImageNet-A). Its M = N rows also carry
`accuracy_sliced` and `accuracy_full_head` (the 1000-way argmax, right only when it is the
image's class), and `evaluation.imagenet_a_head` says which of the two is `accuracy`.

White-box rows (`white_box-<attack>`) name in `white_box_head` the classifier the attack was
made on: `attacked` at M = N (the one scored), `n_way_transfer` at M < N when the N-way
head's images are scored by the M-restricted classifier (transfer from another classifier),
`restricted` for the attack on the M-restricted classifier itself
(`evaluation.white_box_below_n: restricted`).

ho2024's hybrid test mixtures (`hybrid-<attack>-<p>pct`: p % of the clean test images swapped
for their stored adversarial versions, the rest clean) and the study's named mixtures
(`mix-<name>`: a fraction of the images swapped, several attacks in equal shares) are
assembled here from the clean and `attack-<attack>` logits, so they cost no forward pass. The
same images are swapped for every attack and model. The corrupted test set (CIFAR-10-C or
generated corruptions) is also scored per corruption and per (corruption, severity) at
M = N, in the `pattern` and `severity` columns. Runs with tan2022's detector head get
`detector_accuracy`: how often its clean/adversarial call is right (clean images are real,
attacked ones adversarial, mixtures as mixed). A run whose model is itself a binary
real-vs-adversarial detector (ho2024's other reading, defence `detector`) gets
`detector_rows` instead: its accuracy, precision and recall are binary (positive class
adversarial) and no M sweep applies. Every row also carries the run's
gradient-masking measurements and flags (gradient_masking.py).

Two more kinds of rows cost no forward pass either: the worst case over each group of attacks
per image (test sets `worst-white_box`, `worst-store`, `worst-all`; worst_case.py, which also
writes the run's per-image record `per_image.csv`), and, for runs with a budget sweep
(budget_sweep.py), robust accuracy at each budget (test set `budget-<attack>`).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from robustsweep.atomic_output import atomic_path
from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.evaluation.budget_sweep import budget_flag, read_budget_sweep
from robustsweep.evaluation.checkpoint_summary import EMPTY, checkpoint_summary
from robustsweep.evaluation.classification_metrics import (
    binary_metrics,
    consistency,
    restrict_to_classes,
    restricted_metrics,
)
from robustsweep.evaluation.evaluated_sets import ATTACKED, N_WAY_TRANSFER, RESTRICTED_HEAD
from robustsweep.evaluation.gradient_masking import masking_flags
from robustsweep.evaluation.logits_file import TestSetLogits, read_logits
from robustsweep.evaluation.worst_case import (
    per_image_table,
    worst_case_groups,
    worst_case_rows,
)
from robustsweep.set_names import (
    ATTACKED_PREFIXES,
    TRANSFER_PREFIX,
    WHITE_BOX_PREFIX,
    budget_set,
    hybrid_set,
    mixture_set,
    parse_restricted,
    transfer_set,
    white_box_set,
)
from robustsweep.stage_settings import EvaluateSettings

# the M-sweep protocols (evaluation.m_sweep_scoring) and the metric column each one fills
CHOSEN_CLASS_IMAGES = "chosen_class_images"
ALL_IMAGES = "all_images"
SCORING_COLUMNS = {CHOSEN_CLASS_IMAGES: "accuracy", ALL_IMAGES: "accuracy_all_images"}


def adversarial_truth(test_set: str, data: TestSetLogits) -> np.ndarray | None:
    """Which images are adversarial, for detector accuracy; None where undefined (natural)."""
    if data.adversarial is not None:
        return data.adversarial
    if test_set == "clean":
        return np.zeros(len(data.labels), bool)
    if test_set.startswith(ATTACKED_PREFIXES):
        return np.ones(len(data.labels), bool)
    return None


def detector_accuracy(data: TestSetLogits, truth: np.ndarray | None, keep: np.ndarray) -> float:
    if data.detector_score is None or truth is None or not keep.any():
        return float("nan")
    return float(np.mean((data.detector_score[keep] > 0.5) == truth[keep]))


def mixed_set(
    clean: TestSetLogits,
    attacked: list[TestSetLogits],
    adversarial: np.ndarray,
    which: np.ndarray,
) -> TestSetLogits:
    """The clean test set with each row marked `adversarial` replaced by its version in
    `attacked[which[row]]` (rows aligned by dataset row), labelled real/adversarial."""
    logits = clean.logits.copy()
    score = None if clean.detector_score is None else clean.detector_score.copy()
    for k, data in enumerate(attacked):
        position = {int(i): j for j, i in enumerate(data.index)}
        rows = np.flatnonzero(adversarial & (which == k))
        source = np.asarray([position[int(clean.index[r])] for r in rows], dtype=np.int64)
        logits[rows] = data.logits[source]
        if score is not None:
            score[rows] = data.detector_score[source]
    return TestSetLogits(logits, clean.labels, None, clean.index, score, None, adversarial)


def hybrid_sets(
    sets: dict[str, TestSetLogits], fractions: list[float], seed: int
) -> dict[str, TestSetLogits]:
    """ho2024's mixtures: a seeded `fraction` of the clean test rows taken from each store
    attack's logits, the same rows for every attack (and every model)."""
    clean, mixtures = sets["clean"], {}
    n = len(clean.labels)
    for name, data in sets.items():
        if not name.startswith(TRANSFER_PREFIX):
            continue
        for fraction in fractions:
            rng = np.random.default_rng([seed, round(fraction * 1_000_000)])
            adversarial = np.zeros(n, bool)
            adversarial[rng.choice(n, round(fraction * n), replace=False)] = True
            which = np.zeros(n, np.int64)
            mixtures[hybrid_set(name, fraction)] = mixed_set(clean, [data], adversarial, which)
    return mixtures


def mixture_sets(
    sets: dict[str, TestSetLogits], mixtures: dict[str, dict], seed: int
) -> dict[str, TestSetLogits]:
    """The study's named test mixtures (`evaluation.mixtures`): `fraction` of the clean test
    rows, drawn once per study (the same rows for every model), swapped for their stored
    adversarial versions, the `attacks` in equal shares over those rows (tan2022's mixed test
    set at the adversarial ratio; ho2024's half-real, half-adversarial test split)."""
    clean, out = sets["clean"], {}
    n = len(clean.labels)
    for name, spec in mixtures.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        chosen = rng.choice(n, round(spec["fraction"] * n), replace=False)
        adversarial = np.zeros(n, bool)
        adversarial[chosen] = True
        which = np.zeros(n, np.int64)
        attacks = spec["attacks"]
        which[chosen] = rng.permutation(np.resize(np.arange(len(attacks)), len(chosen)))
        attacked = [sets[transfer_set(attack)] for attack in attacks]
        out[mixture_set(name)] = mixed_set(clean, attacked, adversarial, which)
    return out


def aligned_clean_logits(data: TestSetLogits, clean: TestSetLogits | None) -> np.ndarray | None:
    """Clean logits of the same dataset rows as an attacked set, or None if not attacked."""
    if clean is None or data.index is None or data is clean:
        return None
    row = {int(i): k for k, i in enumerate(clean.index)}
    return clean.logits[[row[int(i)] for i in data.index]]


def attack_changes(sets: dict[str, TestSetLogits], classes: list[int]) -> dict[str, tuple]:
    """Per attacked set (`attack-*`, `white_box-*`): how many images of the run's classes the
    attack made right that were wrong clean, and made wrong that were right, paired by image
    (what the label-leaking check tests)."""
    clean, changes = sets.get("clean"), {}
    for name, data in sets.items():
        if not name.startswith(ATTACKED_PREFIXES):
            continue
        before = aligned_clean_logits(data, clean)
        if before is None:
            continue
        keep = np.isin(data.labels, classes)
        ids = np.asarray(classes)
        right_after = ids[data.logits[keep].argmax(1)] == data.labels[keep]
        right_before = ids[before[keep].argmax(1)] == data.labels[keep]
        changes[name] = (
            int((right_after & ~right_before).sum()),
            int((right_before & ~right_after).sum()),
        )
    return changes


def sweep_rows(
    test_set: str,
    data: TestSetLogits,
    classes: list[int],
    predicted_classes: list[int],
    trials: int,
    evaluation_seed: int,
    clean: TestSetLogits | None = None,
    m_sweep_scoring: tuple[str, ...] = (CHOSEN_CLASS_IMAGES,),
) -> list[dict]:
    """One row per (M, trial) for one test set; `clean` adds consistency to attacked sets;
    `m_sweep_scoring` names the protocols whose accuracy columns are filled (module
    docstring)."""
    rows = []
    clean_logits = aligned_clean_logits(data, clean)
    truth = adversarial_truth(test_set, data)
    own_images = int(np.isin(data.labels, classes).sum())  # the all-images denominator
    for m in sorted(set(predicted_classes) | {len(classes)}):
        for trial in range(1 if m == len(classes) else trials):
            chosen = choose_trial_classes(classes, m, evaluation_seed, trial)
            logits, targets = restrict_to_classes(data.logits, data.labels, classes, chosen)
            keep = np.isin(data.labels, chosen)
            consistent = float("nan")
            if clean_logits is not None:
                before, _ = restrict_to_classes(clean_logits, data.labels, classes, chosen)
                consistent = consistency(logits, before)
            metrics = restricted_metrics(logits, targets)
            scored = scored_accuracies(metrics, own_images, m == len(classes), m_sweep_scoring)
            detected = detector_accuracy(data, truth, keep)
            rows.append(m_row(test_set, m, trial, metrics | scored, consistent, detected))
    return rows


def m_row(
    test_set: str, m: int, trial: int, metrics: dict, consistent: float, detected: float
) -> dict:
    """One (M, trial) row of a test set over all its patterns."""
    return {
        "test_set": test_set,
        "pattern": "all",
        "severity": float("nan"),
        "predicted_classes": m,
        "trial": trial,
        **metrics,
        "consistency": consistent,
        "detector_accuracy": detected,
    }


def full_head_correct(data: TestSetLogits, classes: list[int], positions: list[int]):
    """Per image of the run's classes: is the 1000-way argmax the image's own class (its
    position among ImageNet's 1000)? An argmax among the classes the study left out is wrong,
    however the sliced logits rank."""
    keep = np.isin(data.labels, classes)
    position = dict(zip(classes, positions, strict=True))
    own = np.asarray([position[int(c)] for c in data.labels[keep]], dtype=np.int64)
    return data.argmax_1000[keep] == own


def with_head_accuracies(row: dict, data: TestSetLogits, classes: list[int], attrs: dict) -> dict:
    """An M = N row of a pretrained ImageNet model sliced to the study's classes, with both
    accuracies: `accuracy_sliced` (the argmax over the classes' logits, as computed) and
    `accuracy_full_head` (the 1000-way argmax); `evaluation.imagenet_a_head: full` puts the
    second in `accuracy` (and `accuracy_all_images`, the same at M = N). AUC, AP, precision,
    recall and loss stay over the sliced logits: they are defined over the study's classes."""
    correct = full_head_correct(data, classes, attrs["logit_positions"])
    full = float(correct.mean()) if len(correct) else float("nan")
    row = row | {"accuracy_sliced": row["accuracy"], "accuracy_full_head": full}
    if attrs["imagenet_a_head"] == "full":
        row |= {"accuracy": full, "accuracy_all_images": full}
    return row


def restricted_row(
    name: str,
    data: TestSetLogits,
    classes: list[int],
    clean: TestSetLogits | None,
    m_sweep_scoring: tuple[str, ...],
    evaluation_seed: int,
) -> dict:
    """The row of a white-box attack on the M-restricted classifier of one trial (its logits
    are the M chosen classes', on those classes' images), as `white_box-<attack>` at (M,
    trial): the robust accuracy of the classifier that row scores."""
    test_set, m, trial = parse_restricted(name)
    chosen = choose_trial_classes(classes, m, evaluation_seed, trial)  # as white_box chose
    logits, targets = restrict_to_classes(data.logits, data.labels, chosen, chosen)
    metrics = restricted_metrics(logits, targets)
    consistent = float("nan")
    before = aligned_clean_logits(data, clean)
    if before is not None:
        clean_m, _ = restrict_to_classes(before, data.labels, classes, chosen)
        consistent = consistency(logits, clean_m)
    own_images = int(np.isin(clean.labels, classes).sum()) if clean is not None else 0
    scored = scored_accuracies(metrics, own_images, False, m_sweep_scoring)
    row = m_row(test_set, m, trial, metrics | scored, consistent, float("nan"))
    return row | {"white_box_head": RESTRICTED_HEAD}


def white_box_heads(table: pd.DataFrame, n_classes: int) -> pd.Series:
    """Which classifier each white-box row's attack was made on: the one scored (M = N),
    the M-restricted one (rows from restricted_row), or the N-way head scored at M < N
    (transfer from another classifier); empty for every other test set."""
    heads = table.get("white_box_head", pd.Series("", index=table.index)).fillna("")
    white = table.test_set.str.startswith(WHITE_BOX_PREFIX) & heads.eq("")
    heads = heads.where(~(white & table.predicted_classes.eq(n_classes)), ATTACKED)
    return heads.where(~(white & table.predicted_classes.lt(n_classes)), N_WAY_TRANSFER)


def scored_accuracies(
    metrics: dict, own_images: int, all_classes: bool, m_sweep_scoring: tuple[str, ...]
) -> dict[str, float]:
    """The accuracy of each M-sweep protocol: `accuracy` over the chosen classes' images (as
    computed), `accuracy_all_images` over every image of the run's classes, the images of
    unchosen classes counted wrong. At M = N both are filled (they agree); below it, only
    the listed protocols."""
    correct = metrics["accuracy"] * metrics["n_images"] if metrics["n_images"] else 0.0
    values = {
        "accuracy": metrics["accuracy"],
        "accuracy_all_images": correct / own_images if own_images else float("nan"),
    }
    for protocol, column in SCORING_COLUMNS.items():
        if not all_classes and protocol not in m_sweep_scoring:
            values[column] = float("nan")
    return values


def part_row(
    test_set: str,
    part: str,
    data: TestSetLogits,
    mask: np.ndarray,
    classes: list[int],
    severity: float = float("nan"),
) -> dict:
    """Metrics of the images under `mask`, over all of the run's classes, labelled `part` in
    the `pattern` column (a natural pattern, a corruption, or a mixture's real/adversarial
    part) and, for a corruption, its severity (NaN: all severities pooled)."""
    logits, targets = restrict_to_classes(data.logits[mask], data.labels[mask], classes, classes)
    return {
        "test_set": test_set,
        "pattern": part,
        "severity": severity,
        "predicted_classes": len(classes),
        "trial": 0,
        **restricted_metrics(logits, targets),
        "accuracy_all_images": float("nan"),  # an M-sweep protocol: pooled rows only
        "consistency": float("nan"),
        "detector_accuracy": float("nan"),
    }


def pattern_rows(test_set: str, data: TestSetLogits, classes: list[int]) -> list[dict]:
    """Accuracy per natural pattern (natural set) or per corruption (corrupted set, then also
    per corruption and severity) over all of the run's classes."""
    rows = []
    for pattern in sorted(set(data.patterns.tolist())):
        mask = data.patterns == pattern
        rows.append(part_row(test_set, pattern, data, mask, classes))
        if data.severity is not None:
            for severity in sorted(set(data.severity[mask].tolist())):
                level = mask & (data.severity == severity)
                rows.append(part_row(test_set, pattern, data, level, classes, int(severity)))
    return rows


def training_summary(epoch_log: Path | None) -> dict:
    """ho2024's Table 2 training columns from the run's per-epoch log: epochs trained, and the
    last epoch's training loss and accuracy (NaN for a pretrained run, which has no epochs)."""
    summary = {"epochs": 0, "train_loss": float("nan"), "train_accuracy": float("nan")}
    if epoch_log is None:
        return summary | EMPTY
    log = pd.read_csv(epoch_log)
    if log.empty:
        return summary | EMPTY
    last = log.iloc[-1]
    return {
        "epochs": len(log),
        "train_loss": float(last["loss"]),
        "train_accuracy": float(last["accuracy"]),
        **checkpoint_summary(log),  # the checkpoint scored and the robust validation
    }


def mixture_part_rows(test_set: str, data: TestSetLogits, classes: list[int]) -> list[dict]:
    """Accuracy on the real and on the adversarial images of a mixture, over all of the run's
    classes (ho2024 reports both columns), in the `pattern` column as `real`/`adversarial`."""
    parts = (("real", ~data.adversarial), ("adversarial", data.adversarial))
    return [part_row(test_set, part, data, mask, classes) for part, mask in parts]


def detector_rows(test_set: str, data: TestSetLogits, classes: list[int]) -> list[dict]:
    """A binary real-vs-adversarial detector's rows (ho2024's other reading): on each test
    set whose images are known real or adversarial, accuracy and the adversarial class's
    precision and recall over the run's classes' images, and on a mixture also per part
    (`real`: the share called real, `adversarial`: the share caught, i.e. the recall).
    Sets without that truth (natural, corrupted) get no row."""
    truth = adversarial_truth(test_set, data)
    if truth is None:
        return []
    own = np.isin(data.labels, classes)
    parts = [("all", own)]
    if data.adversarial is not None:
        parts += [("real", own & ~truth), ("adversarial", own & truth)]
    rows = []
    for part, mask in parts:
        metrics = binary_metrics(data.logits[mask], truth[mask])
        rows.append(
            {
                "test_set": test_set,
                "pattern": part,
                "severity": float("nan"),
                "predicted_classes": len(classes),
                "trial": 0,
                **metrics,
                "accuracy_all_images": float("nan"),
                "consistency": float("nan"),
                "detector_accuracy": metrics["accuracy"],
            }
        )
    return rows


def all_worst_case_rows(
    sets: dict[str, TestSetLogits],
    classes: list[int],
    predicted_classes: list[int],
    trials: int,
    evaluation_seed: int,
    m_sweep_scoring: tuple[str, ...],
) -> list[dict]:
    """The worst-case rows of every group of the run's attacked sets (worst_case.py), their
    accuracy columns filled as the single sets' are (`scored_accuracies`)."""
    rows = []
    for group, names in worst_case_groups(list(sets)).items():
        members = [sets[name] for name in names]
        for row in worst_case_rows(
            group, members, sets["clean"], classes, predicted_classes, trials, evaluation_seed
        ):
            everything = row["predicted_classes"] == len(classes)
            for protocol, column in SCORING_COLUMNS.items():
                if not everything and protocol not in m_sweep_scoring:
                    row[column] = float("nan")
            rows.append(row)
    return rows


def budget_rows(
    path: Path, clean: TestSetLogits, classes: list[int], white_box: TestSetLogits | None = None
) -> tuple[list[dict], str]:
    """One row per budget of the sweep at `path` (eps 0: the cached clean logits of the same
    images), over all of the run's classes, and the swept attack's name. `white_box`: the
    run's white-box set of the same attack, a point of the curve at its own budget (the same
    attack on the same images, already paid for) unless the sweep lists that budget too."""
    attack, sweep = read_budget_sweep(path)
    name = budget_set(attack)
    if not sweep:
        return [], attack
    if white_box is not None and white_box.spec and "eps" in white_box.spec:
        sweep.setdefault(float(white_box.spec["eps"]), white_box)
        sweep = dict(sorted(sweep.items()))
    attacked = next(iter(sweep.values()))  # every budget attacks the same images
    position = {int(i): k for k, i in enumerate(clean.index)}
    same_rows = [position[int(i)] for i in attacked.index]
    start = TestSetLogits(clean.logits[same_rows], clean.labels[same_rows], None, attacked.index)
    rows = []
    for eps, data in [(0.0, start), *sweep.items()]:
        everything = np.ones(len(data.labels), bool)
        rows.append(part_row(name, f"eps {eps:g}", data, everything, classes, eps))
    return rows, attack


def evaluate_stage(
    *,
    settings: EvaluateSettings,
    logits: Path,
    output: Path,
    white_box: dict[str, Path] | None = None,
    epoch_log: Path | None = None,
    per_image: Path | None = None,
    budget_sweep: Path | None = None,
) -> None:
    evaluate_run(
        output,
        logits,
        settings.run,
        settings.predicted_classes,
        settings.trials,
        settings.seed,
        settings.hybrid_fractions,
        white_box,
        settings.mixtures,
        tuple(settings.m_sweep_scoring),
        epoch_log,
        per_image,
        budget_sweep,
        settings.budget_max_accuracy,
    )


def evaluate_run(
    output: Path,
    logits_path: Path,
    run: dict,
    predicted_classes: list[int],
    trials: int,
    evaluation_seed: int,
    hybrid_fractions: list[float] = (),
    white_box: dict[str, Path] | None = None,
    mixtures: dict[str, dict] | None = None,
    m_sweep_scoring: tuple[str, ...] = (CHOSEN_CLASS_IMAGES,),
    epoch_log: Path | None = None,
    per_image: Path | None = None,
    budget_sweep: Path | None = None,
    budget_max_accuracy: float = 0.1,
) -> None:
    """Write the tidy metric rows of one run, each tagged with the run's columns, its
    gradient-masking measurements and flags, its feature-map cost and, from `epoch_log`, its
    training summary (epochs, final training loss and accuracy); `per_image`: where the
    per-image record goes (worst_case.per_image_table); `budget_sweep`: the run's budget
    sweep, scored and checked against `budget_max_accuracy`."""
    sets, attrs = read_logits(logits_path, white_box)
    restricted = {name: sets.pop(name) for name in list(sets) if parse_restricted(name)}
    sets |= hybrid_sets(sets, list(hybrid_fractions), evaluation_seed)
    sets |= mixture_sets(sets, mixtures or {}, evaluation_seed)
    classes = attrs["class_ids"]
    rows = []
    for name, data in sets.items():
        if attrs["outputs"]:  # a binary detector: its logits are not the classes'
            rows += detector_rows(name, data, classes)
            continue
        sweep = sweep_rows(
            name,
            data,
            classes,
            predicted_classes,
            trials,
            evaluation_seed,
            sets.get("clean"),
            m_sweep_scoring,
        )
        if data.argmax_1000 is not None:
            sweep = [
                with_head_accuracies(row, data, classes, attrs)
                if row["predicted_classes"] == len(classes)
                else row
                for row in sweep
            ]
        rows += sweep
        if data.patterns is not None:
            rows += pattern_rows(name, data, classes)
        if data.adversarial is not None:
            rows += mixture_part_rows(name, data, classes)
    for name, data in restricted.items():
        rows.append(
            restricted_row(name, data, classes, sets.get("clean"), m_sweep_scoring, evaluation_seed)
        )
    sweep_flags = []
    if not attrs["outputs"]:
        rows += all_worst_case_rows(
            sets, classes, predicted_classes, trials, evaluation_seed, m_sweep_scoring
        )
        if budget_sweep is not None:
            attack = read_budget_sweep(budget_sweep)[0]
            own = sets.get(white_box_set(attack))
            budget, _ = budget_rows(budget_sweep, sets["clean"], classes, own)
            rows += budget
            accuracy = {row["severity"]: row["accuracy"] for row in budget}
            sweep_flags = budget_flag(accuracy, budget_max_accuracy, attack)
    table = pd.DataFrame(rows)
    table["white_box_head"] = white_box_heads(table, len(classes))
    full = table[(table.predicted_classes == len(classes)) & (table.pattern == "all")]
    flags = (
        []
        if attrs["outputs"]
        else masking_flags(
            dict(zip(full.test_set, full.accuracy, strict=True)),
            {name: data.spec for name, data in sets.items() if data.spec is not None},
            attrs["zero_gradient_fraction"],
            attrs["huge_eps_accuracy"],
            len(classes),
            attack_changes(sets, classes),
            attrs["forward_disagreement"],
        )
        + sweep_flags
    )
    table["zero_gradient_fraction"] = attrs["zero_gradient_fraction"]
    table["huge_eps_accuracy"] = attrs["huge_eps_accuracy"]
    table["forward_disagreement"] = attrs["forward_disagreement"]
    table["masking_flags"] = "; ".join(flags)
    table["activation_elements"] = attrs["activation_elements"]
    table["feature_map"] = attrs["feature_map"]
    for key, value in training_summary(epoch_log).items():
        table[key] = value
    for key, value in reversed(list(run.items())):
        table.insert(0, key, value)
    table.insert(len(run), "parameters", attrs["parameters"])
    table.insert(len(run), "architecture", attrs["architecture"])
    table.insert(len(run), "pretrained_weights", attrs["pretrained_weights"])
    with atomic_path(output) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    if per_image is not None:
        record = pd.DataFrame() if attrs["outputs"] else per_image_table(sets, classes)
        with atomic_path(per_image) as tmp:
            record.to_csv(tmp, index=False)
