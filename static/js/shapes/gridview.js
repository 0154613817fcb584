// The image grid: one canvas bitmap (CSS-scaled, pixelated) plus a layer of buttons over it, one per image, that
// carry what the bitmap cannot: the label cues (colour AND a dashed outline or badge, so colour is never the only
// cue), the reason in words (hover title and accessible name) and the click that opens the film strip. The outline
// and the badge sit in the background around the image (pixels.js: PAD, BAND), never on it.

import { GridBitmap, BAND, PAD } from './pixels.js';
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
  const wrap = $('grid-wrap');
  wrap.style.aspectRatio = `${w} / ${h}`;
  // The wrap is a size container: one native pixel is 100/w cqw, so the badge strip and the outline scale with it.
  wrap.style.setProperty('--aspect', String(w / h));
  wrap.style.setProperty('--band', `${(100 * BAND) / w}cqw`);
  wrap.style.setProperty('--pad', `${(100 * PAD) / w}cqw`);
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

/** The grid as a PNG: each image scaled up, with the label outlines and badges drawn around it as on screen. */
export function gridBlob(scale = 6) {
  const src = bitmap.canvas;
  const out = document.createElement('canvas');
  out.width = src.width * scale;
  out.height = src.height * scale;
  const ctx = out.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, out.width, out.height);
  const DASH = { duplicate: [scale * 3, scale * 2], malformed: [scale, scale] };
  const side = bitmap.res * scale;
  ctx.lineWidth = scale; // one native pixel, centred half a pixel outside the image: inside its PAD
  ctx.font = `bold ${scale * 6}px system-ui, sans-serif`;
  ctx.textBaseline = 'middle';
  cells.forEach((cell, i) => {
    const label = cell.dataset.label;
    if (!label || label === 'valid') return;
    const { x, y } = bitmap.origin(i);
    const [left, top] = [x * scale, y * scale];
    const badge = getComputedStyle(cell.querySelector('.badge'));
    ctx.strokeStyle = getComputedStyle(cell, '::before').borderTopColor;
    ctx.setLineDash(DASH[label] ?? []);
    ctx.strokeRect(left - scale / 2, top - scale / 2, side + scale, side + scale);
    // The badge as on screen: a tab in the strip above the image, its bottom on the outline.
    const text = BADGES[label] ?? '';
    const height = (BAND - 1) * scale;
    ctx.fillStyle = badge.backgroundColor;
    ctx.fillRect(left - scale, top - scale - height, ctx.measureText(text).width + 2 * scale, height);
    ctx.fillStyle = badge.color;
    ctx.fillText(text, left, top - scale - height / 2);
  });
  return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
}
