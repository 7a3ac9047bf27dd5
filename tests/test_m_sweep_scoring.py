"""The two M-sweep protocols (evaluation.m_sweep_scoring) on hand-made logits whose accuracy
is known in closed form for every choice of the M classes.

Each of N = 10 classes c has one "distractor" image per other class d: its logits put d first
and c second. Among the M chosen classes such an image is right exactly when d is not chosen,
so for ANY chosen set, (N - M) of the N - 1 distractor images of a chosen class are right.
With `a` extra "easy" images per class (c first), the two protocols give

    chosen_class_images:  (a + N - M) / (a + N - 1)              (falls as M grows)
    all_images:           M (a + N - M) / (N (a + N - 1))        (the first times M / N)

a = 0 is zhu2025's VGG16/ResNet101 shape under the paper's protocol (rises, peaks at
M = N / 2, falls); a = N is its ConvNeXt shape (rises all the way to M = N), while our
protocol falls in both.
"""

import numpy as np
import pytest

from robustsweep.evaluation.logits_file import TestSetLogits as SetLogits
from robustsweep.evaluation.run_evaluation import sweep_rows

N = 10
M_VALUES = list(range(2, N))
BOTH = ("chosen_class_images", "all_images")


def hand_made_logits(easy: int) -> SetLogits:
    logits, labels = [], []
    for c in range(N):
        for d in [d for d in range(N) if d != c]:
            row = np.zeros(N)
            row[d], row[c] = 2.0, 1.0
            logits.append(row)
            labels.append(c)
        for _ in range(easy):
            row = np.zeros(N)
            row[c] = 1.0
            logits.append(row)
            labels.append(c)
    return SetLogits(np.asarray(logits, np.float32), np.asarray(labels), None)


def curves(easy: int, scoring=BOTH) -> dict[str, dict[int, list[float]]]:
    rows = sweep_rows(
        "natural", hand_made_logits(easy), list(range(N)), M_VALUES, 3, 0, None, scoring
    )
    out: dict[str, dict[int, list[float]]] = {"accuracy": {}, "accuracy_all_images": {}}
    for row in rows:
        for column in out:
            out[column].setdefault(row["predicted_classes"], []).append(row[column])
    return out


@pytest.mark.parametrize("easy", [0, N])
def test_every_trial_matches_the_closed_form(easy):
    measured = curves(easy)
    for m in [*M_VALUES, N]:
        within = (easy + N - m) / (easy + N - 1)
        overall = m * (easy + N - m) / (N * (easy + N - 1))
        # float64 shares against the closed form: approx's default rel 1e-6
        assert measured["accuracy"][m] == pytest.approx([within] * len(measured["accuracy"][m]))
        assert measured["accuracy_all_images"][m] == pytest.approx(
            [overall] * len(measured["accuracy"][m])
        )
    assert len(measured["accuracy"][2]) == 3 and len(measured["accuracy"][N]) == 1


def test_vgg_shape_rises_then_falls_under_the_papers_protocol_only():
    measured = curves(easy=0)
    ours = [np.mean(measured["accuracy"][m]) for m in M_VALUES]
    papers = [np.mean(measured["accuracy_all_images"][m]) for m in M_VALUES]
    assert all(np.diff(ours) < 0)  # 8/9, 7/9, ..., 1/9
    peak = int(np.argmax(papers))
    assert M_VALUES[peak] == N // 2  # 16, 21, 24, 25, 24, 21, 16, 9 (/90)
    assert all(np.diff(papers[: peak + 1]) > 0) and all(np.diff(papers[peak:]) < 0)


def test_convnext_shape_rises_to_m_equals_n_under_the_papers_protocol():
    measured = curves(easy=N)
    ours = [np.mean(measured["accuracy"][m]) for m in [*M_VALUES, N]]
    papers = [np.mean(measured["accuracy_all_images"][m]) for m in [*M_VALUES, N]]
    assert all(np.diff(ours) < 0)  # (20 - M) / 19
    assert all(np.diff(papers) > 0)  # M (20 - M) / 190: 36, 51, ..., 99, 100
    assert papers[-1] == pytest.approx(ours[-1])  # at M = N the protocols agree


def test_an_unlisted_protocol_leaves_its_column_empty_below_m_equals_n():
    measured = curves(easy=3, scoring=("chosen_class_images",))
    assert all(np.isnan(v) for m in M_VALUES for v in measured["accuracy_all_images"][m])
    assert not any(np.isnan(v) for m in M_VALUES for v in measured["accuracy"][m])
    assert measured["accuracy_all_images"][N] == pytest.approx(measured["accuracy"][N])
    only_all = curves(easy=3, scoring=("all_images",))
    assert all(np.isnan(v) for m in M_VALUES for v in only_all["accuracy"][m])
