"""The SQLite data directory: private file modes, and one serving process at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from billbridge.errors import ConfigurationError

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file; they hold the same data as the file itself.
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def create_private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by its owner only; an existing one is kept."""
    if not path.exists():
        path.mkdir(parents=True, mode=DIRECTORY_MODE, exist_ok=True)
        os.chmod(path, DIRECTORY_MODE)  # mkdir's mode is filtered by the umask


def create_private_file(path: Path) -> None:
    """Create an empty ``path`` with mode 0600 unless it exists.

    SQLite gives its WAL and shared-memory files the mode of the database file, so a database
    created this way keeps every companion private too.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def wide_permissions(directory: Path, database: Path | None, key_file: Path | None) -> list[str]:
    """One warning per existing path that others may read: the directory, database files, key file."""
    checks: list[tuple[Path, int]] = [(directory, DIRECTORY_MODE)]
    if database is not None:
        checks += [(database.with_name(database.name + suffix), FILE_MODE) for suffix in _COMPANIONS]
    if key_file is not None:
        checks.append((key_file, FILE_MODE))
    warnings = []
    for path, wanted in checks:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"{path} is accessible by other users (mode {mode:04o}); restrict it with "
                f"chmod {wanted:o} {path}"
            )
    return warnings


class ServeLock:
    """An exclusive lock on ``<database>.lock``: one ``serve`` per SQLite database.

    ``flock`` locks belong to the open file, so the kernel releases them when the process ends,
    however it ends (``kill -9`` included); a stale lock file is harmless.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ConfigurationError: another process holds it (the message names its pid and the way out).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"Another billbridge serve (pid {holder}) is already using the SQLite database "
                f"{self.path.with_suffix('')}. SQLite serves one process: stop the other one, or "
                "run several processes on PostgreSQL (BILLBRIDGE_DATABASE_URL=postgresql://...)."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays; it is reused next time)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ServeLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
