"""kiln.models: the model classes under their Keras module name (`tf.keras.models`)."""

from kiln.engine.functional import Functional
from kiln.engine.model import Model
from kiln.engine.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]
