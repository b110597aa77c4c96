"""Where the dataset cache lives, and a clear error when a file is not in it."""

import os
from pathlib import Path


def cache_dir():
    """The dataset cache folder: `$KILN_DATASETS`, or ``~/.kiln/datasets``."""
    return Path(os.environ.get("KILN_DATASETS", "~/.kiln/datasets")).expanduser()


def cached_file(*parts):
    """Returns the path of a file inside the cache, or raises FileNotFoundError naming it."""
    path = cache_dir().joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"Dataset file {path} is not in the dataset cache {cache_dir()}. Set KILN_DATASETS "
            "to the folder that holds it (e.g. ../shared/datasets)."
        )
    return path
