// Every Plotly call of the page. Only the main plot uses WebGL (scattergl): browsers cap WebGL
// contexts per page, and the side plots are small enough for SVG.
// Layouts keep fixed axis ranges (no autorange pass per frame) and a `uirevision`, so a person's
// zoom survives the ~20 Plotly.react calls per second of playback.

import { OFFLINE_CONFIG } from './plotly_offline.js';
import { FONT, SMALL_CONFIG, SCATTER, baseLayout as themeLayout, emptyLayout as themeEmpty, presenting } from './theme.js';
import { pdf1d, sigmasOf, SUPPORT_RADIUS_SIGMA } from './mixture.js';
import { COLORS, fmtInt, labelTraces, traceNames, supportCircles, fanTraces, histogram1D } from './traces.js';

const Plotly = window.Plotly;

const CONFIG = {
  // Plotly renders WebGL at 2× by default whatever the screen; matching the screen's ratio quarters
  // the pixels a 1× display rasterises per frame (measured: the animation is raster-bound).
  plotGlPixelRatio: Math.min(Math.max(1, window.devicePixelRatio || 1), 2),
  ...OFFLINE_CONFIG,
  responsive: true,
  modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d', 'sendChartToCloud', 'sendDataToCloud'],
  toImageButtonOptions: { format: 'png', scale: 2 },
};

// The explorer's charts show no hover labels (the main plot's are per-particle picks, see mainplot.js).
const baseLayout = (extra) => themeLayout({ hovermode: false, ...extra });
const emptyLayout = (text, height) => ({ ...themeEmpty(text, height), hovermode: false });

/** "10⁻³"-style tick labels for axes that carry log10 values on a linear scale. */
export function logTicks(lo, hi) {
  const vals = [];
  const text = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e += 1) {
    vals.push(e);
    text.push(e === 0 ? '1' : `10<sup>${e}</sup>`);
  }
  return { tickvals: vals, ticktext: text };
}

// ---------------------------------------------------------------- main plot

function build2D(view) {
  const { means, sigmas, radius, bounds, frame, idx, selectedPath, selectedPoint, editMode, selectedMode } = view;
  const names = traceNames(idx);
  const empty = new Float32Array(0);
  const posX = frame ? frame.x[0] : empty;
  const posY = frame ? frame.x[1] : empty;
  const traces = [
    {
      type: SCATTER, mode: 'markers', name: 'true modes', showlegend: true,
      x: means.map((m) => m[0]), y: means.map((m) => m[1]),
      marker: {
        color: COLORS.mode, symbol: editMode ? 'circle-open-dot' : 'x-thin-open',
        size: editMode ? 13 : 8, line: { width: 1.5, color: COLORS.mode },
      },
    },
    ...labelTraces(posX, posY, frame ? idx : null, names, view.isFinal),
    // The selection traces exist only while a particle is selected: each WebGL trace is a draw call per frame.
    ...(selectedPath ? [{
      type: SCATTER, mode: 'lines', name: 'selected path', showlegend: false,
      x: selectedPath[0], y: selectedPath[1], line: { color: 'rgba(0,0,0,0.7)', width: 1.5 },
    }] : []),
    ...(selectedPoint ? [{
      type: SCATTER, mode: 'markers', name: 'selected', showlegend: false,
      x: [selectedPoint[0]], y: [selectedPoint[1]],
      marker: { symbol: 'circle-open', size: 16, color: COLORS.selected, line: { width: 2, color: COLORS.selected } },
    }] : []),
  ];
  const layout = baseLayout({
    margin: { l: 44, r: 12, t: 8, b: 40 },
    xaxis: { range: bounds.x, title: { text: 'x₁', standoff: 2 }, zeroline: false, gridcolor: COLORS.grid,
      constrain: 'domain' },
    yaxis: { range: bounds.y, title: { text: 'x₂', standoff: 2 }, zeroline: false, gridcolor: COLORS.grid,
      scaleanchor: 'x', scaleratio: 1, constrain: 'domain' },
    showlegend: true,
    legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.8)' },
    shapes: supportCircles(means, sigmas, radius, selectedMode),
    dragmode: editMode ? false : 'zoom',
    uirevision: view.uirevision,
  });
  return { traces, layout };
}

