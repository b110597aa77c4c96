"""The kiln model file: `save_model` and `load_model`.

A model file is a zip archive (stored, not compressed) of plain data; nothing in it is code, and
loading it never unpickles anything:

- ``metadata.json``: ``{"format": "kiln", "format_version": 1, "kiln_version", "class_name"}``;
- ``config.json``: the architecture, ``{"class_name", "config", "build_input_shape"}`` as
  `kiln.layers.serialize` writes it (null when the model cannot describe itself);
- ``compile.json``: the `compile` arguments (optimizer config, loss, loss_weights, metrics,
  weighted_metrics), null for a model that was not compiled;
- ``model.safetensors``: the weights by `state_dict` name (see `kiln.saving.weights`);
- ``optimizer.json`` and ``optimizer.safetensors``: the optimizer's step count, learning rate and
  slot tensors (momentum, velocity, ...) keyed ``"<slot>/<weight name>"``.

`load_model` rebuilds the model from its config (custom classes are found through
`kiln.saving.register_serializable` or `custom_objects`), loads the weights onto the CPU,
compiles the model again with the same arguments and restores the optimizer's state, so that
`fit` continues exactly where the saved model stopped. Rebuilding draws initial weights that
the file then replaces; the global random generators (Python, numpy, torch) are restored
afterwards, so loading a model leaves the random sequence of the program untouched.

The archive is written in one atomic step (`kiln.saving.atomic`): killing the process during
`save` leaves the previous file whole.
"""

import contextlib
import io
import json
import os
import random
import warnings
import zipfile
import zlib

import numpy as np
import torch

from kiln.saving import registry, weights
from kiln.saving.atomic import atomic_write, check_writable

FORMAT = "kiln"
FORMAT_VERSION = 1
_SAVE_FORMATS = (None, "kiln", "keras", "tf", "h5")
_REQUIRED_MEMBERS = ("metadata.json", "config.json", "compile.json", "model.safetensors")


def save_model(model, filepath, overwrite=True, include_optimizer=True, save_format=None,
               extra_members=None):
    """Saves a model to one file: architecture, weights, compile arguments, optimizer state.

    The file loads with `kiln.models.load_model` into a model that predicts identically and,
    when it was compiled, continues training exactly where this one stopped. A subclassed model
    that cannot describe its architecture (its constructor takes arguments other than plain
    values and it defines no `get_config`) is saved with its weights only, with a warning:
    construct it in code and call `load_weights` on the file.

    Args:
        model: the kiln model to save.
        filepath: path of the file; its folder must exist. Any name works (``.kiln`` is the
            usual extension; the book's ``"my_keras_model"`` is fine).
        overwrite: whether to replace an existing file; False raises if it exists.
        include_optimizer: whether to save the optimizer's state (slots and step count).
        save_format: accepted for compatibility with code written for Keras (``"tf"``,
            ``"h5"``, ``"keras"``); kiln always writes its own format.
        extra_members: optional dict of more archive members (name -> bytes) written in the
            same atomic write, e.g. `BackupAndRestore`'s training state.

    Raises:
        ValueError: for a missing or read-only folder, an existing file with
            ``overwrite=False``, or an unknown `save_format`.

    Example:

    >>> model.save("my_keras_model.kiln")
    >>> model = kiln.models.load_model("my_keras_model.kiln")
    """
    if save_format not in _SAVE_FORMATS:
        raise ValueError(f"Argument `save_format` must be one of {list(_SAVE_FORMATS)} (kiln "
                         f"writes its own format for all), but received: {save_format!r}.")
    check_writable(filepath, overwrite=overwrite)
    import kiln  # for __version__; kiln imports this module, so not at the top
    architecture = _architecture(model)
    members = {
        "metadata.json": _to_json({"format": FORMAT, "format_version": FORMAT_VERSION,
                                   "kiln_version": kiln.__version__,
                                   "class_name": registry.registered_name(type(model))}),
        "config.json": architecture,
        "compile.json": _to_json(_compile_config(model)),
        "model.safetensors": weights.encode(*weights.model_weights(model)),
    }
    if include_optimizer and getattr(model, "optimizer", None) is not None:
        state, slots = _optimizer_state(model)
        members["optimizer.json"] = _to_json(state)
        members["optimizer.safetensors"] = weights.encode(slots)
    members.update(extra_members or {})
    with atomic_write(filepath) as file:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a model saved with `model.save` / `save_model`.

    Args:
        filepath: the model file.
        custom_objects: optional dict mapping names to custom classes and functions (layers,
            models, losses, metrics, optimizers, schedules) that were not registered with
            `kiln.saving.register_serializable`.
        compile: whether to compile the model again as it was saved and restore the optimizer's
            state. False returns an uncompiled model.

    Returns:
        The model, on the CPU, with the saved weights (and compiled, when it was).

    Raises:
        FileNotFoundError: if there is no file at `filepath`.
        ValueError: if the file is not a kiln model, is truncated or corrupt, comes from a newer
            format version, or holds a class kiln cannot find (the message says how to register
            it, or to rebuild the model in code and call `load_weights`).

    Example:

    >>> model = kiln.models.load_model("my_keras_model.kiln")
    >>> model.fit(X_train, y_train, epochs=10)  # continues where the saved model stopped
    """
    path = os.fspath(filepath)
    members = _read_archive(path, weights.read_file(path, "filepath"))
    metadata = _read_metadata(members, path)
    model = _rebuild(_member_json(members, "config.json", path), metadata["class_name"],
                     custom_objects, path)
    weights.assign(model, *weights.decode(members["model.safetensors"],
                                          f"{path}:model.safetensors"), path)
    compile_config = _member_json(members, "compile.json", path)
    if compile and compile_config is not None:
        _compile(model, compile_config, custom_objects, path)
        if "optimizer.json" in members:
            _restore_optimizer(model, members, path)
    return model


def restore_into(model, filepath):
    """Loads a model file's weights and optimizer state into `model` (same architecture).

    Unlike `load_model`, nothing is rebuilt: the compiled model keeps training from the saved
    state. Used by `BackupAndRestore`.

    Returns:
        The file's members (name -> bytes), so that callers can read members of their own.
    """
    path = os.fspath(filepath)
    members = _read_archive(path, weights.read_file(path, "filepath"))
    _read_metadata(members, path)
    weights.assign(model, *weights.decode(members["model.safetensors"],
                                          f"{path}:model.safetensors"), path)
    if "optimizer.json" in members and getattr(model, "optimizer", None) is not None:
        _restore_optimizer(model, members, path)
    return members


def read_model_weights(path, data):
    """Returns `(tensors, metadata)` of the weights inside a model file, for `load_weights`.

    Args:
        path: the model file, named in error messages.
        data: its bytes.
    """
    members = _read_archive(path, data)
    _read_metadata(members, path)
    return weights.decode(members["model.safetensors"], f"{path}:model.safetensors")


def _architecture(model):
    """Returns the JSON of the model's config, or that of null (with a warning) if it has none."""
    from kiln.layers import serialize
    try:
        entry = serialize(model)
        entry["build_input_shape"] = weights.input_shape_of(model)
        entry["build_input_dtype"] = model._build_input_dtype
        return _to_json(entry)
    except (NotImplementedError, TypeError) as error:
        warnings.warn(
            f"Model {model.name!r} of class {type(model).__name__} cannot describe its "
            f"architecture ({error}). Its weights, compile arguments and optimizer state are "
            "saved, but load_model cannot rebuild it: create the model in code and call "
            "model.load_weights(filepath), or give the class a get_config() (and from_config) "
            "and register it with @kiln.saving.register_serializable().",
            UserWarning, stacklevel=3)
        return _to_json(None)


