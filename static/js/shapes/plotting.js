// The shapes page's chart roles on the lab's shared look (theme.js: Okabe–Ito, font, offline Plotly config).
// Duplicates are vermillion everywhere: grid outline, bars, map points.

import { PALETTE, SMALL_CONFIG, baseLayout, emptyLayout } from '../theme.js';

export const Plotly = window.Plotly;
export const CONFIG = SMALL_CONFIG;
export const COLORS = { duplicate: PALETTE.vermillion, malformed: PALETTE.pink, empty: PALETTE.orange,
  valid: PALETTE.blue, training: PALETTE.muted, generated: PALETTE.blue, rest: PALETTE.blue, grid: PALETTE.grid,
  muted: PALETTE.muted, ink: PALETTE.ink };
// The seven training combinations on the map (colour-blind safe; ink for the three-shape one).
export const COMBINATION_COLORS = [PALETTE.sky, PALETTE.green, PALETTE.yellow, PALETTE.blue, PALETTE.pink,
  PALETTE.orange, PALETTE.ink];

export function layout(extra) {
  return baseLayout({ margin: { l: 48, r: 10, t: 24, b: 40 },
    legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom', font: { size: 11 } }, ...extra });
}

export function message(el, text) {
  Plotly.react(el, [], emptyLayout(text), CONFIG);
}

export const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
