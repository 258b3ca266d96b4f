"""Objects as files below one directory, for the embedded single-server default."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class DirectoryStore:
    def __init__(self, root: Path):
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)

    def ping(self) -> None:
        """Readiness: the directory exists and a file can be written and removed there."""
        fd, name = tempfile.mkstemp(prefix=".ready-", dir=self._root)
        os.close(fd)
        os.unlink(name)
