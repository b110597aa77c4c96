"""Symbolic tensors of the functional API, and the nodes that record how layers connect them.

`kiln.Input(shape=[8])` returns a `KerasTensor`: a shape and a dtype, no data. Calling a layer on
it records a `Node` (the layer, its arguments, its outputs) and returns new KerasTensors, so that
`kiln.Model(inputs, outputs)` can later replay the graph on real torch tensors.
"""

import torch

from kiln.engine import tree


class KerasTensor:
    """A symbolic placeholder: the shape (batch axis `None`) and dtype of a future tensor.

    Args:
        shape: tuple of ints or None, the first entry being the batch size (usually None).
        dtype: a `torch.dtype`.
        name: optional name, used for model inputs.

    Example:

    >>> x = kiln.Input(shape=[28, 28])
    >>> x.shape
    (None, 28, 28)
    """

    def __init__(self, shape, dtype=torch.float32, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.node = None  # the Node that produced this tensor (None for an Input)
        self.node_output_index = 0

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        dtype = str(self.dtype).replace("torch.", "")
        return f"<KerasTensor shape={self.shape}, dtype={dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError(
            "A symbolic KerasTensor has no value: it cannot be used in a Python condition. "
            "Use it only as an input to kiln layers (wrap torch code in kiln.layers.Lambda)."
        )


class Node:
    """One call of a layer inside a functional graph.

    Args:
        layer: the layer that was called.
        args: positional call arguments, possibly nested, containing KerasTensors.
        kwargs: keyword call arguments.
        outputs: the nested KerasTensors that the call returned.
    """

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in tree.flatten((args, kwargs)) if is_symbolic(t)]
        for index, tensor in enumerate(tree.flatten(outputs)):
            tensor.node = self
            tensor.node_output_index = index

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors if t.node is not None]


def is_symbolic(value):
    return isinstance(value, KerasTensor)


def any_symbolic(structure):
    return any(isinstance(leaf, KerasTensor) for leaf in tree.flatten(structure))
