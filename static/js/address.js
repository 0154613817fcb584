// The URL hash: config + sampler + view, encoded with the server's spec (bootstrap.url_spec), and the
// address bar kept in step with the page once it has opened.

import { state, on } from './state.js';
import { encodeHash } from './hash_codec.js';
import { spec } from './bootstrap.js';
import { readConfig, readSampler } from './form.js';
import { player, ALL_LAYERS } from './mainplot.js';
import { lesson } from './classroom.js';

const $ = (id) => document.getElementById(id);

let hashTimer = null;

function samplerTree() {
  return readSampler();
}

/** The hash of the form alone: a stored result belongs in a link only while the form still matches it. */
export function formKey() {
  return spec ? encodeHash(spec, readConfig(), samplerTree(), { kind: $('oracle').checked ? 'oracle' : 'trained' }) : '';
}

function viewState() {
  const { meta, frames, active } = state.sampling;
  const lastIndex = (meta?.frame_ts?.length ?? 0) - 1;
  const paused = !player.playing && frames.length > 0 && !active;
  return {
    kind: $('oracle').checked ? 'oracle' : 'trained',
    result: meta?.result_id && !active && state.producedKey === formKey() ? meta.result_id : null,
    frame: paused && player.index !== lastIndex ? player.index : null,
    particle: state.selected,
    threshold: state.thresholdCustom && Number.isFinite(state.threshold) ? state.threshold : null,
    layers: ALL_LAYERS.filter((l) => state.layers.has(l)),
    zoom: $('zoom-modes').checked,
    step: lesson ? state.lessonStep : null,
  };
}

export function currentHash() {
  return spec ? encodeHash(spec, readConfig(), samplerTree(), viewState()) : '';
}

export function writeHash() {
  hashTimer = null;
  if (!spec || !state.opened) return;
  const h = currentHash();
  const url = `${window.location.pathname}${window.location.search}${h ? `#${h}` : ''}`;
  const now = `${window.location.pathname}${window.location.search}${window.location.hash}`;
  if (url !== now) window.history.replaceState(null, '', url);
}

export function scheduleHash() {
  if (!spec || !state.opened || hashTimer !== null) return;
  hashTimer = setTimeout(writeHash, 60);
}

on('view', scheduleHash); // mainplot.js: the player, the layers or the selection changed
