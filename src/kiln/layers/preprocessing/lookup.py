"""StringLookup and IntegerLookup: map tokens to contiguous indices with a vocabulary.

Both share `IndexLookup`: the vocabulary (given, or built by `adapt` from token frequencies),
its special tokens (an optional mask token at index 0, then `num_oov_indices` out-of-vocabulary
buckets), the encodings of `output_mode` and the inverse lookup. The vocabulary is part of the
layer's config (a JSON list), so it is saved with the model.

Strings are looked up on the CPU with one dict lookup per token over the flattened input (the
fastest lookup Python offers); integers are looked up in torch with a binary search, so an
IntegerLookup inside a model costs a few tensor ops.
"""

import collections
import itertools
import math
import numbers

import numpy as np
import torch

from kiln.engine.layer import Layer
from kiln.layers.preprocessing.category_encoding import (check_output_mode, encode_categorical,
                                                         encoded_shape)
from kiln.layers.preprocessing.hashing import fingerprint64

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(Layer):
    """Base class of StringLookup and IntegerLookup (see those for the arguments)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, numbers.Integral) \
                or num_oov_indices < 0:
            raise ValueError(f"Argument `num_oov_indices` of {owner} must be an int >= 0, but "
                             f"received: {num_oov_indices!r}.")
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = self._check_token(mask_token, "mask_token")
        self.oov_token = self._check_token(oov_token, "oov_token")
        self.output_mode = check_output_mode(output_mode, _MODES, owner)
        self.invert = bool(invert)
        if self.invert and self.output_mode != "int":
            raise ValueError(f"{owner} with invert=True needs output_mode='int', but received "
                             f"output_mode={output_mode!r}.")
        self._special = ([] if self.mask_token is None else [self.mask_token]) \
            + [self.oov_token] * self.num_oov_indices
        if max_tokens is not None and (isinstance(max_tokens, bool)
                                       or not isinstance(max_tokens, numbers.Integral)
                                       or max_tokens <= len(self._special)):
            raise ValueError(f"Argument `max_tokens` of {owner} must be None or an int greater "
                             f"than the {len(self._special)} mask and OOV indices, but received: "
                             f"{max_tokens!r}.")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{owner} with pad_to_max_tokens=True needs `max_tokens`.")
        self.sparse = bool(sparse)
        self._tokens = []
        self._idf = None
        self.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------ vocabulary

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (a list of tokens, or a text file with one token per line).

        The list may start with the special tokens (`get_vocabulary()` output); other special
        tokens or repeated tokens are errors. In ``"tf_idf"`` mode, `idf_weights` gives one
        weight per (non-special) token.
        """
        owner = type(self).__name__
        if vocabulary is None:
            tokens = []
        else:
            if isinstance(vocabulary, str):
                with open(vocabulary, encoding="utf-8") as file:
                    vocabulary = file.read().splitlines()
            tokens = [self._check_token(t, "vocabulary") for t in np.asarray(
                vocabulary, dtype=object).ravel()]
            if tokens[:len(self._special)] == self._special:
                tokens = tokens[len(self._special):]
        special = set(self._special)
        misplaced = [t for t in tokens if t in special]
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if misplaced or repeated:
            raise ValueError(f"Argument `vocabulary` of {owner} must hold distinct tokens, with "
                             f"the special tokens {self._special} only at its start, but received "
                             f"misplaced special tokens {misplaced} and repeated tokens "
                             f"{repeated}.")
        if self.max_tokens is not None and len(self._special) + len(tokens) > self.max_tokens:
            raise ValueError(f"The vocabulary of {owner} {self.name!r} has "
                             f"{len(self._special) + len(tokens)} entries, more than "
                             f"max_tokens={self.max_tokens}.")
        if self.output_mode == "tf_idf":
            if vocabulary is not None and (idf_weights is None
                                           or len(idf_weights) != len(tokens)):
                raise ValueError(f"{owner} in output_mode='tf_idf' needs `idf_weights` with one "
                                 f"weight per token ({len(tokens)}), but received: "
                                 f"{idf_weights!r}.")
        elif idf_weights is not None:
            raise ValueError(f"Argument `idf_weights` of {owner} is only used with "
                             f"output_mode='tf_idf', not {self.output_mode!r}.")
        self._tokens = tokens
        self._idf = None if idf_weights is None else [float(w) for w in idf_weights]
        self._index_vocabulary()

    def get_vocabulary(self, include_special_tokens=True):
        """Returns the vocabulary in index order: mask token, OOV tokens, then tokens."""
        return (self._special if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self):
        """The number of indices: special tokens plus vocabulary tokens."""
        return len(self._special) + len(self._tokens)

    def adapt(self, data, batch_size=None, steps=None):
        """Builds the vocabulary from `data`, most frequent tokens first.

        Ties are ordered as Keras orders them (reverse token order), the mask and OOV tokens are
        skipped, and at most `max_tokens` indices are kept. In ``"tf_idf"`` mode each row of a
        batch is a document for the inverse document frequencies.

        Args:
            data: tokens (nested lists, an array or a tensor) or an iterable of batches (a
                `kiln.data.Dataset`; `(x, y)` batches use `x`).
            batch_size: rows per chunk when `data` is an array.
            steps: the number of batches to read from an iterable (default: all).
        """
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        tf_idf = self.output_mode == "tf_idf"
        for batch in adapt_batches(data, batch_size, steps):
            rows = self._token_array(batch)
            rows = rows.reshape(len(rows), -1) if rows.ndim > 1 else rows.reshape(-1, 1)
            tokens = [self._to_token(t) for t in rows.ravel()]
            counts.update(tokens)
            if tf_idf:
                width = rows.shape[1]
                for start in range(0, len(tokens), width):
                    document_counts.update(set(tokens[start:start + width]))
                documents += len(rows)
        self._tokens, self._idf = [], None
        for token in self._special:
            counts.pop(token, None)
        self.set_vocabulary(*vocabulary_from_counts(
            counts, self.max_tokens and self.max_tokens - len(self._special),
            document_counts if tf_idf else None, documents))

    # ------------------------------------------------------------------ calling

    def call(self, inputs):
        if self.invert:
            return self._invert(inputs)
        indices = self._lookup(inputs)
        if self.output_mode == "int":
            return indices
        return encode_categorical(indices, self.output_mode, self._depth(), self._dtype,
                                  self.name, idf_weights=self._idf_tensor, sparse=self.sparse)

    def compute_output_shape(self, input_shape):
        if self.invert:
            return tuple(input_shape)
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token,
                "vocabulary": list(self._tokens) if self._tokens else None,
                "idf_weights": self._idf, "invert": self.invert, "output_mode": self.output_mode,
                "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": self.sparse}

    # ------------------------------------------------------------------ shared helpers

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def _index_vocabulary(self):
        """Rebuilds the lookup structures after the vocabulary changed."""
        self._first_token_index = len(self._special)
        self._first_oov_index = 0 if self.mask_token is None else 1
        self._idf_tensor = None
        if self._idf is not None:
            mean = sum(self._idf) / len(self._idf) if self._idf else 0.0
            weights = [mean] * len(self._special) + self._idf
            weights += [0.0] * (self._depth() - len(weights))
            self._idf_tensor = torch.tensor(weights, dtype=self._dtype)
        self._build_tables()

    def _oov_error(self, token):
        return ValueError(f"Layer {self.name!r} ({type(self).__name__}) has num_oov_indices=0, "
                          f"but received the token {token!r}, which is not in its vocabulary.")


