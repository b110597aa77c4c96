"""The TextVectorization layer: text to token indices, multi-hot, count or TF-IDF vectors.

Standardization and splitting run in Python per document (str methods); the vocabulary lookup
is StringLookup's, and the padding or encoding is vectorized over the whole batch.
"""

import collections
import numbers
import string

import numpy as np
import torch

from kiln.engine.layer import Layer
from kiln.layers.preprocessing.category_encoding import check_output_mode
from kiln.layers.preprocessing.lookup import (StringLookup, adapt_batches, lookup_strings,
                                              string_array, vocabulary_from_counts)

_MODES = ("int", "multi_hot", "count", "tf_idf")
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_MASK, _OOV = "", "[UNK]"


class TextVectorization(Layer):
    """Turns strings (documents) into token indices or bag-of-words vectors.

    Each document is standardized, split into tokens (and n-grams), and looked up in a
    vocabulary learned with `adapt` (most frequent first) or given. In ``"int"`` mode index 0
    is padding (the empty token) and 1 the out-of-vocabulary token ``"[UNK]"``, and the output is
    `(batch, length)` int64, padded with 0 to the longest document of the batch or cut/padded to
    `output_sequence_length`. The other modes give `(batch, vocabulary_size)` float vectors, index
    0 being ``"[UNK]"``; TF-IDF weights are `log(1 + documents / (1 + document_count))`, the OOV
    weight the mean of the others (as Keras).

    Inputs are a string, or a list / array of shape `(batch,)` or `(batch, 1)` of str or bytes
    (a `kiln.data` batch of lines). It runs on the CPU, as a model's first layer or in
    `dataset.map`; the vocabulary is in the config, saved with the model.

    Args:
        max_tokens: the largest vocabulary size (padding and OOV included), or None.
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"``,
            ``"strip_punctuation"``, None, or a callable `str -> str`.
        split: ``"whitespace"`` (default), ``"character"``, None (the whole document is one
            token), or a callable `str -> list of str`.
        ngrams: None, an int n (all 1- to n-grams) or a tuple of n-gram sizes; n-gram tokens are
            joined by a space.
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        output_sequence_length: in ``"int"`` mode, the fixed output length.
        pad_to_max_tokens: in the vector modes, output `max_tokens` columns.
        vocabulary: a list of tokens (or a text file of one token per line).
        idf_weights: with ``"tf_idf"`` and a `vocabulary`, one weight per token.
        sparse: in the vector modes, return a sparse COO tensor.

    Example:

    >>> train_data = ["To be", "!(to be)", "That's the question", "Be, be, be."]
    >>> text_vec_layer = kiln.layers.TextVectorization()
    >>> text_vec_layer.adapt(train_data)
    >>> text_vec_layer(["Be good!", "Question: be or be?"])
    tensor([[2, 1, 0, 0],
            [6, 2, 1, 2]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        if not (standardize is None or standardize in _STANDARDIZE or callable(standardize)):
            raise ValueError(f"Argument `standardize` of TextVectorization must be one of "
                             f"{list(_STANDARDIZE)}, None or a callable, but received: "
                             f"{standardize!r}.")
        if not (split is None or split in _SPLIT or callable(split)):
            raise ValueError(f"Argument `split` of TextVectorization must be one of {list(_SPLIT)},"
                             f" None or a callable, but received: {split!r}.")
        self.standardize, self.split = standardize, split
        self.ngrams = _check_ngrams(ngrams)
        self.output_mode = check_output_mode(output_mode, _MODES, "TextVectorization")
        if output_sequence_length is not None and (
                self.output_mode != "int" or isinstance(output_sequence_length, bool)
                or not isinstance(output_sequence_length, numbers.Integral)
                or output_sequence_length < 1):
            raise ValueError(f"Argument `output_sequence_length` of TextVectorization must be a "
                             f"positive int, used with output_mode='int', but received: "
                             f"{output_sequence_length!r} (output_mode={output_mode!r}).")
        self.output_sequence_length = output_sequence_length
        self._lookup = StringLookup(
            max_tokens=max_tokens, mask_token=_MASK if self.output_mode == "int" else None,
            oov_token=_OOV, vocabulary=vocabulary, idf_weights=idf_weights,
            output_mode=self.output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
            name=f"{self.name}_lookup")

    def get_vocabulary(self, include_special_tokens=True):
        """Returns the vocabulary in index order (padding and OOV tokens first)."""
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """The number of indices, padding and OOV included."""
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (and, in ``"tf_idf"`` mode, its idf weights)."""
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary (and idf weights) from documents.

        Args:
            data: a string, a list or array of documents, or an iterable of batches of them
                (a `kiln.data.Dataset` of lines; `(x, y)` batches use `x`).
            batch_size: documents per chunk when `data` is a list or array.
            steps: the number of batches to read from an iterable (default: all).
        """
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        for batch in adapt_batches(data, batch_size, steps):
            for tokens in self._tokenize(self._documents(batch)[0]):
                counts.update(tokens)
                if self.output_mode == "tf_idf":
                    document_counts.update(set(tokens))
                    documents += 1
        counts.pop(_MASK, None)
        counts.pop(_OOV, None)
        lookup = self._lookup
        max_size = lookup.max_tokens and lookup.max_tokens - len(lookup._special)
        lookup.set_vocabulary(*vocabulary_from_counts(
            counts, max_size, document_counts if self.output_mode == "tf_idf" else None,
            documents))

    def call(self, inputs):
        documents, scalar = self._documents(inputs)
        token_lists = self._tokenize(documents)
        lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        flat = [token for tokens in token_lists for token in tokens]
        indices = lookup_strings(flat or [_OOV], self._lookup._table, self._lookup._oov_indices,
                                 self.name)[:len(flat)]
        rows = np.repeat(np.arange(len(token_lists)), lengths)
        if self.output_mode == "int":
            outputs = self._pad(indices, rows, lengths)
        else:
            outputs = self._encode(indices, torch.from_numpy(rows), len(token_lists))
        return outputs[0] if scalar else outputs

    def compute_output_shape(self, input_shape):
        batch = tuple(input_shape)[:1]
        if self.output_mode == "int":
            return batch + (self.output_sequence_length,)
        return batch + (self._lookup._depth(),)

    def get_config(self):
        if callable(self.standardize) or callable(self.split):
            raise NotImplementedError(
                f"TextVectorization {self.name!r} uses a Python callable for `standardize` or "
                "`split`, which kiln does not serialize: pass it again when rebuilding the layer.")
        lookup = self._lookup
        return {**super().get_config(), "max_tokens": lookup.max_tokens,
                "standardize": self.standardize, "split": self.split,
                "ngrams": list(self.ngrams) if self.ngrams else None,
                "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": lookup.pad_to_max_tokens,
                "vocabulary": lookup.get_config()["vocabulary"], "idf_weights": lookup._idf,
                "sparse": lookup.sparse}

    # ------------------------------------------------------------------ helpers

    def _documents(self, inputs):
        """The documents of `inputs` as a list of str, and whether the input was one string."""
        array = string_array(inputs, self.name)
        scalar = array.ndim == 0
        if array.ndim == 2 and array.shape[1] == 1 or scalar:
            array = array.reshape(-1)
        if array.ndim != 1:
            raise ValueError(f"Layer {self.name!r} (TextVectorization) expects documents of "
                             f"shape (batch,) or (batch, 1), but received shape {array.shape}.")
        return [d.decode("utf-8") if isinstance(d, bytes) else str(d) for d in array], scalar

    def _tokenize(self, documents):
        """The token lists (n-grams included) of the documents."""
        standardize, split = self.standardize, self.split
        if standardize in ("lower_and_strip_punctuation", "lower"):
            documents = [d.lower() for d in documents]
        if standardize in ("lower_and_strip_punctuation", "strip_punctuation"):
            documents = [d.translate(_PUNCTUATION) for d in documents]
        elif callable(standardize):
            documents = [standardize(d) for d in documents]
        if split == "whitespace":
            token_lists = [d.split() for d in documents]
        elif split == "character":
            token_lists = [list(d) for d in documents]
        elif split is None:
            token_lists = [[d] for d in documents]
        else:
            token_lists = [list(split(d)) for d in documents]
        if self.ngrams:
            token_lists = [_with_ngrams(tokens, self.ngrams) for tokens in token_lists]
        return token_lists

    def _pad(self, indices, rows, lengths):
        """Int mode: the token indices in rows padded with 0 (or cut) to the output length."""
        length = self.output_sequence_length or int(lengths.max(initial=0))
        starts = np.cumsum(lengths) - lengths
        positions = np.arange(len(rows)) - np.repeat(starts, lengths)
        keep = torch.from_numpy(positions < length)
        padded = torch.zeros(len(lengths), length, dtype=torch.int64)
        padded[torch.from_numpy(rows)[keep], torch.from_numpy(positions)[keep]] = indices[keep]
        return padded

    def _encode(self, indices, rows, batch):
        """Vector modes: multi-hot, count or TF-IDF rows of the documents."""
        lookup = self._lookup
        encoded = torch.zeros(batch, lookup._depth(), dtype=self._dtype)
        if self.output_mode == "multi_hot":
            encoded[rows, indices] = 1.0
        else:
            encoded.index_put_((rows, indices), torch.ones(len(indices), dtype=self._dtype),
                               accumulate=True)
            if self.output_mode == "tf_idf":
                encoded = encoded * lookup._idf_tensor
        return encoded.to_sparse() if lookup.sparse else encoded


def _check_ngrams(ngrams):
    if ngrams is None:
        return None
    if isinstance(ngrams, numbers.Integral) and not isinstance(ngrams, bool) and ngrams >= 1:
        return tuple(range(1, int(ngrams) + 1))
    if isinstance(ngrams, (list, tuple)) and ngrams and all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in ngrams):
        return tuple(int(n) for n in ngrams)
    raise ValueError(f"Argument `ngrams` of TextVectorization must be None, a positive int or a "
                     f"tuple of positive ints, but received: {ngrams!r}.")


def _with_ngrams(tokens, sizes):
    """The n-grams of `tokens` for each size, joined by spaces, sizes in order."""
    return [" ".join(tokens[i:i + n]) for n in sizes for i in range(len(tokens) - n + 1)]
