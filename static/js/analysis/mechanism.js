// View 1: the learned vs exact denoiser at a chosen t (GET /api/analysis/runs/{id}/mechanism).
// The t slider is cubic (fine steps at small t, where the step forms); requests are debounced and a
// stale answer never overwrites a newer one.

import { requestJSON } from '../api.js';
import { flat, decode } from '../codec.js';
import { $, Plotly, COLORS, PLOT_CONFIG, layout, axis, emptyPlot, showError, fmt } from './common.js';

const SLIDER_MAX = 200;
const state = { run: null, T: 0, t: 0, seq: 0, shown: null, slopes: null, loads: 0, timer: 0 };

const tOf = (pos, T) => Math.min(T - 1, Math.round((T - 1) * (pos / SLIDER_MAX) ** 3));

function modeLines(means, dimIsOne) {
  if (!dimIsOne) return [];
  return means.map(([m]) => ({ type: 'line', xref: 'x', yref: 'paper', x0: m, x1: m, y0: 0, y1: 1,
    line: { color: COLORS.mode, width: 1, dash: 'dot' } }));
}

function drawCurves(v) {
  const x = flat(v.coordinate);
  const oneD = v.dim === 1;
  const xTitle = oneD ? 'x (data units; evaluated at x_t = a_t·x)' : 'position along the middle row of modes';
  const shapes = modeLines(v.means, oneD);
  Plotly.react($('mech-denoiser'), [
    { x, y: flat(v.denoiser_exact), name: 'exact E[x₀|x_t]', mode: 'lines', line: { color: COLORS.exact, width: 2 } },
    { x, y: flat(v.denoiser_learned), name: 'learned (network)', mode: 'lines',
      line: { color: COLORS.learned, width: 2.5 } },
  ], layout({ title: { text: `Denoiser at t = ${v.t}`, font: { size: 12 }, x: 0.99, xanchor: 'right', y: 0.98 },
    xaxis: axis(xTitle), yaxis: axis('x̂₀'), shapes, hovermode: 'x' }), PLOT_CONFIG);
  Plotly.react($('mech-eps'), [
    { x, y: flat(v.eps_exact), name: 'exact ε*', mode: 'lines', line: { color: COLORS.exact, width: 2 } },
    { x, y: flat(v.eps_learned), name: 'learned ε_θ', mode: 'lines', line: { color: COLORS.learned, width: 2.5 } },
  ], layout({ title: { text: `ε at t = ${v.t}`, font: { size: 12 }, x: 0.99, xanchor: 'right', y: 0.98 },
    xaxis: axis(xTitle), yaxis: axis('ε (along the line)'), shapes, hovermode: 'x' }), PLOT_CONFIG);
}

function drawMap(v) {
  const box = $('mech-2d');
  if (!v.map) { box.hidden = true; return; }
  box.hidden = false;
  const m = v.map;
  const xs = flat(m.x); const ys = flat(m.y);
  const err = decode(m.abs_eps_error);
  const [ny, nx] = err.shape;
  const z = [];
  for (let i = 0; i < ny; i += 1) z.push(Array.from(err.data.subarray(i * nx, (i + 1) * nx)));
  const means = { x: v.means.map((p) => p[0]), y: v.means.map((p) => p[1]), mode: 'markers', name: 'modes',
    marker: { color: '#ffffff', size: 5, line: { color: COLORS.exact, width: 1 } }, showlegend: false };
  const square = { scaleanchor: 'x', scaleratio: 1 };
  Plotly.react($('mech-heat'), [
    { type: 'heatmap', x: Array.from(xs), y: Array.from(ys), z, colorscale: 'Viridis', zmin: 0,
      colorbar: { title: { text: '|ε_θ−ε*|', side: 'right' }, thickness: 10, len: 0.9 } },
    means,
  ], layout({ title: { text: `|ε_θ − ε*| at t = ${v.t} (max ${fmt(m.abs_eps_error_max, 2)})`, font: { size: 12 },
    x: 0.5, y: 0.98 }, xaxis: axis('x₁', { constrain: 'domain' }), yaxis: axis('x₂', square), showlegend: false,
  margin: { l: 44, r: 8, t: 28, b: 36 } }), PLOT_CONFIG);

  // Field view: one segment per grid point, p → p + scale·ε, learned over exact.
  const fx = flat(m.field_x); const fy = flat(m.field_y);
  const fe = flat(m.field_eps_exact); const fl = flat(m.field_eps_learned);
  let maxNorm = 1e-12;
  for (let i = 0; i < fe.length; i += 2) maxNorm = Math.max(maxNorm, Math.hypot(fe[i], fe[i + 1]), Math.hypot(fl[i], fl[i + 1]));
  const spacing = Math.min(fx[1] - fx[0], fy[1] - fy[0]);
  const scale = (0.9 * spacing) / maxNorm;
  const segs = (f) => {
    const X = []; const Y = [];
    for (let r = 0; r < fy.length; r += 1) {
      for (let c = 0; c < fx.length; c += 1) {
        const k = 2 * (r * fx.length + c);
        X.push(fx[c], fx[c] + scale * f[k], null);
        Y.push(fy[r], fy[r] + scale * f[k + 1], null);
      }
    }
    return { X, Y };
  };
  const ex = segs(fe); const le = segs(fl);
  Plotly.react($('mech-field'), [
    { x: ex.X, y: ex.Y, mode: 'lines', name: 'exact ε*', line: { color: COLORS.exact, width: 1.5 } },
    { x: le.X, y: le.Y, mode: 'lines', name: 'learned ε_θ', line: { color: COLORS.learned, width: 1.5 } },
    means,
  ], layout({ title: { text: 'ε at grid points: each segment starts at its point and runs along ε (length ∝ |ε|)',
    font: { size: 11 }, x: 0.5, y: 0.98 }, showlegend: true,
    xaxis: axis('x₁', { constrain: 'domain' }), yaxis: axis('x₂', square), legend: { orientation: 'h', y: -0.2 },
    margin: { l: 44, r: 8, t: 28, b: 36 } }), PLOT_CONFIG);
}

