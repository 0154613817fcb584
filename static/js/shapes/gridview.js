// The image grid: one canvas bitmap (CSS-scaled, pixelated) plus a layer of buttons over it, one per image, that
// carry what the bitmap cannot: the label cues (colour AND a dashed outline or badge, so colour is never the only
// cue), the reason in words (hover title and accessible name) and the click that opens the film strip.

import { GridBitmap } from './pixels.js';
import { S, labelName } from './model.js';

const $ = (id) => document.getElementById(id);
const BADGES = { duplicate: '2×', malformed: '?', empty: '∅' };

let bitmap = null;
let cells = [];
let onPick = () => {};

export function initGrid(pick) {
  bitmap = new GridBitmap($('grid'));
  onPick = pick;
  $('grid-cells').addEventListener('click', (ev) => {
    const cell = ev.target.closest('[data-image]');
    if (cell) onPick(Number(cell.dataset.image));
  });
}

/** A new sample: the grid's size, and one cell per image (no labels yet). */
export function layoutGrid(n, res) {
  bitmap.resize(n, res);
  const w = bitmap.canvas.width;
  const h = bitmap.canvas.height;
  $('grid-wrap').style.aspectRatio = `${w} / ${h}`;
  cells = [];
  const box = $('grid-cells');
  box.replaceChildren();
  for (let i = 0; i < n; i += 1) {
    const { x, y } = bitmap.origin(i);
    const cell = document.createElement('button');
    cell.type = 'button';
    cell.className = 'cell';
    cell.dataset.image = String(i);
    Object.assign(cell.style, { left: `${(100 * x) / w}%`, top: `${(100 * y) / h}%`,
      width: `${(100 * res) / w}%`, height: `${(100 * res) / h}%` });
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.setAttribute('aria-hidden', 'true');
    cell.append(badge);
    box.append(cell);
    cells.push(cell);
  }
  describeCells();
}

/** Frame `index` of the received frames, as x_t or x̂0 (the first frame has no x̂0: its x_t stands in). */
export function drawFrame(index) {
  const f = S.frames[index];
  if (!f) { bitmap.draw(null); return; }
  bitmap.draw(S.view === 'xt' || !f.x0 ? f.x : f.x0);
}

/** The label cues and words of every cell (final labels: they stay while scrubbing back). */
export function describeCells() {
  const known = S.result !== null;
  cells.forEach((cell, i) => {
    const label = known ? labelName(i) : null;
    const shown = label && !S.concealed ? label : null;
    cell.dataset.label = shown ?? '';
    cell.querySelector('.badge').textContent = BADGES[shown] ?? '';
    const reason = known ? S.result.reasons[i] : null;
    let words = `Image ${i + 1}`;
    if (!known) words += ': still forming';
    else if (S.concealed) words += ': hidden until the reveal';
    else words += `: ${label}${reason ? `, ${reason}` : ''}`;
    cell.title = words;
    cell.setAttribute('aria-label', words);
    cell.setAttribute('aria-pressed', String(S.selected === i));
  });
  fillTable();
}

function fillTable() {
  const body = $('images-body');
  body.replaceChildren();
  if (!S.result || S.concealed) return;
  const n = S.meta.n;
  for (let i = 0; i < n; i += 1) {
    const tr = document.createElement('tr');
    for (const text of [String(i + 1), labelName(i), S.result.reasons[i] ?? '', S.result.variance[i].toExponential(2)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  }
}

/** The grid as a PNG: each image scaled up, with the label outlines and badges drawn in. */
export function gridBlob(scale = 6) {
  const src = bitmap.canvas;
  const out = document.createElement('canvas');
  out.width = src.width * scale;
  out.height = src.height * scale;
  const ctx = out.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, out.width, out.height);
  const styles = getComputedStyle(document.documentElement);
  const colour = (name) => styles.getPropertyValue(`--${name}`).trim() || '#d55e00';
  ctx.lineWidth = scale;
  ctx.font = `bold ${scale * 6}px system-ui, sans-serif`;
  cells.forEach((cell, i) => {
    const label = cell.dataset.label;
    if (!label || label === 'valid') return;
    const { x, y } = bitmap.origin(i);
    ctx.strokeStyle = colour(`cue-${label}`);
    ctx.setLineDash(label === 'duplicate' ? [scale * 3, scale * 2] : []);
    ctx.strokeRect(x * scale + scale / 2, y * scale + scale / 2, bitmap.res * scale - scale, bitmap.res * scale - scale);
    ctx.fillStyle = colour(`cue-${label}`);
    ctx.fillText(BADGES[label] ?? '', x * scale + scale * 2, y * scale + scale * 7);
  });
  return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
}