def _compile_config(model):
    """The arguments `compile` received, as JSON-friendly data (None if never compiled)."""
    if getattr(model, "compiled_loss", None) is None:
        return None
    from kiln import losses, metrics, optimizers
    metric_specs, weighted_specs = model.compiled_metrics._specs
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": _encode_spec(model.loss, losses.serialize),
        "loss_weights": model.compiled_loss._weights_spec,
        "metrics": _encode_spec(metric_specs, metrics.serialize),
        "weighted_metrics": _encode_spec(weighted_specs, metrics.serialize),
    }


def _encode_spec(spec, serialize):
    """Encodes a loss or metrics argument of `compile`: names stay names, objects become configs,
    per-output dicts are wrapped as ``{"per_output": {...}}``."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_encode_spec(item, serialize) for item in spec]
    if isinstance(spec, dict):
        return {"per_output": {key: _encode_spec(item, serialize) for key, item in spec.items()}}
    if isinstance(spec, type):
        return registry.registered_name(spec)
    return serialize(spec)


def _decode_spec(value, deserialize, custom_objects):
    """Inverse of `_encode_spec`. A name is checked now (so that an unknown custom function fails
    at load, not at the first `fit`) but passed on as a name, exactly as `compile` got it."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_decode_spec(item, deserialize, custom_objects) for item in value]
    if isinstance(value, dict) and "per_output" in value:
        return {key: _decode_spec(item, deserialize, custom_objects)
                for key, item in value["per_output"].items()}
    if isinstance(value, str):
        if custom_objects and value in custom_objects:
            return custom_objects[value]
        deserialize(value, custom_objects)
        return value
    return deserialize(value, custom_objects)


def _optimizer_state(model):
    """Returns the optimizer's state as JSON data and a dict of slot tensors by weight name."""
    optimizer = model.optimizer
    state = optimizer.state_dict()
    names_by_id = {id(parameter): name for name, parameter in model.named_parameters()}
    names = [names_by_id.get(id(variable)) for variable in optimizer._variables]
    if None in names:
        warnings.warn(
            f"The optimizer of model {model.name!r} updates tensors that are not the model's "
            "weights: its slots are not saved, and training after load_model starts them anew.",
            UserWarning, stacklevel=3)
        names, state["slots"] = [], {}
    slots = {f"{slot}/{name}": tensor.detach().cpu().contiguous()
             for slot, tensors in state["slots"].items() for name, tensor in zip(names, tensors)}
    return {"iterations": state["iterations"], "learning_rate": state["learning_rate"],
            "slots": list(state["slots"]), "variables": names}, slots


