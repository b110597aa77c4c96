"""Utilities: seeding, label encoding and other helpers (`tf.keras.utils`)."""

from kiln.engine.naming import clear_session
from kiln.utils.numerical import normalize, to_categorical
from kiln.utils.random import set_random_seed

__all__ = ["clear_session", "normalize", "set_random_seed", "to_categorical"]
