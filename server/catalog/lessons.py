"""Classroom lessons: short ordered sequences of page states with a few sentences each (``?lesson=ID``).

A step names a model (a preset id or a bundled model's file name, so it opens on a bundled model or
the exact denoiser: no training wait) plus sampler settings and flags; ``lessons_for_page`` turns it
into the page's URL hash with the same codec as the address bar (server/catalog/url_state.py), so a lesson
step is exactly a shareable link. Names are resolved to a config, and readiness is looked up by config: a
bundled model whose config equals a preset's is merged into that preset, and its steps must survive
that. A step whose model cannot be found is kept and says so (``problem``): never dropped in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..diffusion.config import SamplerConfig
from ..gaussian.config import ExperimentConfig
from .bundled import BundledModel
from .url_state import encode
from .views import PresetView

log = logging.getLogger(__name__)

# Each step: preset id or bundled model name, optional sampler settings, "predict" (hide the between-mode
# highlighting until the teacher reveals it), "select" (which particle to open with: "between" or "support"), text.
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


def _resolve(name: str, presets: Sequence[PresetView],
             bundled: Sequence[BundledModel]) -> tuple[ExperimentConfig, str, bool] | None:
    """(config, kind, ready) of the model a step names: a bundled model by its file name, else a preset."""
    model = next((m for m in bundled if m.name == name), None)
    if model is not None:
        config, kind = model.config, "trained"
    else:
        preset = next((p for p in presets if p.id == name), None)
        if preset is None:
            return None
        config, kind = preset.config, preset.kind
    # Ready by config: whichever preset carries it (a merged bundled model keeps the preset's id).
    ready = kind == "oracle" or model is not None or any(
        p.ready and p.kind == "trained" and p.config == config for p in presets)
    return config, kind, ready


def lessons_for_page(presets: Sequence[PresetView],
                     bundled: Sequence[BundledModel] = ()) -> list[dict[str, Any]]:
    """The lessons with each step's page hash (config of its model, sampler, kind, step number).

    A step whose model is missing (a bundled file absent from this server's models folder) keeps its
    place with ``hash`` None and a ``problem`` the page shows, so a lesson never loses a step unseen."""
    out = []
    for lesson in LESSONS:
        steps = []
        for i, step in enumerate(lesson["steps"]):
            item: dict[str, Any] = {"title": step["title"], "text": step["text"], "predict": bool(step.get("predict")),
                                    "select": step.get("select"), "hash": None, "ready": False, "problem": None}
            resolved = _resolve(step["preset"], presets, bundled)
            if resolved is None:
                item["problem"] = (f"This step needs the model “{step['preset']}”, which this server does not "
                                   "have (no such preset, and no bundled file of that name in its models folder).")
                log.warning("lesson %s step %d: no preset or bundled model named %r",
                            lesson["id"], i + 1, step["preset"])
            else:
                config, kind, ready = resolved
                sampler = SamplerConfig.model_validate(step.get("sampler", {}))
                item.update(hash=encode(config, sampler, {"kind": kind, "step": i + 1}), ready=ready)
            steps.append(item)
        out.append({"id": lesson["id"], "title": lesson["title"], "hide": lesson.get("hide", []), "steps": steps})
    return out


# The Simple Shapes lesson runs on /shapes: a step is that page's hash (its own keys: n, seed, sampler, steps,
# oracle, sel, thr, xt; see static/js/shapes/address.js), plus "predict" (hide the outlines until the reveal) and
# "select" ("duplicate": open the film strip of the first duplicate). Without "n"/"seed" a step opens the default
# seed, whose stream is stored: it plays at once.
SHAPES_LESSON: dict[str, Any] = {
    "id": "shapes",
    "title": "Images: two squares where training had one",
    "hide": ["sampling"],
    "steps": [
        {"view": {}, "predict": True, "title": "Predict first",
         "text": "Every training image has at most one triangle, one square and one pentagon, each in its own "
                 "column. The model never saw two squares in one image: will it draw any? Predict, then play the "
                 "grid and reveal."},
        {"view": {}, "select": "duplicate", "title": "The gallery",
         "text": "Outlined images (dashed orange) end with two shapes of one kind in one column: a combination no "
                 "training image has. The film strip shows the model's prediction x̂₀ over the last steps: it kept "
                 "switching between “square at the top” and “square at the bottom” and ended with both."},
        {"view": {"oracle": 1}, "title": "The exact denoiser never does it",
         "text": "The exact denoiser of the training set can only return training images: no duplicates, however "
                 "many images you draw. The duplicates come from the smooth network, as with the Gaussian modes."},
        {"view": {}, "title": "Catch them: the detector",
         "text": "The variance of x̂₀ over the last K steps scores each image. Drag the threshold: how many "
                 "duplicates does it remove, and how many good images does it cost? On these small images the "
                 "score is weaker than on the Gaussian grid; the AUROC says by how much."},
    ],
}


def shapes_hash(view: dict[str, Any], step: int) -> str:
    """The /shapes page hash of one lesson step (``key=value`` joined by ``&``, step last)."""
    return "&".join([*(f"{k}={v}" for k, v in view.items()), f"step={step}"])


def shapes_lesson() -> dict[str, Any]:
    """The shapes lesson as the page reads it: each step with its hash; always ready (bundled model or oracle)."""
    steps = [{"title": s["title"], "text": s["text"], "predict": bool(s.get("predict")), "select": s.get("select"),
              "hash": shapes_hash(s["view"], i + 1), "ready": True, "problem": None}
             for i, s in enumerate(SHAPES_LESSON["steps"])]
    return {"id": SHAPES_LESSON["id"], "title": SHAPES_LESSON["title"], "hide": SHAPES_LESSON["hide"],
            "steps": steps, "page": "/shapes"}
