"""Classroom lessons: short ordered sequences of page states with a few sentences each (``?lesson=ID``).

A step names a preset (so it opens on a bundled model or the exact denoiser: no training wait) plus
sampler settings and flags; ``lessons_for_page`` turns it into the page's URL hash with the same codec
as the address bar (server/catalog/url_state.py), so a lesson step is exactly a shareable link.
"""

from __future__ import annotations

from typing import Any

from ..diffusion.config import SamplerConfig
from .url_state import encode
from .views import PresetView

# Each step: preset id, optional sampler settings, "predict" (hide the between-mode highlighting until
# the teacher reveals it), "select" (which particle to open with: "between" or "support"), text.
LESSONS: list[dict[str, Any]] = [
    {
        "id": "1d",
        "title": "1D: where do the extra samples come from?",
        "hide": ["editor", "train"],
        "steps": [
            {"preset": "1d-123-oracle", "title": "The exact denoiser",
             "text": "Three Gaussian modes at 1, 2 and 3, each with σ = 0.05, so the gaps are 20σ wide and "
                     "essentially empty. This run uses the exact denoiser E[x₀ | x_t] of the mixture, with no "
                     "network. Play the reverse process: every particle commits to one of the three bands."},
            {"preset": "1d-123-lesson", "predict": True, "title": "A trained network: predict first",
             "text": "Same mixture, same starting noise, but now the paper's small residual MLP, trained on 20,000 "
                     "samples (a short run, so that the effect is easy to see among 2,000 samples). Predict: will "
                     "any samples land in the gaps, and if so where? Then reveal."},
            {"preset": "1d-123-lesson", "select": "between", "title": "Between neighbours, not anywhere",
             "text": "The extra samples sit between 1 and 2 and between 2 and 3, never far outside. Late in the "
                     "reverse process the true denoiser is a step function between neighbouring modes; the "
                     "network can only fit a smooth version of that step, so a particle near the boundary gets an "
                     "in-between prediction and stays in the gap. The paper calls this mode interpolation."},
            {"preset": "1d-123-lesson", "sampler": {"sampler": "ddim"}, "title": "Not the sampler's fault",
             "text": "Switch to the deterministic DDIM sampler: samples still land between the modes. The "
                     "hallucinations come from the learned score, not from the sampler's noise."},
        ],
    },
    {
        "id": "grids",
        "title": "Nearest neighbours only: square vs diamond grid",
        "hide": ["editor", "train"],
        "steps": [
            {"preset": "grid25-oracle", "sampler": {"n": 4000}, "title": "25 modes, exact denoiser",
             "text": "A 5×5 grid of Gaussians (spacing 0.707, σ 0.0177). With the exact denoiser every sample "
                     "lands in a mode's disc."},
            {"preset": "grid25-paper", "sampler": {"n": 4000}, "predict": True, "title": "Predict the bridges",
             "text": "The trained network on the same grid. About half a percent of its samples fall outside "
                     "every disc. Predict: along which lines will they lie? Then reveal."},
            {"preset": "grid25-paper", "sampler": {"n": 4000}, "select": "between", "title": "Grid lines only",
             "text": "The bridges follow horizontal and vertical segments between adjacent modes; the diagonals, "
                     "whose modes are √2 times farther apart, stay nearly empty. The network interpolates between "
                     "nearest neighbours only."},
            {"preset": "diamond25-paper", "sampler": {"n": 4000}, "title": "Rotate the grid by 45°",
             "text": "The same grid rotated by 45°: the nearest neighbours now lie along the ±45° directions, and "
                     "the bridges turn with them. What matters is which modes are close, not the axes of the "
                     "network's input."},
        ],
    },
    {
        "id": "variance",
        "title": "The model knows: trajectory variance",
        "hide": ["editor", "train"],
        "steps": [
            {"preset": "1d-123-lesson", "select": "between", "title": "A hallucination wavers",
             "text": "The right-hand plot shows x̂₀, the network's prediction of the clean sample, at every step. "
                     "For this between-mode sample it keeps swinging from one mode towards the other over the "
                     "last steps (shaded): the model is not sure where the sample belongs."},
            {"preset": "1d-123-lesson", "select": "support", "title": "An ordinary sample settles",
             "text": "For a sample that lands in a mode, x̂₀ settles early and barely moves over the last steps. "
                     "The variance of x̂₀ over those K steps is the detector score."},
            {"preset": "1d-123-lesson", "title": "A threshold on the variance",
             "text": "The histograms compare the scores of in-support and between-mode samples. At the threshold "
                     "that keeps 96% of in-support samples, the paper removes over 95% of the hallucinations. Drag "
                     "the threshold to trade one against the other."},
            {"preset": "grid25-paper", "sampler": {"n": 4000}, "title": "The same test in 2D",
             "text": "The same score on the 5×5 grid. Few samples hallucinate here, so the counts are small, but "
                     "their x̂₀ variance again sits far above that of in-support samples."},
        ],
    },
]


def lessons_for_page(presets: list[PresetView]) -> list[dict[str, Any]]:
    """The lessons with each step's page hash (config of its preset, sampler, kind, step number)."""
    by_id = {p.id: p for p in presets}
    out = []
    for lesson in LESSONS:
        steps = []
        for i, step in enumerate(lesson["steps"]):
            preset = by_id.get(step["preset"])
            if preset is None:
                continue
            config = preset.config
            sampler = SamplerConfig.model_validate(step.get("sampler", {}))
            view = {"kind": preset.kind, "step": i + 1}
            steps.append({"title": step["title"], "text": step["text"], "hash": encode(config, sampler, view),
                          "predict": bool(step.get("predict")), "select": step.get("select"),
                          "ready": preset.ready or preset.kind == "oracle"})
        out.append({"id": lesson["id"], "title": lesson["title"], "hide": lesson.get("hide", []), "steps": steps})
    return out