function build1D(view) {
  const { mixture, means, sigmas, radius, bounds, frame, frames, idx, index, nFrames, frameTs } = view;
  const names = traceNames(idx);
  const range = bounds.x; // the one data coordinate runs along the y axis of this figure
  const nBins = 120;
  const binWidth = (range[1] - range[0]) / nBins;
  const nExpected = view.nParticles || view.defaultN;
  const ys = Float64Array.from({ length: 400 }, (_, i) => range[0] + (i / 399) * (range[1] - range[0]));
  const dens = pdf1d(mixture, ys).map((p) => Math.max(p * nExpected * binWidth, 1e-6));
  const finalValues = view.finalValues;
  const hist = finalValues ? histogram1D(finalValues, range, nBins, means, sigmas, radius) : null;
  const at = frame ? frame.x[0] : new Float32Array(0);
  const xAt = (n) => new Float32Array(n).fill(index);
  const markerTraces = labelTraces(xAt(at.length), at, frame ? idx : null, names, view.isFinal).map((t) => {
    const n = t.y.length;
    return { ...t, x: xAt(n), marker: { ...t.marker, size: t.name.startsWith('between') ? 8 : 5 } };
  });
  const traces = [
    {
      type: 'scatter', mode: 'lines', name: 'true density (expected count)', xaxis: 'x2', yaxis: 'y',
      x: Array.from(dens), y: Array.from(ys), line: { color: COLORS.mode, width: 1.5 }, showlegend: false,
    },
    {
      type: 'bar', orientation: 'h', name: 'final samples', xaxis: 'x2', yaxis: 'y', showlegend: false,
      x: hist ? hist.counts : [], y: hist ? hist.centres : [], width: binWidth,
      marker: { color: hist ? hist.colors : COLORS.support, opacity: 0.8 },
    },
    ...fanTraces(view),
    ...markerTraces,
    {
      type: SCATTER, mode: 'lines', name: 'selected path', showlegend: false,
      x: view.selectedPath ? view.selectedPath[0] : [], y: view.selectedPath ? view.selectedPath[1] : [],
      line: { color: COLORS.selected, width: 2.2 },
    },
  ];
  const tickIdx = [];
  const nT = Math.max(nFrames, 1);
  for (let k = 0; k < 6; k += 1) tickIdx.push(Math.round((k / 5) * (nT - 1)));
  const bands = means.map((m, k) => ({
    type: 'rect', xref: 'paper', yref: 'y', layer: 'below', x0: 0, x1: 1,
    y0: m[0] - radius * sigmas[k], y1: m[0] + radius * sigmas[k], fillcolor: COLORS.band, line: { width: 0 },
  }));
  const cursor = frame ? [{
    type: 'line', xref: 'x', yref: 'paper', x0: index, x1: index, y0: 0, y1: 1,
    line: { color: COLORS.mode, width: 1, dash: 'dot' },
  }] : [];
  if (Number.isFinite(view.hoveredValue)) { // the hovered particle's final position, across the histogram
    cursor.push({ type: 'line', name: 'hovered', xref: 'paper', yref: 'y', x0: 0.76, x1: 1,
      y0: view.hoveredValue, y1: view.hoveredValue, line: { color: COLORS.selected, width: 2.5 } });
  }
  const layout = baseLayout({
    margin: { l: 48, r: 12, t: 8, b: 44 },
    xaxis: {
      domain: [0, 0.72], range: [-0.5, nT - 0.5], zeroline: false, gridcolor: COLORS.grid,
      title: { text: 'reverse process: noise (t = T) → data (t = 0)', standoff: 4 },
      tickvals: frameTs ? tickIdx : [], ticktext: frameTs ? tickIdx.map((i) => `t=${frameTs[i]}`) : [],
    },
    xaxis2: {
      domain: [0.76, 1], type: 'log', anchor: 'y', range: [-1, Math.log10(Math.max(nExpected, 10)) + 0.15],
      title: { text: 'count (log)', standoff: 4 }, gridcolor: COLORS.grid,
    },
    // automargin + standoff: the title sits clear of the widest tick label (e.g. "−0.5") at any font size.
    yaxis: { range, zeroline: false, gridcolor: COLORS.grid, automargin: true, title: { text: 'x', standoff: 10 } },
    showlegend: true,
    legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0.8)' },
    shapes: [...bands, ...cursor],
    dragmode: 'zoom',
    bargap: 0,
    uirevision: view.uirevision,
  });
  return { traces, layout };
}

