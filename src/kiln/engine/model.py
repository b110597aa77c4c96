"""`kiln.Model`: a layer that can be trained, for the functional and subclassing APIs."""

import numpy as np
import torch

from kiln.engine import summary as summary_module
from kiln.engine import tree
from kiln.engine.layer import Layer, _direct_sublayers
from kiln.engine.trainer import Trainer
from kiln.saving.model_saving import SavingMixin


class Model(Trainer, SavingMixin, Layer):
    """A trainable group of layers: `compile`, `fit`, `evaluate`, `predict`, `summary`.

    Two ways to make one, as in Keras:

    - functional: `kiln.Model(inputs=..., outputs=...)` on symbolic tensors from `kiln.Input`;
    - subclassing: create layers in `__init__`, write the forward pass in `call(inputs)`.

    Args:
        inputs: (functional) the `kiln.Input` tensor(s): one, a list, or a dict.
        outputs: (functional) the output tensor(s) computed from `inputs`.
        name: the model's name.

    Example:

    >>> class WideAndDeepModel(kiln.Model):
    ...     def __init__(self, units=30, activation="relu", **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.hidden = kiln.layers.Dense(units, activation=activation)
    ...         self.main_output = kiln.layers.Dense(1)
    ...     def call(self, inputs):
    ...         return self.main_output(self.hidden(inputs))
    >>> model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from kiln.engine.functional import Functional
            return Layer.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if args:
            raise ValueError(f"{type(self).__name__} takes keyword arguments only (name=..., "
                             f"trainable=...), but received positional arguments {args!r}.")
        super().__init__(**kwargs)
        self._init_trainer()

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds a model from `get_config()`; `kiln.Model.from_config` of a functional
        model's config rebuilds the functional graph, as in Keras."""
        if cls is Model and "nodes" in config:
            from kiln.engine.functional import Functional
            return Functional.from_config(config, custom_objects)
        return cls(**config)

    @property
    def layers(self):
        """The model's layers (for subclassed models: the layers set as attributes)."""
        return list(_direct_sublayers(self))

    def get_layer(self, name=None, index=None):
        """Returns a layer by `name` or by `index` in `model.layers`."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Model {self.name!r} has {len(layers)} layers; index {index} "
                                 "is out of range.")
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Layers of model {self.name!r}: "
                         f"{[getattr(layer, 'name', type(layer).__name__) for layer in layers]}.")

    def build(self, input_shape, dtype=None):
        """Builds the model for `input_shape` by running it on zeros (batch axis may be None).

        Args:
            input_shape: a shape, or a list of shapes for several inputs.
            dtype: the inputs' dtype name (default ``"float32"``; ``"string"`` feeds empty
                strings, for models that start with StringLookup or TextVectorization), or a
                list of them.
        """
        def zeros(shape, dtype):
            shape = tuple(1 if d is None else d for d in shape)
            if dtype == "string":
                return np.full(shape, "", dtype=object)
            return torch.zeros(shape, dtype=getattr(torch, dtype or "float32"))
        if _is_list_of_shapes(input_shape):
            dtypes = dtype if isinstance(dtype, list) else [dtype] * len(input_shape)
            inputs = [zeros(s, d) for s, d in zip(input_shape, dtypes)]
        else:
            inputs = zeros(input_shape, dtype)
        with torch.no_grad():
            self(inputs)

    def _build_with(self, input_shape):
        # A model builds by running: its sublayers build on the first call. A build() that a
        # subclass defines runs first (it may call Model.build, which finds the model built).
        if not self.built:
            self.built = True
            self._build_input_shape = input_shape
            if type(self).build is not Model.build:
                self.build(input_shape)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False):
        """Prints a table of the layers, their output shapes and parameter counts.

        Args:
            line_length: total width of the table.
            positions: column boundaries, as fractions or absolute positions.
            print_fn: function receiving each line (default `print`).
            expand_nested: also list the layers inside nested models.
            show_trainable: add a column telling whether each layer is trainable.
        """
        if not self.built:
            raise ValueError(
                f"Model {self.name!r} has not yet been built. Build the model first by calling "
                "build() or by calling the model on a batch of data (or give the first layer an "
                "input shape)."
            )
        summary_module.print_summary(self, line_length, positions, print_fn or print,
                                     expand_nested, show_trainable)

    def _check_inputs(self, x):
        """Subclasses with declared inputs check a batch against them before training."""

    def _declared_output_names(self):
        """The output names known before the model runs (None for subclassed models)."""
        return None


def _is_list_of_shapes(shape):
    return isinstance(shape, list) and shape and all(isinstance(s, (list, tuple)) for s in shape)


def output_names_of(outputs):
    """Names of a model's outputs: the names of the layers that produce them."""
    return [t.node.layer.name for t in tree.flatten(outputs)]
