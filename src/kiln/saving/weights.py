"""`save_weights` / `load_weights`: a model's weights in one safetensors file.

The file maps each weight's `state_dict` name (``dense_1.kernel``) to its tensor, so a plain
PyTorch program can read it with `safetensors.torch.load_file` and `module.load_state_dict`.
Its safetensors metadata records the format (``kiln.weights``), the format version, the order of
the weights in the model and the model's input shape. safetensors is used
instead of `torch.save` because reading it never runs code from the file, unlike pickle.

Loading matches weights by name first. A model rebuilt in the same session gets other
automatic layer names (``dense_7`` instead of ``dense_1``), so when the names differ the weights
are matched by position instead, provided the model has exactly as many weights as the file with
the same shapes, in the same order (the same architecture). Anything else raises a `ValueError`
listing the missing, unexpected and mis-shaped weights. Tensors are always read onto the CPU,
then copied into the model's weights on whatever device they live.
"""

import json
import os
import struct

from safetensors.torch import load as read_safetensors
from safetensors.torch import save as write_safetensors
import torch

from kiln.saving.atomic import atomic_write, check_writable

WEIGHTS_FORMAT = "kiln.weights"
WEIGHTS_FORMAT_VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"


def save_weights(model, filepath, overwrite=True):
    """Saves the weights of `model` to a safetensors file at `filepath`, atomically.

    Args:
        model: a kiln model (any `torch.nn.Module` with `state_dict` works).
        filepath: path of the file to write; its folder must exist. Any name is accepted (the
            book's ``"my_weights"`` included); ``.safetensors`` is the usual extension.
        overwrite: whether to replace an existing file; False raises if it exists.

    Raises:
        ValueError: if the folder is missing or not writable, or the file exists and
            `overwrite` is False.

    Example:

    >>> model.save_weights("my_weights.safetensors")
    >>> model.load_weights("my_weights.safetensors")
    """
    check_writable(filepath, overwrite=overwrite)
    tensors, metadata = model_weights(model)
    data = encode(tensors, metadata)
    with atomic_write(filepath) as file:
        file.write(data)


def load_weights(model, filepath):
    """Loads weights saved by `save_weights` (or a whole model file saved by `save`) into `model`.

    An unbuilt model is first built for the input shape recorded in the file.

    Args:
        model: the kiln model to load into; it must have the architecture the weights came from.
        filepath: a weights file written by `save_weights`, a model file written by
            `model.save`, or any safetensors file of `state_dict` tensors.

    Raises:
        FileNotFoundError: if there is no file at `filepath`.
        ValueError: if the file is not a weights or model file, is truncated or corrupt, comes
            from a newer format version, or its weights do not fit the model (the message lists
            the missing, unexpected and mis-shaped weights).

    Example:

    >>> model = WideAndDeepModel(30, activation="relu")
    >>> model.load_weights("my_model.kiln")
    """
    path = os.fspath(filepath)
    data = read_file(path, "filepath")
    if data.startswith(ZIP_MAGIC):
        from kiln.saving import saving_lib
        tensors, metadata = saving_lib.read_model_weights(path, data)
    else:
        tensors, metadata = decode(data, path)
    assign(model, tensors, metadata, path)


def model_weights(model):
    """Returns `(tensors, metadata)` describing the weights of `model`, for `encode`.

    The tensors are CPU copies of the `state_dict` (contiguous, no shared memory); the metadata
    records the format, the weights' order, the Keras paths of positionally named weights
    (``conv1/kernel``, named in error messages) and the model's input shape when it is built.
    """
    state = model.state_dict()
    tensors = {name: tensor.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)
               for name, tensor in state.items()}
    metadata = {"format": WEIGHTS_FORMAT, "format_version": str(WEIGHTS_FORMAT_VERSION),
                "order": json.dumps(list(state)), "paths": json.dumps(weight_paths(model))}
    input_shape = input_shape_of(model)
    if input_shape is not None:
        metadata["input_shape"] = json.dumps(input_shape)
    return tensors, metadata


def encode(tensors, metadata=None):
    """Returns the safetensors bytes of a dict of CPU tensors, with string `metadata`."""
    return write_safetensors(tensors, metadata)


def decode(data, source):
    """Reads safetensors bytes; returns `(tensors, metadata)` with the tensors on the CPU.

    Args:
        data: the bytes of a safetensors file.
        source: the file (or archive member) they come from, named in error messages.

    Raises:
        ValueError: if the bytes are not a complete safetensors file, or a kiln weights file of
            a newer format version.
    """
    metadata = _header_metadata(data, source)
    if metadata.get("format") == WEIGHTS_FORMAT:
        check_version(metadata.get("format_version"), WEIGHTS_FORMAT_VERSION, source)
    try:
        tensors = read_safetensors(data)
    except Exception as error:  # safetensors raises its own SafetensorError for any damage
        raise ValueError(f"{source!r} is not a valid safetensors file: it is truncated or "
                         f"corrupt ({error}).") from error
    return tensors, metadata


def assign(model, tensors, metadata, source):
    """Copies `tensors` (as returned by `decode`) into the weights of `model`.

    Builds an unbuilt model for the input shape found in `metadata`, then matches by name, or
    by position for the same architecture under other layer names (see the module docstring).

    Raises:
        ValueError: listing the missing, unexpected and mis-shaped weights when they do not fit.
    """
    if not getattr(model, "built", True) and "input_shape" in metadata:
        model.build(_load_json(metadata["input_shape"], source, "input_shape"))
    order = _load_json(metadata["order"], source, "order") if "order" in metadata else None
    expected = model.state_dict()
    matched = _matched(expected, tensors, order)
    if matched is None:
        file_paths = _load_json(metadata["paths"], source, "paths") if "paths" in metadata else {}
        raise ValueError(_mismatch_message(model, expected, tensors, order, source, file_paths))
    model.load_state_dict(matched)


