// "Watch the model learn": while a model trains, its progress events carry the network's x̂0 on a fixed grid at
// one noise level beside the exact x̂0 there (server/jobs/preview.py). In 1D both are curves over x_t/√ᾱ_t: the
// exact one a staircase (flat at each mode, a step between two), the network's a ramp that sharpens as it
// learns, and the ramp's middle is where it will strand particles between modes. In 2D each grid point is
// drawn where x̂0 sends it: the exact one gathers them at the modes, the network's spreads them between.

import { columns } from './codec.js';
import { COLORS } from './traces.js';
import { OFFLINE_CONFIG } from './plotly_offline.js';

const Plotly = window.Plotly;
const $ = (id) => document.getElementById(id);
const CONFIG = { ...OFFLINE_CONFIG, displayModeBar: false, responsive: true };
const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', color: '#26323f' };
const HEIGHT = 170;

let latestStep = -1;

/** No preview: the panel hides (a ready model, the exact denoiser, a new job before its step 0). */
export function clearPreview() {
  latestStep = -1;
  const box = $('preview-box');
  if (!box) return;
  box.hidden = true;
  Plotly.purge($('preview-plot'));
  $('preview-caption').textContent = '';
}

function layout1D(x) {
  return {
    xaxis: { title: { text: 'noisy position x_t / √ᾱ_t', standoff: 2 }, gridcolor: COLORS.grid, zeroline: false,
      range: [x[0], x[x.length - 1]] },
    yaxis: { title: { text: 'x̂₀', standoff: 2 }, gridcolor: COLORS.grid, zeroline: false },
  };
}

function traces1D(grid, exact, learned) {
  return [
    { type: 'scatter', mode: 'lines', name: 'exact', x: grid[0], y: exact[0],
      line: { color: COLORS.neutral, width: 1.5, dash: 'dash' } },
    { type: 'scatter', mode: 'lines', name: 'network', x: grid[0], y: learned[0],
      line: { color: COLORS.between, width: 2 } },
  ];
}

function traces2D(exact, learned) {
  return [
    { type: 'scatter', mode: 'markers', name: 'network', x: learned[0], y: learned[1],
      marker: { color: COLORS.between, size: 3, opacity: 0.45 } },
    { type: 'scatter', mode: 'markers', name: 'exact', x: exact[0], y: exact[1],
      marker: { color: COLORS.mode, size: 4, symbol: 'x-thin', line: { width: 1, color: COLORS.mode } } },
  ];
}

function layout2D(grid) {
  const span = (c) => [Math.min(...c), Math.max(...c)];
  return {
    xaxis: { gridcolor: COLORS.grid, zeroline: false, range: span(grid[0]), constrain: 'domain',
      title: { text: 'x̂₀ (x₁)', standoff: 2 } },
    yaxis: { gridcolor: COLORS.grid, zeroline: false, range: span(grid[1]), scaleanchor: 'x',
      title: { text: 'x̂₀ (x₂)', standoff: 2 } },
  };
}

/** Draw a progress event's `preview` (a newer step than the one shown, or any after clearPreview). */
export function showPreview(preview) {
  if (!preview || preview.step < latestStep) return;
  latestStep = preview.step;
  const grid = columns(preview.grid);
  const exact = columns(preview.exact);
  const learned = columns(preview.learned);
  const oneD = grid.length === 1;
  const big = document.body.classList.contains('presenter');
  const layout = {
    height: HEIGHT, margin: { l: 44, r: 8, t: 20, b: 34 }, hovermode: false,
    paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#ffffff', font: { ...FONT, size: big ? 16 : 12 },
    legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom', font: { size: big ? 15 : 11 } },
    uirevision: 'preview',
    ...(oneD ? layout1D(grid[0]) : layout2D(grid)),
  };
  $('preview-box').hidden = false;
  Plotly.react($('preview-plot'), oneD ? traces1D(grid, exact, learned) : traces2D(exact, learned), layout, CONFIG);
  $('preview-plot').dataset.step = String(preview.step);
  $('preview-caption').textContent = `Step ${preview.step.toLocaleString('en-US')}, noise ${preview.noise}: `
    + (oneD ? 'where the network’s ramp is shallower than the exact steps, particles end between modes.'
      : 'network points left between the clusters are where particles end between modes.');
}
