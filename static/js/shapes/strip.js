// The film strip of one image: its x̂0 at each of the last K steps (from the result), x̂0 at a few earlier
// moments of the chain (from the received frames), its variance score and its per-column shape counts.

import { drawImage } from './pixels.js';
import { S, labelName, pixelsPerImage } from './model.js';
import { player } from './playback.js';

const $ = (id) => document.getElementById(id);
const EARLIER = 6; // earlier moments shown, evenly spread over the chain

function tile(pixels, offset, caption) {
  const fig = document.createElement('figure');
  fig.className = 'tile';
  fig.setAttribute('role', 'listitem');
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `x̂₀ at ${caption}`);
  drawImage(canvas, pixels, offset, S.meta.resolution);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(canvas, cap);
  return fig;
}

function countsTable(i) {
  const table = $('strip-counts');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  const kinds = S.meta.kinds.length;
  S.meta.columns.forEach((col, c) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = col.shape;
    tr.append(th);
    for (let k = 0; k < kinds; k += 1) {
      const td = document.createElement('td');
      const v = S.result.counts[(i * S.meta.columns.length + c) * kinds + k];
      td.textContent = String(v);
      if (v >= 2 && k < kinds - 1) td.className = 'too-many';
      tr.append(td);
    }
    body.append(tr);
  });
  table.hidden = false;
}

/** Show image `i` (null clears). Needs the result (the last-K window comes with it). */
export function renderStrip(i) {
  const strip = $('strip');
  const earlier = $('strip-earlier');
  strip.replaceChildren();
  earlier.replaceChildren();
  $('strip-counts').hidden = true;
  if (i === null || !S.result || !S.meta || i >= S.meta.n) {
    $('strip-info').textContent = S.result ? 'Click an image in the grid.' : 'The film strip comes with the result.';
    return;
  }
  const d = pixelsPerImage();
  const ts = S.result.x0LastTs;
  const k = ts.length;
  ts.forEach((t, j) => strip.append(tile(S.result.x0Last, (i * k + j) * d, `t = ${t}`)));
  const withX0 = S.frames.filter((f) => f.x0);
  const picks = new Set();
  for (let j = 0; j < EARLIER && withX0.length; j += 1) {
    picks.add(Math.round((j * (withX0.length - 1)) / EARLIER));
  }
  for (const j of [...picks].sort((a, b) => a - b)) {
    earlier.append(tile(withX0[j].x0, i * d, `t = ${withX0[j].t}`));
  }
  const chosen = S.frames[player.index];
  if (chosen?.x0) { // the moment the player shows: the reader picks any earlier t by scrubbing
    const fig = tile(chosen.x0, i * d, `t = ${chosen.t} (player)`);
    fig.classList.add('chosen');
    earlier.append(fig);
  }
  const label = S.concealed ? 'hidden until the reveal' : labelName(i);
  const reason = S.concealed ? '' : ` (${S.result.reasons[i]})`;
  $('strip-info').textContent = `Image ${i + 1}: ${label}${reason}. Variance of x̂₀ over the last ${k} steps: `
    + `${S.result.variance[i].toExponential(2)}. Top row: the last ${k} steps; below: earlier in the chain.`;
  if (!S.concealed) countsTable(i);
}
