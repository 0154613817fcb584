// Dataset picker and mixture editor. Named datasets are shown with their exact modes; any edit
// (1D table, or click/drag/shift-click on the 2D plot) turns the dataset into "custom" with an
// explicit mixture, which is what the API expects (`data.mixture` only with dataset "custom").
// Editing on the plot is a mode that is switched on and ends (button, Esc, training); every edit can be
// undone (button, Ctrl+Z), and undoing the edit that set a model aside brings that model back.

import { state, emit } from './state.js';
import { canonicalMixture, dimOf, sigmasOf } from './mixture.js';
import { plotGeometry } from './plots.js';

const $ = (id) => document.getElementById(id);
const HIT_PX = 12; // a click this close to a mode grabs it rather than adding a new one
const MAX_MODES = 64;

const MAX_UNDO = 50;

let datasets = [];
const undoStack = []; // [{dataset, mixture, selectedMode, run, runMixture, hadSample}], newest last
let typingIn = null; // the table input whose typing already has an undo entry

function cloneMixture(m) {
  return {
    means: m.means.map((p) => (Array.isArray(p) ? p.map(Number) : [Number(p)])),
    sigma: Array.isArray(m.sigma) ? m.sigma.slice() : m.sigma,
    weights: Array.isArray(m.weights) ? m.weights.slice() : null,
    n: m.n ?? 20000,
  };
}

function describe(name) {
  const d = datasets.find((x) => x.name === name);
  if (d) return d.description ?? '';
  return 'Your own mixture: edit the modes below (1D) or on the plot (2D).';
}

function mixtureInfo() {
  const m = state.mixture;
  const sig = sigmasOf(m);
  const sMin = Math.min(...sig);
  const sMax = Math.max(...sig);
  const s = sMin === sMax ? `σ ${sMin.toPrecision(3)}` : `σ ${sMin.toPrecision(3)}–${sMax.toPrecision(3)}`;
  $('mixture-info').textContent = `${m.means.length} modes in ${dimOf(m)}D, ${s}, ${m.n.toLocaleString('en-US')} training points.`;
}

/** Switch to a dataset. `mixture` overrides the dataset's own (presets, custom). */
export function setDataset(name, mixture = null) {
  const d = datasets.find((x) => x.name === name);
  const source = mixture ?? d?.mixture ?? state.mixture;
  state.dataset = d || name === 'custom' ? name : 'custom';
  state.mixture = cloneMixture(source);
  state.dim = dimOf(state.mixture);
  state.selectedMode = null;
  $('dataset').value = state.dataset;
  undoStack.length = 0; // a new dataset starts a new history (its own choice is undone by choosing again)
  typingIn = null;
  syncUndo();
  if (state.dim !== 2) setEditing(false);
  refreshEditor();
  emit('mixture', { structural: true, reframe: true });
}

/** Remember the state before an edit: the mixture, and the model (and sample) the edit will set aside. */
function pushUndo() {
  undoStack.push({
    dataset: state.dataset,
    mixture: cloneMixture(state.mixture),
    selectedMode: state.selectedMode,
    run: state.run && state.run.status === 'done' ? { ...state.run } : null,
    runMixture: state.runMixture ? cloneMixture(state.runMixture) : null,
    hadSample: state.sampling.result !== null,
  });
  if (undoStack.length > MAX_UNDO) undoStack.shift();
  syncUndo();
}

function syncUndo() {
  $('undo-edit').disabled = undoStack.length === 0;
  $('undo-status').textContent = undoStack.length ? `${undoStack.length} edit${undoStack.length > 1 ? 's' : ''} to undo` : '';
}

/** Undo the newest edit. Listeners of 'undone' get the entry, to bring back the model it set aside. */
export function undoEdit() {
  const entry = undoStack.pop();
  if (!entry) return false;
  typingIn = null;
  state.dataset = entry.dataset;
  state.mixture = cloneMixture(entry.mixture);
  state.dim = dimOf(state.mixture);
  state.selectedMode = entry.selectedMode;
  $('dataset').value = state.dataset;
  refreshEditor();
  emit('mixture', { structural: true });
  emit('undone', entry);
  syncUndo();
  return true;
}

