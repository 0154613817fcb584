// Plotly look shared by the shapes page's charts (offline config: nothing leaves the lab).

import { OFFLINE_CONFIG } from '../plotly_offline.js';

export const Plotly = window.Plotly;
export const CONFIG = { ...OFFLINE_CONFIG, displayModeBar: false, responsive: true };
// Okabe–Ito: colour-blind safe. Duplicates vermillion everywhere (grid outline, bars, map points).
export const COLORS = { duplicate: '#D55E00', malformed: '#CC79A7', empty: '#E69F00', valid: '#0072B2',
  training: '#8795a3', generated: '#0072B2', rest: '#0072B2', grid: '#e8ecf1', muted: '#8795a3' };
const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 11.5, color: '#26323f' };

export function layout(extra) {
  return {
    font: FONT, paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#ffffff', margin: { l: 48, r: 10, t: 24, b: 40 },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } }, ...extra,
  };
}

export function message(el, text) {
  Plotly.react(el, [], layout({ xaxis: { visible: false }, yaxis: { visible: false },
    plot_bgcolor: 'rgba(0,0,0,0)', showlegend: false,
    annotations: [{ text, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false,
      font: { size: 12, color: COLORS.muted } }] }), CONFIG);
}

export const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
