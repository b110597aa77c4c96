"""Tests for the intersection-over-union metrics: kiln.metrics.box_iou, MeanBoxIoU, IoU, MeanIoU."""

import numpy as np
import pytest
import torch

import kiln
from kiln import metrics

# ---------------------------------------------------------------- box_iou


def test_box_iou_matches_hand_computed_overlaps():
    boxes_true = [[0.0, 0.0, 2.0, 2.0],   # area 4
                  [0.0, 0.0, 4.0, 2.0],   # area 8
                  [1.0, 1.0, 3.0, 5.0]]   # area 8
    boxes_pred = [[1.0, 1.0, 3.0, 3.0],   # overlap 1x1: 1 / (4 + 4 - 1)
                  [1.0, 0.0, 3.0, 2.0],   # inside: 4 / 8
                  [2.0, 0.0, 6.0, 2.0]]   # overlap 1x1, area 8: 1 / (8 + 8 - 1)
    expected = [1 / 7, 4 / 8, 1 / 15]
    np.testing.assert_allclose(metrics.box_iou(boxes_true, boxes_pred).numpy(), expected,
                               rtol=1e-6)


def test_identical_boxes_give_one_and_disjoint_or_touching_boxes_give_zero():
    boxes = torch.tensor([[0.1, 0.2, 0.5, 0.9], [3.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(metrics.box_iou(boxes, boxes).numpy(), [1.0, 1.0])
    disjoint = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    apart = torch.tensor([[2.0, 2.0, 3.0, 3.0], [1.0, 0.0, 2.0, 1.0]])  # far; sharing an edge
    np.testing.assert_array_equal(metrics.box_iou(disjoint, apart).numpy(), [0.0, 0.0])


def test_empty_and_inverted_boxes_have_no_area_and_no_nan():
    empty = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    inverted = torch.tensor([[2.0, 2.0, 0.0, 0.0]])  # max corner before min corner
    unit = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert metrics.box_iou(empty, empty).item() == 0.0
    assert metrics.box_iou(unit, inverted).item() == 0.0
    prediction = torch.tensor([[1.0, 1.0, 1.0, 1.0]], requires_grad=True)
    metrics.box_iou(empty, prediction).sum().backward()
    assert torch.isfinite(prediction.grad).all()


@pytest.mark.parametrize("box_format, true_box, pred_box", [
    ("xyxy", [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]),
    ("yxyx", [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]),
    ("xywh", [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]),
    ("center_xywh", [1.0, 1.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]),
])
def test_every_box_format_describes_the_same_two_squares(box_format, true_box, pred_box):
    iou = metrics.box_iou([true_box], [pred_box], box_format=box_format)
    np.testing.assert_allclose(iou.numpy(), [1 / 7], rtol=1e-6)


def test_yxyx_and_center_formats_read_height_and_width_in_their_order():
    # A 1-wide, 4-high box against a 4-wide, 1-high box, crossing at a 1x1 square.
    tall, wide = [0.0, 1.5, 4.0, 2.5], [1.5, 0.0, 2.5, 4.0]  # (y_min, x_min, y_max, x_max)
    np.testing.assert_allclose(metrics.box_iou([tall], [wide], box_format="yxyx").numpy(),
                               [1 / 7], rtol=1e-6)
    center_tall, center_wide = [2.0, 2.0, 1.0, 4.0], [2.0, 2.0, 4.0, 1.0]  # (cx, cy, w, h)
    np.testing.assert_allclose(
        metrics.box_iou([center_tall], [center_wide], box_format="center_xywh").numpy(),
        [1 / 7], rtol=1e-6)


def test_box_iou_keeps_leading_axes_and_accepts_integer_boxes():
    boxes_true = np.zeros((2, 3, 4), dtype=np.int64)
    boxes_true[..., 2:] = 2
    iou = metrics.box_iou(boxes_true, torch.tensor(boxes_true, dtype=torch.float64))
    assert iou.shape == (2, 3) and iou.dtype == torch.float64
    np.testing.assert_array_equal(iou.numpy(), np.ones((2, 3)))


@pytest.mark.parametrize("boxes_true, boxes_pred, pattern", [
    (np.zeros((3, 5)), np.zeros((3, 5)), r"argument `boxes_pred`.*\(\.\.\., 4\).*\(3, 5\)"),
    (np.zeros((3, 3)), np.zeros((3, 4)), r"argument `boxes_true`.*\(\.\.\., 4\).*\(3, 3\)"),
    (np.zeros((2, 4)), np.zeros((3, 4)), r"`boxes_true` has shape \(2, 4\).*`boxes_pred` has"),
    (np.float32(1.0), np.zeros((1, 4)), r"argument `boxes_true`.*received shape \(\)"),
])
def test_bad_shapes_raise_naming_the_argument(boxes_true, boxes_pred, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.box_iou(boxes_true, boxes_pred)


def test_unknown_box_format_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"argument `box_format`: 'cxcywh'.*'center_xywh'"):
        metrics.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], box_format="cxcywh")
    with pytest.raises(ValueError, match="box_format"):
        metrics.MeanBoxIoU(box_format="xy")


# ---------------------------------------------------------------- MeanBoxIoU


def test_mean_box_iou_averages_over_batches_with_sample_weights():
    metric = metrics.MeanBoxIoU()
    metric.update_state([[0.0, 0.0, 2.0, 2.0]], [[1.0, 1.0, 3.0, 3.0]])  # 1/7
    metric.update_state([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]],
                        [[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]],  # 1 and 0
                        sample_weight=[3.0, 1.0])
    assert metric.result().item() == pytest.approx((1 / 7 + 3.0) / 5)
    metric.reset_state()
    assert metric.result().item() == 0.0


