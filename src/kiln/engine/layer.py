"""The `Layer` base class: the Keras layer contract on a `torch.nn.Module`.

A kiln layer is a torch module (state_dict, hooks, `torch.compile`, `.to(device)` all work) that
also follows Keras: arguments checked in `__init__`, weights created lazily in `build(input_shape)`
with `add_weight`, computation in `call(inputs, training=None)`, and `get_config()` to rebuild it.

The first call (or a call on a symbolic `kiln.Input`) builds the layer; after that `forward` is a
short path straight into `call`. Shape checks cost nothing on that path: when torch rejects an
input, the error is turned into a `ValueError` that names the layer and the shapes.

Masks travel with the tensors, as in Keras 2: see `kiln.engine.masking`.
"""

import functools
import inspect
import threading

import numpy as np
import torch

from kiln.engine import naming, shapes, tree
from kiln.engine.shapes import check_compatible, is_string_nest
from kiln.engine.keras_tensor import KerasTensor, Node, any_symbolic
from kiln.engine.masking import attach_masks, input_masks, mask_position
from kiln.engine.variable import Variable, is_trainable
from kiln.saving.registry import is_plain

_FLOAT_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


class _CallContext(threading.local):
    """The training flag of the outermost call, inherited by the layers called inside it
    (per thread, so that data-parallel replicas do not share it)."""

    training = None


_CONTEXT = _CallContext()

# Layers holding losses added by `add_loss` during the last top-level call (cleared at the next).
_LOSS_OWNERS = set()

# Attributes of torch's and kiln's own bookkeeping, never scanned for sublayers.
_INTERNAL_ATTRIBUTES = frozenset(vars(torch.nn.Module())) | {"_init_arguments"}

# kiln's own layer and model classes by name, for deserialization (custom classes register).
BUILT_IN_LAYERS = {}


