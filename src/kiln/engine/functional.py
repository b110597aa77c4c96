"""Functional models: a graph of layer calls recorded on `kiln.Input` tensors, replayed on data."""

import numpy as np
import torch

from kiln import activations
from kiln.engine import naming, tree
from kiln.engine.input_layer import InputLayer
from kiln.engine.keras_tensor import KerasTensor
from kiln.engine.layer import to_tensors
from kiln.engine.shapes import check_compatible, short_rank
from kiln.engine.model import Model, output_names_of


class Functional(Model):
    """A model defined by its inputs and outputs; made by `kiln.Model(inputs=..., outputs=...)`.

    Args:
        inputs: a `kiln.Input` tensor, or a list or dict of them.
        outputs: a tensor, or a list or dict of tensors, computed from `inputs` by layers.
        name: the model's name.
        trainable: whether the model's layers are trainable.

    Example:

    >>> input_wide = kiln.Input(shape=[5])
    >>> input_deep = kiln.Input(shape=[6])
    >>> hidden = kiln.layers.Dense(30, activation="relu")(input_deep)
    >>> concat = kiln.layers.concatenate([input_wide, hidden])
    >>> output = kiln.layers.Dense(1)(concat)
    >>> model = kiln.Model(inputs=[input_wide, input_deep], outputs=[output])
    """

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name or naming.unique_name("model"), trainable=trainable)
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        for label, structure in (("inputs", inputs), ("outputs", outputs)):
            for value in tree.flatten(structure):
                if not isinstance(value, KerasTensor):
                    raise ValueError(f"All `{label}` of a functional model must be symbolic "
                                     f"tensors made from kiln.Input, but received: {value!r}.")
        self.inputs = list(tree.flatten(inputs))
        self._nested_inputs = inputs
        self.outputs = list(tree.flatten(outputs))
        self._nested_outputs = outputs
        for tensor in self.inputs:
            if not isinstance(tensor.node.layer, InputLayer):
                raise ValueError(f"Model inputs must come from kiln.Input, but {tensor!r} is "
                                 f"the output of layer {tensor.node.layer.name!r}.")
        self._short_ranks = [short_rank(t.shape) for t in self.inputs]
        self._nodes = _nodes_between(self.inputs, self.outputs)
        graph_layers = []
        for node in self._nodes:
            if node.layer not in graph_layers:
                graph_layers.append(node.layer)
        names = [layer.name for layer in graph_layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"The layer names of a model must be unique, but {duplicates} "
                             "appear more than once.")
        # Registered by position: state_dict keys stay the same whatever the layer names.
        self._layers = torch.nn.ModuleList(graph_layers)
        in_place = _relus_safe_in_place(self._nodes, self.inputs, self.outputs)
        nodes = [node for node in self._nodes if not isinstance(node.layer, InputLayer)]
        self._steps = list(zip([_compile_node(node, node in in_place) for node in nodes],
                               _released_after(nodes, self.outputs)))
        self.input_names = (list(inputs) if isinstance(inputs, dict)
                            else [t.node.layer.name for t in self.inputs])
        self.output_names = (list(outputs) if isinstance(outputs, dict)
                             else output_names_of(self.outputs))
        self.built = True
        self._build_input_shape = tree.map_structure(lambda t: t.shape, inputs)
        self._output_shape = tree.map_structure(lambda t: t.shape, outputs)

    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input(self):
        """The model's input tensor, or their list or dict when it has several."""
        return self._nested_inputs

    @property
    def output(self):
        """The model's output tensor, or their list or dict when it has several."""
        return self._nested_outputs

    def call(self, inputs, training=None):
        values = {}
        for tensor, rank_without_axis, value in zip(self.inputs, self._short_ranks,
                                                    self._flatten_inputs(inputs)):
            if rank_without_axis is not None and getattr(value, "ndim", None) == rank_without_axis:
                value = value.unsqueeze(-1)  # (batch, steps) for shape=[None, 1]
            values[id(tensor)] = value
        for step, released in self._steps:
            step(values)
            for key in released:
                del values[key]
        outputs = self._nested_outputs
        if isinstance(outputs, KerasTensor):
            return values[id(outputs)]
        return tree.map_structure(lambda t: values[id(t)], outputs)

    def _flatten_inputs(self, inputs):
        if isinstance(inputs, dict):
            missing = [name for name in self.input_names if name not in inputs]
            if missing:
                raise ValueError(f"Model {self.name!r} is missing inputs {missing}; it expects "
                                 f"{self.input_names}, and received keys {sorted(inputs)}.")
            flat = [inputs[name] for name in self.input_names]
        elif isinstance(inputs, (list, tuple)):
            flat = list(inputs)
        else:
            flat = [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(f'Layer "{self.name}" expects {len(self.inputs)} input(s), but it '
                             f"received {len(flat)} input tensors.")
        return flat

    def _check_inputs(self, x):
        """Checks a batch against the model's inputs, naming the input and both shapes."""
        flat = self._flatten_inputs(x)
        for index, (tensor, value) in enumerate(zip(self.inputs, flat)):
            check_compatible(tensor.shape, tuple(np.shape(to_tensors(value))), self.name, index)

    def _declared_output_names(self):
        return self.output_names

    def get_config(self):
        """Describes the graph: each layer's config and, per call, which tensors it received.

        A tensor is referred to as ``{"node": i, "output": j}``: output `j` of the `i`-th
        recorded call (nodes are listed parents first).
        """
        from kiln.layers import serialize
        node_index = {id(node): i for i, node in enumerate(self._nodes)}

        def encode(value):
            if isinstance(value, KerasTensor):
                return {"node": node_index[id(value.node)], "output": value.node_output_index}
            if isinstance(value, (list, tuple)):
                return [encode(v) for v in value]
            if isinstance(value, dict):
                return {"dict": {k: encode(v) for k, v in value.items()}}
            return value

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [serialize(layer) for layer in self._layers],
            "nodes": [{"layer": node.layer.name, "args": encode(list(node.args)),
                       "kwargs": encode(node.kwargs)["dict"]} for node in self._nodes],
            "inputs": encode(self._nested_inputs),
            "outputs": encode(self._nested_outputs),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the graph that `get_config` described, calling each layer again."""
        from kiln.layers import deserialize
        layers = {}
        for item in config["layers"]:
            layer = deserialize(item, custom_objects)
            layers[layer.name] = layer
        produced = []

        def decode(value):
            if isinstance(value, dict) and set(value) == {"node", "output"}:
                return tree.flatten(produced[value["node"]])[value["output"]]
            if isinstance(value, dict) and set(value) == {"dict"}:
                return {k: decode(v) for k, v in value["dict"].items()}
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        for node in config["nodes"]:
            layer = layers.get(node["layer"])
            if layer is None:
                raise ValueError(f"Model config refers to layer {node['layer']!r}, which is not "
                                 "among its layers.")
            if isinstance(layer, InputLayer):
                produced.append(layer.output)
            else:
                kwargs = {k: decode(v) for k, v in node["kwargs"].items()}
                produced.append(layer(*decode(node["args"]), **kwargs))
        return cls(inputs=decode(config["inputs"]), outputs=decode(config["outputs"]),
                   name=config.get("name"), trainable=config.get("trainable", True))


def _nodes_between(inputs, outputs):
    """The nodes that compute `outputs` from `inputs`, in an order where parents come first."""
    input_ids = {id(t) for t in inputs}
    ordered, visiting, done = [], set(), set()

    def visit(tensor):
        node = tensor.node
        if id(node) in done:
            return
        if id(node) in visiting:
            raise ValueError("The functional graph has a cycle.")
        if isinstance(node.layer, InputLayer) and id(tensor) not in input_ids:
            raise ValueError(
                f"Graph disconnected: the output depends on input {node.layer.name!r}, which is "
                "not among the model's `inputs`."
            )
        visiting.add(id(node))
        for parent in node.input_tensors:
            visit(parent)
        visiting.discard(id(node))
        done.add(id(node))
        ordered.append(node)

    for tensor in inputs:
        visit(tensor)
    for tensor in outputs:
        visit(tensor)
    return ordered


def _compile_node(node, relu_in_place=False):
    """Returns a function running `node` on a dict of values keyed by KerasTensor id.

    With `relu_in_place` (see `_relus_safe_in_place`), the node's ReLU overwrites its input.
    """
    layer = node.layer
    output_ids = [id(t) for t in tree.flatten(node.outputs)]
    single_output = isinstance(node.outputs, KerasTensor)

    if (len(node.args) == 1 and isinstance(node.args[0], KerasTensor) and not node.kwargs
            and single_output):
        input_id, output_id = id(node.args[0]), output_ids[0]

        if relu_in_place:
            def run_relu_in_place(values):
                values[output_id] = torch.relu_(values[input_id])
            return run_relu_in_place

        def run_simple(values):
            values[output_id] = layer(values[input_id])
        return run_simple

    def run(values):
        def lookup(value):
            return values[id(value)] if isinstance(value, KerasTensor) else value
        args = tree.map_structure(lookup, node.args)
        kwargs = tree.map_structure(lookup, node.kwargs)
        outputs = layer(*args, **kwargs)
        for output_id, value in zip(output_ids, tree.flatten(outputs)):
            values[output_id] = value
    return run


def _released_after(nodes, outputs):
    """For each node, the ids of the values no later node reads (and that are not outputs).

    `call` drops them as soon as their last reader has run, as eager torch code does, so that
    a large activation is freed (and its memory reused) before the next is allocated: keeping
    them all until the end made ResNet-50 inference page-fault its whole working set on
    each call.
    """
    last_reader = {}
    for index, node in enumerate(nodes):
        for tensor in node.input_tensors:
            last_reader[id(tensor)] = index
    kept = {id(tensor) for tensor in tree.flatten(outputs)}
    released = [[] for _ in nodes]
    for key, index in last_reader.items():
        if key not in kept:
            released[index].append(key)
    return released


def _relus_safe_in_place(nodes, inputs, outputs):
    """The nodes whose plain ReLU may overwrite its input instead of allocating its output.

    That is safe when the input is used by that node alone (not by another layer, nor returned,
    nor a model input) and was made by a layer whose backward pass does not read its own output
    (batch normalization, an addition, a convolution or dense layer without activation). In
    deep convolutional nets (the ResNets' Conv-BN-ReLU units) it saves one allocation of each
    activation map, which on the CPU costs page faults: ResNet-50 inference ran about 1.2x
    slower than a torch.nn model with `ReLU(inplace=True)` without it.
    """
    from kiln.layers.activation import ReLU
    from kiln.layers.core import Activation
    from kiln.layers.merging import Add
    from kiln.layers.normalization import BatchNormalization

    uses = {}
    for node in nodes:
        for tensor in node.input_tensors:
            uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    kept = {id(t) for t in inputs} | {id(t) for t in outputs}

    def plain_relu(layer):
        if isinstance(layer, Activation):
            return layer.activation is activations.relu
        return (isinstance(layer, ReLU) and layer.max_value is None
                and layer.negative_slope == 0 and layer.threshold == 0)

    def forgets_its_output(layer):
        # Dense and the convolutions mark a linear activation (see `set_kernel_and_bias_arguments`).
        return (getattr(layer, "_linear_activation", False)
                or isinstance(layer, (BatchNormalization, Add)))

    safe = set()
    for node in nodes:
        if not (plain_relu(node.layer) and len(node.args) == 1 and not node.kwargs
                and isinstance(node.args[0], KerasTensor)):
            continue
        source = node.args[0]
        if (uses.get(id(source)) == 1 and id(source) not in kept and source.node is not None
                and forgets_its_output(source.node.layer)):
            safe.add(node)
    return safe
