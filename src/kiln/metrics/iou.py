"""Intersection-over-union metrics: of bounding boxes (`MeanBoxIoU`), and of classes (`IoU`,
`MeanIoU`, Keras' segmentation metrics built on a confusion matrix).

The class metrics accumulate a ``(num_classes, num_classes)`` confusion matrix in float64 (rows:
true classes, columns: predicted classes), as Keras does, so counts stay exact over any number
of pixels. An update is one ``index_add_`` into the flattened matrix, plus one check that the
labels lie in ``[0, num_classes)``: Keras raises on such labels, and so does kiln, with a
`ValueError` rather than a silently wrong count.
"""

import torch

from kiln.losses import _weights_like
from kiln.metrics.base import MeanMetricWrapper, Metric
from kiln.metrics.boxes import box_iou, check_box_format


class MeanBoxIoU(MeanMetricWrapper):
    """Running mean of the intersection over union of true and predicted bounding boxes.

    The book's metric for localization: with a model whose box head outputs 4 numbers per image,
    ``compile(metrics={"box_output": [kiln.metrics.MeanBoxIoU(box_format="center_xywh")]})``
    reports the mean IoU over the images seen. Unlike Keras' `IoU` and `MeanIoU`, which compare
    class labels (segmentation), this compares boxes (see `kiln.metrics.box_iou`).

    Args:
        box_format: layout of the 4 coordinates: ``"xyxy"`` (default), ``"yxyx"``, ``"xywh"``
            or ``"center_xywh"``.

    Call arguments of `update_state(y_true, y_pred, sample_weight=None)`:
        y_true: target boxes, shape ``(batch, ..., 4)``.
        y_pred: predicted boxes, the same shape.
        sample_weight: optional weight per box.

    Example:

    >>> metric = kiln.metrics.MeanBoxIoU()
    >>> metric([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]],
    ...        [[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0]])  # (1/7 + 1) / 2
    tensor(0.5714)
    """

    def __init__(self, box_format="xyxy", name="mean_box_iou", dtype=None):
        check_box_format(box_format)
        super().__init__(box_iou, name=name, dtype=dtype, box_format=box_format)


