"""Where the dataset cache lives."""

import os
from pathlib import Path


def cache_dir():
    """The dataset cache folder: `$KILN_DATASETS`, or ``~/.kiln/datasets``."""
    return Path(os.environ.get("KILN_DATASETS", "~/.kiln/datasets")).expanduser()
