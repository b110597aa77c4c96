"""`SavingMixin`: the saving methods of `kiln.Model` (save, save_weights, load_weights, export).

The methods are thin: the file formats live in `kiln.saving.saving_lib` (the model file),
`kiln.saving.weights` (weights files) and `kiln.saving.export` (ONNX and torch.export).
"""

from kiln.saving import export as export_module
from kiln.saving import saving_lib, weights


class SavingMixin:
    """Saving and loading methods of a kiln model.

    Example:

    >>> model.save("my_keras_model.kiln")
    >>> model = kiln.models.load_model("my_keras_model.kiln")
    >>> model.save_weights("my_weights.safetensors")
    >>> model.load_weights("my_weights.safetensors")
    >>> model.export("my_model.onnx")
    """

    def save(self, filepath, overwrite=True, include_optimizer=True, save_format=None):
        """Saves the model to one file: architecture, weights, compile arguments, optimizer state.

        `kiln.models.load_model(filepath)` returns a model that predicts identically and, when
        this one was compiled, continues training where it stopped. The write is atomic.

        Args:
            filepath: path of the file; its folder must exist (``.kiln`` is the usual
                extension, but any name works).
            overwrite: whether to replace an existing file; False raises if it exists.
            include_optimizer: whether to save the optimizer's state.
            save_format: accepted for Keras code (``"tf"``, ``"h5"``, ``"keras"``); kiln
                always writes its own format.
        """
        saving_lib.save_model(self, filepath, overwrite=overwrite,
                              include_optimizer=include_optimizer, save_format=save_format)

    def save_weights(self, filepath, overwrite=True):
        """Saves the model's weights to a safetensors file (atomically).

        Args:
            filepath: path of the file; its folder must exist.
            overwrite: whether to replace an existing file; False raises if it exists.
        """
        weights.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Loads weights from a file written by `save_weights` or `save`.

        Weights match by name, or by position for the same architecture under other layer
        names; a mismatch raises a `ValueError` listing missing, unexpected and mis-shaped
        weights. An unbuilt model is built for the input shape recorded in the file.

        Args:
            filepath: a weights file, or a model file written by `save`.
        """
        weights.load_weights(self, filepath)

    def export(self, filepath, format="onnx"):
        """Exports the model for inference without kiln (dynamic batch size).

        Args:
            filepath: the file to write.
            format: ``"onnx"`` (needs the `onnx` extra) or ``"torch"`` (a `torch.export`
                program that `torch.export.load` reads).
        """
        export_module.export_model(self, filepath, format=format)
