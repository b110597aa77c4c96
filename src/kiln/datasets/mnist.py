"""MNIST: 70,000 handwritten digits, 28x28 grayscale, from the four IDX files.

The files come from the mirror TensorFlow uses (Yann LeCun's original site is often down) and
are checked against their published SHA-256 checksums.
"""

from kiln.datasets.idx import load_idx_dataset

BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def load_data():
    """Loads the MNIST digits, downloading them into the dataset cache the first time.

    The files are cached under ``mnist/`` in the cache folder (`KILN_DATASETS`, default
    ``~/.kiln/datasets``); offline, copy the four ``*-ubyte.gz`` files there.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 images of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with values 0-255, and uint8 labels 0-9.

    Example:

    >>> (X_train_full, y_train_full), (X_test, y_test) = kiln.datasets.mnist.load_data()
    >>> X_train_full.shape
    (60000, 28, 28)
    """
    return load_idx_dataset("mnist", BASE_URL, CHECKSUMS)
