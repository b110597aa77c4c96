"""`kiln.Sequential`: a plain stack of layers, each feeding the next."""

import torch

from kiln.engine.input_layer import InputLayer, dtype_name
from kiln.engine.keras_tensor import KerasTensor
from kiln.engine.layer import Layer
from kiln.engine import shapes
from kiln.engine.shapes import check_compatible
from kiln.engine.model import Model


class Sequential(Model):
    """A model made of a stack of layers with one input and one output.

    The input shape may come from a first `kiln.Input` / `InputLayer`, from `input_shape=` on
    the first layer, or from the first data the model sees. Any `torch.nn.Module` can be a layer.

    Args:
        layers: optional list of layers to add.
        name: the model's name.
        trainable: whether the model's layers are trainable.

    Example:

    >>> model = kiln.Sequential([
    ...     kiln.layers.Input(shape=[28, 28]),
    ...     kiln.layers.Flatten(),
    ...     kiln.layers.Dense(300, activation="relu"),
    ...     kiln.layers.Dense(10, activation="softmax"),
    ... ])
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._layers = torch.nn.ModuleList()  # by position: stable state_dict keys
        self._input_spec_shape = None
        self._input_dtype = torch.float32
        self._short_rank = None
        self._symbolic_output = None  # the stack's output on a symbolic input, once built
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Adds a layer on top of the stack (a `kiln.Input` tensor sets the input shape)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if len(self._layers) or self._input_spec_shape is not None:
                raise ValueError(f"An InputLayer can only be the first layer of Sequential "
                                 f"model {self.name!r}.")
            self._input_spec_shape = layer._batch_input_shape
            self._input_dtype = layer.input_dtype
            self._rebuild()
            return
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(f"Sequential.add() expects a layer (a kiln layer or a "
                             f"torch.nn.Module), but received: {layer!r}.")
        if not isinstance(layer, Layer):
            from kiln.layers.core import TorchModuleWrapper
            layer = TorchModuleWrapper(layer)
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers of a Sequential model must have unique names; "
                             f"{layer.name!r} is already in model {self.name!r}.")
        declared = self._input_spec_shape
        if not self._layers and declared is None and layer._batch_input_shape:
            self._input_spec_shape = layer._batch_input_shape
        self._layers.append(layer)
        try:
            if self._symbolic_output is not None:  # only the new layer needs a symbolic pass
                self._symbolic_output = layer(self._symbolic_output)
                self._output_shape = self._symbolic_output.shape
            else:
                self._rebuild()
        except ValueError:
            del self._layers[-1]  # leave the model as it was
            self._input_spec_shape = declared
            self._rebuild()
            raise

    def pop(self):
        """Removes the last layer of the stack and returns it."""
        if not self._layers:
            raise ValueError(f"Sequential model {self.name!r} has no layer to pop.")
        layer = self._layers[-1]
        del self._layers[-1]
        self._rebuild()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def call(self, inputs, training=None):
        if self._short_rank is not None and getattr(inputs, "ndim", None) == self._short_rank:
            inputs = inputs.unsqueeze(-1)  # (batch, steps) for input_shape=[None, 1]
        for layer in self._layers:
            inputs = layer(inputs)
        return inputs

    def _rebuild(self):
        """With a known input shape, builds every layer at once by a symbolic pass."""
        self.built = False
        self._symbolic_output = None
        self._short_rank = shapes.short_rank(self._input_spec_shape)
        if self._input_spec_shape is None or not self._layers:
            return
        tensor = KerasTensor(self._input_spec_shape, self._input_dtype)
        for layer in self._layers:
            tensor = layer(tensor)
        self.built = True
        self._build_input_shape = self._input_spec_shape
        self._symbolic_output = tensor
        self._output_shape = tensor.shape

    def _check_inputs(self, x):
        if isinstance(x, (list, tuple, dict)):
            raise ValueError(f"Sequential model {self.name!r} has one input, but received "
                             f"{len(x)} input arrays.")
        if self._input_spec_shape is not None:
            check_compatible(self._input_spec_shape, tuple(x.shape), self.name)

    def _declared_output_names(self):
        return [self._layers[-1].name] if self._layers else ["output_1"]

    def get_config(self):
        from kiln.layers import serialize
        config = {"name": self.name, "trainable": self.trainable, "layers": []}
        if self._input_spec_shape is not None:
            config["layers"].append({"class_name": "InputLayer", "config": {
                "batch_input_shape": self._input_spec_shape, "name": f"{self.name}_input",
                "dtype": dtype_name(self._input_dtype)}})
        config["layers"] += [serialize(layer) for layer in self._layers]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kiln.layers import deserialize
        layers = [deserialize(item, custom_objects) for item in config["layers"]]
        return cls(layers, name=config.get("name"), trainable=config.get("trainable", True))
