"""Use the bundle's T1 -> T2 generator inside your own MONAI pipeline.

The network comes from the bundle with MONAI's bundle API (``ConfigParser``: the same ``network_def`` the bundle
trains and exports); the rest is an ordinary MONAI chain of dictionary transforms and an inferer: the package's
``ForegroundSliceInferer``, which runs the 2D generator on the axial slices that hold the head, as the bundle does
(MONAI's ``SliceInferer`` gives the same result on those slices and translates the air slices too). The
generator expects what it was trained on: RAS orientation, the model spacing (``fov_mm / image_size`` mm in-plane),
intensities scaled to [-1, 1] by the head's upper percentile (``RobustScaleIntensityd``). ``Invertd`` takes the
synthetic T2 back onto the input's grid.

    python examples/translate_in_a_monai_pipeline.py --weights models/model.pt --volume scan-T1.nii.gz --out out/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.transforms import (
    Compose,
    EnsureChannelFirstd,
    Invertd,
    LoadImaged,
    Orientationd,
    SaveImaged,
    ScaleIntensityRanged,
    Spacingd,
)

from monai_cyclegan.bundle import bundle_dir
from monai_cyclegan.inferers import ForegroundSliceInferer
from monai_cyclegan.transforms import RobustScaleIntensityd, model_spacing


def load_bundle_generator(weights: str | Path, bundle: str | Path, **settings) -> torch.nn.Module:
    """The bundle's generator (``network_def`` of inference.json, with ``settings`` such as ``ngf``) and weights."""
    parser = ConfigParser()
    parser.read_config(str(Path(bundle) / "configs" / "inference.json"))
    parser.read_meta(str(Path(bundle) / "configs" / "metadata.json"))
    parser.update(settings)
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return network.eval()


def translate(
    weights: str | Path,
    volume: str | Path,
    out_dir: str | Path,
    bundle: str | Path | None = None,
    image_size: int = 256,
    **settings,
) -> None:
    """Translate one T1 NIfTI volume into ``out_dir/<name>_synT2.nii.gz`` on the input's grid."""
    network = load_bundle_generator(weights, bundle or bundle_dir(), image_size=image_size, **settings)
    preprocessing = Compose(
        [
            LoadImaged("image"),
            EnsureChannelFirstd("image"),
            Orientationd("image", axcodes="RAS"),
            Spacingd("image", pixdim=model_spacing(image_size)),
            RobustScaleIntensityd("image"),
        ]
    )
    data = preprocessing({"image": str(volume)})
    # the axial slices that hold the head through the 2D generator, padded with air (-1) to the model size
    inferer = ForegroundSliceInferer(roi_size=(image_size, image_size), sw_batch_size=8)
    with torch.no_grad():
        data["pred"] = inferer(data["image"][None], network)[0]
    postprocessing = Compose(
        [
            Invertd("pred", transform=preprocessing, orig_keys="image", nearest_interp=False),
            ScaleIntensityRanged("pred", a_min=-1.0, a_max=1.0, b_min=0.0, b_max=1.0, clip=True),
            SaveImaged("pred", output_dir=str(out_dir), output_postfix="synT2", resample=False, separate_folder=False),
        ]
    )
    postprocessing(data)


def main() -> None:
    """Command line of the example."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="the bundle's models/model.pt")
    parser.add_argument("--volume", required=True, help="a T1 NIfTI volume")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--image_size", type=int, default=256)
    args = parser.parse_args()
    translate(args.weights, args.volume, args.out, image_size=args.image_size)


if __name__ == "__main__":
    main()
