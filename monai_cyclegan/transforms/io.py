"""Reading and writing images safely: loading whose failures name the file, and saving that leaves no partial file.

MONAI reports a truncated or corrupt file without saying which one, and its ``SaveImage`` writes in place, so a crash
(or a full disk) in the middle of a write leaves a truncated output under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.config import KeysCollection, PathLike
from monai.data import MetaTensor, NibabelWriter
from monai.transforms import LoadImaged, SaveImage, SaveImaged
from monai.utils import ImageMetaKey, MetaKeys, PostFix

from monai_cyclegan.files import write_atomically

__all__ = ["AtomicSaveImage", "AtomicSaveImaged", "NamedLoadImaged", "NiftiHeaderWriter"]


class NamedLoadImaged(LoadImaged):
    """``LoadImaged`` that turns any read failure into ``ValueError("<file>: cannot read it as an image: <cause>")``.

    A truncated ``.nii.gz`` or PNG fails deep inside nibabel or PIL ("image file is truncated", "Compressed file ended
    before the end-of-stream marker was reached") with no path in the message; with a data set of hundreds of files
    the user needs to know which one to replace.

    When a ``reader`` is given, only that reader (the last one, if several) reads the files. MONAI's ``LoadImage``
    would otherwise fall back to every other reader it knows, and ITK reads some truncated ``.nii.gz`` files as a
    volume of zeros, which then fails later with a misleading "no foreground".
    """

    def __call__(self, data: Mapping[Hashable, Any], reader: Any = None) -> dict[Hashable, Any]:
        """Load every key; see the class docstring for errors."""
        if reader is None and not self._loader.auto_select:
            reader = self._loader.readers[-1]  # the reader given to the constructor is registered last
        try:
            return super().__call__(data, reader)
        except Exception as e:
            files = [str(data[key]) for key in self.key_iterator(dict(data))]
            raise ValueError(f"{', '.join(files)}: cannot read it as an image: {type(e).__name__}: {e}") from e


def _writable_folder(folder: PathLike) -> None:
    """Create ``folder`` if needed; an ``OSError`` naming it when that fails or it cannot be written to."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"{folder}: cannot create the output folder: {e.strerror or e}.") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{folder}: the output folder is not writable.")