/** Switch editing on the 2D plot on or off; while off, clicks on the plot inspect particles. */
export function setEditing(on) {
  const editing = Boolean(on) && state.dim === 2;
  if (editing === state.editMode) return;
  state.editMode = editing;
  const btn = $('edit-modes');
  btn.setAttribute('aria-pressed', String(editing));
  btn.textContent = editing ? 'Done editing' : 'Edit modes on the plot';
  btn.classList.toggle('primary', editing);
  document.getElementById('main-plot').classList.toggle('editing', editing);
  emit('mixture', { structural: false });
}

function markCustom() {
  if (state.dataset !== 'custom') {
    state.dataset = 'custom';
    $('dataset').value = 'custom';
    $('dataset-description').textContent = describe('custom');
  }
}

function refreshEditor() {
  $('dataset-description').textContent = describe(state.dataset);
  const is1D = state.dim === 1;
  $('editor-1d').hidden = !is1D;
  $('editor-2d').hidden = is1D;
  if (is1D) renderTable();
  else {
    const sig = sigmasOf(state.mixture);
    $('sigma-2d').value = sig.every((s) => s === sig[0]) ? String(Number(sig[0].toPrecision(4))) : '';
    $('sigma-2d').placeholder = 'mixed';
    $('remove-mode-2d').disabled = state.selectedMode === null;
  }
  mixtureInfo();
}

function renderTable() {
  const body = $('modes-body');
  body.replaceChildren();
  const m = state.mixture;
  const sig = sigmasOf(m);
  const w = Array.isArray(m.weights) ? m.weights : new Array(m.means.length).fill(1);
  m.means.forEach((mean, k) => {
    const tr = document.createElement('tr');
    const cell = (value, field, step, label) => {
      const td = document.createElement('td');
      const input = document.createElement('input');
      input.type = 'number';
      input.step = step;
      input.value = String(value);
      input.dataset.field = field;
      input.dataset.k = String(k);
      input.setAttribute('aria-label', `${label} of mode ${k + 1}`);
      td.append(input);
      return td;
    };
    const rm = document.createElement('td');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'ghost small';
    btn.textContent = '×';
    btn.dataset.remove = String(k);
    btn.setAttribute('aria-label', `Remove mode ${k + 1}`);
    btn.disabled = m.means.length <= 1;
    rm.append(btn);
    tr.append(cell(mean[0], 'mean', 'any', 'Mean'), cell(sig[k], 'sigma', 'any', 'σ'), cell(w[k], 'weight', 'any', 'Weight'), rm);
    body.append(tr);
  });
}

function onTableInput(ev) {
  const input = ev.target;
  if (!(input instanceof HTMLInputElement)) return;
  const k = Number(input.dataset.k);
  const v = Number(input.value);
  if (input.value === '' || !Number.isFinite(v)) return; // keep typing; the server validates the rest
  if (typingIn !== input) { pushUndo(); typingIn = input; } // one undo entry per field typed in
  const m = state.mixture;
  markCustom();
  if (input.dataset.field === 'mean') m.means[k] = [v];
  if (input.dataset.field === 'sigma') {
    const sig = sigmasOf(m);
    sig[k] = v;
    m.sigma = sig;
  }
  if (input.dataset.field === 'weight') {
    const w = Array.isArray(m.weights) ? m.weights.slice() : new Array(m.means.length).fill(1);
    w[k] = v;
    m.weights = w;
  }
  mixtureInfo();
  emit('mixture', { structural: false });
}

function removeMode(k) {
  const m = state.mixture;
  if (m.means.length <= 1) return;
  pushUndo();
  markCustom();
  m.means.splice(k, 1);
  if (Array.isArray(m.sigma)) m.sigma.splice(k, 1);
  if (Array.isArray(m.weights)) m.weights.splice(k, 1);
  state.selectedMode = null;
  refreshEditor();
  emit('mixture', { structural: true });
}

function addMode(point) {
  const m = state.mixture;
  if (m.means.length >= MAX_MODES) {
    emit('error', new Error(`A mixture can have at most ${MAX_MODES} modes.`));
    return;
  }
  pushUndo();
  markCustom();
  const sig = sigmasOf(m);
  m.means.push(point);
  if (Array.isArray(m.sigma)) m.sigma.push(sig[sig.length - 1]);
  if (Array.isArray(m.weights)) m.weights.push(1);
  state.selectedMode = m.means.length - 1;
  refreshEditor();
  emit('mixture', { structural: true });
}