class Layer(torch.nn.Module):
    """Base class of all kiln layers, and a `torch.nn.Module`.

    Subclass it as in Keras: create sublayers in `__init__` (they are tracked automatically,
    also inside lists), weights in `build(input_shape)` with `add_weight`, and compute in
    `call(inputs)`; accept `training=None` in `call` to behave differently while training.

    Unlike a plain torch module, a kiln layer starts in inference mode: `layer(x)` runs as at
    inference unless `training=True` is passed (as `fit` does) or `layer.train()` was called.

    Masks, as in Keras: accept `mask=None` in `call` to receive the mask of the inputs
    (True marks real time steps); set `supports_masking = True` (class attribute, or in
    `__init__`) for a layer that keeps the time axis, so that the mask reaches the next layer;
    override `compute_mask` to make or change a mask (then `supports_masking` defaults to True).

    Args:
        trainable: whether the layer's weights are updated by training.
        name: unique name of the layer; a default like ``dense_1`` is made from the class name.
        dtype: the dtype of the weights and computations (default ``"float32"``).
        activity_regularizer: a penalty on the layer's output added to the loss (divided by
            the batch size, as in Keras).
        input_shape: shape of one sample (no batch axis), to build the layer up front; Keras 2
            style, also accepted as `batch_input_shape`, `batch_size` and `input_dim`.

    Example:

    >>> class ResidualUnit(kiln.layers.Layer):
    ...     def __init__(self, units, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.hidden = [kiln.layers.Dense(units, activation="relu") for _ in range(2)]
    ...     def call(self, inputs):
    ...         z = inputs
    ...         for layer in self.hidden:
    ...             z = layer(z)
    ...         return inputs + z
    """

    supports_masking = False  # whether the input's mask passes on to the output
    _mask_argument = None  # position of `mask` among the arguments of `call`, if it takes one
    _makes_masks = False  # whether the class has its own compute_mask

    def __init_subclass__(cls, **kwargs):
        # As in Keras, calling build() directly leaves the layer built.
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("kiln.") and not cls.__name__.startswith("_"):
            BUILT_IN_LAYERS[cls.__name__] = cls
        # How the class takes part in masking, worked out once (see kiln.engine.masking).
        cls._mask_argument = mask_position(cls.call)
        cls._makes_masks = cls.compute_mask is not Layer.compute_mask
        if "compute_mask" in cls.__dict__ and "supports_masking" not in cls.__dict__:
            cls.supports_masking = True  # as Keras: a layer with its own compute_mask
        if "build" in cls.__dict__:
            build = cls.__dict__["build"]

            @functools.wraps(build)
            def build_and_mark(self, input_shape, *args, **kwargs):
                build(self, input_shape, *args, **kwargs)
                self.built = True
                if self._build_input_shape is None:
                    self._build_input_shape = input_shape
            cls.build = build_and_mark

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        object.__setattr__(instance, "_init_arguments", (args, kwargs))
        return instance

    def __init__(self, trainable=True, name=None, dtype=None, activity_regularizer=None,
                 input_shape=None, batch_input_shape=None, batch_size=None, input_dim=None,
                 **kwargs):
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword argument(s) passed to {type(self).__name__}: "
                f"{sorted(kwargs)}."
            )
        super().__init__()
        self.training = False
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(
                f"Argument `name` of {type(self).__name__} must be a non-empty string without "
                f"'.', but received: {name!r}."
            )
        self.name = name or naming.unique_name(naming.to_snake_case(type(self).__name__))
        self._dtype = _resolve_dtype(dtype, type(self).__name__)
        self._trainable = bool(trainable)
        self.built = False
        self._build_input_shape = None
        self._build_input_dtype = None  # "float32", "int64", "string": what built the layer
        self._output_shape = None
        self._weight_regularizers = {}
        self._weight_constraints = {}
        self._added_losses = []
        from kiln import regularizers
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._batch_input_shape = shapes.declared_input_shape(
            input_shape, batch_input_shape, batch_size, input_dim, self.name)
        self._call_takes_training = _call_takes_training(type(self))

    # ------------------------------------------------------------------ the Keras contract

    def build(self, input_shape):
        """Creates the layer's weights for inputs of `input_shape` (batch axis included)."""

    def call(self, inputs, *args, **kwargs):
        """The layer's computation; subclasses override it."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call().")

    def compute_output_shape(self, input_shape):
        """Returns the output shape for `input_shape`, by running the layer on zeros.

        Layers whose output shape is simple to state override this to avoid the trial run.
        """
        inputs = shapes.map_shapes(lambda shape: KerasTensor(shape, self._dtype), input_shape)
        return shapes.map_shapes(lambda spec: spec[0], self._trial_run((inputs,), {}))

    def compute_mask(self, inputs, mask=None):
        """Returns the mask of the layer's output, given its inputs and their mask.

        The base version passes `mask` on unchanged when the layer `supports_masking`, and
        returns None (no mask) otherwise. Override it in layers that make a mask
        (`Embedding(mask_zero=True)`, `Masking`), drop one (pooling over time) or change it.

        Args:
            inputs: the layer's inputs (torch tensors).
            mask: the inputs' mask: a boolean tensor (True marks real steps), a list of them
                for a list of inputs, or None.

        Returns:
            The output's mask (a boolean tensor, a list of them for several outputs), or None.

        Example:

        >>> layer = kiln.layers.Embedding(10, 2, mask_zero=True)
        >>> layer.compute_mask(torch.tensor([[3, 0]]))
        tensor([[ True, False]])
        """
        return mask if self.supports_masking else None

    def get_config(self):
        """Returns the arguments that rebuild this layer with `from_config`.

        The base version returns the name, trainable and dtype, plus the arguments the layer
        was constructed with when they are plain Python values, so that simple custom layers
        serialize without writing `get_config` (Keras requires it).
        """
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        args, kwargs = self._init_arguments
        if type(self).get_config is Layer.get_config and type(self).__init__ is not Layer.__init__:
            signature = inspect.signature(type(self).__init__)
            bound = signature.bind_partial(None, *args, **kwargs)
            bound.apply_defaults()
            for key, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[key].kind
                if kind == inspect.Parameter.VAR_KEYWORD:
                    continue
                if kind == inspect.Parameter.VAR_POSITIONAL or not is_plain(value):
                    raise NotImplementedError(
                        f"Layer {type(self).__name__} takes the argument {key}={value!r}, which "
                        "is not a plain Python value: override get_config() to serialize it."
                    )
                config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        """Creates a layer from the dictionary that `get_config()` returned."""
        return cls(**config)

    # ------------------------------------------------------------------ weights

    def add_weight(self, name=None, shape=(), initializer=None, dtype=None, trainable=True,
                   regularizer=None, constraint=None):
        """Creates a weight of the layer: a `torch.nn.Parameter` registered under `name`.

        Args:
            name: the weight's name (an attribute of the layer), e.g. ``"kernel"``.
            shape: tuple of ints.
            initializer: name, callable `(shape, dtype) -> tensor` or initializer object;
                default ``"glorot_uniform"`` for float weights with 2 or more axes, else zeros.
            dtype: torch dtype or name; default the layer's dtype.
            trainable: False for statistics such as moving means (updated outside backprop).
            regularizer: adds a penalty on this weight to the model's loss (`layer.losses`).
            constraint: a projection applied to the weight after each optimizer step.

        Returns:
            The new weight: a `kiln.Variable` (a torch Parameter with Keras' variable API).
        """
        from kiln import constraints, initializers, regularizers

        name = name or f"weight_{len(self._parameters)}"
        if name in self._parameters or hasattr(type(self), name):
            raise ValueError(f"Layer {self.name!r} already has a weight or attribute named {name!r}.")
        dtype = _resolve_dtype(dtype, self.name) if dtype is not None else self._dtype
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        values = initializers.get(initializer)(tuple(int(d) for d in shape), dtype=dtype)
        weight = Variable(torch.as_tensor(values, dtype=dtype), trainable, name,
                          f"{self.name}/{name}")
        weight.requires_grad_(weight.trainable and self._trainable)
        self.register_parameter(name, weight)
        if regularizer is not None:
            self._weight_regularizers[name] = regularizers.get(regularizer)
        if constraint is not None:
            self._weight_constraints[name] = constraints.get(constraint)
        return weight

    @property
    def weights(self):
        """All weights: this layer's own (trainable first), then its sublayers', without repeats."""
        seen, result = set(), []
        own = [w for w in self._parameters.values() if w is not None]
        own = [w for w in own if is_trainable(w)] + [w for w in own if not is_trainable(w)]
        own += [b for b in self._buffers.values() if b is not None and b.is_floating_point()]
        for module in _direct_sublayers(self):
            own += module.weights if isinstance(module, Layer) else list(_module_weights(module))
        for weight in own:
            if weight is not None and id(weight) not in seen:
                seen.add(id(weight))
                result.append(weight)
        return result

    @property
    def trainable_weights(self):
        """The weights that training updates."""
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self):
        """The weights that training does not update (frozen weights, moving statistics)."""
        return [w for w in self.weights if not w.requires_grad]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezes (False) or unfreezes the layer and all its sublayers, as in Keras."""
        self._trainable = bool(value)
        for parameter in self._parameters.values():
            if parameter is not None:
                parameter.requires_grad_(self._trainable and is_trainable(parameter))
        for module in _direct_sublayers(self):
            if isinstance(module, Layer):
                module.trainable = value
            else:
                module.requires_grad_(self._trainable)

    def get_weights(self):
        """Returns the weights as a list of numpy arrays, in Keras layouts and order."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights):
        """Sets the weights from a list of arrays with the shapes `get_weights()` returns."""
        current = self.weights
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(
                f"Layer {self.name!r} expects {len(current)} weights, but the list given has "
                f"{len(weights)}."
            )
        with torch.no_grad():
            for index, (target, value) in enumerate(zip(current, weights)):
                value = torch.as_tensor(np.asarray(value), dtype=target.dtype)
                if tuple(value.shape) != tuple(target.shape):
                    raise ValueError(
                        f"Layer {self.name!r} weight {index} has shape {tuple(target.shape)}, but "
                        f"the value given has shape {tuple(value.shape)}."
                    )
                target.copy_(value)

    def count_params(self):
        """Returns the number of scalars in the layer's weights."""
        if not self.built and not self.weights:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so its weights do not exist: call it on "
                "data or build(input_shape) first."
            )
        return sum(w.numel() for w in self.weights)

    def add_loss(self, loss):
        """Adds a scalar tensor to the loss of the current call (e.g. a custom penalty).

        Losses added during a call are reported by `layer.losses` until the next top-level call.
        """
        self._added_losses.append(loss)
        _LOSS_OWNERS.add(self)

    @property
    def losses(self):
        """Penalties of this layer and its sublayers: weight regularization, plus the losses
        added (`add_loss`, activity regularization) during the last call; scalar tensors."""
        penalties = [regularize(getattr(self, name))
                     for name, regularize in self._weight_regularizers.items()]
        penalties += self._added_losses
        for module in _direct_sublayers(self):
            if isinstance(module, Layer):
                penalties += module.losses
        return penalties

    @property
    def dtype(self):
        return str(self._dtype).replace("torch.", "")

    @property
    def input_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"Layer {self.name!r} has not been called yet, so it has no input shape.")
        return self._build_input_shape

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"Layer {self.name!r} has not been called yet, so it has no output shape.")
        return self._output_shape

    # ------------------------------------------------------------------ calling

    def forward(self, *args, training=None, **kwargs):
        inputs = args[0] if args else None
        if not isinstance(inputs, torch.Tensor) and not _all_tensors(inputs):
            if any_symbolic((args, kwargs)):
                return self._symbolic_call(args, kwargs, training)
            args = (to_tensors(inputs),) + args[1:]
            inputs = args[0]
        if not self.built:
            self._build_for(inputs)
        outer = _CONTEXT.training
        if outer is None:
            if _LOSS_OWNERS:
                _clear_added_losses()
            if training is None:
                training = self.training
            elif bool(training) != self.training:
                return self._call_in_mode(bool(training), args, kwargs)
        elif training is None:
            training = outer
        _CONTEXT.training = training
        try:
            if self._mask_argument is not None:
                outputs = self._call_with_mask_argument(args, kwargs, training)
            else:
                if self._call_takes_training:
                    outputs = self.call(*args, training=training, **kwargs)
                else:
                    outputs = self.call(*args, **kwargs)
                if self.supports_masking and (
                        self._makes_masks or getattr(inputs, "_keras_mask", None) is not None):
                    attach_masks(outputs, self.compute_mask(inputs, input_masks(inputs)))
        except (RuntimeError, IndexError) as error:
            self._raise_if_incompatible(inputs, error)
            raise
        finally:
            _CONTEXT.training = outer
        if self.activity_regularizer is not None:
            for output in tree.flatten(outputs):
                self.add_loss(self.activity_regularizer(output) / output.shape[0])
        if self._output_shape is None:
            self._output_shape = shapes.batchless_shapes(outputs)
        return outputs

    def _call_with_mask_argument(self, args, kwargs, training):
        """Calls a layer whose `call` takes `mask`: the inputs' `_keras_mask` goes to it unless
        a mask was passed, and the output's mask is attached."""
        inputs = args[0]
        if "mask" in kwargs:
            mask = kwargs["mask"]
        elif len(args) > self._mask_argument:
            mask = args[self._mask_argument]
        else:
            mask = input_masks(inputs)
            if mask is not None:
                kwargs["mask"] = mask
        if self._call_takes_training:
            kwargs["training"] = training
        outputs = self.call(*args, **kwargs)
        if self.supports_masking and (mask is not None or self._makes_masks):
            attach_masks(outputs, self.compute_mask(inputs, mask))
        return outputs

    def _call_in_mode(self, training, args, kwargs):
        """Runs a top-level call with torch's mode switched to `training` for its duration, so
        that plain torch modules inside (Dropout, BatchNorm1d) follow kiln's flag too."""
        self.train(training)
        try:
            return self.forward(*args, training=training, **kwargs)
        finally:
            self.train(not training)

    def _build_for(self, inputs):
        """Builds the layer for real inputs (first call), checking a declared input shape."""
        shape = shapes.shapes(inputs)
        self._build_input_dtype = _dtype_names(inputs)
        if self._batch_input_shape is not None:
            check_compatible(self._batch_input_shape, shape, self.name)
        self._build_with(shape)
        device = next((t.device for t in tree.flatten(inputs) if isinstance(t, torch.Tensor)), None)
        if device is not None and device.type != "cpu":
            self.to(device)

    def _build_with(self, input_shape):
        if not self.built:
            self._track_sublayer_containers()
            self.build(input_shape)
            self.built = True
            self._build_input_shape = input_shape

    def _track_sublayer_containers(self):
        """Registers layers kept in plain lists, tuples and dicts (as Keras tracks them), so
        that their weights train: a list of layers becomes a ModuleList, a dict of layers a
        ModuleDict, and layers in mixed containers are registered one by one."""
        for name, value in list(self.__dict__.items()):
            if name in _INTERNAL_ATTRIBUTES:
                continue
            if isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
                items = list(value.items())
            else:
                continue
            modules = [(key, item) for key, item in items if isinstance(item, torch.nn.Module)]
            if not modules:
                continue
            if len(modules) == len(items) and isinstance(value, dict):
                setattr(self, name, torch.nn.ModuleDict(value))
            elif len(modules) == len(items):
                setattr(self, name, torch.nn.ModuleList(value))
            else:
                for key, module in modules:
                    self.add_module(f"{name}_{key}", module)

    def _symbolic_call(self, args, kwargs, training):
        inputs = args[0]
        input_shape = tree.map_structure(lambda t: t.shape, inputs)
        if self._batch_input_shape is not None:
            check_compatible(self._batch_input_shape, input_shape, self.name)
        if self.built and self._parameters and shapes.same_rank(self._build_input_shape, input_shape):
            check_compatible(self._build_input_shape, input_shape, self.name)
        self._build_with(input_shape)
        if not self._has_static_output_shape():
            specs = self._trial_run(args, kwargs)
        else:
            dtype = next((t.dtype for t in tree.flatten(inputs) if isinstance(
                t.dtype, torch.dtype) and t.dtype.is_floating_point), self._dtype)
            try:
                output_shapes = self.compute_output_shape(input_shape)
            except (ValueError, TypeError) as error:
                raise ValueError(f"Layer {self.name!r} cannot be called on inputs of shape "
                                 f"{input_shape}: {error}") from error
            specs = shapes.map_shapes(lambda shape: (shape, dtype), output_shapes)
        outputs = shapes.map_shapes(lambda spec: KerasTensor(spec[0], spec[1]), specs)
        call_kwargs = dict(kwargs) if training is None else {**kwargs, "training": training}
        Node(self, args, call_kwargs, outputs)
        self._output_shape = tree.map_structure(lambda t: t.shape, outputs)
        return outputs

    def _has_static_output_shape(self):
        """True when `compute_output_shape` answers without running the layer."""
        return type(self).compute_output_shape is not Layer.compute_output_shape

    def _trial_run(self, args, kwargs):
        """Runs `call` on zeros shaped like the symbolic `args` to learn output shapes and dtypes.

        Unknown axes (other than the batch axis) are tried at two sizes; output axes that
        change with them are reported as None.
        """
        def run(unknown_size):
            def zeros(value):
                if not isinstance(value, KerasTensor):
                    return value
                shape = shapes.concrete(value.shape, unknown_size)
                if not isinstance(value.dtype, torch.dtype):  # text: empty strings
                    return np.full(shape, "", dtype=object)
                return torch.zeros(shape, dtype=value.dtype)
            outer = _CONTEXT.training
            _CONTEXT.training = False
            try:
                with torch.no_grad():
                    call_kwargs = tree.map_structure(zeros, kwargs)
                    if self._call_takes_training:
                        call_kwargs["training"] = False
                    outputs = self.call(*tree.map_structure(zeros, args), **call_kwargs)
            except (RuntimeError, IndexError, ValueError) as error:
                received = shapes.shape_text(tree.map_structure(lambda t: t.shape, args[0]))
                raise ValueError(f"Layer {self.name!r} cannot be called on inputs of shape "
                                 f"{received}: {error}") from error
            finally:
                _CONTEXT.training = outer
            return tree.map_structure(lambda t: ((None,) + tuple(t.shape[1:]), t.dtype), outputs)

        first = run(1)
        symbolic = [t for t in tree.flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        if not any(d is None for t in symbolic for d in t.shape[1:]):
            return first
        second = run(2)
        return first if first == second else shapes.merge_unknown(first, second)

    def _raise_if_incompatible(self, inputs, error):
        expected = self._build_input_shape
        if expected is None:
            return
        received = shapes.shapes(inputs)
        problem = shapes.incompatibility(expected, received)
        if problem:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: {problem}, but '
                f"received input with shape {shapes.shape_text(received)}."
            ) from error

    # ------------------------------------------------------------------ tracking and display

    def extra_repr(self):
        return f"name={self.name!r}"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def to_tensors(structure):
    """Converts arrays, lists and pandas objects inside `structure` to torch tensors.

    Floating arrays become float32 (as Keras casts inputs to the layers' float32), integer
    arrays stay integers. Tensors pass through unchanged, and so do strings (str or bytes, lists
    and arrays of them): torch has no string tensors, the string layers take them as they are.
    """
    def convert(value):
        if isinstance(value, torch.Tensor) or value is None or is_string_nest(value):
            return value
        if hasattr(value, "to_numpy"):
            value = value.to_numpy()
        array = np.asarray(value)
        if array.dtype == object:
            raise ValueError(f"Cannot convert a value of type {type(value).__name__} to a tensor.")
        if array.dtype.kind == "f":
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if array.dtype.kind == "b":
            return torch.from_numpy(array.astype(np.float32))
        return torch.from_numpy(np.ascontiguousarray(array))

    if is_string_nest(structure):
        return structure
    if isinstance(structure, (list, tuple)) and structure and _is_number_nest(structure):
        return convert(structure)  # nested lists of numbers are one tensor
    return tree.map_structure(convert, structure)


