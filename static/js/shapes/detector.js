// The detector panel: the trajectory-variance scores of duplicates vs every other image as two histograms on a log
// axis, a threshold slider with a live "% removed / % kept" readout, and the AUROC; for the bundled sample set
// (from the statistics route) or for the sample on screen (its result event).

import { Plotly, CONFIG, COLORS, layout, message, pct } from './plotting.js';
import { S } from './model.js';
import { detectorStats, atThreshold } from '../detector.js';

const $ = (id) => document.getElementById(id);
const BINS = 40;
const STEPS = 1000; // slider positions over the log range of the scores

const sources = { bundled: null, live: null }; // {variance: Float32Array, duplicate: bool[], auroc, what}
let shown = 'bundled';
let chosen = false; // the reader picked a source: arriving scores no longer switch the panel
let range = [0, 1]; // log10 of the smallest and largest score (padded)
let det = null; // detectorStats of the shown source
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
    radio.addEventListener('change', () => { if (radio.checked) { chosen = true; show(radio.value); } });
  }
}

/** Scores of one source: `duplicate` marks the positives; `auroc` as the server measured it (null: one class). */
export function setScores(name, variance, duplicate, auroc, what) {
  sources[name] = variance ? { variance, duplicate, auroc, what } : null;
  // The bundled set (thousands of images, dozens of duplicates) first; a live sample only when there is none.
  const preferred = sources.bundled ? 'bundled' : 'live';
  if (name === shown || (!chosen && name === preferred)) show(chosen ? shown : preferred);
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
  // The explorer's detector maths, duplicates in the role of its between-mode samples (code 1), the rest as 0.
  det = detectorStats(src.variance, src.duplicate.map((d) => (d ? 1 : 0)), BINS);
  range = det.range;
  // Opens at the paper's operating point of the set shown (the lowest threshold that keeps 96% of its other images)
  // until the reader moves the slider or a link names a threshold: then that one holds across sets.
  if (S.threshold === null || !S.thresholdMoved) S.threshold = Number.isFinite(det.paperThreshold) ? det.paperThreshold : 10 ** range[1];
  const centres = det.centres.map((c) => 10 ** c);
  const half = det.binWidth * 0.45;
  const trace = (label, colour, shares, count) => ({ type: 'bar', name: `${label} (${count})`, x: centres, y: shares,
    marker: { color: colour, opacity: 0.7 }, width: centres.map((c) => c * (10 ** half - 10 ** -half)),
    hovertemplate: `${label}: %{y:.1%} near %{x:.2e}<extra></extra>` });
  Plotly.react($('detector-plot'), [
    trace('other images', COLORS.rest, det.supportShare, det.nSupport),
    trace('duplicates', COLORS.duplicate, det.betweenShare, det.nBetween),
  ], layout({ barmode: 'overlay', xaxis: { type: 'log', title: { text: 'variance of x̂₀ over the last K steps' },
    gridcolor: COLORS.grid }, yaxis: { title: { text: 'share of the group' }, tickformat: '.0%',
    gridcolor: COLORS.grid } }), CONFIG);
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
    y0: 0, y1: 1, line: { color: COLORS.ink, width: 2, dash: 'dot' } }] });
}

/** The share of duplicates the threshold removes and of the other images it keeps, said in words. */
export function readout() {
  const src = sources[shown];
  if (!src || !det) return;
  const r = atThreshold(det, S.threshold);
  const value = src.auroc ?? (Number.isFinite(det.auroc) ? det.auroc : null);
  const auroc = value === null ? 'AUROC: — (needs duplicates and other images)' : `AUROC ${Number(value).toFixed(3)}`;
  $('detector-readout').textContent = `${src.what}: threshold ${S.threshold.toExponential(2)} removes `
    + `${pct(r.removedShare)} of duplicates (${r.removedBetween} of ${det.nBetween}) and keeps `
    + `${pct(r.keptShare)} of the other images (${r.keptSupport} of ${det.nSupport}). ${auroc}.`;
}

export const detectorSource = () => shown;
