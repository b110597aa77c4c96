"""Downloads a dataset file into the cache once, checks its SHA-256, and reuses it afterwards.

`fetch` is what every loader calls: it returns the path of a file inside the dataset cache
(`KILN_DATASETS`, default ``~/.kiln/datasets``), downloading it from its canonical address with
the standard library's `urllib` when it is missing. A file is written through
`kiln.saving.atomic.atomic_write`, so an interrupted download never leaves a half file under the
final name, and it is kept only if its SHA-256 matches the one the loader expects. A cached file
whose checksum does not match (truncated, or another version) is downloaded again. Offline, the
error names the file, the address it comes from and the exact path to put it at.

Some of the book's datasets come as a ``.tgz`` archive holding one CSV (``housing.tgz``,
``ridership.tgz``): `fetch` then extracts that one member, by name only (no path in the archive is
ever used to write), and the checksum is that of the extracted file.
"""

import hashlib
import shutil
import string
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from kiln.datasets.cache import cache_dir
from kiln.saving.atomic import atomic_write, check_writable

__all__ = ["DatasetUnavailableError", "fetch", "file_sha256"]


class DatasetUnavailableError(FileNotFoundError):
    """Raised when a dataset file is not in the cache and cannot be downloaded.

    The message names the file, the address it is downloaded from and the path to put it at,
    so that the file can be copied there by hand on a machine without network access.

    Example:

    >>> try:
    ...     kiln.datasets.mnist.load_data()
    ... except kiln.datasets.download.DatasetUnavailableError as error:
    ...     print(error)
    """


def fetch(relative_path, url, sha256, archive_member=None, timeout=60, cache=None):
    """Returns the path of a verified dataset file in the cache, downloading it if needed.

    Args:
        relative_path: where the file lives inside the cache folder, e.g.
            ``"fashion-mnist/train-images-idx3-ubyte.gz"``.
        url: the canonical address of the file (or of the ``.tgz`` archive that holds it).
        sha256: the expected SHA-256 of the file, as 64 hexadecimal digits.
        archive_member: if given, `url` is a gzip-compressed tar archive and this is the name of
            the member to extract into `relative_path`.
        timeout: seconds to wait for the server before giving up.
        cache: the folder to keep the file in; None is the dataset cache. The pretrained
            weights of `kiln.applications` use their own folder.

    Returns:
        The `pathlib.Path` of the cached file, whose content has the expected checksum.

    Raises:
        DatasetUnavailableError: if the file is not cached (or is corrupt) and cannot be
            downloaded; the message says which file to put where.
        ValueError: if the downloaded file does not have the expected checksum.

    Example:

    >>> path = fetch("mnist/t10k-labels-idx1-ubyte.gz",
    ...              "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
    ...              "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")
    """
    if not isinstance(sha256, str) or len(sha256) != 64 or sha256.strip(string.hexdigits):
        raise ValueError(
            f"Invalid sha256: expected 64 hexadecimal digits, but received {sha256!r}."
        )
    path = (cache_dir() if cache is None else Path(cache)) / relative_path
    cached_digest = file_sha256(path) if path.is_file() else None
    if cached_digest == sha256.lower():
        return path
    problem = (
        "is not in the cache" if cached_digest is None
        else f"in the cache has SHA-256 {cached_digest}, not the expected {sha256}"
    )
    source = f"member {archive_member!r} of {url}" if archive_member else url
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_writable(path, argument="dataset file")
    except (OSError, ValueError) as error:
        raise _unavailable(path, problem, source, relative_path, error, cache) from None
    try:
        with atomic_write(path) as target:
            digest = _download(url, target, archive_member, timeout)
            if digest != sha256.lower():
                raise ValueError(
                    f"The file downloaded from {url} for {relative_path} has SHA-256 {digest}, "
                    f"but {sha256} was expected: it was not saved."
                )
    except (OSError, urllib.error.URLError, tarfile.TarError, KeyError) as error:
        raise _unavailable(path, problem, source, relative_path, error, cache) from None
    return path


def file_sha256(path, chunk_size=1 << 20):
    """Returns the SHA-256 of a file as a lowercase hexadecimal string."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unavailable(path, problem, source, relative_path, error, cache):
    where = ("" if cache is not None
             else f" (or set KILN_DATASETS to a folder that holds {relative_path})")
    return DatasetUnavailableError(
        f"File {path} {problem}, and it could not be downloaded"
        f" ({error}). Download {source} and put it at {path}{where}."
    )


class _HashingWriter:
    """Writes to a file while computing the SHA-256 of what was written."""

    def __init__(self, target):
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data):
        self.digest.update(data)
        return self.target.write(data)


def _download(url, target, archive_member, timeout):
    """Writes the file at `url` (or its archive member) into `target`; returns its SHA-256."""
    writer = _HashingWriter(target)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        if archive_member is None:
            shutil.copyfileobj(response, writer)
            return writer.digest.hexdigest()
        with tempfile.TemporaryFile() as archive_file:
            shutil.copyfileobj(response, archive_file)
            archive_file.seek(0)
            with tarfile.open(fileobj=archive_file, mode="r:gz") as archive:
                member = archive.getmember(archive_member)
                source = archive.extractfile(member) if member.isfile() else None
                if source is None:
                    raise KeyError(f"{archive_member!r} is not a regular file in the archive")
                shutil.copyfileobj(source, writer)
    return writer.digest.hexdigest()

