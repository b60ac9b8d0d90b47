"""Output files of the command line: checked before any work starts, written atomically.

Every output path is checked (suffix, folder, not a directory) before the first computation,
so a mistake costs nothing. Files are then written to a temporary file in the destination's
own folder and renamed over the destination only when every output of the command has been
written: an interrupted or failed run never leaves a partial file, and never replaces one
output without the others.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from gmmjax._src.app.io import InputError

__all__ = ["check_output_path", "write_atomically"]


def check_output_path(path: str | Path, option: str, suffixes: Sequence[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there.

    Args:
        path: the destination given on the command line.
        option: the option that named it (``"--out"``), for the message.
        suffixes: the accepted file suffixes, lower case with the dot.

    Raises:
        InputError: wrong suffix, an existing directory, a missing or read-only folder.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{option} {path}: must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise InputError(f"{option} {path}: is a directory")
    folder = path.parent
    if not folder.exists():
        raise InputError(f"{option} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {folder} is not writable")
    return path


def _new_file_mode(destination: Path) -> int:
    """The permissions the written file gets: those of the file it replaces, else the umask's."""
    if destination.exists():
        return destination.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(
    outputs: Sequence[tuple[Path, Callable[[Path], None]]],
    before_replacing: Callable[[], None] | None = None,
) -> None:
    """Write every ``(destination, writer)`` pair, all or nothing.

    Each ``writer`` is called with a temporary path in the destination's folder, with the
    destination's suffix (so writers that choose a format by suffix work). After every writer
    has finished, the temporary files are flushed to disk and renamed over their destinations
    (``os.replace``, atomic on POSIX and Windows). If a writer raises, or the run is
    interrupted, the temporary files are removed and no destination is touched.
    ``before_replacing`` is called after the writes and before the first rename: if it
    raises (e.g. because Ctrl-C was pressed meanwhile), nothing is replaced either.
    """
    written: list[tuple[Path, Path]] = []
    try:
        for destination, writer in outputs:
            handle, name = tempfile.mkstemp(
                dir=destination.parent, prefix=f".{destination.name}.", suffix=destination.suffix
            )
            os.close(handle)
            temporary = Path(name)
            written.append((temporary, destination))
            writer(temporary)
            with open(temporary, "rb+") as stream:
                os.fsync(stream.fileno())
            os.chmod(temporary, _new_file_mode(destination))
        if before_replacing is not None:
            before_replacing()
        for temporary, destination in written:
            os.replace(temporary, destination)
    finally:
        for temporary, _ in written:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
