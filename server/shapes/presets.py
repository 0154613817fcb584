"""The named Simple Shapes experiments of the CLI (``--dataset shapes32 | shapes64``).

``shapes64`` is the paper's setting (64×64, the default U-Net and the calibration's recipe: a GPU job).
``shapes32`` is the reduced CPU variant the lab bundles (models/shapes32.json): 32×32 images, channels 8/16/32
(160k parameters, 0.3 MB in fp16), batch 32 at lr 5e-4 for 7,000 steps: 0.12 s a step on one idle core, 29 minutes
on the shared 2-core machine that trained the bundled file (bench/train_shapes_cpu.py). At 1,200 steps (the first
bundled model) 61% of its samples were malformed; at 7,000, 11% of 256 (the lr is constant, so the state at step k
is a k-step run: checkpoints at 2,000 / 5,000 / 7,000 steps gave 56% / 34% / 11% malformed). The feasibility run's
16/32/64 U-Net was 4× the cost per step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.diffusion.config import SamplerKind

from .config import ShapesConfig

SHAPES64 = ShapesConfig()
SHAPES32 = ShapesConfig.model_validate({
    "data": {"resolution": 32},
    "unet": {"channels": [8, 16, 32]},
    "train": {"steps": 7000, "batch": 32, "lr": 5e-4, "warmup": 50, "ema": 0.995},
})
SHAPES_PRESETS = {"shapes32": SHAPES32, "shapes64": SHAPES64}
SHAPES_DESCRIPTIONS = {
    "shapes32": "Simple Shapes at 32×32 (the bundled CPU model's reduced images)",
    "shapes64": "Simple Shapes at 64×64 (the paper's images; a GPU job)",
}


@dataclass(frozen=True)
class ImageSampling:
    """The default image sample request: the shapes page's first grid, the server's warm-up, the tests. ``steps``
    is also what an image request without ``steps`` gets."""

    n: int = 16
    # Its 16 images hold one duplicate among 14 valid ones with the bundled shapes32 model (bench/pick_shapes_seed.py
    # over seeds 0–11: 5 of 12 grids hold a duplicate, seed 5 is the one with one duplicate, no empty and the fewest
    # malformed images). Another model keeps the seed and may show no duplicate: the page says what it sees.
    seed: int = 5
    sampler: SamplerKind = "ddpm"
    eta: float = 0.0
    steps: int = 100
    window: int = 10
    frames: int = 60

    def query(self) -> dict[str, Any]:
        """As the sample stream's query parameters."""
        return asdict(self)


SHAPES_SAMPLING = ImageSampling()
