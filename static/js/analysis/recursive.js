// View 4: recursive training with filters (POST /api/analysis/recursive). Charts the share between
// modes per generation and filter, per-mode counts per generation, and each generation's samples.

import { $, Plotly, BOOT, COLORS, FILTER_COLORS, PLOT_CONFIG, layout, axis, emptyPlot, showError, pct,
  startJob, setProgress, jobFraction } from './common.js';

const LABEL_COLORS = [COLORS.support, COLORS.between, COLORS.outside];
const state = { job: null, rows: [], result: null, means: null, runs: 0 };

function body() {
  const filters = Array.from(document.querySelectorAll('#rc-filters input:checked'), (i) => i.value);
  return {
    config: {
      data: { dataset: $('rc-dataset').value, n: Number($('rc-n').value) },
      schedule: { T: Number($('rc-T').value) },
      train: { steps: Number($('rc-steps').value), batch: Number($('rc-batch').value) },
    },
    generations: Number($('rc-generations').value),
    filters,
    oversample: Number($('rc-over').value),
    sampler: { window: Number($('rc-window').value) },
  };
}

function byFilter(rows) {
  const out = {};
  for (const r of rows) (out[r.filter] ??= [])[r.generation] = r;
  return out;
}

function drawShares(rows) {
  const groups = byFilter(rows);
  const traces = [];
  for (const [name, list] of Object.entries(groups)) {
    const done = list.filter(Boolean);
    traces.push({ x: done.map((r) => r.generation), y: done.map((r) => r.share_between_modes), mode: 'lines+markers',
      name: `${name}: drawn`, line: { color: FILTER_COLORS[name], width: 2 } });
    traces.push({ x: done.map((r) => r.generation), y: done.map((r) => r.kept.share_between_modes),
      mode: 'lines+markers', name: `${name}: kept`, line: { color: FILTER_COLORS[name], width: 1.5, dash: 'dot' },
      marker: { symbol: 'diamond-open' } });
  }
  Plotly.react($('rec-share'), traces, layout({
    xaxis: axis('generation', { dtick: 1 }), yaxis: axis('share between modes', { tickformat: '.1%', rangemode: 'tozero' }),
    legend: { orientation: 'h', x: 0, y: -0.25, yanchor: 'top', font: { size: 10.5 } },
    margin: { l: 56, r: 10, t: 10, b: 80 },
  }), PLOT_CONFIG);
}

function drawModes(rows) {
  const shown = $('rc-show').value;
  const list = rows.filter((r) => r.filter === shown).sort((a, b) => a.generation - b.generation);
  if (!list.length) { emptyPlot($('rec-modes'), 'Per-mode counts appear as generations finish.'); return; }
  const z = list.map((r) => r.per_mode_counts);
  Plotly.react($('rec-modes'), [{
    type: 'heatmap', z, x: z[0].map((_, i) => `mode ${i + 1}`), y: list.map((r) => `gen ${r.generation}`),
    colorscale: 'Blues', colorbar: { title: { text: 'samples', side: 'right' }, thickness: 10 },
  }], layout({ title: { text: `In-support samples per mode — filter “${shown}”`, font: { size: 12 }, x: 0.5, y: 0.98 },
    xaxis: { showticklabels: z[0].length <= 8 }, yaxis: { autorange: 'reversed' }, showlegend: false,
    margin: { l: 52, r: 10, t: 28, b: 30 } }), PLOT_CONFIG);
}

