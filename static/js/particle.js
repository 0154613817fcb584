// Where things are drawn, and one particle up close: the plot geometry (from the stream's meta once
// sampling, else the edited mixture), the selected particle's path, its x̂₀ trajectory and its caption.

import { state } from './state.js';
import { boundsOf, sigmasOf, SUPPORT_RADIUS_SIGMA } from './mixture.js';
import { renderTrajectory } from './plots.js';
import { formatVariance } from './detector.js';

const $ = (id) => document.getElementById(id);

export function geometry() {
  const meta = state.sampling.meta;
  const mixture = meta ? (state.runMixture ?? state.mixture) : state.mixture;
  if (meta && Array.isArray(meta.means)) {
    const means = meta.means.map((m) => (Array.isArray(m) ? m : [m]));
    const sigmas = meta.sigmas ?? sigmasOf(mixture);
    const weights = meta.weights?.length === means.length ? meta.weights
      : (mixture.weights?.length === means.length ? mixture.weights : null);
    const mix = { means, sigma: sigmas, weights, n: mixture.n };
    // data_bounds frame the modes (where hallucinations are visible); bounds also hold the initial noise.
    const useData = $('zoom-modes').checked && meta.data_bounds;
    const b = (useData ? meta.data_bounds : meta.bounds) ?? boundsOf(mix);
    return { dim: means[0].length, means, sigmas, mixture: mix, radius: meta.radius_sigma ?? SUPPORT_RADIUS_SIGMA, bounds: b };
  }
  return {
    dim: state.dim, means: mixture.means, sigmas: sigmasOf(mixture), mixture,
    radius: SUPPORT_RADIUS_SIGMA, bounds: state.viewBounds ?? boundsOf(mixture),
  };
}

const TRAIL_FRAMES = 30; // 2D: the selected particle's recent path (older frames are noise scribble)

export function selectedPath(dim, frames, i, index) {
  if (i === null || !frames.length) return null;
  if (dim === 1) {
    return [Float32Array.from(frames, (_, j) => j), Float32Array.from(frames, (f) => (f ? f.x[0][i] : NaN))];
  }
  const from = Math.max(0, index - TRAIL_FRAMES);
  const part = frames.slice(from, index + 1);
  return [Float32Array.from(part, (f) => (f ? f.x[0][i] : NaN)), Float32Array.from(part, (f) => (f ? f.x[1][i] : NaN))];
}

export function showTrajectory(i) {
  const { frames, result, meta } = state.sampling;
  if (i === null || !frames.length) return;
  const dim = frames[0].x.length;
  const byT = new Map();
  for (const f of frames) if (f && f.x0) byT.set(f.t, f.x0.map((col) => col[i]));
  let K = 0;
  if (result && result.x0Last) {
    const [, k, d] = result.x0Last.shape;
    K = k;
    result.x0LastTs.forEach((t, j) => {
      byT.set(t, Array.from({ length: d }, (_, c) => result.x0Last.data[(i * k + j) * d + c]));
    });
  }
  const ts = [...byT.keys()].sort((a, b) => b - a);
  const series = Array.from({ length: dim }, (_, c) => ts.map((t) => byT.get(t)[c]));
  const windowStart = K ? ts.findIndex((t) => t <= K - 1) : -1;
  const refs = [];
  const g = geometry();
  const modes = new Set();
  if (result) {
    modes.add(result.nearest[i]);
    if (result.between && result.between.data[2 * i] >= 0) {
      modes.add(result.between.data[2 * i]);
      modes.add(result.between.data[2 * i + 1]);
    }
  }
  for (const m of modes) if (g.means[m]) for (let c = 0; c < dim; c += 1) refs.push({ dim: c, value: g.means[m][c] });
  const yRange = trajectoryRange(g, series, windowStart);
  $('traj-plot').labTs = ts; // linked.js: the chart's positions → timesteps, for the frame line and seeking
  renderTrajectory($('traj-plot'), {
    ts, positions: ts.map((_, p) => p), series, windowStart: windowStart >= 0 ? windowStart : null,
    references: refs, highlight: result && !state.concealed ? result.label[i] !== 0 : false,
    yRange,
    firstShown: firstSettled(series, yRange),
  });
  $('traj-info').textContent = particleText(i, meta);
}

function trajectoryRange(g, series, windowStart) {
  const b = state.sampling.meta?.data_bounds ?? boundsOf(g.mixture);
  let lo = Math.min(...b.x, ...(b.y ?? []));
  let hi = Math.max(...b.x, ...(b.y ?? []));
  for (const s of series) {
    for (const v of s.slice(Math.max(windowStart, 0))) {
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** First position from which x̂0 stays near the data: earlier it is (x_t − s ε̂)/√ᾱ_t with √ᾱ_t ≈ 0. */
function firstSettled(series, [lo, hi]) {
  const span = hi - lo;
  let first = 0;
  series.forEach((s) => s.forEach((v, p) => {
    if (!(v >= lo - span && v <= hi + span)) first = Math.max(first, p + 1);
  }));
  return Math.min(first, Math.max(series[0].length - 2, 0));
}

function modeName(k) {
  const m = geometry().means[k];
  if (!m) return `#${k}`;
  return m.length === 1 ? `${+m[0].toFixed(3)}` : `(${m[0].toFixed(2)}, ${m[1].toFixed(2)})`;
}

export function particleText(i, meta) {
  const r = state.sampling.result;
  if (!r) return `Sample #${i}: waiting for the final labels…`;
  if (state.concealed) return `Sample #${i}: where it landed is hidden until the reveal.`;
  const label = r.label[i];
  const b = r.between ? [r.between.data[2 * i], r.between.data[2 * i + 1]] : [-1, -1];
  const where = label === 0 ? `in the support of the mode at ${modeName(r.nearest[i])}`
    : label === 1 ? `between the modes at ${modeName(b[0])} and ${modeName(b[1])}` : 'outside the outer modes';
  const v = r.variance[i];
  const verdict = v > state.threshold ? 'removed' : 'kept';
  const dist = label !== 0 && Number.isFinite(r.distance[i]) ? `, ${r.distance[i].toFixed(1)}σ from the nearest` : '';
  const k = meta?.window ?? r.x0LastTs.length;
  return `Sample #${i}: ${where}${dist}. x̂₀ variance over the last ${k} steps ${formatVariance(v)} → ${verdict} by the detector.`;
}
