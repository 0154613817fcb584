// The detector panel: the trajectory-variance scores of duplicates vs every other image as two histograms on a log
// axis, a threshold slider with a live "% removed / % kept" readout, and the AUROC; for the bundled sample set
// (from the statistics route) or for the sample on screen (its result event).

import { Plotly, CONFIG, COLORS, layout, message, pct } from './plotting.js';
import { S } from './model.js';

const $ = (id) => document.getElementById(id);
const BINS = 30;
const STEPS = 1000; // slider positions over the log range of the scores

const sources = { bundled: null, live: null }; // {variance: Float32Array, duplicate: bool[], auroc, what}
let shown = 'bundled';
let range = [0, 1]; // log10 of the smallest and largest positive score
let onThreshold = () => {};

export function initDetector(changed) {
  onThreshold = changed;
  $('threshold').addEventListener('input', () => {
    S.threshold = 10 ** (range[0] + ((range[1] - range[0]) * Number($('threshold').value)) / STEPS);
    readout();
    drawLine();
    onThreshold();
  });
  for (const radio of document.querySelectorAll('input[name="det-source"]')) {
    radio.addEventListener('change', () => { if (radio.checked) show(radio.value); });
  }
}

/** Scores of one source: `duplicate` marks the positives; `auroc` as the server measured it (null: one class). */
export function setScores(name, variance, duplicate, auroc, what) {
  sources[name] = variance ? { variance, duplicate, auroc, what } : null;
  if (name === 'live' && variance && shown !== 'live' && !sources.bundled) show('live');
  else if (name === shown) show(name);
}

export function show(name) {
  shown = name;
  const radio = document.querySelector(`input[name="det-source"][value="${name}"]`);
  if (radio) radio.checked = true;
  const src = sources[name];
  if (!src) {
    message($('detector-plot'), name === 'live' ? 'Sample to see its scores.' : 'No bundled sample set.');
    $('threshold').disabled = true;
    $('detector-readout').textContent = name === 'live' ? 'The scores of this sample come with its result.'
      : 'This server has no bundled sample set for this model.';
    return;
  }
  const logs = Array.from(src.variance, (v) => Math.log10(Math.max(v, 1e-12)));
  range = [Math.min(...logs), Math.max(...logs)];
  if (range[1] - range[0] < 1e-6) range = [range[0] - 0.5, range[1] + 0.5];
  if (S.threshold === null) S.threshold = 10 ** range[1]; // keep everything until the slider moves
  const width = (range[1] - range[0]) / BINS;
  const bins = (keep) => {
    const h = new Array(BINS).fill(0);
    logs.forEach((l, i) => { if (keep(i)) h[Math.min(BINS - 1, Math.floor((l - range[0]) / width))] += 1; });
    return h;
  };
  const centres = Array.from({ length: BINS }, (_, b) => 10 ** (range[0] + (b + 0.5) * width));
  const trace = (name2, colour, keep) => ({ type: 'bar', name: name2, x: centres, y: bins(keep),
    marker: { color: colour, opacity: 0.7 }, width: centres.map((c) => c * (10 ** (width * 0.45) - 10 ** (-width * 0.45))),
    hovertemplate: `${name2}: %{y} images near %{x:.2e}<extra></extra>` });
  Plotly.react($('detector-plot'), [
    trace('other images', COLORS.rest, (i) => !src.duplicate[i]),
    trace('duplicates', COLORS.duplicate, (i) => src.duplicate[i]),
  ], layout({ barmode: 'overlay', xaxis: { type: 'log', title: { text: 'variance of x̂₀ over the last K steps' },
    gridcolor: COLORS.grid }, yaxis: { title: { text: 'images' }, gridcolor: COLORS.grid } }), CONFIG);
  $('threshold').disabled = false;
  setThreshold(S.threshold);
}

/** Move the slider to a variance threshold (from a link), clamped to the scores' range. */
export function setThreshold(value) {
  if (value === null || value === undefined) return;
  S.threshold = value;
  const pos = Math.round(((Math.log10(Math.max(value, 1e-12)) - range[0]) / (range[1] - range[0])) * STEPS);
  $('threshold').value = String(Math.min(Math.max(pos, 0), STEPS));
  readout();
  drawLine();
}

function drawLine() {
  const div = $('detector-plot');
  if (!div.layout || S.threshold === null) return;
  Plotly.relayout(div, { shapes: [{ type: 'line', xref: 'x', yref: 'paper', x0: S.threshold, x1: S.threshold,
    y0: 0, y1: 1, line: { color: '#1d2733', width: 2, dash: 'dot' } }] });
}

/** The share of duplicates the threshold removes and of the other images it keeps, said in words. */
export function readout() {
  const src = sources[shown];
  if (!src) return;
  let dup = 0; let dupRemoved = 0; let rest = 0; let restKept = 0;
  src.variance.forEach((v, i) => {
    if (src.duplicate[i]) { dup += 1; if (v > S.threshold) dupRemoved += 1; } else { rest += 1; if (v <= S.threshold) restKept += 1; }
  });
  const auroc = src.auroc === null || src.auroc === undefined ? 'AUROC: — (needs duplicates and other images)'
    : `AUROC ${Number(src.auroc).toFixed(3)}`;
  $('detector-readout').textContent = `${src.what}: threshold ${S.threshold.toExponential(2)} removes `
    + `${pct(dup ? dupRemoved / dup : NaN)} of duplicates (${dupRemoved} of ${dup}) and keeps `
    + `${pct(rest ? restKept / rest : NaN)} of the other images (${restKept} of ${rest}). ${auroc}.`;
}

export const detectorSource = () => shown;