def test_mean_box_iou_config_round_trip_and_registry_names():
    metric = metrics.MeanBoxIoU(box_format="center_xywh", name="iou")
    rebuilt = metrics.deserialize(metrics.serialize(metric))
    assert isinstance(rebuilt, metrics.MeanBoxIoU)
    assert rebuilt.name == "iou" and rebuilt.get_config()["box_format"] == "center_xywh"
    assert metrics.get("MeanBoxIoU").name == "mean_box_iou"
    by_function = metrics.get("box_iou")
    assert by_function.name == "box_iou"
    assert by_function([[0.0, 0.0, 2.0, 2.0]], [[0.0, 0.0, 2.0, 1.0]]).item() == 0.5


def test_mean_box_iou_in_compile_reports_the_iou_of_the_predictions():
    model = kiln.Sequential([kiln.layers.Input(shape=[4]), kiln.layers.Dense(4)])
    model.compile(loss="mse", optimizer="sgd", metrics=[metrics.MeanBoxIoU()])
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.2, 0.2, 0.6, 0.8]], dtype=np.float32)
    model.set_weights([np.eye(4, dtype=np.float32), np.zeros(4, dtype=np.float32)])
    _, mean_iou = model.evaluate(boxes, boxes, verbose=0)  # identity model: perfect boxes
    assert mean_iou == pytest.approx(1.0)


# ---------------------------------------------------------------- IoU, MeanIoU


def test_mean_iou_matches_a_hand_computed_confusion_matrix():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2]
    # class 0: TP 1, FP 1, FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: TP 2, FN 1 -> 2/3
    metric = metrics.MeanIoU(num_classes=3)
    assert metric(y_true, y_pred).item() == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    np.testing.assert_array_equal(metric.confusion_matrix.numpy(),
                                  [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    targeted = metrics.IoU(num_classes=3, target_class_ids=[1, 2])
    assert targeted(y_true, y_pred).item() == pytest.approx(2 / 3)


def test_mean_iou_skips_classes_that_never_occur_and_accumulates():
    metric = metrics.MeanIoU(num_classes=4)
    metric.update_state([0, 1], [0, 1])  # classes 2 and 3 never appear
    assert metric.result().item() == pytest.approx(1.0)
    metric.update_state([1], [0])  # now class 0: 1/2, class 1: 1/2
    assert metric.result().item() == pytest.approx(0.5)
    metric.reset_state()
    assert metric.result().item() == 0.0


def test_mean_iou_with_weights_ignore_class_and_scores():
    y_true = np.array([[0, 1], [1, 2]])  # label 2 ignored
    scores = np.array([[[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]],
                       [[0.1, 0.9, 0.0], [0.0, 0.1, 0.9]]])  # argmax: [[0, 0], [1, 2]]
    metric = metrics.MeanIoU(num_classes=3, ignore_class=2, sparse_y_pred=False)
    metric.update_state(y_true, scores, sample_weight=[1.0, 2.0])
    # kept pairs (true, pred, weight): (0, 0, 1), (1, 0, 1), (1, 1, 2)
    # class 0: TP 1 / (1 + 1 FP) = 1/2; class 1: TP 2 / (2 + 1 FN) = 2/3
    assert metric.result().item() == pytest.approx((1 / 2 + 2 / 3) / 2)
    one_hot = metrics.MeanIoU(num_classes=2, sparse_y_true=False)
    assert one_hot([[1, 0], [0, 1]], [0, 0]).item() == pytest.approx(0.25)  # (1/2 + 0) / 2


def test_iou_metrics_round_trip_their_config():
    metric = metrics.IoU(num_classes=5, target_class_ids=[0, 3], ignore_class=4, name="road")
    rebuilt = metrics.deserialize(metrics.serialize(metric))
    assert rebuilt.get_config() == metric.get_config()
    mean = metrics.deserialize(metrics.serialize(metrics.MeanIoU(num_classes=3)))
    assert isinstance(mean, metrics.MeanIoU) and mean.name == "mean_io_u"  # Keras' name


@pytest.mark.parametrize("make, pattern", [
    (lambda: metrics.MeanIoU(num_classes=0), r"argument `num_classes`: 0"),
    (lambda: metrics.IoU(num_classes=3, target_class_ids=[3]), r"`target_class_ids`: \[3\]"),
    (lambda: metrics.IoU(num_classes=3, target_class_ids=[]), r"`target_class_ids`: \[\]"),
])
def test_iou_rejects_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_iou_rejects_labels_out_of_range_and_mismatched_sizes():
    metric = metrics.MeanIoU(num_classes=2)
    with pytest.raises(ValueError, match=r"`y_true` holds class ids outside \[0, 2\).*max 2"):
        metric.update_state([0, 2], [0, 1])
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\) and y_pred has shape \(2,\)"):
        metric.update_state([0, 1, 1], [0, 1])