class IoU(Metric):
    """Intersection over union of chosen classes, averaged over them (Keras' `IoU`).

    For each class, ``IoU = true_positives / (true_positives + false_positives +
    false_negatives)``, counted over every element seen (e.g. every pixel of a segmentation).
    The result is the mean over `target_class_ids` of the classes that occurred (in the labels
    or the predictions); 0 if none did.

    Args:
        num_classes: number of classes; labels are integers in ``[0, num_classes)``.
        target_class_ids: the classes whose IoU is averaged (a list or tuple of ints).
        ignore_class: optional label whose elements are left out (e.g. a "void" class).
        sparse_y_true: labels are class indices (True) or one-hot / scores along `axis`.
        sparse_y_pred: predictions are class indices (True, cast to int as in Keras) or scores
            along `axis`, reduced with argmax (False).
        axis: the class axis of non-sparse inputs.

    Call arguments of `update_state(y_true, y_pred, sample_weight=None)`:
        y_true: labels, any shape (with the class axis when not sparse).
        y_pred: predictions, with as many elements as `y_true` once sparse.
        sample_weight: optional weights broadcastable to the sparse labels.

    Example:

    >>> metric = kiln.metrics.IoU(num_classes=2, target_class_ids=[0])
    >>> metric([0, 0, 1, 1], [0, 1, 0, 1])  # class 0: 1 / (1 + 1 + 1)
    tensor(0.3333)
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype)
        _check_num_classes(num_classes)
        target_class_ids = list(target_class_ids)
        if not target_class_ids or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_classes
            for i in target_class_ids
        ):
            raise ValueError(
                f"Invalid value for argument `target_class_ids`: {target_class_ids!r}. Expected "
                f"a non-empty list of class ids in [0, {num_classes})."
            )
        if ignore_class is not None and not isinstance(ignore_class, int):
            raise ValueError(
                f"Invalid value for argument `ignore_class`: {ignore_class!r}. Expected an "
                "integer label or None."
            )
        self.num_classes = num_classes
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self._matrix = None

    @property
    def confusion_matrix(self):
        """The accumulated ``(num_classes, num_classes)`` float64 counts (rows: true classes)."""
        if self._matrix is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.float64)
        return self._matrix.clone()

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            y_pred = torch.as_tensor(y_pred)
            y_true = torch.as_tensor(y_true, device=y_pred.device)
            if not self.sparse_y_pred:
                y_pred = y_pred.argmax(self.axis)
            if not self.sparse_y_true:
                y_true = y_true.argmax(self.axis)
            if y_true.numel() != y_pred.numel():
                raise ValueError(
                    f"Invalid shapes in {self.name}: y_true has shape {tuple(y_true.shape)} and "
                    f"y_pred has shape {tuple(y_pred.shape)} (as class labels); expected the "
                    "same number of elements."
                )
            weights = torch.ones(y_true.shape, dtype=torch.float64, device=y_true.device)
            if sample_weight is not None:
                weights = _weights_like(sample_weight, weights).expand_as(weights)
            labels, predictions = y_true.reshape(-1).long(), y_pred.reshape(-1).long()
            weights = weights.reshape(-1)
            if self.ignore_class is not None:
                kept = labels != self.ignore_class
                weights = weights * kept
                labels = torch.where(kept, labels, 0)
                predictions = torch.where(kept, predictions, 0)
            self._check_labels(labels, predictions)
            if self._matrix is None or self._matrix.device != labels.device:
                self._matrix = torch.zeros(self.num_classes, self.num_classes,
                                           dtype=torch.float64, device=labels.device)
            self._matrix.view(-1).index_add_(0, labels * self.num_classes + predictions, weights)

    def result(self):
        if self._matrix is None:
            return torch.zeros((), dtype=self.dtype)
        matrix = self._matrix
        true_positives = matrix.diagonal()
        denominators = matrix.sum(0) + matrix.sum(1) - true_positives
        targets = torch.tensor(self.target_class_ids, device=matrix.device)
        true_positives, denominators = true_positives[targets], denominators[targets]
        occurred = denominators != 0
        ious = true_positives / torch.where(occurred, denominators, 1.0)
        return (ious.sum() / occurred.sum().clamp_min(1)).to(self.dtype)

    def reset_state(self):
        self._matrix = None

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": list(self.target_class_ids),
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }

    def _check_labels(self, labels, predictions):
        for argument, values in (("y_true", labels), ("y_pred", predictions)):
            if bool(((values < 0) | (values >= self.num_classes)).any()):
                raise ValueError(
                    f"Invalid values in {self.name}: `{argument}` holds class ids outside "
                    f"[0, {self.num_classes}) (min {int(values.min())}, max "
                    f"{int(values.max())}); expected labels below num_classes="
                    f"{self.num_classes}."
                )


class MeanIoU(IoU):
    """Intersection over union averaged over all classes (Keras' `MeanIoU`, for segmentation).

    The `IoU` of every class in ``range(num_classes)``, averaged over the classes that occurred.

    Args:
        num_classes: number of classes; labels are integers in ``[0, num_classes)``.
        ignore_class: optional label whose elements are left out.
        sparse_y_true: labels are class indices (True) or one-hot / scores along `axis`.
        sparse_y_pred: predictions are class indices (True) or scores along `axis` (False).
        axis: the class axis of non-sparse inputs.

    Example:

    >>> metric = kiln.metrics.MeanIoU(num_classes=2)
    >>> metric([0, 0, 1, 1], [0, 1, 0, 1])  # (1/3 + 1/3) / 2
    tensor(0.3333)
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        target_class_ids = list(range(_check_num_classes(num_classes)))
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


def _check_num_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"Invalid value for argument `num_classes`: {num_classes!r}. Expected a positive "
            "integer."
        )
    return num_classes
