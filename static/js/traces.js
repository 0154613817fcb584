// The main plot's traces: the labelled particles (three fixed traces), the support circles, and in 1D the fan of
// paths and the histogram of final values. The layouts and every Plotly call stay in plots.js.

import { gather } from './codec.js';
import { inSupport } from './mixture.js';
import { PALETTE, SCATTER } from './theme.js';

// Colour roles of the explorer, from the shared Okabe–Ito palette (theme.js).
export const COLORS = {
  support: PALETTE.blue,
  between: PALETTE.vermillion,
  outside: PALETTE.orange,
  neutral: '#5B7083',
  mode: PALETTE.ink,
  band: 'rgba(0, 158, 115, 0.10)',
  bandLine: 'rgba(0, 158, 115, 0.55)',
  grid: PALETTE.grid,
  selected: '#000000',
};
const SYMBOLS = { support: 'circle', between: 'diamond', outside: 'triangle-up' };
const FAN_SUPPORT_LINES = 250; // fan lines drawn for in-support particles (the rest add nothing but ink)
const FAN_HIGHLIGHT_LINES = 250;

export const fmtInt = (v) => Math.round(v).toLocaleString('en-US');

export function labelTraces(posX, posY, idx, names, frameIsFinal) {
  // Three fixed traces (in support / between / outside) so Plotly.react only swaps arrays.
  const make = (key, x, y, extra) => ({
    type: SCATTER, mode: 'markers', name: names[key], x, y, showlegend: true,
    marker: { color: COLORS[key], symbol: SYMBOLS[key], size: 4, opacity: 0.75, ...extra },
  });
  if (!idx) {
    const empty = new Float32Array(0);
    return [
      make('support', posX, posY, { color: COLORS.neutral, opacity: frameIsFinal ? 0.8 : 0.6 }),
      make('between', empty, empty),
      make('outside', empty, empty),
    ];
  }
  const outline = { width: 0.8, color: '#3b1500' };
  return [
    make('support', gather(posX, idx.support), gather(posY, idx.support)),
    // Diamonds cost more than circles in scattergl (an SDF atlas per point; measured ~25% slower with
    // 1,500 of them), but shape redundancy is what keeps the flag readable without colour.
    make('between', gather(posX, idx.between), gather(posY, idx.between),
      { size: 7, opacity: 0.95, line: outline }),
    make('outside', gather(posX, idx.outside), gather(posY, idx.outside),
      { size: 7, opacity: 0.95, line: { width: 0.8, color: '#4a3300' } }),
  ];
}

export function traceNames(idx) {
  if (!idx) return { support: 'particles', between: 'between modes', outside: 'outside' };
  return {
    support: `in support (${fmtInt(idx.support.length)})`,
    between: `between modes (${fmtInt(idx.between.length)})`,
    outside: `outside (${fmtInt(idx.outside.length)})`,
  };
}

export function supportCircles(means, sigmas, radius, selectedMode) {
  return means.map((m, k) => {
    const r = radius * sigmas[k];
    return {
      type: 'circle', xref: 'x', yref: 'y', layer: 'below',
      x0: m[0] - r, x1: m[0] + r, y0: m[1] - r, y1: m[1] + r,
      fillcolor: COLORS.band,
      line: { color: k === selectedMode ? COLORS.between : COLORS.bandLine, width: k === selectedMode ? 2.5 : 1 },
    };
  });
}

/** Fan lines (one per particle, NaN-separated) for a subset of particles, over all received frames. */
function fanLines(frames, particles) {
  const F = frames.length;
  const x = new Float32Array(particles.length * (F + 1));
  const y = new Float32Array(particles.length * (F + 1));
  let o = 0;
  for (const p of particles) {
    for (let j = 0; j < F; j += 1) {
      x[o] = j;
      y[o] = frames[j].x[0][p];
      o += 1;
    }
    x[o] = NaN;
    y[o] = NaN;
    o += 1;
  }
  return { x, y };
}

function strided(idx, cap) {
  if (idx.length <= cap) return Array.from(idx);
  const step = idx.length / cap;
  return Array.from({ length: cap }, (_, i) => idx[Math.floor(i * step)]);
}

const fanCache = { key: null, value: null };

export function fanTraces(view) {
  const { frames, idx, nParticles } = view;
  const key = `${view.sampleKey}|${frames.length}|${idx ? 'labelled' : 'raw'}`;
  if (fanCache.key !== key) {
    const all = idx ? idx.support : Uint32Array.from({ length: nParticles }, (_, i) => i);
    const hot = idx ? [...idx.between, ...idx.outside] : [];
    fanCache.value = {
      cold: frames.length ? fanLines(frames, strided(all, FAN_SUPPORT_LINES)) : null,
      hot: frames.length && hot.length ? fanLines(frames, strided(hot, FAN_HIGHLIGHT_LINES)) : null,
    };
    fanCache.key = key;
  }
  const empty = new Float32Array(0);
  const { cold, hot } = fanCache.value;
  return [
    {
      type: SCATTER, mode: 'lines', name: idx ? 'paths (in support)' : 'paths', showlegend: false,
      x: cold ? cold.x : empty, y: cold ? cold.y : empty,
      line: { color: idx ? 'rgba(0,114,178,0.25)' : 'rgba(91,112,131,0.25)', width: 1 },
    },
    {
      type: SCATTER, mode: 'lines', name: 'paths (between / outside)', showlegend: false,
      x: hot ? hot.x : empty, y: hot ? hot.y : empty,
      line: { color: 'rgba(213,94,0,0.28)', width: 1 },
    },
  ];
}

export function histogram1D(values, range, nBins, means, sigmas, radius) {
  const [lo, hi] = range;
  const width = (hi - lo) / nBins;
  const counts = new Float64Array(nBins);
  for (let i = 0; i < values.length; i += 1) {
    const b = Math.floor((values[i] - lo) / width);
    if (b >= 0 && b < nBins) counts[b] += 1;
  }
  const centres = Array.from({ length: nBins }, (_, b) => lo + (b + 0.5) * width);
  const colors = centres.map((c) => (inSupport([c], means, sigmas, radius) ? COLORS.support : COLORS.between));
  return { centres, counts: Array.from(counts, (c) => (c > 0 ? c : null)), colors, width };
}
