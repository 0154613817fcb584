// Shared by the /analysis views: DOM helpers, the error banner, Plotly defaults, and analysis jobs
// (POST, follow the SSE stream with progress, cancel) on top of ../api.js.

import { requestJSON, openStream } from '../api.js';
import { OFFLINE_CONFIG } from '../plotly_offline.js';

export const Plotly = window.Plotly;
export const $ = (id) => document.getElementById(id);
export const BOOT = JSON.parse($('bootstrap').textContent);

// Okabe–Ito, as on the lab page; one colour per detector / filter.
export const COLORS = {
  exact: '#1d2733', learned: '#0072B2', between: '#D55E00', support: '#0072B2', outside: '#E69F00',
  grid: '#e8ecf1', mode: 'rgba(0, 158, 115, 0.55)', muted: '#8795a3',
};
export const SERIES = {
  variance: '#0072B2', lid: '#009E73', oracle: '#1d2733', oracle_final: '#8795a3', nn_distance: '#CC79A7',
  none: '#8795a3', random: '#E69F00', variance_filter: '#0072B2',
};
export const FILTER_COLORS = { none: '#8795a3', random: '#E69F00', variance: '#0072B2', lid: '#009E73',
  oracle: '#1d2733' };
const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 11.5, color: '#26323f' };
export const PLOT_CONFIG = { ...OFFLINE_CONFIG, displayModeBar: false, responsive: true };

export function layout(extra) {
  return {
    font: FONT, paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: '#ffffff',
    margin: { l: 52, r: 12, t: 28, b: 40 }, showlegend: true,
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } },
    ...extra,
  };
}

export function axis(title, extra = {}) {
  return { title: { text: title, standoff: 6 }, gridcolor: COLORS.grid, zeroline: false, ...extra };
}

export function emptyPlot(el, text) {
  Plotly.react(el, [], layout({
    xaxis: { visible: false }, yaxis: { visible: false }, plot_bgcolor: 'rgba(0,0,0,0)', showlegend: false,
    annotations: [{ text, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false,
      font: { size: 12, color: COLORS.muted } }],
  }), PLOT_CONFIG);
}

// ------------------------------------------------------------------ errors

export function showError(err) {
  const li = document.createElement('li');
  li.textContent = err?.message ?? String(err);
  $('error-list').append(li);
  $('errors').hidden = false;
}

export function clearErrors() {
  $('error-list').replaceChildren();
  $('errors').hidden = true;
}

export const fmt = (v, digits = 3) => (v === null || v === undefined || Number.isNaN(v) ? '—' : Number(v).toFixed(digits));
export const pct = (v, digits = 1) => (v === null || v === undefined ? '—' : `${(100 * v).toFixed(digits)}%`);

/** "1, 2 3" → ['1', '2', '3'] */
export const splitList = (text) => text.split(/[\s,;]+/).filter(Boolean);

// ------------------------------------------------------------------ jobs

/**
 * Run an analysis job: POST `url` with `body`, then follow /api/analysis/jobs/{id}/events.
 * `on` = {progress(p), unit(u), done(view), error(err)}. Returns {cancel(), jobId} (a promise of it).
 */
export async function startJob(url, body, on) {
  const { status, body: view } = await requestJSON('POST', url, body);
  const jobId = view.job_id;
  on.accepted?.(view, status);
  if (view.status === 'done') { on.done(view); return { jobId, cancel: async () => {}, close: () => {} }; }
  const stream = openStream(`/api/analysis/jobs/${jobId}/events`, {
    progress: on.progress,
    point: on.unit,
    generation: on.unit,
    done: on.done,
  }, on.error);
  return {
    jobId,
    close: stream.close,
    cancel: async () => { await requestJSON('DELETE', `/api/analysis/jobs/${jobId}`); },
  };
}

export function setProgress(bar, fraction) {
  const value = Math.max(0, Math.min(1, fraction));
  bar.setAttribute('aria-valuenow', String(Math.round(100 * value)));
  bar.querySelector('.progress-fill').style.width = `${(100 * value).toFixed(1)}%`;
}

/** Progress of a job as a fraction: finished units plus the running unit's training share. */
export function jobFraction(p) {
  if (!p.total) return 0;
  const inner = p.steps ? p.step / p.steps : 0;
  return Math.min(1, (p.done + (p.status === 'running' ? 0.9 * inner : 0)) / p.total);
}
