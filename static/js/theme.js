// The look every chart of the lab shares (explorer, /analysis, /shapes): the Okabe–Ito colours, the font, the
// offline Plotly configs (no cloud buttons, see plotly_offline.js) and the base layout. Page-specific colour
// roles (in support, between modes…) are named in traces.js and analysis/common.js from these.

import { OFFLINE_CONFIG } from './plotly_offline.js';

// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
export const PALETTE = {
  blue: '#0072B2', vermillion: '#D55E00', orange: '#E69F00', green: '#009E73', pink: '#CC79A7',
  sky: '#56B4E9', yellow: '#F0E442', ink: '#1d2733', muted: '#8795a3', grid: '#e8ecf1',
};

export const FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 12, color: '#26323f' };
export const PRESENTER_FONT_SIZE = 16;

/** Side charts: no mode bar at all. */
export const SMALL_CONFIG = { ...OFFLINE_CONFIG, displayModeBar: false, responsive: true };

// Presenter mode (body.presenter) enlarges the type of every chart.
export const presenting = () => document.body.classList.contains('presenter');

export function baseLayout(extra) {
  return {
    font: presenting() ? { ...FONT, size: PRESENTER_FONT_SIZE } : FONT,
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: '#ffffff',
    ...extra,
  };
}

export function axis(title, extra = {}) {
  return { title: { text: title, standoff: 6 }, gridcolor: PALETTE.grid, zeroline: false, ...extra };
}

/** Axes hidden and a line of text, for a panel that has nothing to show yet. */
export function emptyLayout(text, height) {
  return baseLayout({
    height, margin: { l: 8, r: 8, t: 8, b: 8 }, plot_bgcolor: 'rgba(0,0,0,0)', showlegend: false,
    xaxis: { visible: false }, yaxis: { visible: false },
    annotations: [{ text, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false,
      font: { size: 12, color: PALETTE.muted } }],
  });
}

// The main plot's particles use WebGL (scattergl) only where Plotly can draw it: regl, its WebGL layer, compiles
// its draw calls with `new Function` (so the lab's Content-Security-Policy allows 'unsafe-eval': server/api/security.py)
// and needs two WebGL 1 extensions. Where either is missing (a stricter policy in front of the lab, a browser without
// WebGL: GPU blocklists on school machines) the particles are SVG markers, slow (~4 fps at 2,000) but drawn, instead
// of Plotly's "WebGL is not supported" notice.
function webglDrawable() {
  try {
    new Function('return 0')(); // eslint-disable-line no-new-func -- the probe is the point: is eval allowed?
  } catch {
    return false;
  }
  try {
    // What regl asks of a WebGL 1 context before it draws.
    const gl = document.createElement('canvas').getContext('webgl');
    return Boolean(gl && gl.getExtension('ANGLE_instanced_arrays') && gl.getExtension('OES_element_index_uint'));
  } catch {
    return false;
  }
}

export const SCATTER = webglDrawable() ? 'scattergl' : 'scatter';
