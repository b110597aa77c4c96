"""`model.export`: a kiln model as a self-contained inference program, for serving without kiln.

Both formats start from `torch.export.export` of the model in inference mode
(``training=False``), with a dynamic batch axis (any batch size works) and dynamic unknown axes
(e.g. the time axis of ``Input(shape=[None, 1])``):

- ``format="torch"`` writes the `torch.export` program (``.pt2``), which `torch.export.load`
  reads back in any PyTorch program, without kiln;
- ``format="onnx"`` converts that program with PyTorch's torch.export-based ONNX exporter (the
  default since PyTorch 2.9; it needs the `onnx` and `onnxscript` packages: the `onnx` extra),
  for onnxruntime and other ONNX runtimes. Inputs and outputs are named after the model's input
  and output layers when it has them, else ``input_1``, ``output_1``, ...

The file is written atomically, like every kiln file.
"""

import itertools

import torch

from kiln.saving.atomic import atomic_write, check_writable

_FORMATS = ("onnx", "torch")


def export_model(model, filepath, format="onnx"):
    """Exports a built model for inference, as an ONNX model or a `torch.export` program.

    Args:
        model: a built kiln model (it has an input shape: from `kiln.Input`, `input_shape=`, a
            call on data, or `build`).
        filepath: the file to write; its folder must exist (``.onnx`` or ``.pt2`` by custom).
        format: ``"onnx"`` (default) or ``"torch"`` (`torch.export`).

    Raises:
        ValueError: for an unknown `format`, an unbuilt model, or a path that cannot be written.
        ImportError: for ``"onnx"`` without the `onnx` and `onnxscript` packages.

    Example:

    >>> model.export("my_model.onnx")
    >>> session = onnxruntime.InferenceSession("my_model.onnx")
    >>> session.run(None, {"input_1": X_new.astype("float32")})
    """
    if format not in _FORMATS:
        raise ValueError(f"Argument `format` must be one of {list(_FORMATS)}, but received: "
                         f"format={format!r}.")
    check_writable(filepath)
    if format == "onnx":
        _check_onnx_installed()
    program = _exported_program(model)
    if format == "torch":
        with atomic_write(filepath) as file:
            torch.export.save(program, file)
        return
    outputs = len(program.graph_signature.user_outputs)
    onnx_program = torch.onnx.export(
        program, dynamo=True, verbose=False,
        input_names=_names(getattr(model, "input_names", None), len(model_inputs(model)), "input"),
        output_names=_names(getattr(model, "output_names", None), outputs, "output"))
    data = onnx_program.model_proto.SerializeToString()
    with atomic_write(filepath) as file:
        file.write(data)


def model_inputs(model):
    """Returns the `(shape, dtype)` of each input of a built model (batch axis None if free).

    A functional model gives its `kiln.Input` specs; other models the input shape they were
    built for, as float32 (a `Sequential` of integer inputs is best exported from a functional
    model with an integer `kiln.Input`).

    Raises:
        ValueError: if the model is not built, or takes a dict of inputs.
    """
    if not getattr(model, "built", False):
        raise ValueError(
            f"Model {model.name!r} is not built, so its input shape is unknown: give it an "
            "input shape (kiln.Input or input_shape=), call it on data, or call "
            "model.build(input_shape) before exporting it.")
    symbolic = getattr(model, "inputs", None)
    if symbolic:
        return [(tuple(tensor.shape), tensor.dtype) for tensor in symbolic]
    shape = model.input_shape
    if isinstance(shape, dict):
        raise ValueError(f"Model {model.name!r} takes a dict of inputs; export supports models "
                         "whose inputs are one tensor or a list of tensors.")
    shapes = shape if shape and isinstance(shape[0], (list, tuple)) else [shape]
    # A model built on data recorded that batch's size: the first axis stays free.
    return [((None,) + tuple(item[1:]), torch.float32) for item in shapes]


class _InferenceModule(torch.nn.Module):
    """Calls a kiln model in inference mode on positional tensors; returns a tensor or a tuple."""

    def __init__(self, model, input_count):
        super().__init__()
        self.model = model
        self.input_count = input_count

    def forward(self, *inputs):
        outputs = self.model(list(inputs) if self.input_count > 1 else inputs[0], training=False)
        if isinstance(outputs, dict):
            return tuple(outputs.values())
        return tuple(outputs) if isinstance(outputs, (list, tuple)) else outputs


def _exported_program(model):
    """Runs `torch.export.export` with a dynamic batch axis and dynamic unknown axes."""
    inputs = model_inputs(model)
    batch = torch.export.Dim("batch")
    # Distinct example sizes for the free axes, so that torch does not take two of them as equal.
    free_sizes = itertools.count(3)
    examples, dynamic = [], []
    for shape, dtype in inputs:
        sizes, axes = [], {}
        for axis, size in enumerate(shape):
            if size is None:
                sizes.append(2 if axis == 0 else next(free_sizes))
                axes[axis] = batch if axis == 0 else torch.export.Dim.AUTO
            else:
                sizes.append(size)
        examples.append(torch.zeros(sizes, dtype=dtype, device=_device_of(model)))
        dynamic.append(axes)
    module = _InferenceModule(model, len(inputs))
    was_training = model.training
    module.eval()
    try:
        return torch.export.export(module, tuple(examples), dynamic_shapes=(tuple(dynamic),))
    finally:
        model.train(was_training)


def _check_onnx_installed():
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ImportError("Exporting to ONNX needs the `onnx` and `onnxscript` packages: "
                          "pip install 'kiln[onnx]'.") from None


def _names(names, count, prefix):
    if names is not None and len(names) == count:
        return list(names)
    return [f"{prefix}_{index + 1}" for index in range(count)]


def _device_of(model):
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