function drawScatter(rows) {
  const shown = $('rc-show').value;
  const box = $('rec-scatter');
  const list = rows.filter((r) => r.filter === shown).sort((a, b) => a.generation - b.generation);
  while (box.children.length > list.length) box.lastChild.remove();
  // One frame for every generation, so a drift between generations is seen, not re-scaled away.
  const all = list.flatMap((r) => r.scatter.points);
  const span = (j) => {
    const v = all.map((p) => p[j]);
    const lo = Math.min(...v); const hi = Math.max(...v);
    const pad = 0.05 * (hi - lo || 1);
    return [lo - pad, hi + pad];
  };
  const xRange = all.length ? span(0) : undefined;
  const yRange = all.length && all[0].length === 2 ? span(1) : undefined;
  list.forEach((r, i) => {
    let el = box.children[i];
    if (!el) {
      el = document.createElement('div');
      el.className = 'plot';
      box.append(el);
    }
    el.dataset.generation = String(r.generation);
    const pts = r.scatter.points;
    const dim = pts.length ? pts[0].length : 1;
    const traces = [0, 1, 2].map((label) => {
      const idx = pts.map((_, j) => j).filter((j) => r.scatter.label[j] === label);
      const x = idx.map((j) => pts[j][0]);
      const y = dim === 2 ? idx.map((j) => pts[j][1]) : idx.map((j) => (j % 97) / 97);
      return { x, y, mode: 'markers', type: 'scatter', name: ['in support', 'between', 'outside'][label],
        marker: { size: label === 1 ? 5 : 3, color: LABEL_COLORS[label], symbol: label === 1 ? 'diamond' : 'circle',
          opacity: label === 0 ? 0.45 : 0.9 } };
    });
    Plotly.react(el, traces, layout({
      title: { text: `gen ${r.generation}: ${pct(r.share_between_modes)} between`, font: { size: 11 }, x: 0.5, y: 0.97 },
      showlegend: false, margin: { l: 28, r: 6, t: 22, b: 22 },
      xaxis: { gridcolor: COLORS.grid, zeroline: false, range: xRange, constrain: 'domain' },
      yaxis: { gridcolor: COLORS.grid, zeroline: false, visible: dim === 2, range: dim === 2 ? yRange : [0, 1],
        ...(dim === 2 ? { scaleanchor: 'x', constrain: 'domain' } : {}) },
    }), PLOT_CONFIG);
  });
}

function drawAll() {
  drawShares(state.rows);
  drawModes(state.rows);
  drawScatter(state.rows);
}

function status(text) { $('rec-status').textContent = text; }

function finish(view) {
  state.job = null;
  $('rec-run').disabled = false;
  $('rec-cancel').disabled = true;
  if (view.status !== 'done') { status(`Run ${view.status}.`); return; }
  setProgress($('rec-progress'), 1);
  state.result = view.result;
  state.rows = Object.values(view.result.history).flat();
  drawAll();
  const last = Object.entries(view.result.curves)
    .map(([name, c]) => `${name} ${pct(c.share_between_modes.at(-1))}`).join(', ');
  status(`Done: ${view.result.generations} generation(s). Share between modes in the last generation: ${last}.`);
}

async function run() {
  const b = body();
  state.rows = [];
  state.runs += 1;
  $('rc-show').replaceChildren(...b.filters.map((f) => new Option(f, f)));
  $('rec-run').disabled = true;
  setProgress($('rec-progress'), 0);
  status('Submitting…');
  try {
    state.job = await startJob('/api/analysis/recursive', b, {
      accepted: (view) => { $('rec-cancel').disabled = view.status === 'done'; },
      progress: (p) => {
        setProgress($('rec-progress'), jobFraction(p));
        const training = p.steps ? ` — training step ${p.step}/${p.steps}` : '';
        status(`${p.status}: ${p.done}/${p.total} generation runs done · ${p.current}${training}`);
      },
      unit: (u) => { state.rows.push(u.result); drawAll(); },
      done: finish,
      error: (err) => { showError(err); finish({ status: 'failed' }); },
    });
  } catch (err) {
    showError(err);
    $('rec-run').disabled = false;
    status('The run was not started.');
  }
}

async function cancel() {
  if (!state.job) return;
  $('rec-cancel').disabled = true;
  try { await state.job.cancel(); } catch (err) { showError(err); }
}

export function init() {
  for (const d of BOOT.datasets) $('rc-dataset').add(new Option(d.name, d.name));
  $('rc-dataset').value = 'grid25';
  $('rc-generations').max = String(BOOT.limits.max_generations);
  const box = $('rc-filters');
  for (const f of BOOT.filters) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.value = f;
    input.checked = f === 'variance' || f === 'random';
    label.append(input, f);
    box.append(label);
  }
  $('rc-show').add(new Option('variance', 'variance'));
  $('rc-show').addEventListener('change', () => { drawModes(state.rows); drawScatter(state.rows); });
  $('rec-run').addEventListener('click', run);
  $('rec-cancel').addEventListener('click', cancel);
  emptyPlot($('rec-share'), 'Run generations to see the share between modes.');
  emptyPlot($('rec-modes'), 'Per-mode counts appear as generations finish.');
}

export const recursiveState = state;
