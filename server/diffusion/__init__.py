"""The diffusion core, for any data: schedules, the reverse process, the training loop, checkpoints, detectors.

It imports no data family, no web framework and no jobs; a ``Denoiser`` is all it knows of a model."""
