// "What to try next": one line under the lesson that suggests the next experiment from the page's state.
// It is recomputed whenever the page reports progress (summary, detector, particle text change) or a
// control changes, so it never needs its own bookkeeping.

import { state, on } from './state.js';
import { refreshOnChange, showTryNext } from './tryline.js';

const $ = (id) => document.getElementById(id);

/** The suggestion for a state: [key, text]; the key lets tests and styles tell states apart. */
export function nextStep(s, oracleTicked) {
  if (s.training.active) {
    return ['training', 'Watch the loss fall and, under it, the network’s x̂₀ sharpen toward the exact steps; its sample follows.'];
  }
  if (s.sampling.active) return ['sampling', 'Watch the particles fall from noise onto the modes.'];
  const result = s.sampling.result;
  if (!result) {
    if (s.run) return ['sample', 'Press “Sample again” to draw particles from this model.'];
    return ['train', oracleTicked
      ? 'Press “Train & sample”: the exact denoiser samples at once, no training.'
      : 'Press “Train & sample” (or tick the exact model) to get something to sample.'];
  }
  if (s.concealed) return ['predict', 'Guess: will any samples land between the modes, and where? Then press Reveal.'];
  if (s.run?.kind === 'oracle') {
    return ['oracle', 'Compare: the exact denoiser never lands between modes. Pick a trained preset to see '
      + 'vermillion diamonds.'];
  }
  const idx = s.sampling.idx;
  const between = idx ? idx.between.length : 0;
  if (between === 0) {
    return ['none-between', 'No sample landed between modes: try the 1D lesson model (Lesson menu) or more samples.'];
  }
  if (s.selected === null) {
    return ['click-diamond', 'Click a vermillion diamond (or “show a between-mode sample”) to see its x̂₀ move.'];
  }
  return ['detector', 'Drag the detector’s threshold to remove the between-mode samples; then try K = 5.'];
}

/** Recompute on anything the page shows changing; cheap, so no debouncing beyond a frame. */
export function initNextStep() {
  if (!$('next-step')) return;
  const schedule = refreshOnChange(['summary', 'detector-readout', 'traj-info', 'progress-text', 'reveal'],
    () => showTryNext(nextStep(state, Boolean($('oracle')?.checked))));
  on('view', schedule);
  on('mixture', schedule);
}
