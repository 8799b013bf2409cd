"""`convert`: read demonstrations in one format and write them in another.

It sits above `jaxil.data.storage` (it calls `load_with_metadata` and `save`), unlike the
format modules below it.
"""

from __future__ import annotations

import os

from jaxil.data.demos import Demos
from jaxil.data.formats import WRITABLE, check_format
from jaxil.data.storage import load_with_metadata, save
from jaxil.types import EnvSpec


def convert(src: str | os.PathLike, dst: str | os.PathLike, spec: EnvSpec | None = None,
            src_format: str = "auto", dst_format: str = "jaxil", *,
            max_episode_steps: int | None = None) -> Demos:
    """Reads the demos at `src` and writes them to `dst` (atomically); returns them.

    The whole source is read and validated before anything is written. A jaxil
    destination records in its metadata where the demos came from
    (`"converted_from": {"path", "format"}`) next to the source's own metadata.

    Args:
        src: file or directory to read (`jaxil.data.load`).
        dst: where to write (`jaxil.data.save`); a folder for `"imitation-hf"` and
            `"minari"`.
        spec: the env's spec: checked, used for the time-limit rule of formats that merge
            terminations and time-outs, and recorded where the destination can.
        src_format: `"auto"` (detect) or a format name (`jaxil.data.formats.READABLE`).
        dst_format: a format name (`jaxil.data.formats.WRITABLE`).
        max_episode_steps: overrides the spec's time limit when reading.

    Raises:
        ValueError: the source cannot be read as demos, or the destination format cannot
            hold them; the messages name the path and the field.
        ImportError: a format needs h5py or pyarrow (`pip install 'jaxil[io]'`).
    """
    check_format(dst_format, WRITABLE, "writing")
    demos, header = load_with_metadata(src, spec, format=src_format,
                                       max_episode_steps=max_episode_steps)
    metadata = header.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata["converted_from"] = {"path": os.fspath(src), "format": header.get("format")}
    save(dst, demos, metadata=metadata, spec=spec, format=dst_format)
    return demos
