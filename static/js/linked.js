// Linked views. Hovering a particle of the main plot marks it in the other views: its final position on the 1D
// histogram (plots.js draws `view.hoveredValue`), its score on the detector's histogram (a solid line beside the
// dashed threshold) and a line of words under it. The frame scrubber and the selected particle's x̂₀ chart share
// one time axis: a dotted line on the chart follows the frame shown, and clicking the chart seeks there.

import { state, on } from './state.js';
import { mainDiv, player, nearestParticle } from './mainplot.js';
import { plotGeometry } from './plots.js';
import { formatVariance } from './detector.js';
import { COLORS } from './traces.js';

const Plotly = window.Plotly;
const $ = (id) => document.getElementById(id);
const LABELS = ['in a mode', 'between modes', 'outside the outer modes'];

// ------------------------------------------------------------------ hover → histogram and detector

function withShape(div, name, shape) {
  const shapes = (div.layout?.shapes ?? []).filter((s) => s.name !== name);
  return Plotly.relayout(div, { shapes: shape ? [...shapes, { ...shape, name }] : shapes });
}

function markDetector(i) {
  const div = $('detector-plot');
  const r = state.sampling.result;
  const shown = r && i !== null && !state.concealed && div.layout?.xaxis?.range;
  const v = shown ? r.variance[i] : NaN;
  if (!(v > 0)) {
    $('hover-readout').textContent = '';
    if (div.layout?.shapes?.some((s) => s.name === 'hovered')) withShape(div, 'hovered', null);
    return;
  }
  const x = Math.log10(v);
  withShape(div, 'hovered', { type: 'line', xref: 'x', yref: 'paper', x0: x, x1: x, y0: 0, y1: 1,
    line: { color: COLORS.selected, width: 2 } });
  $('hover-readout').textContent = `Under the pointer: sample #${i}, ${LABELS[r.label[i]] ?? LABELS[2]}, `
    + `score ${formatVariance(v)} → ${v > state.threshold ? 'removed' : 'kept'} (solid line).`;
}

/** Make particle `i` (or null) the hovered one everywhere. */
export function hover(i) {
  if (i === state.hovered) return;
  state.hovered = i;
  markDetector(i);
  if (state.dim === 1 || state.sampling.result?.samples.length === 1) player.invalidate(); // the histogram mark
}

let pending = null;
function onPointerMove(ev) {
  if (state.editMode || !state.sampling.result) return;
  const first = pending === null;
  pending = [ev.clientX, ev.clientY];
  if (!first) return;
  requestAnimationFrame(() => {
    if (pending === null) return; // the pointer left the plot before this frame
    const [x, y] = pending;
    pending = null;
    hover(nearestParticle(x, y));
  });
}

// ------------------------------------------------------------------ frame ↔ the x̂₀ chart's time axis

function frameLine() {
  const div = $('traj-plot');
  const ts = div.labTs;
  const t = state.sampling.frames[player.index]?.t;
  if (state.selected === null || !ts || !div.layout || t === undefined) return;
  let j = ts.indexOf(t);
  if (j < 0) j = ts.reduce((best, s, k) => (Math.abs(s - t) < Math.abs(ts[best] - t) ? k : best), 0);
  const current = div.layout.shapes?.find((s) => s.name === 'frame');
  if (current && current.x0 === j) return;
  withShape(div, 'frame', { type: 'line', xref: 'x', yref: 'paper', x0: j, x1: j, y0: 0, y1: 1,
    line: { color: COLORS.mode, width: 1.5, dash: 'dot' } });
  div.dataset.frameT = String(t);
}

function onTrajectoryClick(ev) {
  const div = $('traj-plot');
  const ts = div.labTs;
  const at = plotGeometry(div)?.toData(ev.clientX, ev.clientY);
  if (!ts || !at || state.selected === null) return;
  const t = ts[Math.max(0, Math.min(ts.length - 1, Math.round(at.x)))];
  const frames = state.sampling.frames;
  let best = 0;
  frames.forEach((f, k) => { if (f && Math.abs(f.t - t) < Math.abs((frames[best]?.t ?? Infinity) - t)) best = k; });
  player.pause();
  player.seek(best);
}

export function initLinked() {
  state.hovered = null;
  mainDiv.addEventListener('pointermove', onPointerMove);
  mainDiv.addEventListener('pointerleave', () => { pending = null; hover(null); });
  $('traj-plot').addEventListener('click', onTrajectoryClick);
  on('view', frameLine);
  on('sample-cleared', () => { state.hovered = null; $('hover-readout').textContent = ''; });
}