class StringLookup(IndexLookup):
    """Maps strings to integer indices through a vocabulary (given, or learned with `adapt`).

    Index 0 is the mask token when `mask_token` is set; then come `num_oov_indices` indices for
    out-of-vocabulary (OOV) strings (a string is put in bucket `fingerprint64(s) % n`, the hash
    TensorFlow uses, so the buckets match Keras'), then the vocabulary, most frequent first.

    Inputs are `str` or `bytes`, nested lists or numpy arrays of them (a batch of strings from
    `kiln.data` is a list of bytes). The lookup runs on the CPU, as a model's first layer or in
    `dataset.map`. With `invert=True` the layer maps indices back to strings, returned as a numpy
    object array of UTF-8 `bytes` (as TensorFlow's `.numpy()` shows them).

    Args:
        max_tokens: the largest vocabulary size (special tokens included), or None.
        num_oov_indices: the number of OOV buckets (0: an unknown string is an error).
        mask_token: a string mapped to index 0 (padding), or None.
        oov_token: the string that stands for OOV indices in the vocabulary and when inverting.
        vocabulary: a list of strings or a text file of one string per line.
        idf_weights: with ``"tf_idf"``, one inverse document frequency per vocabulary string.
        invert: map indices to strings instead.
        output_mode: ``"int"`` (int64 indices), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"`` (as in CategoryEncoding, with `vocabulary_size()` columns).
        pad_to_max_tokens: encode with `max_tokens` columns whatever the vocabulary size.
        sparse: with an encoding output mode, return a sparse COO tensor.

    Example:

    >>> cities = ["Auckland", "Paris", "Paris", "San Francisco"]
    >>> str_lookup_layer = kiln.layers.StringLookup()
    >>> str_lookup_layer.adapt(cities)
    >>> str_lookup_layer([["Paris"], ["Auckland"], ["Auckland"], ["Montreal"]])
    tensor([[1],
            [3],
            [3],
            [0]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, **kwargs):
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, **kwargs)

    def _check_token(self, token, argument):
        if token is None and argument != "vocabulary":
            return None
        if isinstance(token, bytes):
            return token.decode("utf-8")
        if not isinstance(token, str):
            raise ValueError(f"Argument `{argument}` of StringLookup takes strings, but received: "
                             f"{token!r}.")
        return token

    def _to_token(self, value):
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def _token_array(self, inputs):
        return string_array(inputs, self.name)

    def _build_tables(self):
        table = dict(zip(self._tokens, itertools.count(self._first_token_index)))
        if self.mask_token is not None:
            table[self.mask_token] = 0
        table.update({token.encode("utf-8"): index for token, index in list(table.items())})
        self._table = table
        vocabulary = self.get_vocabulary()
        self._inverse = np.array([t.encode("utf-8") for t in vocabulary] or [b""], dtype=object)

    def _lookup(self, inputs):
        return lookup_strings(inputs, self._table, self._oov_indices, self.name)

    def _oov_indices(self, tokens):
        """The OOV indices of `tokens` (strings or bytes not in the vocabulary)."""
        if self.num_oov_indices == 0:
            raise self._oov_error(tokens[0])
        if self.num_oov_indices == 1:
            return np.full(len(tokens), self._first_oov_index, dtype=np.int64)
        buckets = [fingerprint64(t if isinstance(t, bytes) else str(t).encode("utf-8"))
                   % self.num_oov_indices for t in tokens]
        return np.asarray(buckets, dtype=np.int64) + self._first_oov_index

    def _invert(self, inputs):
        indices = torch.as_tensor(inputs).cpu().numpy().astype(np.int64)
        valid = (indices >= 0) & (indices < self.vocabulary_size())
        result = self._inverse[np.where(valid, indices, 0)]
        result[~valid] = self.oov_token.encode("utf-8")
        return result


class IntegerLookup(IndexLookup):
    """Maps integers (arbitrary ids) to contiguous indices through a vocabulary.

    Index 0 is the mask token when `mask_token` is set; then come `num_oov_indices` indices for
    out-of-vocabulary (OOV) values (value `v` goes to bucket `v mod n`, as Keras), then the
    vocabulary, most frequent first. The lookup is a binary search in torch, on the inputs'
    device. With `invert=True` the layer maps indices back to the vocabulary's integers
    (invalid indices give `oov_token`).

    Args:
        max_tokens: the largest vocabulary size (special tokens included), or None.
        num_oov_indices: the number of OOV buckets (0: an unknown value is an error).
        mask_token: an int mapped to index 0 (padding), or None.
        oov_token: the int that stands for OOV indices when inverting (default -1).
        vocabulary: a list of ints.
        idf_weights: with ``"tf_idf"``, one inverse document frequency per vocabulary value.
        invert: map indices to vocabulary values instead.
        output_mode: ``"int"`` (int64 indices), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"``.
        pad_to_max_tokens: encode with `max_tokens` columns whatever the vocabulary size.
        sparse: with an encoding output mode, return a sparse COO tensor.

    Example:

    >>> int_lookup_layer = kiln.layers.IntegerLookup(vocabulary=[12, 36, 1])
    >>> int_lookup_layer(torch.tensor([[12], [1], [7]]))
    tensor([[1],
            [3],
            [0]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, **kwargs):
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, **kwargs)

    def _check_token(self, token, argument):
        if token is None and argument != "vocabulary":
            return None
        if isinstance(token, bool) or not isinstance(token, numbers.Integral):
            raise ValueError(f"Argument `{argument}` of IntegerLookup takes ints, but received: "
                             f"{token!r}.")
        return int(token)

    def _to_token(self, value):
        return int(value)

    def _token_array(self, inputs):
        array = torch.as_tensor(inputs).cpu().numpy()
        if array.dtype.kind not in "iu":
            raise ValueError(f"Layer {self.name!r} (IntegerLookup) expects integer inputs, but "
                             f"received dtype {array.dtype}.")
        return array

    def _build_tables(self):
        keys = list(self._tokens)
        values = list(range(self._first_token_index, self.vocabulary_size()))
        if self.mask_token is not None:
            keys.append(self.mask_token)
            values.append(0)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self._keys = torch.as_tensor(np.asarray(keys, dtype=np.int64)[order])
        self._values = torch.as_tensor(np.asarray(values, dtype=np.int64)[order])
        self._inverse_tensor = torch.as_tensor(self.get_vocabulary(), dtype=torch.int64)

    def _lookup(self, inputs):
        inputs = torch.as_tensor(inputs)
        if inputs.is_floating_point():
            raise ValueError(f"Layer {self.name!r} (IntegerLookup) expects integer inputs, but "
                             f"received dtype {inputs.dtype}.")
        inputs = inputs.long()
        if self._keys.device != inputs.device:
            self._keys, self._values = self._keys.to(inputs.device), self._values.to(inputs.device)
        if self.num_oov_indices == 1:
            oov = self._first_oov_index
        else:
            oov = torch.remainder(inputs, max(self.num_oov_indices, 1)) + self._first_oov_index
        if len(self._keys) == 0:
            found, values = torch.zeros_like(inputs, dtype=torch.bool), inputs
        else:
            position = torch.searchsorted(self._keys, inputs).clamp_max_(len(self._keys) - 1)
            found, values = self._keys[position] == inputs, self._values[position]
        if self.num_oov_indices == 0 and not bool(found.all()):
            raise self._oov_error(int(inputs[~found][0]))
        return torch.where(found, values, oov)

    def _invert(self, inputs):
        indices = torch.as_tensor(inputs).long()
        inverse = self._inverse_tensor.to(indices.device)
        valid = (indices >= 0) & (indices < len(inverse))
        return torch.where(valid, inverse[indices.clamp(0, len(inverse) - 1)], self.oov_token)


