"""Utilities: seeding, label encoding and other helpers (`tf.keras.utils`)."""

from kiln.engine.naming import clear_session
from kiln.utils.image_dataset import image_dataset_from_directory
from kiln.utils.learning_rate_finder import find_learning_rate
from kiln.utils.monte_carlo import mc_predict
from kiln.utils.numerical import normalize, to_categorical
from kiln.utils.plotting import plot_history
from kiln.utils.random import get_random_state, set_random_seed, set_random_state
from kiln.utils.timeseries import timeseries_dataset_from_array

__all__ = ["clear_session", "find_learning_rate", "get_random_state",
           "image_dataset_from_directory", "mc_predict", "normalize",
           "plot_history", "set_random_seed", "set_random_state", "timeseries_dataset_from_array",
           "to_categorical"]