// A log axis cannot show a slope ≤ 0 (the learned denoiser can turn over at large t): leave a gap.
const positive = (v) => (v > 0 ? v : null);

function drawSlopes() {
  const rows = state.slopes;
  if (!rows) return;
  const ts = rows.map((r) => r.t + 1);
  const shapes = [{ type: 'line', xref: 'x', yref: 'paper', x0: state.t + 1, x1: state.t + 1, y0: 0, y1: 1,
    line: { color: COLORS.between, width: 1.5, dash: 'dash' } }];
  Plotly.react($('mech-slopes'), [
    { x: ts, y: rows.map((r) => positive(r.exact_median)), name: 'exact slope', mode: 'lines+markers',
      line: { color: COLORS.exact, width: 2 } },
    { x: ts, y: rows.map((r) => positive(r.learned_median)), name: 'learned slope', mode: 'lines+markers',
      line: { color: COLORS.learned, width: 2 } },
  ], layout({ xaxis: axis('t + 1 (log)', { type: 'log' }), yaxis: axis('∂E[x₀|x_t]/∂x_t at midpoints', { type: 'log' }),
    shapes, margin: { l: 58, r: 12, t: 28, b: 40 } }), PLOT_CONFIG);
}

function readout(v) {
  const s = state.slopes ? state.summaryText : '';
  $('mech-readout').textContent = `t = ${v.t}: a_t = ${fmt(v.a_t, 3)}, s_t = ${fmt(v.s_t, 3)}; `
    + `relative ε error along the line ${fmt(100 * v.eps_relative_error, 1)}%, largest |ε_θ − ε*| `
    + `${fmt(v.eps_abs_error_max, 3)}.${s}`;
}

async function load(first) {
  if (!state.run) return;
  const seq = ++state.seq;
  const url = `/api/analysis/runs/${state.run}/mechanism?t=${state.t}&slopes=${first ? 'true' : 'false'}`;
  try {
    const { body } = await requestJSON('GET', url);
    if (seq !== state.seq) return; // a newer t was asked for meanwhile
    if (first) {
      state.slopes = body.midpoint_slopes;
      const sm = body.summary;
      state.summaryText = sm && sm.denoiser_slope_ratio_small_t_min !== null
        ? ` At small t the exact step is ${fmt(sm.denoiser_slope_ratio_small_t_min, 1)}–`
          + `${fmt(sm.denoiser_slope_ratio_small_t_max, 1)}× steeper than the learned ramp.`
        : '';
    }
    state.shown = body;
    state.loads += 1;
    drawCurves(body);
    drawMap(body);
    drawSlopes();
    readout(body);
  } catch (err) {
    if (seq === state.seq) showError(err);
  }
}

function onSlide() {
  state.t = tOf(Number($('mech-t').value), state.T);
  $('mech-t-label').textContent = `t = ${state.t} of ${state.T}`;
  clearTimeout(state.timer);
  state.timer = setTimeout(() => load(false), 120);
}

export function setRun(run) {
  state.run = run.run_id;
  state.T = run.T;
  state.slopes = null;
  $('mech-t').value = String(Math.round(SLIDER_MAX * (Math.min(4, run.T - 1) / Math.max(run.T - 1, 1)) ** (1 / 3)));
  state.t = tOf(Number($('mech-t').value), state.T);
  $('mech-t-label').textContent = `t = ${state.t} of ${state.T}`;
  load(true);
}

export function init() {
  $('mech-t').max = String(SLIDER_MAX);
  $('mech-t').addEventListener('input', onSlide);
  for (const id of ['mech-denoiser', 'mech-eps', 'mech-slopes']) emptyPlot($(id), 'Loading…');
}

export const mechanismState = state;
