"""`box_iou`: the intersection over union of bounding boxes, the book's localization metric.

Boxes are tensors whose last axis holds 4 coordinates. The layout is named by `box_format`, with
the names Keras uses for bounding boxes:

- ``"xyxy"`` (default): ``(x_min, y_min, x_max, y_max)``, the corners;
- ``"yxyx"``: ``(y_min, x_min, y_max, x_max)``, TensorFlow's `tf.image` order;
- ``"xywh"``: ``(x_min, y_min, width, height)``;
- ``"center_xywh"``: ``(center_x, center_y, width, height)``, what the book's localization head
  predicts (the object's center, then its size, all normalized to 0-1 by the image size).

The function is differentiable, so ``1 - box_iou(...)`` also works as a loss.
"""

import torch

BOX_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")


def box_iou(boxes_true, boxes_pred, box_format="xyxy"):
    """Returns the intersection over union (IoU) of each true box with its predicted box.

    The IoU is the area where the two boxes overlap divided by the area they cover together:
    1.0 for identical boxes, 0.0 for boxes that do not overlap. A box with a negative width or
    height (a prediction whose max corner lies before its min corner) has no area; two boxes
    with no area at all have an IoU of 0.

    Args:
        boxes_true: target boxes, shape ``(..., 4)`` (a tensor, array or nested list).
        boxes_pred: predicted boxes, the same shape as `boxes_true`.
        box_format: layout of the 4 coordinates: ``"xyxy"``, ``"yxyx"``, ``"xywh"`` or
            ``"center_xywh"`` (see the module docstring).

    Returns:
        A float tensor of shape ``boxes_true.shape[:-1]``: one IoU per pair of boxes.

    Raises:
        ValueError: if `box_format` is unknown, or a last axis is not 4, or the shapes differ.

    Example:

    >>> kiln.metrics.box_iou([[0.0, 0.0, 2.0, 2.0]], [[1.0, 1.0, 3.0, 3.0]])  # 1 / (4 + 4 - 1)
    tensor([0.1429])
    """
    check_box_format(box_format)
    boxes_pred = _as_boxes(boxes_pred, "boxes_pred")
    boxes_true = _as_boxes(boxes_true, "boxes_true", like=boxes_pred)
    if boxes_true.shape != boxes_pred.shape:
        raise ValueError(
            f"Invalid shapes in box_iou: `boxes_true` has shape {tuple(boxes_true.shape)} and "
            f"`boxes_pred` has shape {tuple(boxes_pred.shape)}; expected equal shapes (..., 4)."
        )
    true_min_x, true_min_y, true_max_x, true_max_y = _corners(boxes_true, box_format)
    pred_min_x, pred_min_y, pred_max_x, pred_max_y = _corners(boxes_pred, box_format)
    overlap_width = (torch.minimum(true_max_x, pred_max_x)
                     - torch.maximum(true_min_x, pred_min_x)).clamp_min(0)
    overlap_height = (torch.minimum(true_max_y, pred_max_y)
                      - torch.maximum(true_min_y, pred_min_y)).clamp_min(0)
    intersection = overlap_width * overlap_height
    union = (_area(true_min_x, true_min_y, true_max_x, true_max_y)
             + _area(pred_min_x, pred_min_y, pred_max_x, pred_max_y) - intersection)
    # Where the union is empty the intersection is too: divide by 1 there to give 0, not NaN.
    return intersection / torch.where(union > 0, union, torch.ones_like(union))


def check_box_format(box_format):
    """Raises a ValueError unless `box_format` is one of `BOX_FORMATS`; returns it."""
    if box_format not in BOX_FORMATS:
        raise ValueError(
            f"Invalid value for argument `box_format`: {box_format!r}. Expected one of "
            f"{', '.join(repr(name) for name in BOX_FORMATS)}."
        )
    return box_format


def _as_boxes(boxes, argument, like=None):
    """Returns `boxes` as a floating tensor (on the device and of the dtype of `like`)."""
    if like is not None:
        boxes = torch.as_tensor(boxes, dtype=like.dtype, device=like.device)
    elif not isinstance(boxes, torch.Tensor) or not boxes.is_floating_point():
        boxes = torch.as_tensor(boxes)
        if not boxes.is_floating_point():
            boxes = boxes.to(torch.get_default_dtype())
    if boxes.dim() == 0 or boxes.shape[-1] != 4:
        raise ValueError(
            f"Invalid value for argument `{argument}`: expected boxes of shape (..., 4), but "
            f"received shape {tuple(boxes.shape)}."
        )
    return boxes


def _corners(boxes, box_format):
    """Returns the 4 tensors ``x_min, y_min, x_max, y_max`` of boxes in `box_format`."""
    first, second, third, fourth = boxes.unbind(-1)
    if box_format == "xyxy":
        return first, second, third, fourth
    if box_format == "yxyx":
        return second, first, fourth, third
    if box_format == "xywh":
        return first, second, first + third, second + fourth
    half_width, half_height = third / 2, fourth / 2
    return first - half_width, second - half_height, first + half_width, second + half_height


def _area(min_x, min_y, max_x, max_y):
    return (max_x - min_x).clamp_min(0) * (max_y - min_y).clamp_min(0)