def _is_number_nest(value):
    if isinstance(value, (list, tuple)):
        return all(_is_number_nest(item) for item in value)
    return isinstance(value, (int, float, bool, np.number))


def _dtype_names(inputs):
    """The dtype name of each input ("string" for text), shaped like `inputs`."""
    if is_string_nest(inputs):
        return "string"
    if isinstance(inputs, (list, tuple)):
        return [_dtype_names(item) for item in inputs]
    return str(inputs.dtype).replace("torch.", "") if isinstance(inputs, torch.Tensor) else None


def _all_tensors(inputs):
    return isinstance(inputs, (list, tuple)) and bool(inputs) and all(
        isinstance(t, torch.Tensor) for t in inputs)


def has_added_losses():
    """True when layers added losses (`add_loss`, activity regularizers) in the last call."""
    return bool(_LOSS_OWNERS)


def added_losses():
    """The losses that layers added during the last top-level call."""
    return [loss for owner in _LOSS_OWNERS for loss in owner._added_losses]


def _clear_added_losses():
    for layer in _LOSS_OWNERS:
        layer._added_losses = []
    _LOSS_OWNERS.clear()


@functools.lru_cache(maxsize=None)
def _call_takes_training(layer_class):
    return "training" in inspect.signature(layer_class.call).parameters


def _direct_sublayers(module):
    """The child modules of `module`, looking through ModuleList / ModuleDict containers."""
    for child in module.children():
        if isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict, torch.nn.Sequential)) \
                and not isinstance(child, Layer):
            yield from _direct_sublayers(child)
        else:
            yield child


def _module_weights(module):
    yield from module.parameters()
    yield from (b for b in module.buffers() if b.is_floating_point())


def _resolve_dtype(dtype, owner):
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in _FLOAT_DTYPES:
        return _FLOAT_DTYPES[dtype]
    raise ValueError(
        f"Invalid dtype for {owner}: {dtype!r}. Expected one of {sorted(_FLOAT_DTYPES)} or a "
        "torch floating dtype."
    )
