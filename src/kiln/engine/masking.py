"""How masks (the padding steps of sequences) travel between layers.

As in Keras 2, a mask travels on the tensor it describes, in a `_keras_mask` attribute (a torch
tensor accepts Python attributes): a boolean tensor, True for the real steps, usually of shape
`(batch, steps)` for a `(batch, steps, features)` tensor. `Layer.__call__` follows three rules:

- a layer whose `call` takes a `mask` argument receives its input's mask without being asked
  (a `mask=` passed explicitly wins);
- a layer that `supports_masking` gives its output the mask that its `compute_mask` returns
  (by default the input's mask, unchanged); `Embedding(mask_zero=True)` and `Masking` make one
  from their inputs, recurrent layers keep it on an output sequence and drop it on a last
  output, `GlobalAveragePooling1D` consumes it;
- any other layer drops the mask.

Why on the tensors rather than threaded through the graph executors: the same rules then serve
Sequential, functional and subclassed models alike (a subclassed model's `call` only calls
layers on tensors, so there is no graph to thread masks through), and the functional and
Sequential executors need no mask code at all. Symbolic `KerasTensor`s carry no masks: models
find them at run time, on the first batch.

Cost when nothing is masked: what a layer does with masks is worked out once per class (does its
`call` take `mask`, does it override `compute_mask`), so a layer that neither takes nor passes
masks (Flatten, Conv2D, the recurrent cells) runs exactly the path it ran before masks existed,
and one that could pass a mask on (Dense) reads one attribute of its input. `fit` reads the mask
of each model output to weight the loss and the metrics per step
(`kiln.engine.compile_utils.mask_weights`).
"""

import inspect

import torch

from kiln.engine import tree


def input_masks(inputs):
    """Returns the masks that `inputs` carry.

    Args:
        inputs: a tensor, or a list or tuple of tensors.

    Returns:
        The tensor's `_keras_mask`; for a list, the list of the items' masks (None for an item
        without one); None when no input has a mask.

    Example:

    >>> ids = torch.tensor([[3, 0]])
    >>> embedded = kiln.layers.Embedding(5, 2, mask_zero=True)(ids)
    >>> input_masks(embedded)
    tensor([[ True, False]])
    """
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(item, "_keras_mask", None) for item in inputs]
        return None if all(m is None for m in masks) else masks
    return getattr(inputs, "_keras_mask", None)


def attach_masks(outputs, masks):
    """Attaches `masks` to the tensors of `outputs` (as their `_keras_mask`).

    Args:
        outputs: a tensor, or a nest of tensors (a layer's outputs).
        masks: None (nothing is attached), a mask, or a list of masks (or None) aligned with
            the flattened outputs.

    Example:

    >>> output = torch.zeros(1, 2, 4)
    >>> attach_masks(output, torch.tensor([[True, False]]))
    >>> output._keras_mask
    tensor([[ True, False]])
    """
    if masks is None:
        return
    if isinstance(outputs, torch.Tensor):
        outputs._keras_mask = masks
        return
    flat_masks = tree.flatten(masks) if isinstance(masks, (list, tuple)) else [masks]
    for output, mask in zip(tree.flatten(outputs), flat_masks):
        if mask is not None and isinstance(output, torch.Tensor):
            output._keras_mask = mask


def mask_position(call):
    """Returns the position of `mask` among the arguments of a layer's `call` (`self` not
    counted), or None when `call` takes no `mask`.

    Example:

    >>> mask_position(kiln.layers.LSTM.call)
    1
    """
    parameters = list(inspect.signature(call).parameters)
    return parameters.index("mask") - 1 if "mask" in parameters else None
