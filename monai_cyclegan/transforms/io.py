"""Loading whose failures name the file: MONAI reports a truncated or corrupt file without saying which one."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from monai.transforms import LoadImaged

__all__ = ["NamedLoadImaged"]


class NamedLoadImaged(LoadImaged):
    """``LoadImaged`` that turns any read failure into ``ValueError("<file>: cannot read it as an image: <cause>")``.

    A truncated ``.nii.gz`` or PNG fails deep inside nibabel or PIL ("image file is truncated", "Compressed file ended
    before the end-of-stream marker was reached") with no path in the message; with a data set of hundreds of files
    the user needs to know which one to replace.
    """

    def __call__(self, data: Mapping[Hashable, Any], reader: Any = None) -> dict[Hashable, Any]:
        """Load every key; see the class docstring for errors."""
        try:
            return super().__call__(data, reader)
        except Exception as e:
            files = [str(data[key]) for key in self.key_iterator(dict(data))]
            raise ValueError(f"{', '.join(files)}: cannot read it as an image: {type(e).__name__}: {e}") from e
