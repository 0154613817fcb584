// Shared by the /analysis views: DOM helpers, the error banner and chart look (from banner.js and theme.js), and analysis jobs
// (POST, follow the SSE stream with progress, cancel) on top of ../api.js.

import { requestJSON, openStream } from '../api.js';
import { PALETTE, baseLayout, SMALL_CONFIG, axis as themeAxis, emptyLayout } from '../theme.js';
import { addBannerLine, clearBanner } from '../banner.js';

export const Plotly = window.Plotly;
export const $ = (id) => document.getElementById(id);
export const BOOT = JSON.parse($('bootstrap').textContent);

// Colour roles of the /analysis charts, from the shared palette (theme.js): one colour per detector / filter.
export const COLORS = {
  exact: PALETTE.ink, learned: PALETTE.blue, between: PALETTE.vermillion, support: PALETTE.blue,
  outside: PALETTE.orange, grid: PALETTE.grid, mode: 'rgba(0, 158, 115, 0.55)', muted: PALETTE.muted,
};
export const SERIES = {
  variance: PALETTE.blue, lid: PALETTE.green, oracle: PALETTE.ink, oracle_final: PALETTE.muted,
  nn_distance: PALETTE.pink, none: PALETTE.muted, random: PALETTE.orange, variance_filter: PALETTE.blue,
};
export const FILTER_COLORS = { none: PALETTE.muted, random: PALETTE.orange, variance: PALETTE.blue,
  lid: PALETTE.green, oracle: PALETTE.ink };
export const PLOT_CONFIG = SMALL_CONFIG;

export function layout(extra) {
  return baseLayout({
    margin: { l: 52, r: 12, t: 28, b: 40 }, showlegend: true,
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } },
    ...extra,
  });
}

export const axis = themeAxis;

export function emptyPlot(el, text) {
  Plotly.react(el, [], emptyLayout(text), PLOT_CONFIG);
}

// ------------------------------------------------------------------ errors

export function showError(err) {
  addBannerLine(err?.message ?? String(err));
}

export const clearErrors = clearBanner;

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