/** 2D editing on the main plot: pointer handlers live here, the plot only reports geometry. */
export function handlePlotPointerDown(ev, div) {
  const geo = plotGeometry(div);
  const at = geo && geo.toData(ev.clientX, ev.clientY);
  if (!at) return false;
  ev.preventDefault(); // no zoom box, no text selection while editing
  const m = state.mixture;
  let hit = -1;
  let best = HIT_PX;
  m.means.forEach((p, k) => {
    const q = geo.toPixel(p[0], p[1]);
    const d = Math.hypot(q.px - at.px, q.py - at.py);
    if (d < best) { best = d; hit = k; }
  });
  if (hit < 0) {
    addMode([round(at.x), round(at.y)]);
    return true;
  }
  if (ev.shiftKey || ev.altKey) {
    removeMode(hit);
    return true;
  }
  state.selectedMode = hit;
  $('remove-mode-2d').disabled = false;
  emit('mixture', { structural: false });
  let moved = false;
  const move = (e) => {
    const p = plotGeometry(div).toData(e.clientX, e.clientY);
    if (!p) return;
    if (!moved) { pushUndo(); moved = true; } // a drag is one edit; a click that only selects is none
    markCustom();
    m.means[hit] = [round(p.x), round(p.y)];
    emit('mixture', { structural: false });
  };
  const up = () => {
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    if (moved) emit('mixture', { structural: true });
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
  return true;
}

function round(v) {
  return Math.round(v * 1000) / 1000;
}

/** The `data` part of an ExperimentConfig. */
export function dataConfig() {
  if (state.dataset === 'custom') return { dataset: 'custom', mixture: canonicalMixture(state.mixture), n: null };
  return { dataset: state.dataset, mixture: null, n: null };
}

/** The picker's entries for datasets shown on another page (Simple Shapes on /shapes): choosing one goes there. */
function addPageEntries(select, pages) {
  if (!pages.length) return;
  const group = document.createElement('optgroup');
  group.label = 'Images (another page)';
  for (const p of pages) {
    const opt = document.createElement('option');
    opt.value = `page:${p.href}`;
    opt.dataset.href = p.href;
    opt.textContent = p.title;
    group.append(opt);
  }
  select.append(group);
}

export const pageOfChoice = (select) => select.selectedOptions[0]?.dataset.href ?? null;

export function initEditor(bootstrapDatasets, pages = []) {
  datasets = bootstrapDatasets ?? [];
  const select = $('dataset');
  for (const d of datasets) {
    const opt = document.createElement('option');
    opt.value = d.name;
    opt.textContent = `${d.name} (${d.dim ?? dimOf(d.mixture)}D)`;
    select.append(opt);
  }
  const custom = document.createElement('option');
  custom.value = 'custom';
  custom.textContent = 'custom (edit the modes)';
  select.append(custom);
  addPageEntries(select, pages);

  select.addEventListener('change', () => {
    const page = pageOfChoice(select);
    if (page) { window.location.assign(page); return; }
    setDataset(select.value);
  });
  $('modes-body').addEventListener('input', onTableInput);
  $('modes-body').addEventListener('click', (ev) => {
    const k = ev.target instanceof HTMLElement ? ev.target.dataset.remove : undefined;
    if (k !== undefined) removeMode(Number(k));
  });
  $('add-mode-1d').addEventListener('click', () => {
    const means = state.mixture.means.map((p) => p[0]);
    const gap = means.length > 1 ? (Math.max(...means) - Math.min(...means)) / (means.length - 1) : 1;
    addMode([round(Math.max(...means) + gap)]);
  });
  $('modes-body').addEventListener('change', () => { typingIn = null; });
  $('edit-modes').addEventListener('click', () => setEditing(!state.editMode));
  $('undo-edit').addEventListener('click', undoEdit);
  $('sigma-2d').addEventListener('change', (ev) => {
    const input = ev.target;
    const v = Number(input.value);
    if (input.value.trim() === '' || !(v > 0) || !Number.isFinite(v)) {
      // Said at once and in the page's words, instead of keeping the old σ in silence.
      input.setAttribute('aria-invalid', 'true');
      const err = new Error(`σ (all modes) must be a number greater than 0; "${input.value}" was not used.`);
      emit('error', err);
      return;
    }
    input.removeAttribute('aria-invalid');
    pushUndo();
    markCustom();
    state.mixture.sigma = v;
    mixtureInfo();
    emit('mixture', { structural: true });
  });
  $('remove-mode-2d').addEventListener('click', () => {
    if (state.selectedMode !== null) removeMode(state.selectedMode);
  });
}