def vocabulary_from_counts(counts, max_size, document_counts=None, documents=0):
    """The vocabulary of `counts` (a Counter), and its idf weights when `document_counts` is given.

    Most frequent first, ties in reverse token order (Keras' order), at most `max_size` tokens.
    The inverse document frequency of a token is `log(1 + documents / (1 + document_count))`.
    """
    tokens = sorted(counts, key=lambda token: (counts[token], token), reverse=True)
    tokens = tokens[:max_size] if max_size else tokens
    if document_counts is None:
        return tokens, None
    return tokens, [math.log(1 + documents / (1 + document_counts[t])) for t in tokens]


def lookup_strings(inputs, table, oov_indices, layer_name):
    """Indices (an int64 tensor shaped like `inputs`) of the strings in `inputs` from `table`;
    `oov_indices(tokens)` gives those of the strings missing from it."""
    array = string_array(inputs, layer_name)
    flat = array.ravel()
    indices = np.fromiter(map(table.get, flat, itertools.repeat(-1)), np.int64, flat.size)
    missing = indices < 0
    if missing.any():
        indices[missing] = oov_indices(flat[missing])
    return torch.from_numpy(indices.reshape(array.shape))


def string_array(inputs, layer_name):
    """`inputs` (a string, nested lists or an array of str / bytes) as a numpy object array."""
    if isinstance(inputs, torch.Tensor):
        raise ValueError(f"Layer {layer_name!r} expects strings (str or bytes, lists or arrays of "
                         f"them), but received a tensor of dtype {inputs.dtype}.")
    try:
        return np.asarray(inputs, dtype=object)
    except ValueError as error:
        raise ValueError(f"Layer {layer_name!r} expects a rectangular nest of strings, but "
                         f"received a ragged one: {error}") from None


def adapt_batches(data, batch_size=None, steps=None):
    """The batches of `data` for `adapt`: one array or nest of values, or an iterable of batches
    (a `kiln.data.Dataset`; `(x, y)` tuples give `x`)."""
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    if isinstance(data, (str, bytes, list, np.ndarray, torch.Tensor)):
        if not batch_size or isinstance(data, (str, bytes)):
            yield data
            return
        for start in range(0, len(data), batch_size):
            yield data[start:start + batch_size]
        return
    for index, element in enumerate(data):
        if steps is not None and index >= steps:
            return
        yield element[0] if isinstance(element, tuple) else element