let mainBusy = false;
let mainPending = null;

/** Draw the main plot; calls arriving while Plotly is busy collapse into the newest one. */
/** Layer of a main-plot trace (the URL's `ly` key and the legend toggle it). */
export function layerOf(name) {
  if (name.startsWith('in support') || name === 'particles') return 'support';
  if (name.startsWith('between')) return 'between';
  if (name.startsWith('outside')) return 'outside';
  if (name.startsWith('paths')) return 'paths';
  return null;
}

/** Visible layers (hidden ones stay in the legend) and presenter mode (large type, thick markers). */
function styleMain(traces, layout, view) {
  const layers = view.layers;
  const scale = view.presenter ? 2 : 1;
  const out = traces.map((t) => {
    const layer = layerOf(t.name ?? '');
    let next = t;
    if (layer && layers && !layers.has(layer)) next = { ...next, visible: t.showlegend ? 'legendonly' : false };
    if (scale !== 1 && next.marker?.size) next = { ...next, marker: { ...next.marker, size: next.marker.size * scale } };
    if (scale !== 1 && next.line?.width) next = { ...next, line: { ...next.line, width: next.line.width * 1.8 } };
    return next;
  });
  const lay = { ...layout };
  if (layers && !layers.has('bands')) lay.shapes = (lay.shapes ?? []).filter((sh) => sh.layer !== 'below');
  if (view.presenter) {
    lay.font = { ...FONT, size: 18 };
    lay.legend = { ...lay.legend, font: { size: 17 } };
  }
  return { traces: out, layout: lay };
}

export function renderMain(div, view) {
  const built = view.dim === 1 ? build1D(view) : build2D(view);
  const { traces, layout } = styleMain(built.traces, built.layout, view);
  if (mainBusy) {
    mainPending = { traces, layout };
    return Promise.resolve();
  }
  mainBusy = true;
  return Promise.resolve(Plotly.react(div, traces, layout, CONFIG)).finally(() => {
    mainBusy = false;
    if (mainPending) {
      const next = mainPending;
      mainPending = null;
      mainBusy = true;
      Promise.resolve(Plotly.react(div, next.traces, next.layout, CONFIG)).finally(() => { mainBusy = false; });
    }
  });
}

/** Pixel ↔ data helpers for the main plot (Plotly's axis objects; stable across many releases). */
export function plotGeometry(div) {
  const fl = div._fullLayout;
  if (!fl || !fl.xaxis || !fl.yaxis) return null;
  const xa = fl.xaxis;
  const ya = fl.yaxis;
  const rect = div.getBoundingClientRect();
  return {
    toData(clientX, clientY) {
      const px = clientX - rect.left - xa._offset;
      const py = clientY - rect.top - ya._offset;
      if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
      return { x: xa.p2l(px), y: ya.p2l(py), px, py };
    },
    toPixel(x, y) {
      return { px: xa.l2p(x), py: ya.l2p(y) };
    },
  };
}

// ---------------------------------------------------------------- loss curve

let lossEmpty = true;

export function resetLoss(div, history = [], emptyText = 'the loss curve appears here while a model trains') {
  lossEmpty = history.length === 0;
  if (lossEmpty) return Plotly.react(div, [], emptyLayout(emptyText, 110), SMALL_CONFIG);
  const layout = baseLayout({
    margin: { l: 44, r: 8, t: 6, b: 30 },
    height: 110,
    xaxis: { title: { text: 'step', standoff: 0 }, gridcolor: COLORS.grid, zeroline: false },
    yaxis: { type: 'log', dtick: 1, exponentformat: 'power', gridcolor: COLORS.grid, title: { text: 'loss', standoff: 0 } },
    showlegend: false,
  });
  const trace = {
    type: 'scatter', mode: 'lines', x: history.map((h) => h[0]), y: history.map((h) => h[1]),
    line: { color: COLORS.support, width: 1.5 },
  };
  return Plotly.react(div, [trace], layout, SMALL_CONFIG);
}

export function extendLoss(div, step, loss) {
  if (lossEmpty) return resetLoss(div, [[step, loss]]); // the first point brings the axes
  return Plotly.extendTraces(div, { x: [[step]], y: [[loss]] }, [0], 5000);
}

// ---------------------------------------------------------------- detector