class NiftiHeaderWriter(NibabelWriter):
    """``NibabelWriter`` that keeps the input's units and singleton dimensions and describes the file in its header.

    MONAI's writer builds a fresh header: the spatial and temporal units (``xyzt_units``) become "unknown", which
    viewers may read as other than millimetres. This writer copies them from the input's metadata, where MONAI's
    NIfTI reader puts them, and fills ``descrip`` (80 bytes, shown by ``fslhd`` and the viewers' info panels). Like
    MONAI's, it writes the affine as both sform and qform with code 1 (scanner), as ITK does, so nibabel, 3D Slicer and
    ITK-SNAP place the volume alike.

    Args:
        description: text for the header's ``descrip`` field, cut to 79 bytes.
        kwargs: the arguments of ``monai.data.NibabelWriter``.
    """

    def __init__(self, description: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.description = description.encode()[:79]
        self.xyzt_units: int | None = None

    def set_data_array(
        self, data_array: Any, channel_dim: int | None = 0, squeeze_end_dims: bool = True, **kwargs: Any
    ) -> None:
        """As ``NibabelWriter.set_data_array``, but a volume keeps its singleton spatial dimensions.

        MONAI's writer squeezes every trailing dimension of size 1, so the translation of a one-slice volume
        ``(X, Y, 1)`` would be written as a 2D image ``(X, Y)``, off the input's grid; here only a single channel is
        squeezed, and spatial dimensions only beyond those of ``data_array``.
        """
        super().set_data_array(data_array, channel_dim, squeeze_end_dims=False, **kwargs)
        if squeeze_end_dims:
            spatial = len(data_array.shape) - (0 if channel_dim is None else 1)
            data = self.data_obj
            if data.shape[-1] == 1:  # the channel
                data = data[..., 0]
            while data.ndim > spatial and data.shape[-1] == 1:
                data = data[..., 0]
            self.data_obj = data

    def set_metadata(self, meta_dict: Mapping | None = None, resample: bool = True, **options: Any) -> None:
        """As ``NibabelWriter.set_metadata``, and keep the input's ``xyzt_units``."""
        super().set_metadata(meta_dict, resample, **options)
        units = (meta_dict or {}).get("xyzt_units")
        self.xyzt_units = None if units is None else int(units)

    def write(self, filename: PathLike, verbose: bool = False, **obj_kwargs: Any) -> None:
        """Write ``filename`` as ``NibabelWriter.write`` does, with the units and description in the header."""
        header = nib.Nifti1Header()
        if self.xyzt_units is not None:
            header["xyzt_units"] = self.xyzt_units
        header["descrip"] = self.description
        super().write(filename, verbose, header=header, **obj_kwargs)


class AtomicSaveImage(SaveImage):
    """``SaveImage`` that writes each file under a temporary name in the output folder and renames it when complete.

    The output names are MONAI's (``<input name>_<postfix><ext>``); while a file is being written it is a hidden
    ``.<name>.<random>.tmp<ext>`` beside it (:func:`~monai_cyclegan.files.write_atomically`), removed if the write
    fails. The output folder is created and checked when the transform is built, so an unwritable folder stops a run
    before any image is processed. NIfTI files are written by :class:`NiftiHeaderWriter` unless a ``writer`` is given:
    they keep the input's units and carry ``nifti_description``.

    Args:
        output_dir: the output folder.
        output_ext: the file extension, which picks the writer (lower case is used).
        nifti_description: the ``descrip`` header field of NIfTI outputs.
        kwargs: the other arguments of ``monai.transforms.SaveImage``.

    Raises:
        ValueError: for an empty ``output_ext`` (the temporary name would not select a writer).
        OSError: when the output folder cannot be created or written to (at construction).
    """

    def __init__(
        self, output_dir: PathLike = "./", output_ext: str = ".nii.gz", nifti_description: str = "", **kwargs: Any
    ) -> None:
        if not output_ext:
            raise ValueError("AtomicSaveImage needs an output_ext such as '.nii.gz' or '.png'.")
        nifti = output_ext.lower() in (".nii", ".nii.gz") and kwargs.get("writer") is None
        if nifti:
            kwargs["writer"] = NiftiHeaderWriter
        super().__init__(output_dir=output_dir, output_ext=output_ext.lower(), **kwargs)
        if nifti:
            self.set_options(init_kwargs={"description": nifti_description})
        _writable_folder(output_dir)

    def output_path(self, meta_data: Mapping | None) -> Path:
        """The file an image with this metadata is saved to: MONAI's naming, ``<output_dir>/<name>_<postfix><ext>``."""
        return Path(self.folder_layout.filename(**self.fname_formatter(dict(meta_data or {}), self)))

    def __call__(
        self, img: torch.Tensor | np.ndarray, meta_data: dict | None = None, filename: PathLike | None = None
    ) -> torch.Tensor | np.ndarray:
        """Save ``img`` (channel first) like ``SaveImage``, atomically."""
        meta_data = img.meta if isinstance(img, MetaTensor) else meta_data
        path = Path(f"{filename}{self.output_ext}") if filename is not None else self.output_path(meta_data)
        if not str(path).endswith(self.output_ext):  # only a custom folder_layout can do this
            raise ValueError(f"{path}: the output name does not end with the output extension {self.output_ext!r}.")
        save = super().__call__

        def write(temporary: Path) -> None:
            # the temporary name ends with the output's suffixes, so the same writer is chosen; SaveImage appends the
            # extension to a file name it is given
            save(img, meta_data, str(temporary)[: len(str(temporary)) - len(self.output_ext)])

        write_atomically(path, write)
        if self.savepath_in_metadict and meta_data is not None:
            meta_data[MetaKeys.SAVED_TO] = str(path)
        return img


class AtomicSaveImaged(SaveImaged):
    """Dictionary version of :class:`AtomicSaveImage`: ``SaveImaged`` whose files appear only once complete.

    Args:
        keys: keys of the images to save.
        output_dir: the output folder.
        meta_keys: as in ``SaveImaged``.
        meta_key_postfix: as in ``SaveImaged``.
        allow_missing_keys: as in ``SaveImaged``.
        nifti_description: the ``descrip`` header field of NIfTI outputs (:class:`NiftiHeaderWriter`).
        saver_args: the other arguments of ``monai.transforms.SaveImaged`` (``output_postfix``, ``output_ext``, ...).

    Raises:
        OSError: when the output folder cannot be created or written to (at construction).
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_dir: PathLike = "./",
        meta_keys: KeysCollection | None = None,
        meta_key_postfix: str = PostFix.meta(),
        allow_missing_keys: bool = False,
        nifti_description: str = "",
        **saver_args: Any,
    ) -> None:
        super().__init__(
            keys,
            meta_keys=meta_keys,
            meta_key_postfix=meta_key_postfix,
            output_dir=output_dir,
            allow_missing_keys=allow_missing_keys,
            **saver_args,
        )
        self.saver = AtomicSaveImage(output_dir=output_dir, nifti_description=nifti_description, **saver_args)

    def output_path(self, source: PathLike) -> Path:
        """The file the translation of the input file ``source`` is saved to (see :meth:`AtomicSaveImage.output_path`).

        Lets a run find the outputs of an earlier one before loading anything, e.g. to skip finished inputs.
        """
        return self.saver.output_path({ImageMetaKey.FILENAME_OR_OBJ: str(source)})