def _read_archive(path, data):
    """Returns the members of a model file as a dict of bytes, checking it is complete."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError,
            ValueError) as error:
        raise ValueError(f"{path!r} is not a kiln model file, or it is truncated or corrupt "
                         f"({error}).") from error
    missing = [name for name in _REQUIRED_MEMBERS if name not in members]
    if missing:
        raise ValueError(f"{path!r} is not a kiln model file: the archive lacks "
                         f"{', '.join(missing)}.")
    return members


def _read_metadata(members, path):
    metadata = _member_json(members, "metadata.json", path)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a kiln model file: its metadata.json does not say "
                         f'"format": "{FORMAT}".')
    weights.check_version(metadata.get("format_version"), FORMAT_VERSION, path)
    if not isinstance(metadata.get("class_name"), str):
        raise ValueError(f"{path!r} is corrupt: its metadata.json names no model class.")
    return metadata


def _member_json(members, name, path):
    try:
        return json.loads(members[name])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path!r} is corrupt: its {name} is not valid JSON ({error}).") from None


def _rebuild(architecture, class_name, custom_objects, path):
    """Creates and builds the model that `config.json` describes."""
    if architecture is None:
        raise ValueError(
            f"{path!r} holds the weights of a {class_name} model but not its architecture: the "
            "model could not describe itself when saved (its constructor takes arguments that "
            f"are not plain values and it defines no get_config()). Create the model in code "
            f"and call model.load_weights({path!r}), or give the class a get_config() (and "
            "from_config), register it with @kiln.saving.register_serializable() and save it "
            "again.")
    if not isinstance(architecture, dict) or "class_name" not in architecture:
        raise ValueError(f"{path!r} is corrupt: its config.json does not describe a model.")
    from kiln.engine.layer import BUILT_IN_LAYERS
    from kiln.layers import deserialize
    name = architecture["class_name"]
    if name not in BUILT_IN_LAYERS and registry.get_registered_object(
            name, custom_objects) is None:
        short_name = name.split(">")[-1]
        raise ValueError(
            f"{path!r} holds a model of class {name!r}, which kiln does not know. Register the "
            "class with @kiln.saving.register_serializable() or pass "
            f"custom_objects={{{short_name!r}: {short_name}}}; or create the model in code and "
            f"call model.load_weights({path!r}).")
    with _preserved_random_state():
        try:
            model = deserialize(architecture, custom_objects)
            if not model.built and architecture.get("build_input_shape") is not None:
                model.build(architecture["build_input_shape"],
                            architecture.get("build_input_dtype"))
        except (ValueError, TypeError, KeyError, NotImplementedError) as error:
            raise ValueError(f"Cannot rebuild the model saved in {path!r}: {error} Custom "
                             "layers and models load when registered with "
                             "@kiln.saving.register_serializable() or passed in "
                             "custom_objects.") from error
    return model


def _compile(model, config, custom_objects, path):
    """Compiles `model` with the arguments recorded in `compile.json`."""
    from kiln import losses, metrics, optimizers
    try:
        model.compile(
            optimizer=optimizers.deserialize(config["optimizer"], custom_objects),
            loss=_decode_spec(config["loss"], losses.deserialize, custom_objects),
            metrics=_decode_spec(config["metrics"], metrics.deserialize, custom_objects),
            loss_weights=config["loss_weights"],
            weighted_metrics=_decode_spec(config["weighted_metrics"], metrics.deserialize,
                                          custom_objects),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(
            f"The model in {path!r} was rebuilt, but compiling it as it was saved failed: "
            f"{error} Pass custom losses, metrics, optimizers and schedules in custom_objects "
            "(or register them), or load with compile=False.") from error


def _restore_optimizer(model, members, path):
    """Builds the new optimizer on the same weights and restores its slots and step count."""
    state = _member_json(members, "optimizer.json", path)
    optimizer = model.optimizer
    names = state["variables"]
    if not names:
        optimizer.iterations = int(state["iterations"])
        return
    slots, _ = weights.decode(members.get("optimizer.safetensors", b""),
                              f"{path}:optimizer.safetensors")
    parameters = dict(model.named_parameters())
    try:
        optimizer.build([parameters[name] for name in names])
        optimizer.load_state_dict({
            "iterations": state["iterations"],
            "learning_rate": state["learning_rate"],
            "slots": {slot: [slots[f"{slot}/{name}"] for name in names]
                      for slot in state["slots"]},
        })
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path!r} is corrupt: its optimizer state does not fit the model "
                         f"({error}).") from error


@contextlib.contextmanager
def _preserved_random_state():
    """Restores Python's, numpy's and torch's (CPU) random generators when the block ends."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _to_json(value):
    return json.dumps(value, default=_json_default)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} (of type {type(value).__name__}) is not JSON-serializable")
