"""Callbacks: objects that act during `fit`, `evaluate` and `predict` (`tf.keras.callbacks`)."""

from kiln.callbacks.base import Callback, CallbackList, LazyLogs
from kiln.callbacks.history import History
from kiln.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN
from kiln.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "LazyLogs", "LearningRateScheduler",
           "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]
