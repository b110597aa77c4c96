"""Callbacks: objects that act during `fit`, `evaluate` and `predict` (`tf.keras.callbacks`)."""

from kiln.callbacks.backup_and_restore import BackupAndRestore
from kiln.callbacks.base import Callback, CallbackList, LazyLogs
from kiln.callbacks.checkpoint import ModelCheckpoint
from kiln.callbacks.csv_logger import CSVLogger
from kiln.callbacks.early_stopping import EarlyStopping
from kiln.callbacks.history import History
from kiln.callbacks.lambda_callback import LambdaCallback
from kiln.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN
from kiln.callbacks.progbar_logger import ProgbarLogger
from kiln.callbacks.tensorboard import TensorBoard

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LazyLogs", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
           "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN"]
