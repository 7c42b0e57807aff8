"""A storage that loses data: a real local fsspec filesystem whose written files lose their last byte, registered
as `lossy://`, so the archive's read-back has a real difference to find (a disk or a proxy that truncates)."""

from __future__ import annotations

from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem


class _LossyFile(LocalFileOpener):
    def _lose_a_byte(self) -> None:
        if "w" in self.mode and not self.f.closed:
            self.f.flush()
            self.f.truncate(max(0, self.f.tell() - 1))

    def close(self) -> None:
        self._lose_a_byte()
        super().close()

    def __exit__(self, *exc) -> None:
        self._lose_a_byte()
        super().__exit__(*exc)


class LossyFileSystem(LocalFileSystem):
    protocol = "lossy"

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).removeprefix("lossy://local"))

    def _open(self, path, mode="rb", block_size=None, **kwargs):
        path = self._strip_protocol(path)
        if "w" in mode:
            self.makedirs(self._parent(path), exist_ok=True)
            return _LossyFile(path, mode, fs=self, **kwargs)
        return super()._open(path, mode, block_size=block_size, **kwargs)


def lossy_storage(base: Path):
    """A RemoteFileSystem block on `lossy://local/base` (a block's base path needs a location after the scheme)."""
    from prefect.filesystems import RemoteFileSystem

    fsspec.register_implementation("lossy", LossyFileSystem, clobber=True)
    return RemoteFileSystem(basepath=f"lossy://local{base}")
