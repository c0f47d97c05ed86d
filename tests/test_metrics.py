"""Confusion matrix and scores against hand-computed values (void ignored, predicted void = a miss)."""

import math

import numpy as np
import pytest

from enet_edge.class_sets import CAMVID_CLASSES
from enet_edge.errors import InputError
from enet_edge.metrics import ConfusionAccumulator, confusion_matrix, scores

NAMES3 = ("a", "b", "c")


def test_confusion_matrix_by_hand():
    labels = np.array([[0, 0, 1, 1], [2, 11, 11, 1]])
    preds = np.array([[0, 1, 1, 11], [0, 2, 0, 1]])
    # kept pixels (label != 11): (0,0) (0,1) (1,1) (1,11) (2,0) (1,1)
    cm, misses = confusion_matrix(labels, preds, num_classes=3, ignore=11)
    assert cm.dtype == np.int64 and cm.shape == (3, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0],
                                       [0, 2, 0],
                                       [1, 0, 0]])
    np.testing.assert_array_equal(misses, [0, 1, 0])  # the class-1 pixel predicted as void (11)


def test_confusion_matrix_skips_ids_outside_range_and_ignore():
    labels = np.array([0, 1, 2, 3, 255], np.int64)
    preds = np.array([0, 1, 1, 1, 1], np.int64)
    cm, misses = confusion_matrix(labels, preds, num_classes=3, ignore=2)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert misses.tolist() == [0, 0, 0]
    cm, _ = confusion_matrix(np.array([-1, 0]), np.array([0, 0]), num_classes=3, ignore=None)
    assert cm.sum() == 1


def test_confusion_matrix_shape_mismatch():
    with pytest.raises(InputError, match="differ in size"):
        confusion_matrix(np.zeros((2, 3)), np.zeros((3, 2, 2)))


def test_scores_hand_computed():
    # rows: ground truth a, b, c; columns: predictions; class b also has 2 pixels predicted void
    cm = np.array([[8, 2, 0],
                   [1, 5, 0],
                   [0, 0, 0]])
    misses = np.array([0, 2, 0])
    s = scores(cm, misses, NAMES3)
    # a: TP 8, FN 2, FP 1 -> 8/11 ; b: TP 5, FN 1 + 2 (void), FP 2 -> 5/10 ; c: no GT, no prediction -> NaN
    assert s["per_class_iou"]["a"] == pytest.approx(8 / 11)
    assert s["per_class_iou"]["b"] == pytest.approx(0.5)
    assert math.isnan(s["per_class_iou"]["c"])
    assert s["miou"] == pytest.approx((8 / 11 + 0.5) / 2)  # 0.6136...
    assert s["pixel_accuracy"] == pytest.approx(13 / 18)  # 18 labelled pixels, 13 right
    assert s["mean_class_accuracy"] == pytest.approx((8 / 10 + 5 / 8) / 2)


def test_scores_false_positives_of_an_absent_class_count_as_zero():
    cm = np.array([[3, 1], [0, 0]])  # class 1 never in the ground truth but predicted once
    s = scores(cm, None, ("x", "y"))
    assert s["per_class_iou"] == {"x": 0.75, "y": 0.0}
    assert s["miou"] == pytest.approx(0.375)
    assert s["mean_class_accuracy"] == pytest.approx(0.75)  # class accuracy only where there is GT


def test_scores_default_names_are_the_11_camvid_classes():
    s = scores(np.eye(11, dtype=np.int64) * 10)
    assert list(s["per_class_iou"]) == list(CAMVID_CLASSES[:11])
    assert s["miou"] == 1.0 and s["pixel_accuracy"] == 1.0


def test_scores_reject_inconsistent_shapes():
    with pytest.raises(InputError, match="do not fit"):
        scores(np.zeros((3, 3)), None)  # 11 default names for 3 classes
    with pytest.raises(InputError, match="do not fit"):
        scores(np.zeros((3, 3)), np.zeros(2), NAMES3)


def test_empty_confusion_is_nan_not_an_error():
    s = scores(np.zeros((3, 3), np.int64), None, NAMES3)
    assert math.isnan(s["miou"]) and math.isnan(s["pixel_accuracy"]) and math.isnan(s["mean_class_accuracy"])


def test_accumulator_equals_one_big_update(rng):
    labels = rng.integers(0, 12, (4, 6, 8))
    preds = rng.integers(0, 12, (4, 6, 8))
    acc = ConfusionAccumulator()
    for lab, pred in zip(labels, preds):
        acc.update(lab, pred)
    cm, misses = confusion_matrix(labels, preds)
    np.testing.assert_array_equal(acc.cm, cm)
    np.testing.assert_array_equal(acc.misses, misses)
    assert acc.scores() == scores(cm, misses)
    assert cm.sum() + misses.sum() == int((labels != 11).sum())


def test_accumulator_class_names():
    acc = ConfusionAccumulator(num_classes=3, ignore=None, class_names=NAMES3)
    acc.update(np.array([0, 1, 2]), np.array([0, 1, 1]))
    assert acc.scores()["per_class_iou"] == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert list(ConfusionAccumulator(num_classes=3).scores()["per_class_iou"]) == list(CAMVID_CLASSES[:3])
