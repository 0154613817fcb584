// View 3: sweeps as analysis jobs (POST /api/analysis/sweeps, progress over SSE, cancel).
// The chart shows mean ± std over seeds per value, with each seed's point behind it.

import { $, Plotly, BOOT, COLORS, PLOT_CONFIG, layout, axis, emptyPlot, showError, splitList, pct,
  startJob, setProgress, jobFraction } from './common.js';

const LABELS = {
  n_train: 'training-set size N (fixed steps)',
  n_train_epochs: 'training-set size N (fixed epochs, as the paper)',
  spacing: 'mode spacing (× the dataset’s)',
  T: 'diffusion steps T',
  steps: 'training steps',
  width: 'network width',
  sampler: 'sampler (ddpm, ddim:η)',
};
const LOG_PARAMS = new Set(['n_train', 'n_train_epochs', 'steps', 'T']);
const state = { job: null, view: null, points: [], lastAccepted: null, runs: 0, progress: null };

function value(param, text) {
  if (param === 'sampler') return text;
  const v = Number(text);
  return Number.isFinite(v) ? v : text; // the server names a bad value in its 422
}

function body() {
  const param = $('sw-param').value;
  return {
    base: {
      data: { dataset: $('sw-dataset').value },
      schedule: { T: Number($('sw-T').value) },
      train: { steps: Number($('sw-steps').value), batch: Number($('sw-batch').value) },
    },
    sampler: { n: Number($('sw-n').value) },
    param,
    values: splitList($('sw-values').value).map((t) => value(param, t)),
    seeds: splitList($('sw-seeds').value).map(Number),
  };
}

function draw(param, values, series, points) {
  const el = $('sweep-plot');
  const categorical = param === 'sampler';
  const x = values.map(String);
  const traces = [];
  if (points.length) {
    traces.push({ x: points.map((p) => (categorical ? String(p.value) : p.value)),
      y: points.map((p) => p.share_between_modes), mode: 'markers', name: 'one seed',
      text: points.map((p) => `seed ${p.seed} · ${p.train_steps} training steps`),
      customdata: points.map((p) => p.run_id), // a click opens that run in the explorer (/run/{run_id})
      hovertemplate: '%{y:.2%} · %{text}<br>click: open this model in the explorer<extra></extra>',
      marker: { color: 'rgba(0, 114, 178, 0.35)', size: 7 } });
  }
  if (series) {
    traces.push({ x: categorical ? x : values, y: series.map((s) => s.mean), mode: 'lines+markers',
      name: 'mean ± std over seeds', line: { color: COLORS.between, width: 2 }, marker: { size: 8 },
      error_y: { type: 'data', array: series.map((s) => s.std), visible: true, color: COLORS.between, thickness: 1.5,
        width: 6 } });
  }
  Plotly.react(el, traces, layout({
    xaxis: axis(LABELS[param] ?? param, categorical ? { type: 'category' }
      : { type: LOG_PARAMS.has(param) ? 'log' : 'linear' }),
    yaxis: axis('share between modes', { tickformat: '.1%', rangemode: 'tozero' }),
  }), PLOT_CONFIG);
}

/** Every sweep point is a stored run: open the clicked one in the explorer, in a new tab. */
function openPoint(event) {
  const runId = event?.points?.[0]?.customdata;
  if (typeof runId === 'string' && /^[0-9a-f]{16}$/.test(runId)) window.open(`/run/${runId}`, '_blank', 'noopener');
}

function status(text) { $('sweep-status').textContent = text; }

function onProgress(p) {
  state.progress = p;
  setProgress($('sweep-progress'), jobFraction(p));
  const training = p.steps ? ` — training step ${p.step}/${p.steps}` : '';
  status(`${p.status}: ${p.done}/${p.total} points done (${p.cached} from the cache) · ${p.current}${training}`);
}

function finish(view) {
  state.view = view;
  state.job = null;
  $('sweep-run').disabled = false;
  $('sweep-cancel').disabled = true;
  if (view.status !== 'done') {
    status(`Sweep ${view.status}. Points already finished stay cached.`);
    return;
  }
  setProgress($('sweep-progress'), 1);
  const r = view.result;
  draw(r.param, r.values, r.series, r.points);
  const trained = r.points.length - (view.cached ?? 0);
  const means = r.series.map((s) => `${s.value}: ${pct(s.mean)} ± ${pct(s.std)}`).join(', ');
  status(`Done: ${r.points.length} points over ${r.seeds.length} seed(s) — ${means}. `
    + (state.lastAccepted === 200 ? 'Answered from the store: nothing was trained.'
      : `${trained} trained, ${view.cached ?? 0} from the cache.`) + ' Click a dot to open its model in the explorer.');
}

async function run() {
  const b = body();
  state.points = [];
  state.runs += 1;
  $('sweep-run').disabled = true;
  setProgress($('sweep-progress'), 0);
  status('Submitting…');
  draw(b.param, b.values, null, []);
  try {
    state.job = await startJob('/api/analysis/sweeps', b, {
      accepted: (view, code) => { state.lastAccepted = code; $('sweep-cancel').disabled = view.status === 'done'; },
      progress: onProgress,
      unit: (u) => { state.points.push(u.result); draw(b.param, b.values, null, state.points); },
      done: finish,
      error: (err) => { showError(err); finish({ status: 'failed' }); },
    });
  } catch (err) {
    showError(err);
    $('sweep-run').disabled = false;
    $('sweep-cancel').disabled = true;
    status('The sweep was not started.');
  }
}

async function cancel() {
  if (!state.job) return;
  $('sweep-cancel').disabled = true;
  try { await state.job.cancel(); } catch (err) { showError(err); }
}

// A box the sweep itself sets (train steps while sweeping steps, T while sweeping T) is disabled and
// says why, so nobody edits a value the sweep overrides (epochs sweeps still read the base steps).
const SWEPT_BOXES = { steps: ['sw-steps'], T: ['sw-T'] };

function syncSwept() {
  const param = $('sw-param').value;
  for (const id of ['sw-steps', 'sw-T']) {
    const swept = (SWEPT_BOXES[param] ?? []).includes(id);
    $(id).disabled = swept;
    $(id).title = swept ? `Set by the sweep: ${LABELS[param] ?? param} takes the values listed` : '';
  }
}

export function init() {
  for (const d of BOOT.datasets) $('sw-dataset').add(new Option(d.name, d.name));
  $('sw-dataset').value = '1d-123';
  for (const p of BOOT.sweep_params) $('sw-param').add(new Option(LABELS[p] ?? p, p));
  $('sw-param').addEventListener('change', () => {
    const examples = { n_train: '500, 2000, 8000', n_train_epochs: '500, 2000, 8000', spacing: '0.5, 1, 2', T: '100, 300, 1000', steps: '300, 1000, 3000',
      width: '32, 64, 128', sampler: 'ddpm, ddim, ddim:0.5' };
    $('sw-values').value = examples[$('sw-param').value] ?? '';
    syncSwept();
  });
  syncSwept();
  $('sweep-run').addEventListener('click', run);
  $('sweep-cancel').addEventListener('click', cancel);
  emptyPlot($('sweep-plot'), 'Run a sweep: one trained model per value and seed.');
  $('sweep-plot').on('plotly_click', openPoint); // Plotly adds .on to the div when it first plots
}

export const sweepState = state;