def check_version(version, supported, source):
    """Raises a `ValueError` unless `version` is an integer format version kiln can read.

    Args:
        version: the version found in the file (an int, or its text).
        supported: the newest version this kiln reads.
        source: the file, named in the message.
    """
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise ValueError(f"{source!r} is corrupt: its format version is {version!r}, not an "
                         "integer.") from None
    if number > supported:
        raise ValueError(f"{source!r} was written by a newer kiln (format version {number}); "
                         f"this kiln reads versions up to {supported}. Upgrade kiln to load it.")


def read_file(path, argument):
    """Returns the bytes of the file at `path`, with clear errors for a missing path or a folder."""
    if os.path.isdir(path):
        raise ValueError(f"`{argument}`={path!r} is a folder; kiln model and weights files are "
                         "single files.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file found at `{argument}`={path!r}.")
    with open(path, "rb") as file:
        return file.read()


def input_shape_of(model):
    """Returns the input shape `model` was built for (JSON-friendly), or None if not built."""
    if not getattr(model, "built", False):
        return None
    try:
        return model.input_shape
    except AttributeError:
        return None


def _header_metadata(data, source):
    """Returns the string metadata of safetensors bytes, checking that the header is readable."""
    problem = None
    if len(data) < 8:
        problem = "it is too short to hold a safetensors header"
    else:
        (length,) = struct.unpack("<Q", data[:8])
        if length > len(data) - 8:
            problem = "its header is cut short (the file is truncated or not a safetensors file)"
        else:
            try:
                header = json.loads(data[8:8 + length])
            except (UnicodeDecodeError, json.JSONDecodeError):
                problem = "its header is not valid JSON"
            else:
                metadata = header.get("__metadata__") if isinstance(header, dict) else None
                return metadata if isinstance(metadata, dict) else {}
    raise ValueError(f"{source!r} is not a kiln weights file or a safetensors file: {problem}.")


def _load_json(text, source, key):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{source!r} is corrupt: its {key!r} metadata is not valid "
                         "JSON.") from None


def _matched(expected, tensors, order):
    """Maps the model's weight names to the file's tensors, by name or else by position."""
    if set(expected) == set(tensors):
        same_shapes = all(_same_shape(value, tensors[name]) for name, value in expected.items())
        return tensors if same_shapes else None
    if order is None or len(order) != len(expected) or set(order) != set(tensors):
        return None
    pairs = list(zip(expected.items(), order))
    if all(_same_shape(value, tensors[saved]) for (_, value), saved in pairs):
        return {name: tensors[saved] for (name, _), saved in pairs}
    return None


def weight_paths(model):
    """Maps the positional `state_dict` names of `model` (``_layers.1.kernel``, in functional and
    sequential models) to their weights' Keras paths (``conv1/kernel``), which say more."""
    return {name: value.path for name, value in model.named_parameters()
            if "_layers." in name and getattr(value, "path", None)}


def _mismatch_message(model, expected, tensors, order, source, file_paths):
    model_paths = weight_paths(model)

    def label(name, paths=model_paths):
        return paths.get(name, name)

    saved_names = order if order is not None and set(order) == set(tensors) else list(tensors)
    missing = [f"{label(name)} {_shape_text(value)}"
               for name, value in expected.items() if name not in tensors]
    unexpected = [f"{label(name, file_paths)} {_shape_text(tensors[name])}"
                  for name in saved_names if name not in expected]
    misshaped = [f"{label(name)}: model {_shape_text(value)}, file {_shape_text(tensors[name])}"
                 for name, value in expected.items()
                 if name in tensors and not _same_shape(value, tensors[name])]
    lines = mismatch_lines("weights", source, model, (("missing from the file", missing),
                                                      ("unexpected in the file", unexpected),
                                                      ("mis-shaped", misshaped)))
    if order is not None and (missing or unexpected):
        lines.append("  " + _position_difference(expected, tensors, saved_names, label,
                                                 lambda name: label(name, file_paths)))
    return "\n".join(lines)


def mismatch_lines(what, source, model, groups):
    """The lines of an error saying which items of a weights file do not fit `model`.

    Args:
        what: what the file holds, e.g. ``"weights"`` or ``"Keras weights"``.
        source: the file, named in the first line.
        model: the model that was to receive them.
        groups: ``(label, items)`` pairs, e.g. ``("missing from the file", [...])``; empty
            groups are left out and long ones shortened to their first 10 items.
    """
    name = getattr(model, "name", type(model).__name__)
    header = (f"Cannot load the {what} in {source!r} into model {name!r}: they do not fit its "
              "architecture.")
    lines = [header]
    for group_label, items in groups:
        if items:
            more = f", ... and {len(items) - 10} more" if len(items) > 10 else ""
            lines.append(f"  {group_label} ({len(items)}): {', '.join(items[:10])}{more}")
    return lines


def _position_difference(expected, tensors, saved_names, model_label, file_label):
    """Explains why matching by position (same architecture, other names) failed too."""
    model_items = list(expected.items())
    for index, ((name, value), saved) in enumerate(zip(model_items, saved_names)):
        if not _same_shape(value, tensors[saved]):
            return (f"Matched by position, weight {index} differs: model {model_label(name)} "
                    f"{_shape_text(value)}, file {file_label(saved)} "
                    f"{_shape_text(tensors[saved])}.")
    return (f"Matched by position, the counts differ: the model has {len(model_items)} weights, "
            f"the file {len(saved_names)}.")


def _same_shape(a, b):
    return tuple(a.shape) == tuple(b.shape)


def _shape_text(tensor):
    return str(tuple(tensor.shape))
