// Learned and exact side by side on the same noise. With "compare with the exact denoiser" ticked, each finished
// sample of a trained model is followed by the same request (n, seed, sampler, η) to the oracle run of its mixture
// (POST /api/runs kind "oracle", an ordinary /sample stream of 2 frames: the frames only choose which steps are
// recorded, never the noise). Same seed, same x_T and the same noise at every step, so particle i is the same
// particle in both: those the network strands between modes that the exact denoiser brings into a mode are
// circled in both panels.

import { createRun, getRun, openStream } from './api.js';
import { columns, flat } from './codec.js';
import { state, on } from './state.js';
import { EV } from './bootstrap.js';
import { COLORS } from './traces.js';
import { OFFLINE_CONFIG } from './plotly_offline.js';

const Plotly = window.Plotly;
const $ = (id) => document.getElementById(id);
const CONFIG = { ...OFFLINE_CONFIG, displayModeBar: false, responsive: true };
const SUPPORT = 0;
const BETWEEN = 1;

let stream = null;
let generation = 0; // a newer sample or an untick makes older answers stale

function stop() {
  generation += 1;
  if (stream) stream.close();
  stream = null;
}

function hide() {
  stop();
  $('split-box').hidden = true;
  $('split-box').dataset.stranded = '';
  Plotly.purge($('split-plot'));
}

const caption = (text) => { $('split-caption').textContent = text; };

/** Particles i whose learned label is "between modes" and whose exact label is "in a mode". */
export function stranded(learnedLabel, exactLabel) {
  const out = [];
  for (let i = 0; i < learnedLabel.length; i += 1) {
    if (learnedLabel[i] === BETWEEN && exactLabel[i] === SUPPORT) out.push(i);
  }
  return out;
}

const pick = (col, idx) => idx.map((i) => col[i]);
// 1D samples are spread vertically by a fixed low-discrepancy jitter (the same for a particle in both panels).
const jitter = (n) => Array.from({ length: n }, (_, i) => (i * 0.6180339887) % 1);

function panelTraces(samples, label, circled, axis, showlegend) {
  const n = label.length;
  const ys = samples.length > 1 ? samples[1] : jitter(n);
  const idx = (want) => Array.from({ length: n }, (_, i) => i).filter((i) => (want ? label[i] === BETWEEN : label[i] !== BETWEEN));
  const group = (name, index, marker) => ({
    type: 'scatter', mode: 'markers', name, legendgroup: name, showlegend, xaxis: `x${axis}`, yaxis: `y${axis}`,
    x: pick(samples[0], index), y: pick(ys, index), marker,
  });
  return [
    group('in a mode or outside', idx(false), { color: COLORS.support, size: 3, opacity: 0.5 }),
    group('between modes', idx(true), { color: COLORS.between, size: 5, symbol: 'diamond' }),
    group('stranded only by the network', circled, { color: COLORS.selected, size: 11, symbol: 'circle-open', line: { width: 1.5 } }),
  ];
}

function draw(learned, exact) {
  const circled = stranded(learned.label, exact.label);
  const oneD = learned.samples.length === 1;
  const big = document.body.classList.contains('presenter');
  const axis = (title) => ({ gridcolor: COLORS.grid, zeroline: false, title: { text: title, standoff: 2 } });
  const y = oneD ? { visible: false, range: [-0.05, 1.05] } : axis('x₂');
  const layout = {
    height: big ? 360 : 280, margin: { l: 40, r: 8, t: 40, b: 36 }, hovermode: false,
    paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#ffffff',
    font: { family: 'system-ui, sans-serif', size: big ? 16 : 12, color: '#26323f' },
    legend: { orientation: 'h', x: 0, y: -0.18, yanchor: 'top', font: { size: big ? 15 : 11 } },
    xaxis: { ...axis('x₁'), domain: [0, 0.48] }, yaxis: { ...y },
    xaxis2: { ...axis('x₁'), domain: [0.52, 1], matches: 'x' }, yaxis2: { ...y, anchor: 'x2', matches: 'y' },
    annotations: [['trained network', 0.24], ['exact denoiser, same noise', 0.76]].map(([text, x]) => ({
      text, x, y: 1.02, xref: 'paper', yref: 'paper', showarrow: false, yanchor: 'bottom', font: { size: big ? 16 : 13 } })),
  };
  if (!oneD) Object.assign(layout.yaxis, { scaleanchor: 'x' });
  Plotly.react($('split-plot'), [...panelTraces(learned.samples, learned.label, circled, '', true),
    ...panelTraces(exact.samples, exact.label, circled, '2', false)], layout, CONFIG);
  const count = (label) => label.reduce((k, v) => k + (v === BETWEEN ? 1 : 0), 0);
  const n = learned.label.length;
  $('split-box').dataset.stranded = String(circled.length);
  caption(`Same ${n.toLocaleString('en-US')} starting points and noise. Between modes: ${count(learned.label)} with the `
    + `network, ${count(exact.label)} with the exact denoiser; circled: the ${circled.length} the network strands `
    + 'that the exact denoiser brings into a mode.');
}

/** Sample the exact denoiser like the sample on screen, then draw both. */
async function compare() {
  stop();
  const mine = generation;
  const result = state.sampling.result;
  if (!$('split').checked || !result || !state.run) { hide(); return; }
  $('split-box').hidden = false;
  if (state.run.kind === 'oracle') {
    Plotly.purge($('split-plot'));
    caption('This sample already comes from the exact denoiser: train a model (or open a ready one) to compare.');
    return;
  }
  caption('Sampling the exact denoiser on the same noise…');
  const learned = { samples: result.samples, label: result.label };
  try {
    const { body: run } = await getRun(state.run.run_id);
    const { body: oracle } = await createRun('oracle', run.config);
    if (mine !== generation) return;
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...state.sampling.params, frames: 2 })) qs.set(k, v === null ? '' : String(v));
    stream = openStream(`/api/runs/${encodeURIComponent(oracle.run_id)}/sample?${qs}`, {
      [EV.result]: (r) => { if (mine === generation) draw(learned, { samples: columns(r.samples), label: flat(r.label) }); },
      [EV.done]: () => { stream = null; },
    }, (err) => { if (mine === generation) caption(`The exact denoiser could not be sampled: ${err.message}`); },
    { finalEvent: EV.done, errorEvent: EV.error });
  } catch (err) {
    if (mine === generation) caption(`The exact denoiser could not be sampled: ${err.message}`);
  }
}

export function initSplit() {
  $('split').addEventListener('change', compare);
  on('sample-done', () => { if ($('split').checked) compare(); });
  on('sample-cleared', () => { if (!$('split-box').hidden) hide(); });
}
