// View 2: the detector bench (GET /api/analysis/runs/{id}/detectors). The server scores the variance
// detector at every K in 2 … max K on one set of samples, so the K slider only re-reads numbers.

import { requestJSON } from '../api.js';
import { $, Plotly, BOOT, SERIES, PLOT_CONFIG, layout, axis, emptyPlot, showError, fmt, pct } from './common.js';

const NAMES = {
  variance: ['trajectory variance (paper)', 'the model'],
  lid: ['denoising error / LID', 'the model'],
  nn_distance: ['distance to nearest training point', 'the training set'],
  oracle: ['exact posterior variance (oracle)', 'the true mixture'],
  oracle_final: ['exact posterior variance at the sample', 'the true mixture'],
};
const ORDER = ['variance', 'lid', 'nn_distance', 'oracle', 'oracle_final'];
const LEARNED = ['variance', 'lid', 'nn_distance'];
const state = { run: null, T: 0, report: null, k: 10, loads: 0, busy: false };

function detectorsAtK() {
  const r = state.report;
  const out = { ...r.detectors };
  const atK = r.variance_by_window[String(state.k)];
  if (atK) out.variance = atK;
  return out;
}

function winner(dets) {
  const ranked = LEARNED.filter((n) => dets[n] && dets[n].auroc !== null)
    .sort((a, b) => (dets[b].auroc - dets[a].auroc) || (dets[b].removed_at_96_kept - dets[a].removed_at_96_kept));
  return ranked[0] ?? null;
}

function render() {
  const r = state.report;
  if (!r) return;
  const dets = detectorsAtK();
  const best = winner(dets);
  const body = $('bench-body');
  body.replaceChildren();
  for (const name of ORDER) {
    const d = dets[name];
    if (!d) continue;
    const tr = document.createElement('tr');
    tr.dataset.detector = name;
    if (name === best) tr.className = 'winner';
    if (name.startsWith('oracle')) tr.classList.add('ceiling');
    const label = name === 'variance' ? `${NAMES[name][0]}, K = ${state.k}` : NAMES[name][0];
    const cells = [label, fmt(d.auroc, 3), pct(d.removed_at_96_kept), NAMES[name][1]];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      if (i === 0) {
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = SERIES[name];
        td.append(sw);
      }
      td.append(text);
      if (i === 1 || i === 2) td.className = 'num';
      tr.append(td);
    });
    body.append(tr);
  }
  const traces = ORDER.filter((n) => dets[n]).map((n) => ({
    x: dets[n].roc.fpr, y: dets[n].roc.tpr, mode: 'lines', line: { shape: 'hv', color: SERIES[n], width: n === best ? 3 : 1.6,
      dash: n.startsWith('oracle') ? 'dot' : 'solid' },
    name: `${n === 'variance' ? `variance K=${state.k}` : n} (${fmt(dets[n].auroc, 3)})`,
  }));
  traces.push({ x: [0, 1], y: [0, 1], mode: 'lines', line: { color: '#c9d2dc', dash: 'dash', width: 1 },
    showlegend: false });
  Plotly.react($('bench-roc'), traces, layout({
    xaxis: axis('false-positive rate (in-support flagged)', { range: [0, 1] }),
    yaxis: axis('true-positive rate (hallucinations flagged)', { range: [0, 1.02] }),
    legend: { x: 1, xanchor: 'right', y: 0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.8)', font: { size: 10.5 } },
    margin: { l: 52, r: 10, t: 10, b: 40 },
  }), PLOT_CONFIG);
  const where = best ? `${NAMES[best][0]} wins among detectors a deployed model could use`
    : 'no detector can be scored (no hallucinations, or none in support)';
  $('bench-readout').textContent = `${r.n_hallucinated} of ${r.n_samples} samples hallucinated `
    + `(${pct(r.share_hallucinated)}); ${where}. The oracle rows are ceilings, not contenders.`
    + `${r.cached ? ' (from the cache)' : ` (${fmt(r.seconds, 1)} s)`}`;
  $('bench-k-label').textContent = `K = ${state.k}: variance AUROC ${fmt(dets.variance.auroc, 3)}`;
}

async function run() {
  if (!state.run || state.busy) return;
  const n = Number($('bench-n').value);
  const seed = Number($('bench-seed').value);
  const kmax = Math.min(Number($('bench-kmax').value), state.T);
  state.busy = true;
  $('bench-run').disabled = true;
  $('bench-readout').textContent = 'Sampling and scoring…';
  try {
    const { body } = await requestJSON('GET',
      `/api/analysis/runs/${state.run}/detectors?n=${n}&seed=${seed}&window=${kmax}`);
    state.report = body;
    state.loads += 1;
    const k = $('bench-k');
    k.max = String(body.window);
    k.disabled = false;
    state.k = Math.min(Math.max(2, state.k), body.window);
    k.value = String(state.k);
    render();
  } catch (err) {
    showError(err);
    $('bench-readout').textContent = 'The bench could not run.';
  } finally {
    state.busy = false;
    $('bench-run').disabled = false;
  }
}

export function setRun(run) {
  state.run = run.run_id;
  state.T = run.T;
  state.report = null;
  $('bench-body').replaceChildren();
  $('bench-k').disabled = true;
  emptyPlot($('bench-roc'), 'Score the detectors to see their ROC curves.');
  $('bench-readout').textContent = 'Press “Score detectors”.';
}

export function init() {
  $('bench-n').max = String(BOOT.limits.max_bench_n);
  $('bench-kmax').max = String(BOOT.limits.max_bench_window);
  $('bench-run').addEventListener('click', run);
  $('bench-k').addEventListener('input', () => {
    state.k = Number($('bench-k').value);
    render();
  });
}

export const benchState = state;
export const runBench = run;
