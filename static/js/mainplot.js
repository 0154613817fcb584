// The main plot and its player: what one frame draws, the playback controls, the plot's layers and
// the particle picked in it.

import { state, emit } from './state.js';
import { spec } from './bootstrap.js';
import { Player } from './animation.js';
import { renderMain, plotGeometry, layerOf } from './plots.js';
import { geometry, selectedPath, showTrajectory } from './particle.js';

const $ = (id) => document.getElementById(id);

export const mainDiv = $('main-plot');
export const ALL_LAYERS = spec?.fields.find((f) => f.key === 'ly')?.default ?? ['support', 'between', 'outside', 'paths', 'bands'];
state.layers = new Set(ALL_LAYERS);

// What the address bar shows follows the player, the layers and the selection: address.js listens to
// 'view' (it reads the player, so calling it from here would make the two modules import each other).
const viewChanged = () => emit('view');

let sampleCounter = 0; // plots.js caches traces per sample: a new sample needs a new key

/** A new sample replaces the one drawn. */
export function newSample() {
  sampleCounter += 1;
}

function mainView(index) {
  const g = geometry();
  const { frames, meta, result, idx } = state.sampling;
  const frame = frames[index] ?? null;
  const i = state.selected;
  const nParticles = frame ? frame.x[0].length : 0;
  const lastIndex = (meta?.frame_ts?.length ?? 0) - 1;
  return {
    ...g,
    frames: frames.filter(Boolean),
    frame,
    index,
    idx: result && !state.concealed ? idx : null,
    isFinal: index === lastIndex,
    nParticles,
    nFrames: meta?.frame_ts?.length ?? 1,
    frameTs: meta?.frame_ts ?? null,
    defaultN: Number($('s-n').value) || 2000,
    finalValues: g.dim === 1 ? (result ? result.samples[0] : (lastIndex >= 0 && frames[lastIndex] ? frames[lastIndex].x[0] : null)) : null,
    selectedPath: selectedPath(g.dim, frames, i, index),
    selectedPoint: frame && i !== null && g.dim === 2 ? [frame.x[0][i], frame.x[1][i]] : null,
    hoveredValue: g.dim === 1 && result && state.hovered !== null && state.hovered !== undefined
      ? result.samples[0][state.hovered] : null, // linked.js: marked on the histogram
    editMode: state.editMode && g.dim === 2,
    selectedMode: state.editMode ? state.selectedMode : null,
    sampleKey: sampleCounter,
    uirevision: `${state.dataset}|${g.dim}|${JSON.stringify(g.bounds)}`,
    layers: state.layers,
    presenter: state.presenter,
  };
}

function renderIndex(index) {
  const drawn = renderMain(mainDiv, mainView(index));
  if (!mainDiv.labLegendHook && typeof mainDiv.on === 'function') {
    mainDiv.labLegendHook = true;
    // The legend toggles the page's layers (so the URL carries them) instead of Plotly's own state.
    mainDiv.on('plotly_legendclick', (ev) => {
      const layer = layerOf(ev.data?.[ev.curveNumber]?.name ?? '');
      if (layer) setLayer(layer, !state.layers.has(layer));
      return false;
    });
    mainDiv.on('plotly_legenddoubleclick', () => false);
  }
  return drawn;
}

export const player = new Player({
  available: () => state.sampling.frames.length,
  complete: () => !state.sampling.active,
  render: renderIndex,
  onChange: syncPlayerControls,
});

export function syncPlayerControls(p) {
  const n = state.sampling.frames.length;
  const has = n > 0;
  for (const id of ['play', 'back10', 'back1', 'fwd1', 'fwd10', 'time']) $(id).disabled = !has;
  $('play').textContent = p.playing ? '❚❚' : '▶';
  $('play').setAttribute('aria-label', p.playing ? 'Pause' : 'Play');
  $('time').value = String(p.index);
  const ts = state.sampling.meta?.frame_ts;
  const total = ts?.length ?? n;
  $('time-label').textContent = has ? `frame ${p.index + 1}/${total} · t = ${state.sampling.frames[p.index]?.t ?? ts?.[p.index] ?? '—'}` : 't = —';
  viewChanged();
}

export function setLayer(layer, visible) {
  if (visible) state.layers.add(layer); else state.layers.delete(layer);
  const box = document.querySelector(`[data-layer="${layer}"]`);
  if (box) box.checked = visible;
  player.invalidate();
  viewChanged();
}

// ------------------------------------------------------------------ one particle

export function select(i) {
  state.selected = i;
  showTrajectory(i);
  player.invalidate();
  viewChanged();
}

let pickCursor = { between: 0, support: 0 };
export function pick(kind) {
  const idx = state.sampling.idx;
  if (!idx) return;
  const pool = kind === 'between' ? [...idx.between, ...idx.outside] : Array.from(idx.support);
  if (!pool.length) return;
  select(pool[pickCursor[kind] % pool.length]);
  pickCursor[kind] += 1;
}

export function nearestParticle(clientX, clientY) {
  const frame = state.sampling.frames[player.index];
  const geo = plotGeometry(mainDiv);
  const at = geo && geo.toData(clientX, clientY);
  if (!frame || !at) return null;
  let best = 10; // px
  let hit = null;
  const dim = frame.x.length;
  const xs = frame.x[0];
  for (let i = 0; i < xs.length; i += 1) {
    const q = dim === 1 ? geo.toPixel(player.index, xs[i]) : geo.toPixel(xs[i], frame.x[1][i]);
    const d = dim === 1 ? Math.abs(q.py - at.py) + Math.abs(q.px - at.px) / 4 : Math.hypot(q.px - at.px, q.py - at.py);
    if (d < best) { best = d; hit = i; }
  }
  return hit;
}
