"""kiln: the Keras API of "Hands-On Machine Learning" on a PyTorch engine.

Example:

>>> import kiln
>>> model = kiln.Sequential([kiln.layers.Dense(30, activation="relu"), kiln.layers.Dense(1)])
>>> model.compile(loss="mse", optimizer="adam")
"""

from kiln.engine import allocator

allocator.tune_malloc()

from kiln import (activations, callbacks, constraints, data, datasets, forecasting, initializers,
                  io, layers, losses, metrics, optimizers, regularizers, saving, summary, utils)
from kiln.engine.functional import Functional
from kiln.engine.input_layer import Input
from kiln.engine.model import Model
from kiln.engine.sequential import Sequential
from kiln.engine.variable import Variable
from kiln import models
from kiln import applications

__version__ = "0.1.0"

__all__ = [
    "Functional", "Input", "Model", "Sequential", "Variable", "activations", "applications",
    "callbacks", "constraints", "data", "datasets", "forecasting", "initializers", "io", "layers",
    "losses", "metrics", "models", "optimizers", "regularizers", "saving", "summary", "utils",
]
