"""Files on a local disk (MMEngine's ``mmengine.fileio.backends.local_backend``)."""

from __future__ import annotations

import os
import os.path as osp
import shutil
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

from torchrig.fileio.backends.base import BaseStorageBackend
from torchrig.utils.path import mkdir_or_exist

__all__ = ["LocalBackend"]


class LocalBackend(BaseStorageBackend):
    """Reads and writes files on the local file system."""

    _allow_symlink = True

    def get(self, filepath: str | Path) -> bytes:
        """The file's bytes."""
        with open(filepath, "rb") as f:
            return f.read()

    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """The file's text, decoded with ``encoding``."""
        with open(filepath, encoding=encoding) as f:
            return f.read()

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Writes bytes to a file, creating its directory if needed."""
        mkdir_or_exist(osp.dirname(filepath))
        with open(filepath, "wb") as f:
            f.write(obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = "utf-8") -> None:
        """Writes text to a file, creating its directory if needed."""
        mkdir_or_exist(osp.dirname(filepath))
        with open(filepath, "w", encoding=encoding) as f:
            f.write(obj)

    def exists(self, filepath: str | Path) -> bool:
        """Whether a file or directory exists there."""
        return osp.exists(filepath)

    def isdir(self, filepath: str | Path) -> bool:
        """Whether it is a directory."""
        return osp.isdir(filepath)

    def isfile(self, filepath: str | Path) -> bool:
        """Whether it is a file."""
        return osp.isfile(filepath)

    def join_path(self, filepath: str | Path, *filepaths: str | Path) -> str:
        """Joins path parts with the system's separator."""
        return osp.join(filepath, *filepaths)

    @contextmanager
    def get_local_path(self, filepath: str | Path) -> Generator[str | Path, None, None]:
        """The path itself (it is local already), as a context manager."""
        yield filepath

    def copyfile(self, src: str | Path, dst: str | Path) -> str:
        """Copies a file to a file or into a directory; returns where it went."""
        return str(shutil.copy(src, dst))

    def copytree(self, src: str | Path, dst: str | Path) -> str:
        """Copies a directory tree to ``dst``, which must not exist; returns ``dst``."""
        return str(shutil.copytree(src, dst))

    def copyfile_from_local(self, src: str | Path, dst: str | Path) -> str:
        """Same as :meth:`copyfile` (both ends are local)."""
        return self.copyfile(src, dst)

    def copytree_from_local(self, src: str | Path, dst: str | Path) -> str:
        """Same as :meth:`copytree` (both ends are local)."""
        return self.copytree(src, dst)

    def copyfile_to_local(self, src: str | Path, dst: str | Path) -> str:
        """Same as :meth:`copyfile` (both ends are local)."""
        return self.copyfile(src, dst)

    def copytree_to_local(self, src: str | Path, dst: str | Path) -> str:
        """Same as :meth:`copytree` (both ends are local)."""
        return self.copytree(src, dst)

    def remove(self, filepath: str | Path) -> None:
        """Removes a file.

        Raises:
            FileNotFoundError: When there is nothing there.
            IsADirectoryError: When it is a directory (use :meth:`rmtree`).
        """
        if not self.exists(filepath):
            raise FileNotFoundError(f"{filepath} does not exist")
        if self.isdir(filepath):
            raise IsADirectoryError(f"{filepath} is a directory; use rmtree to remove it")
        os.remove(filepath)

    def rmtree(self, dir_path: str | Path) -> None:
        """Removes a directory and everything in it."""
        shutil.rmtree(dir_path)

    def copy_if_symlink_fails(self, src: str | Path, dst: str | Path) -> bool:
        """Links ``dst`` to ``src``; copies instead where links cannot be made.

        Returns:
            True when a link was made, False when it copied.
        """
        try:
            os.symlink(src, dst)
            return True
        except Exception:
            if self.isfile(src):
                self.copyfile(src, dst)
            else:
                self.copytree(src, dst)
            return False

    def list_dir_or_file(
        self,
        dir_path: str | Path,
        list_dir: bool = True,
        list_file: bool = True,
        suffix: str | tuple[str, ...] | None = None,
        recursive: bool = False,
    ) -> Iterator[str]:
        """Yields the directories and/or files under ``dir_path``, relative to it.

        Args:
            dir_path: The directory.
            list_dir: Yield directories.
            list_file: Yield files.
            suffix: Only files ending with it (or one of them); needs ``list_dir=False``.
            recursive: Also look in subdirectories.
        """
        if list_dir and suffix is not None:
            raise TypeError("`suffix` should be None when `list_dir` is True")
        if suffix is not None and not isinstance(suffix, (str, tuple)):
            raise TypeError("`suffix` must be a string or tuple of strings")
        root = str(dir_path)

        def _list(path: str) -> Iterator[str]:
            for entry in os.scandir(path):
                rel_path = osp.relpath(entry.path, root)
                if not entry.name.startswith(".") and entry.is_file():
                    if list_file and (suffix is None or rel_path.endswith(suffix)):
                        yield rel_path
                elif osp.isdir(entry.path):
                    if list_dir:
                        yield rel_path
                    if recursive:
                        yield from _list(entry.path)

        return _list(root)
