"""The watch on one logged quantity shared by the callbacks that act when it improves.

EarlyStopping, ModelCheckpoint and ReduceLROnPlateau each follow one name of the logs
(``monitor="val_loss"``) and ask the same questions at every check: is the value in the logs,
and is it better than the best one so far? :class:`MetricWatcher` answers them the same way
for all three: the direction (`mode`, with ``"auto"`` guessed from the name), the smallest
change that counts (`min_delta`), and one warning, listing the names available, when the
monitored name is missing from the logs.
"""

import math
import numbers
import warnings

_MODES = ("auto", "min", "max")

# Words of the metric names that improve upward; "auto" maximizes a name containing one.
_MAXIMIZED_WORDS = frozenset(
    ("acc", "accuracy", "auc", "precision", "recall", "fmeasure", "f1", "fbeta", "iou", "r2")
)


class MetricWatcher:
    """Follows one quantity of the logs and tells whether a new value improves on a reference.

    The ``"auto"`` mode maximizes names that read as a score (a word such as ``accuracy``,
    ``acc``, ``auc``, ``precision``, ``recall``, ``f1``, ``iou`` or ``r2`` between underscores,
    as in ``"val_sparse_categorical_accuracy"``) and minimizes everything else (losses and
    errors); names ending in ``loss`` are always minimized.

    Args:
        monitor: the name of the quantity in the logs, e.g. ``"val_loss"``.
        mode: ``"min"`` (lower is better), ``"max"`` (higher is better) or ``"auto"``.
        min_delta: the smallest change counted as an improvement (its sign is ignored).
        owner: the name of the callback using the watcher, shown in the warning.

    Attributes:
        mode: the resolved direction, ``"min"`` or ``"max"``.
        worst: the starting reference: ``inf`` when minimizing, ``-inf`` when maximizing.

    Example:

    >>> watcher = MetricWatcher("val_accuracy", min_delta=0.01)
    >>> watcher.mode, watcher.improved(0.905, 0.9), watcher.improved(0.92, 0.9)
    ('max', False, True)
    """

    def __init__(self, monitor, mode="auto", min_delta=0.0, owner="This callback"):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"`monitor` must be the name of a logged quantity such as "
                             f"'val_loss', but received: {monitor!r}.")
        if mode not in _MODES:
            raise ValueError(f"`mode` must be 'auto', 'min' or 'max', but received: {mode!r}.")
        if (not isinstance(min_delta, numbers.Real) or isinstance(min_delta, bool)
                or not math.isfinite(min_delta)):
            raise ValueError(f"`min_delta` must be a finite number, but received: {min_delta!r}.")
        self.monitor = monitor
        self.mode = _guess_mode(monitor) if mode == "auto" else mode
        self.min_delta = abs(float(min_delta))
        self.worst = math.inf if self.mode == "min" else -math.inf
        self._owner = owner
        self._warned = False

    def improved(self, current, reference):
        """Returns whether `current` beats `reference` by more than `min_delta`."""
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def value(self, logs):
        """Returns the monitored value in `logs`, or None, warning the first time it is missing."""
        value = logs.get(self.monitor) if logs else None
        if value is None and not self._warned:
            self._warned = True
            available = sorted(logs) if logs else []
            warnings.warn(
                f"{self._owner} is conditioned on monitor={self.monitor!r}, which is not in the "
                f"logs; available: {available}. It does nothing until that name appears: check "
                "the spelling, and pass validation data to fit() for a 'val_' name.",
                UserWarning, stacklevel=3)
        return value


def _guess_mode(monitor):
    if monitor.endswith("loss"):
        return "min"
    words = monitor.lower().split("_")
    return "max" if any(word in _MAXIMIZED_WORDS for word in words) else "min"
