"""The Simple Shapes image experiment (paper.md §3.6): data, shape counting, U-Net, exact denoiser, training.

geometry   panel layout and the shapes' pixels (official drawing rule), at 64 px and a reduced 32 px
generator  the seeded data set with per-image metadata
counting   components per column → triangle / square / pentagon / malformed; image labels (duplicate, …)
config     strict frozen settings (data, schedule, U-Net, training) and the run id
unet       the ε-network and its adapter to the core's ``Denoiser`` on flattened images
oracle     the exact denoiser E[x0 | x_t] of the training set
training   the training loop as a progress generator
checkpoint safetensors (float16 by default) with the config in the metadata

The core (server/diffusion: schedule, reverse process, detectors) runs these unchanged on (N, H·W) arrays.
"""
