"""Optimizers: the Keras optimizers on torch's fused multi-tensor kernels.

Strings resolve case-insensitively through `get` (`"sgd"`, `"Adam"`, ...); an unknown name
raises a `ValueError` that suggests the closest names.
"""

from kiln.optimizers import schedules
from kiln.optimizers.adagrad import Adagrad
from kiln.optimizers.adam import Adam, Adamax, AdamW, Nadam
from kiln.optimizers.base import Optimizer
from kiln.optimizers.rmsprop import RMSprop
from kiln.optimizers.sgd import SGD
from kiln.saving import registry

_OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam,
               "adamax": Adamax, "nadam": Nadam, "adamw": AdamW}


def get(identifier):
    """Returns an optimizer from a name, a config dict or an instance.

    Args:
        identifier: None (returned as is), an `Optimizer` (returned as is), an `Optimizer`
            subclass (instantiated with its defaults), a name such as `"adam"` or `"SGD"`
            (a new instance with default arguments), or a dict
            `{"class_name": ..., "config": ...}` as returned by `serialize`.

    Returns:
        An `Optimizer`, or None.

    Example:

    >>> kiln.optimizers.get("adam").learning_rate
    0.001
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    raise ValueError(
        "Could not interpret optimizer identifier: expected a name, a config dict or an "
        f"Optimizer; received: {identifier!r}."
    )


def serialize(optimizer):
    """Returns `{"class_name": ..., "config": ...}` describing `optimizer`."""
    return registry.serialize_object(optimizer)


def deserialize(config, custom_objects=None):
    """Creates an optimizer from a name or from the output of `serialize`.

    Args:
        config: a name such as `"adam"` (a new instance with default arguments), or a dict with
            `"class_name"` (a built-in or registered name) and `"config"`.
        custom_objects: optional mapping of names to custom optimizer or schedule classes.

    Returns:
        A new `Optimizer`.
    """
    if isinstance(config, str):
        return registry.resolve(config, _OPTIMIZERS, "optimizer", custom_objects)()
    cls = registry.resolve_class(config, _OPTIMIZERS, "optimizer", custom_objects, Optimizer)
    return cls.from_config(config.get("config") or {}, custom_objects=custom_objects)


__all__ = ["Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer", "RMSprop", "SGD",
           "deserialize", "get", "schedules", "serialize"]
