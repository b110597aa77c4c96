"""kiln.models: the model classes under their Keras module name (`tf.keras.models`), and
`clone_model`."""

from kiln.engine.functional import Functional
from kiln.engine.model import Model
from kiln.engine.sequential import Sequential
from kiln.saving.saving_lib import load_model


def clone_model(model):
    """Returns a new model with the same architecture as `model` and freshly initialized weights.

    Works for Sequential and functional models, and for subclassed models whose constructor
    arguments are plain values (kiln records them). Copy the weights with
    `clone.set_weights(model.get_weights())`, as the book does before reusing layers.

    Example:

    >>> model_A_clone = kiln.models.clone_model(model_A)
    >>> model_A_clone.set_weights(model_A.get_weights())
    """
    if not isinstance(model, Model):
        raise ValueError(f"clone_model expects a kiln Model, but received: {type(model).__name__}.")
    clone = type(model).from_config(model.get_config())
    if not clone.built and model.built and model._build_input_shape is not None:
        clone.build(model._build_input_shape)
    return clone


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
