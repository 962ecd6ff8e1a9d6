"""Files and folders only the service's own user may read: the SQLite database, the instance folder
(secret key, embedded Redis, database) and the outbox (every `.eml` holds a candidate's address).

Created 0700 (folders) and 0600 (files) from the first instant, not chmod-ed afterwards, so no other
user on the machine can open them even for a moment. A folder that already exists is left as the
operator made it (it may be one they chose and share); the SQLite file is tightened to 0600 at every
start, since one written by an older version was created world-readable.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_file", "private_folder"]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """`path` as a folder, created 0700 if it does not exist yet (missing parents too)."""
    if not path.is_dir():
        if not path.parent.is_dir():
            private_folder(path.parent)
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            pass  # made by another process meanwhile
        else:
            os.chmod(path, FOLDER_MODE)  # mkdir's mode is filtered by the umask; this is exact
    return path


def private_file(path: Path) -> Path:
    """`path` as an existing file readable and writable by its owner only (created empty if missing)."""
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
