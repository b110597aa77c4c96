"""`model.summary()`: the table of layers, output shapes and parameter counts, as Keras prints it."""

from kiln.engine.keras_tensor import KerasTensor


def print_summary(model, line_length, positions, print_fn, expand_nested, show_trainable):
    """Prints `model`'s summary table line by line through `print_fn`."""
    from kiln.engine.functional import Functional

    graph = isinstance(model, Functional)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if graph:
        headers.append("Connected to")
    line_length = line_length or (98 if graph else 65)
    positions = positions or ([0.33, 0.55, 0.67, 1.0] if graph else [0.45, 0.85, 1.0])
    if show_trainable:
        line_length += 11
        positions = [p * (line_length - 11) / line_length if p <= 1 else p for p in positions]
        positions.append(1.0)
        headers.append("Trainable")
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]

    rows = []
    for layer, depth in _layers_to_show(model, expand_nested):
        row = [("  " * depth) + f"{getattr(layer, 'name', '?')} ({type(layer).__name__})",
               _shape_text(layer), _param_text(layer)]
        if graph:
            row.append(_connections(layer, model))
        if show_trainable:
            row.append("Y" if getattr(layer, "trainable", True) else "N")
        rows.append(row)

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_fn(_format_row(headers, positions))
    print_fn("=" * line_length)
    for index, row in enumerate(rows):
        print_fn(_format_row(row, positions))
        print_fn("=" * line_length if index == len(rows) - 1 else "")
    if not rows:
        print_fn("=" * line_length)
    weights = model.weights
    trainable = sum(w.numel() for w in weights if w.requires_grad)
    total = sum(w.numel() for w in weights)
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)


def _layers_to_show(model, expand_nested, depth=0):
    from kiln.engine.model import Model

    for layer in model.layers:
        yield layer, depth
        if expand_nested and isinstance(layer, Model):
            yield from _layers_to_show(layer, True, depth + 1)


def _shape_text(layer):
    shape = getattr(layer, "_output_shape", None)
    if shape is None:
        return "multiple" if getattr(layer, "built", True) else "(unbuilt)"
    if isinstance(shape, list):
        return "[" + ", ".join(str(tuple(s)) for s in shape) + "]"
    return str(tuple(shape)) if isinstance(shape, tuple) else str(shape)


def _param_text(layer):
    count = sum(w.numel() for w in getattr(layer, "weights", list(layer.parameters())))
    return f"{count:,}" if count else "0"


def _connections(layer, model):
    """`name[node][tensor]` for each input of each call of `layer`, as Keras prints them."""
    calls = {}
    for node in model._nodes:
        calls.setdefault(id(node.layer), []).append(node)
    names = []
    for node in calls.get(id(layer), []):
        for tensor in node.input_tensors:
            if isinstance(tensor, KerasTensor) and tensor.node is not None:
                index = calls[id(tensor.node.layer)].index(tensor.node)
                names.append(f"{tensor.node.layer.name}[{index}][{tensor.node_output_index}]")
    return ", ".join(names) if names else "[]"


def _format_row(fields, positions):
    line = ""
    for index, field in enumerate(fields):
        if index > 0:
            line = line[:-1] + " "
        line += " " + str(field)
        line = line[:positions[index]]
        line += " " * (positions[index] - len(line))
    return line