export function renderDetector(div, det, threshold) {
  if (!det) return Plotly.react(div, [], emptyLayout('histograms of the detector score appear after sampling', 190), SMALL_CONFIG);
  const traces = [];
  let shapes = [];
  let xaxis = { title: { text: 'trajectory variance (log scale)', standoff: 2 }, gridcolor: COLORS.grid, zeroline: false };
  if (det) {
    const mk = (name, share, color) => ({
      type: 'bar', name, x: det.centres, y: share, width: det.binWidth, marker: { color, opacity: 0.6 },
    });
    traces.push(mk(`in support (${fmtInt(det.nSupport)})`, det.supportShare, COLORS.support));
    traces.push(mk(`between modes (${fmtInt(det.nBetween)})`, det.betweenShare, COLORS.between));
    const lt = Math.log10(threshold);
    shapes = [{ type: 'line', xref: 'x', yref: 'paper', x0: lt, x1: lt, y0: 0, y1: 1,
      line: { color: COLORS.mode, width: 2, dash: 'dash' } }];
    xaxis = { ...xaxis, range: det.range, ...logTicks(det.range[0], det.range[1]) };
  }
  const layout = baseLayout({
    margin: { l: 52, r: 8, t: 22, b: 36 }, height: 190, barmode: 'overlay', bargap: 0,
    xaxis, yaxis: { title: { text: 'share of group', standoff: 6 }, gridcolor: COLORS.grid, rangemode: 'tozero' },
    legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom', font: { size: presenting() ? 15 : 11 }, itemwidth: 30 },
    showlegend: true, shapes,
  });
  return Plotly.react(div, traces, layout, SMALL_CONFIG);
}

// ---------------------------------------------------------------- one particle's x̂0

export function renderTrajectory(div, traj) {
  const layout = baseLayout({
    margin: { l: 52, r: 8, t: 22, b: 36 }, height: 190,
    xaxis: { gridcolor: COLORS.grid, zeroline: false, title: { text: 'reverse step (t)', standoff: 2 } },
    yaxis: { gridcolor: COLORS.grid, zeroline: false, title: { text: 'x̂₀', standoff: 2 } },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: presenting() ? 15 : 11 } },
    showlegend: true,
  });
  if (!traj) return Plotly.react(div, [], emptyLayout('pick a particle to follow its x̂₀', 190), SMALL_CONFIG);
  const dimColors = [COLORS.support, '#009E73'];
  const colour = traj.highlight ? COLORS.between : null;
  const traces = traj.series.map((s, j) => ({
    type: 'scatter', mode: 'lines', name: traj.series.length > 1 ? `x̂₀ (x${j === 0 ? '₁' : '₂'})` : 'x̂₀',
    x: traj.positions, y: s, line: { color: j === 0 && colour ? colour : dimColors[j], width: 1.5 },
  }));
  const shapes = [];
  if (traj.windowStart !== null) {
    shapes.push({ type: 'rect', xref: 'x', yref: 'paper', x0: traj.windowStart - 0.5, x1: traj.positions.length - 0.5,
      y0: 0, y1: 1, fillcolor: 'rgba(230,159,0,0.18)', line: { width: 0 }, layer: 'below' });
  }
  for (const ref of traj.references) {
    shapes.push({ type: 'line', xref: 'paper', yref: 'y', x0: 0, x1: 1, y0: ref.value, y1: ref.value,
      line: { color: dimColors[ref.dim], width: 1, dash: 'dash' } });
  }
  const n = traj.positions.length;
  // Early x̂0 is huge (it divides by √ᾱ_t ≈ 0 near t = T): frame the data and the window instead.
  if (traj.yRange) layout.yaxis = { ...layout.yaxis, range: traj.yRange };
  const first = traj.firstShown ?? 0;
  const shown = n - first;
  const tickIdx = [...new Set([0, 0.25, 0.5, 0.75, 1].map((f) => first + Math.round(f * (shown - 1))))];
  layout.xaxis = { ...layout.xaxis, range: [first - 0.5, n - 0.5], tickvals: tickIdx, ticktext: tickIdx.map((i) => String(traj.ts[i])) };
  layout.shapes = shapes;
  return Plotly.react(div, traces, layout, SMALL_CONFIG);
}

export { SUPPORT_RADIUS_SIGMA, sigmasOf };
