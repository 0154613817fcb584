// "Try next" on /analysis: one line under the run picker that suggests the next view to read, from the page's
// state (the same approach as the explorer's static/js/nextstep.js: a pure choice, recomputed when anything
// the page shows changes, announced only when its state changes: static/js/tryline.js).

import { refreshOnChange, showTryNext } from '../tryline.js';

/** The suggestion for the page's state: [key, text]. `s`: {run, mechanism: {moved}, bench, sweeps, recursive}. */
export function analysisNextStep(s) {
  if (!s.run) return ['no-run', 'Train a model in the lab (or open a ready one there): these views read finished runs.'];
  if (s.sweeps.job) return ['sweeping', 'The sweep trains one model per value and seed: watch the between-mode share '
    + 'change with the parameter as its points arrive.'];
  if (s.recursive.job) return ['recursing', 'Watch the between-mode share per generation: does a filter hold it down '
    + 'while “none” lets it grow?'];
  if (s.run.kind === 'oracle') return ['oracle', 'This is the exact denoiser: it never interpolates. Pick a trained run '
    + 'above to see a network’s ramp next to its steps.'];
  if (!s.mechanism.moved) return ['mechanism', 'Drag t in view 1: at small t the exact x̂₀ is a sharp step between modes '
    + 'and the network’s a smooth ramp. The ramp is where samples end between modes.'];
  if (!s.bench.report) return ['bench', 'Press “Score detectors” in view 2: which score best separates between-mode '
    + 'samples from good ones?'];
  if (s.bench.k === 10) return ['window', 'Move K in view 2: on these small models a shorter window (K = 5) often '
    + 'removes more between-mode samples than the paper’s K = 10.'];
  if (!s.sweeps.view) return ['sweep', 'Run a sweep in view 3 (training steps, or width): what makes the network '
    + 'interpolate less?'];
  if (!s.recursive.result) return ['recursive', 'Run recursive training in view 4 with the variance filter and '
    + '“none”: does filtering keep later generations off the gaps?'];
  return ['done', 'Pick another run above and compare, or train a wider network in the lab and come back.'];
}

/** Keep #next-step up to date: `read()` returns the state but `mechanism.moved`, which is tracked here (the
 * t slider moved by hand since the run was picked). */
export function initAnalysisNextStep(read) {
  if (!document.getElementById('next-step')) return;
  let moved = false;
  document.getElementById('mech-t')?.addEventListener('input', () => { moved = true; });
  document.getElementById('run')?.addEventListener('change', () => { moved = false; });
  refreshOnChange(['run-info', 'mech-readout', 'bench-readout', 'sweep-status', 'rec-status'], () => {
    const s = read();
    showTryNext(analysisNextStep({ ...s, mechanism: { ...s.mechanism, moved } }));
  });
}
