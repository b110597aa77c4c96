"""Callbacks: objects that act during `fit`, `evaluate` and `predict` (`tf.keras.callbacks`)."""

from kiln.callbacks.base import Callback, CallbackList, LazyLogs
from kiln.callbacks.history import History
from kiln.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "LazyLogs", "ProgbarLogger"]
