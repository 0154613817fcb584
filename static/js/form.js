// Form <-> config: the training and sampler inputs read into (and filled from) the API's config trees.

import { state } from './state.js';
import { dataConfig } from './editor.js';

const $ = (id) => document.getElementById(id);

const TRAIN_FIELDS = [
  ['f-steps', 'train', 'steps', 'int'], ['f-batch', 'train', 'batch', 'int'], ['f-lr', 'train', 'lr', 'float'],
  ['f-lr-schedule', 'train', 'lr_schedule', 'str'], ['f-seed', 'train', 'seed', 'int'],
  ['f-width', 'net', 'width', 'int'], ['f-blocks', 'net', 'blocks', 'int'],
  ['f-T', 'schedule', 'T', 'int'], ['f-schedule', 'schedule', 'kind', 'str'],
];

const SAMPLE_FIELDS = [
  ['s-n', 'n', 'int'], ['s-seed', 'seed', 'int'], ['s-sampler', 'sampler', 'str'], ['s-eta', 'eta', 'float'],
  ['s-frames', 'frames', 'int'], ['s-window', 'window', 'int'],
];

function parseField(el, type) {
  if (type === 'str') return el.value;
  if (el.value.trim() === '') return null; // let the server name the missing field
  const v = Number(el.value);
  if (!Number.isFinite(v)) return el.value;
  return type === 'int' && Number.isInteger(v) ? Math.trunc(v) : v;
}

export function fillForm(config) {
  for (const [id, section, key] of TRAIN_FIELDS) {
    const v = config?.[section]?.[key];
    if (v !== undefined && v !== null) $(id).value = String(v);
  }
}

export function readConfig() {
  // The base is the config last loaded (default run, preset, link): fields without an input survive.
  const base = structuredClone(state.baseConfig ?? state.bootstrap.defaults?.experiment ?? {});
  const data = dataConfig();
  if (base.data && base.data.dataset === data.dataset && data.dataset !== 'custom') data.n = base.data.n ?? null;
  const config = { ...base, data };
  for (const [id, section, key, type] of TRAIN_FIELDS) {
    config[section] = { ...(config[section] ?? {}), [key]: parseField($(id), type) };
  }
  return config;
}

export function readSampler() {
  const out = {};
  for (const [id, key, type] of SAMPLE_FIELDS) out[key] = parseField($(id), type);
  if (out.sampler !== 'ddim') out.eta = 0;
  return out;
}

export function fillSampler(s) {
  const values = { n: 2000, seed: 0, sampler: 'ddpm', eta: 0, frames: 100, window: 10, ...(s ?? {}) };
  for (const [id, key] of SAMPLE_FIELDS) $(id).value = String(values[key]);
}

export function applyLimits(limits) {
  // Only the shapes we recognise; the server validates everything anyway.
  const set = (id, attr, v) => { if (Number.isFinite(v)) $(id)[attr] = String(v); };
  set('s-n', 'max', limits?.max_sample_n);
  set('s-frames', 'max', limits?.max_frames);
  set('s-frames', 'min', limits?.min_frames);
  set('f-steps', 'max', limits?.max_train_steps);
}
