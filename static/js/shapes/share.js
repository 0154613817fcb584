// Sharing and teaching on the shapes page: the address bar (copy link reproduces the grid and the moment), the
// exports (grid PNG, result NPZ / CSV), presenter mode and predict-then-reveal.

import { S } from './model.js';
import { encodeHash } from './address.js';
import { defaults, readForm } from './controls.js';
import { player } from './playback.js';
import { gridBlob } from './gridview.js';
import { showError } from '../errors.js';
import { setLinks } from '../exports.js';
import { offerLink } from '../share_box.js';

const $ = (id) => document.getElementById(id);

/** The hash of what is on screen: the request, and (once the result is in) the frame, image, threshold, view. */
export function currentHash() {
  const form = readForm();
  const values = { ...form, oracle: form.oracle, step: S.lessonStep ?? undefined };
  if (S.result && !S.streaming && !player.playing) values.frame = player.index;
  if (S.selected !== null) values.sel = S.selected;
  if (S.threshold !== null && S.thresholdMoved) values.thr = S.threshold; // full precision: the same images kept
  values.xt = S.view === 'xt';
  return encodeHash(values, { ...defaults, frame: undefined });
}

export function writeHash() {
  const hash = currentHash();
  const url = `${window.location.pathname}${window.location.search}${hash ? `#${hash}` : ''}`;
  if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
    window.history.replaceState(null, '', url);
  }
}

async function copyLink() {
  player.pause();
  writeHash();
  await offerLink(window.location.href);
}

/** The result's download links (null: nothing stored yet). */
export function setExports(meta) {
  setLinks({
    'export-csv': meta ? `/api/results/${meta.result_id}/export.csv?table=images` : null,
    'export-npz': meta ? `/api/results/${meta.result_id}/export.npz` : null,
  });
  $('export-png').disabled = !meta;
}

async function exportPng() {
  const blob = await gridBlob();
  if (!blob) { showError(new Error('The grid could not be drawn as a PNG.')); return; }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `modelab-shapes-${S.meta?.result_id ?? 'grid'}-frame${player.index}.png`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export function setPresenter(on) {
  $('presenter').checked = on;
  document.body.classList.toggle('presenter', on);
  window.dispatchEvent(new Event('resize'));
}

export function wireSharing({ onConceal }) {
  $('copy-link').addEventListener('click', copyLink);
  $('export-png').addEventListener('click', exportPng);
  $('presenter').addEventListener('change', (ev) => setPresenter(ev.target.checked));
  $('predict').addEventListener('change', (ev) => onConceal(ev.target.checked));
  $('reveal').addEventListener('click', () => onConceal(false));
}
