"""Fashion MNIST: 70,000 28x28 grayscale images of 10 kinds of clothing, from four IDX files.

The files come from the address Keras downloads them from and are checked against the SHA-256
checksums published with the dataset. `CLASS_NAMES` are the book's label names.
"""

from kiln.datasets.idx import load_idx_dataset

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def load_data():
    """Loads Fashion MNIST, downloading it into the dataset cache the first time.

    The files are cached under ``fashion-mnist/`` in the cache folder (`KILN_DATASETS`, default
    ``~/.kiln/datasets``); offline, copy the four ``*-ubyte.gz`` files there.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 images of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with values 0-255, and uint8 labels 0-9 (see `CLASS_NAMES`).

    Example:

    >>> fashion_mnist = kiln.datasets.fashion_mnist.load_data()
    >>> (X_train_full, y_train_full), (X_test, y_test) = fashion_mnist
    >>> X_train_full.shape
    (60000, 28, 28)
    """
    return load_idx_dataset("fashion-mnist", BASE_URL, CHECKSUMS)
