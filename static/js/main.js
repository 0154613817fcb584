// Page controller: reads the bootstrap, wires the controls to the API and the views, and exposes
// window.__lab so browser tests can wait on real progress instead of sleeping.

import { createRun, cancelJob, getRun, openStream, requestJSON } from './api.js';
import { columns, decode, flat } from './codec.js';
import { state, on, emit, encodeHash, decodeHash } from './state.js';
import { Player } from './animation.js';
import { initEditor, setDataset, handlePlotPointerDown } from './editor.js';
import { boundsOf } from './mixture.js';
import {
  renderMain, resetLoss, extendLoss, renderDetector, renderTrajectory, plotGeometry, layerOf,
} from './plots.js';
import { detectorStats, readoutText, atThreshold, formatVariance } from './detector.js';
import { showError, clearErrors } from './errors.js';
import { fillForm, readConfig, readSampler, fillSampler, applyLimits } from './form.js';
import { geometry, selectedPath, showTrajectory, particleText } from './particle.js';
import { setExports, exportChart } from './exports.js';
import { query, flag, applyHideFlags, renderLesson } from './classroom.js';

const $ = (id) => document.getElementById(id);
const fmt = (v) => Math.round(v).toLocaleString('en-US');
const pct = (v) => `${(100 * v).toFixed(1)}%`;

const boot = JSON.parse($('bootstrap').textContent || '{}');
state.bootstrap = boot;

// Event names are shared with the server through the bootstrap when it sends them.
const EV = { progress: 'progress', done: 'done', error: 'error', meta: 'meta', frame: 'frame', result: 'result' };
for (const [k, v] of Object.entries(boot.events ?? {})) if (k in EV && typeof v === 'string') EV[k] = v;

const defaults = boot.defaults ?? {};
const mainDiv = $('main-plot');
const lossDiv = $('loss-plot');
let trainStream = null;
let sampleStream = null;
let sampleCounter = 0;
let det = null; // detector statistics of the current result
let lastLossStep = -1;

on('error', showError);
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason ?? new Error('Unexpected failure')));

// ------------------------------------------------------------------ training

function setTraining(active) {
  state.training.active = active;
  $('train').disabled = active;
  $('cancel').disabled = !active;
}

function setProgress(fraction, text) {
  const p = Math.max(0, Math.min(1, fraction));
  $('progress-fill').style.width = `${(100 * p).toFixed(1)}%`;
  $('progress').setAttribute('aria-valuenow', String(Math.round(100 * p)));
  if (text !== undefined) $('progress-text').textContent = text;
}

function secondsText(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '';
  return s < 90 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function onProgress(p) {
  state.training.step = p.step;
  state.training.steps = p.steps;
  if (p.status === 'queued') {
    const pos = p.queue_position ? ` (position ${p.queue_position} in the queue)` : '';
    setProgress(0, `Waiting for a free training slot${pos}…`);
    return;
  }
  const eta = p.eta !== null && p.eta !== undefined ? ` · about ${secondsText(p.eta)} left` : '';
  const loss = Number.isFinite(p.loss) ? ` · loss ${p.loss.toFixed(4)}` : '';
  setProgress(p.steps ? p.step / p.steps : 0,
    `Step ${fmt(p.step)} / ${fmt(p.steps)}${loss} · ${secondsText(p.elapsed)} elapsed${eta}`);
  if (Number.isFinite(p.loss) && p.step > lastLossStep) {
    lastLossStep = p.step;
    extendLoss(lossDiv, p.step, p.loss);
  }
}

async function onTrainDone(d) {
  trainStream = null;
  setTraining(false);
  const status = d.status ?? 'done';
  if (state.run) state.run.status = status;
  if (status === 'done') {
    const m = d.metrics ?? {};
    if (Array.isArray(m.loss_history) && m.loss_history.length) resetLoss(lossDiv, m.loss_history);
    setProgress(1, state.run?.kind === 'oracle'
      ? 'Exact (oracle) denoiser: nothing to train.'
      : `Trained ${fmt(m.steps ?? state.training.steps)} steps in ${secondsText(m.train_seconds)}`
        + `${Number.isFinite(m.final_loss) ? `, final loss ${m.final_loss.toFixed(4)}` : ''}.`);
    $('sample').disabled = false;
    startSampling({ keepErrors: true }); // errors were cleared when training was asked for; keep a link's
    return;
  }
  if (status === 'cancelled') {
    setProgress(0, 'Training cancelled.');
    setSummary('Training was cancelled. Change the settings or train again.');
    return;
  }
  let reason = '';
  try {
    const { body } = await getRun(state.run.run_id);
    reason = body?.error ? `: ${body.error}` : '';
  } catch { /* the message below still says what happened */ }
  setProgress(0, 'Training failed.');
  showError(new Error(`Training failed${reason}`));
}

function onTrainError(err) {
  trainStream = null;
  setTraining(false);
  setProgress(0, 'Training stopped.');
  showError(err);
}

async function trainAndSample({ keepErrors = false } = {}) {
  if (!keepErrors) clearErrors();
  closeStreams();
  clearSampling();
  const kind = $('oracle').checked ? 'oracle' : 'trained';
  const config = readConfig();
  setTraining(true);
  setProgress(0, kind === 'oracle' ? 'Preparing the exact denoiser…' : 'Submitting the training job…');
  lastLossStep = -1;
  resetLoss(lossDiv, [], kind === 'oracle' ? 'exact denoiser: nothing to train' : 'waiting for the first steps…');
  let body;
  try {
    ({ body } = await createRun(kind, config));
  } catch (err) {
    setTraining(false);
    setProgress(0, 'Not started.');
    showError(err);
    return;
  }
  state.run = { run_id: body.run_id, kind: body.kind ?? kind, status: body.status };
  state.runMixture = structuredClone(state.mixture);
  setSummary(kind === 'oracle' ? 'Using the exact denoiser of this mixture.' : `Training model ${body.run_id}…`);
  trainStream = openStream(`/api/runs/${encodeURIComponent(body.run_id)}/events`,
    { [EV.progress]: onProgress, [EV.done]: onTrainDone }, onTrainError,
    { finalEvent: EV.done, errorEvent: EV.error });
}

async function cancelTraining() {
  if (!state.run) return;
  $('cancel').disabled = true;
  setProgress(0, 'Cancelling…'); // before the request: its `done` event may arrive before the reply
  try {
    await cancelJob(state.run.run_id);
  } catch (err) {
    showError(err);
    $('cancel').disabled = !state.training.active;
  }
}

// ------------------------------------------------------------------ sampling

function closeStreams() {
  if (trainStream) trainStream.close();
  if (sampleStream) sampleStream.close();
  trainStream = null;
  sampleStream = null;
  state.sampling.active = false;
}

function clearSampling() {
  if (sampleStream) sampleStream.close();
  sampleStream = null;
  sampleCounter += 1;
  state.sampling = { active: false, meta: null, frames: [], result: null, framesReceived: 0, idx: null };
  state.selected = null;
  det = null;
  player.pause();
  player.index = 0;
  syncDetector();
  renderTrajectory($('traj-plot'), null);
  $('traj-info').textContent = 'Click a particle in the main plot, or:';
  syncPlayerControls(player);
}

function startSampling({ keepErrors = false } = {}) {
  if (!state.run) return;
  if (!keepErrors) clearErrors();
  const params = readSampler();
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, v === null ? '' : String(v));
  startStream(`/api/runs/${encodeURIComponent(state.run.run_id)}/sample?${qs}`, params,
    `Sampling ${Number.isFinite(params.n) ? fmt(params.n) : ''} particles from noise…`);
}

/** Follow a sample stream, live (/sample) or a stored result's replay (/api/results/{id}/events). */
function startStream(url, params, text) {
  clearSampling();
  state.sampling.active = true;
  state.sampling.params = params;
  state.producedKey = formKey();
  setExports(null);
  setSummary(text);
  sampleStream = openStream(url, {
    [EV.meta]: onMeta, [EV.frame]: onFrame, [EV.result]: onResult, [EV.done]: onSampleDone,
  }, (err) => {
    sampleStream = null;
    state.sampling.active = false;
    setSummary('Sampling stopped: see the message above.');
    showError(err);
    syncPlayerControls(player);
  }, { finalEvent: EV.done, errorEvent: EV.error });
}

const reducedMotion = window.matchMedia?.('(prefers-reduced-motion: reduce)');

function onMeta(meta) {
  state.sampling.meta = meta;
  state.sampling.frames = new Array(0);
  $('time').max = String(Math.max((meta.frame_ts?.length ?? 1) - 1, 0));
  player.index = 0;
  if (pendingView && pendingView.frame !== null && pendingView.frame !== undefined) {
    player.pause(); // a link to one frame: no autoplay, the frame is shown once it has arrived
    return;
  }
  // With reduced motion asked for, nothing autoplays: the page shows the last frame received, and
  // play, the arrows and the slider still replay the process on request.
  if (reducedMotion?.matches) player.pause(); else player.play();
}

function onFrame(f) {
  const frame = { index: f.index, t: f.t, x: columns(f.x), x0: f.x0 ? columns(f.x0) : null };
  const frames = state.sampling.frames;
  frames[Number.isInteger(f.index) ? f.index : frames.length] = frame;
  state.sampling.framesReceived += 1;
  const atNewest = player.index >= frames.length - 2;
  if (reducedMotion?.matches && !player.playing && atNewest) player.seek(frames.length - 1); // follow, no motion
  else if (!player.playing && atNewest) player.invalidate();
  else if (player.playing) player.schedule();
}

function labelIndices(label) {
  const buckets = [[], [], []];
  for (let i = 0; i < label.length; i += 1) (buckets[label[i]] ?? buckets[2]).push(i);
  return { support: Uint32Array.from(buckets[0]), between: Uint32Array.from(buckets[1]), outside: Uint32Array.from(buckets[2]) };
}

function onResult(r) {
  const x0Last = decode(r.x0_last);
  const result = {
    samples: columns(r.samples),
    label: flat(r.label),
    nearest: flat(r.nearest_mode),
    between: decode(r.between),
    distance: flat(r.distance_sigma),
    variance: flat(r.variance),
    x0Last,
    x0LastTs: r.x0_last_ts ?? [],
    summary: r.summary ?? {},
  };
  state.sampling.result = result;
  state.sampling.idx = labelIndices(result.label);
  det = detectorStats(result.variance, result.label);
  state.threshold = det.paperThreshold;
  state.thresholdCustom = false;
  if (pendingView && Number.isFinite(pendingView.threshold)) {
    state.threshold = pendingView.threshold;
    state.thresholdCustom = true;
  }
  syncDetector();
  setSummary(summaryText());
  $('pick-between').disabled = state.sampling.idx.between.length + state.sampling.idx.outside.length === 0;
  $('pick-support').disabled = state.sampling.idx.support.length === 0;
  player.invalidate();
}

function onSampleDone() {
  sampleStream = null;
  state.sampling.active = false;
  setExports(state.sampling.meta);
  const view = pendingView;
  pendingView = null;
  if (view) applyViewAfterResult(view);
  syncPlayerControls(player);
  syncConcealed();
  player.invalidate();
  state.opened = true;
  scheduleHash();
}

// ------------------------------------------------------------------ summary

function setSummary(text) {
  if ($('summary').textContent !== text) $('summary').textContent = text;
}

function summaryText() {
  const { result, idx } = state.sampling;
  if (!result) return $('summary').textContent;
  if (state.concealed) {
    return `${fmt(result.label.length)} samples. Predict: will any land between the modes, and where? `
      + 'Then press “Reveal”.';
  }
  const n = result.label.length;
  const nb = idx.between.length;
  const no = idx.outside.length;
  let text = `${fmt(nb)} of ${fmt(n)} samples (${pct(nb / n)}) landed between modes`;
  if (no) text += `; ${fmt(no)} (${pct(no / n)}) outside the outer modes`;
  text += '.';
  if (det && det.nBetween && Number.isFinite(det.paperThreshold)) {
    const r = atThreshold(det, det.paperThreshold);
    text += ` Keeping 96% of in-support samples, the variance detector removes ${pct(r.removedShare)} of them.`;
  }
  return text;
}

// ------------------------------------------------------------------ main view

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

// ------------------------------------------------------------------ player

const player = new Player({
  available: () => state.sampling.frames.length,
  complete: () => !state.sampling.active,
  render: renderIndex,
  onChange: syncPlayerControls,
});

function syncPlayerControls(p) {
  const n = state.sampling.frames.length;
  const has = n > 0;
  for (const id of ['play', 'back10', 'back1', 'fwd1', 'fwd10', 'time']) $(id).disabled = !has;
  $('play').textContent = p.playing ? '❚❚' : '▶';
  $('play').setAttribute('aria-label', p.playing ? 'Pause' : 'Play');
  $('time').value = String(p.index);
  const ts = state.sampling.meta?.frame_ts;
  const total = ts?.length ?? n;
  $('time-label').textContent = has ? `frame ${p.index + 1}/${total} · t = ${state.sampling.frames[p.index]?.t ?? ts?.[p.index] ?? '—'}` : 't = —';
  scheduleHash();
}

// ------------------------------------------------------------------ detector

function syncDetector() {
  const slider = $('threshold');
  if (!det) {
    renderDetector($('detector-plot'), null, 1);
    slider.disabled = true;
    $('threshold-reset').disabled = true;
    $('detector-readout').textContent = state.sampling.active ? 'Waiting for the final samples…' : 'Sample to see the detector.';
    return;
  }
  slider.disabled = false;
  $('threshold-reset').disabled = false;
  slider.min = String(det.range[0]);
  slider.max = String(det.range[1]);
  slider.step = String((det.range[1] - det.range[0]) / 500);
  slider.value = String(Math.log10(Math.max(state.threshold, 1e-12)));
  updateReadout();
}

function updateReadout() {
  renderDetector($('detector-plot'), det, state.threshold);
  const r = readoutText(det, state.threshold);
  $('detector-readout').textContent = `${r.line} ${r.auroc} (between-mode vs in-support). Threshold ${formatVariance(state.threshold)}.`;
  $('threshold').setAttribute('aria-valuetext', `threshold ${formatVariance(state.threshold)}: ${r.line}`);
  if (state.selected !== null) showTrajectory(state.selected);
}

// ------------------------------------------------------------------ one particle

function select(i) {
  state.selected = i;
  showTrajectory(i);
  player.invalidate();
  scheduleHash();
}

let pickCursor = { between: 0, support: 0 };
function pick(kind) {
  const idx = state.sampling.idx;
  if (!idx) return;
  const pool = kind === 'between' ? [...idx.between, ...idx.outside] : Array.from(idx.support);
  if (!pool.length) return;
  select(pool[pickCursor[kind] % pool.length]);
  pickCursor[kind] += 1;
}

function nearestParticle(clientX, clientY) {
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

// ------------------------------------------------------------------ wiring

function wirePlotPointer() {
  mainDiv.addEventListener('pointerdown', (ev) => {
    if (state.editMode && state.dim === 2 && !state.sampling.active) {
      if (handlePlotPointerDown(ev, mainDiv)) ev.stopPropagation();
      return;
    }
    const down = { x: ev.clientX, y: ev.clientY };
    // On window: Plotly's zoom drag puts a cover over the page, so the pointerup lands outside the plot.
    window.addEventListener('pointerup', (up) => {
      if (Math.hypot(up.clientX - down.x, up.clientY - down.y) > 4) return; // a zoom drag, not a click
      const i = nearestParticle(up.clientX, up.clientY);
      if (i !== null) select(i);
    }, { once: true, capture: true });
  }, true);
}

function wireKeyboard() {
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t instanceof HTMLElement && t.closest('input, select, textarea, [contenteditable="true"]')) return;
    if (!state.sampling.frames.length) return;
    if (ev.key === ' ' || ev.code === 'Space') {
      if (t instanceof HTMLButtonElement) return; // space on a focused button presses that button
      ev.preventDefault();
      player.toggle();
    } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      const step = (ev.shiftKey ? 10 : 1) * (ev.key === 'ArrowRight' ? 1 : -1);
      player.step(step);
    } else if (ev.key === 'Home' || ev.key === 'End') {
      ev.preventDefault();
      player.pause();
      player.seek(ev.key === 'Home' ? 0 : Infinity);
    }
  });
}

function wireControls() {
  $('train').addEventListener('click', trainAndSample);
  $('cancel').addEventListener('click', cancelTraining);
  $('sample').addEventListener('click', startSampling);
  $('oracle').addEventListener('change', (ev) => { $('train-fields').disabled = ev.target.checked; });
  $('error-dismiss').addEventListener('click', clearErrors);
  $('play').addEventListener('click', () => player.toggle());
  $('back10').addEventListener('click', () => player.step(-10));
  $('back1').addEventListener('click', () => player.step(-1));
  $('fwd1').addEventListener('click', () => player.step(1));
  $('fwd10').addEventListener('click', () => player.step(10));
  $('time').addEventListener('input', (ev) => {
    const index = Number(ev.target.value); // read first: pause() re-syncs the slider to the old index
    player.pause();
    player.seek(index);
  });
  $('speed').addEventListener('change', (ev) => player.setSpeed(Number(ev.target.value)));
  $('zoom-modes').addEventListener('change', () => { player.invalidate(); scheduleHash(); });
  $('threshold').addEventListener('input', (ev) => {
    state.threshold = 10 ** Number(ev.target.value);
    state.thresholdCustom = true;
    updateReadout();
    scheduleHash();
  });
  $('threshold-reset').addEventListener('click', () => {
    if (!det) return;
    state.threshold = det.paperThreshold;
    state.thresholdCustom = false;
    syncDetector();
    scheduleHash();
  });
  $('pick-between').addEventListener('click', () => pick('between'));
  $('pick-support').addEventListener('click', () => pick('support'));
  for (const el of document.querySelectorAll('[data-path], #s-n, #s-seed, #s-frames, #s-window, #s-eta')) {
    el.addEventListener('input', () => el.removeAttribute('aria-invalid'));
  }
  for (const el of document.querySelectorAll('.controls input, .controls select')) {
    el.addEventListener('change', scheduleHash);
  }
  wireSharing();
}

function wirePresets() {
  const presets = boot.presets ?? [];
  const select = $('preset');
  for (const p of presets) {
    const opt = document.createElement('option');
    opt.value = p.id;
    opt.textContent = p.title ?? p.id;
    select.append(opt);
  }
  select.addEventListener('change', () => {
    const p = presets.find((x) => x.id === select.value);
    $('preset-description').textContent = p?.description ?? '';
    if (!p) return;
    const config = structuredClone(p.config ?? {});
    state.baseConfig = { ...defaults.experiment, ...config,
      train: { ...defaults.experiment?.train, ...config.train }, net: { ...defaults.experiment?.net, ...config.net },
      schedule: { ...defaults.experiment?.schedule, ...config.schedule } };
    fillForm(state.baseConfig);
    $('oracle').checked = p.kind === 'oracle';
    $('train-fields').disabled = p.kind === 'oracle';
    const data = config.data ?? {};
    setDataset(data.dataset ?? state.dataset, data.mixture ?? null);
  });
}

function modesInside(bounds, means) {
  return means.every((m) => m.every((v, j) => {
    const r = bounds[j === 0 ? 'x' : 'y'];
    return v >= r[0] && v <= r[1];
  }));
}

on('mixture', ({ structural, reframe }) => {
  // Axis ranges follow the dataset, not each edit: a mode added under the cursor must stay there.
  if (reframe || !state.viewBounds || !modesInside(state.viewBounds, state.mixture.means)) {
    state.viewBounds = boundsOf(state.mixture);
  }
  if (structural && (state.sampling.frames.length || state.sampling.active)) {
    clearSampling();
    if (state.run) {
      state.run = null;
      $('sample').disabled = true;
      setProgress(0, 'The mixture changed: train again (or use the exact model).');
    }
    setSummary('Mixture edited. Train a model (or use the exact one) to see where its samples land.');
  }
  player.invalidate();
});


// ------------------------------------------------------------------ links, lessons, classroom flags
// The URL hash carries config + sampler + view (codec spec from the server: bootstrap.url_spec) and is
// rewritten on every change; ?lesson=, ?hide=, ?presenter=1 and ?predict=1 are classroom flags.

const spec = boot.url_spec ?? null;
const lessons = boot.lessons ?? [];
let lesson = lessons.find((l) => l.id === query.get('lesson')) ?? null;
let pendingView = null; // view state to restore once the stream it belongs to has finished
let hashTimer = null;
const ALL_LAYERS = spec?.fields.find((f) => f.key === 'ly')?.default ?? ['support', 'between', 'outside', 'paths', 'bands'];
state.layers = new Set(ALL_LAYERS);
state.lessonStep = null;
state.concealed = false;
state.presenter = false;

function samplerTree() {
  return readSampler();
}

function formKey() {
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

function currentHash() {
  return spec ? encodeHash(spec, readConfig(), samplerTree(), viewState()) : '';
}

function writeHash() {
  hashTimer = null;
  if (!spec || !state.opened) return;
  const h = currentHash();
  const url = `${window.location.pathname}${window.location.search}${h ? `#${h}` : ''}`;
  const now = `${window.location.pathname}${window.location.search}${window.location.hash}`;
  if (url !== now) window.history.replaceState(null, '', url);
}

function scheduleHash() {
  if (!spec || !state.opened || hashTimer !== null) return;
  hashTimer = setTimeout(writeHash, 60);
}

function setLayer(layer, visible) {
  if (visible) state.layers.add(layer); else state.layers.delete(layer);
  const box = document.querySelector(`[data-layer="${layer}"]`);
  if (box) box.checked = visible;
  player.invalidate();
  scheduleHash();
}

async function copyLink() {
  writeHash();
  const url = window.location.href;
  const box = $('share-url');
  box.value = url;
  box.hidden = false;
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(url); copied = true; }
  } catch { /* no clipboard permission: the link is selected in the box instead */ }
  box.focus();
  box.select();
  $('share-status').textContent = copied ? 'Link copied.' : 'Press Ctrl+C to copy the link.';
}

function syncConcealed() {
  const concealed = state.concealed;
  $('predict').checked = concealed;
  $('reveal').hidden = !(concealed && state.sampling.result);
  $('detector-card').classList.toggle('concealed', concealed);
  $('pick-between').disabled = concealed || !state.sampling.idx
    || state.sampling.idx.between.length + state.sampling.idx.outside.length === 0;
  if (state.sampling.result) setSummary(summaryText());
  if (state.selected !== null) showTrajectory(state.selected);
  player.invalidate();
}

function setConcealed(on) {
  state.concealed = on;
  $('predict').checked = on;
  syncConcealed();
}

function setPresenter(on) {
  state.presenter = on;
  $('presenter').checked = on;
  document.body.classList.toggle('presenter', on);
  player.invalidate();
}

/** Fill the form with a full config (from a link, a lesson step or a run) and remember it as the base. */
function applyConfig(config, kind) {
  state.baseConfig = structuredClone(config);
  fillForm(config);
  $('oracle').checked = kind === 'oracle';
  $('train-fields').disabled = kind === 'oracle';
  setDataset(config.data?.dataset ?? 'grid25', config.data?.mixture ?? null);
}

function applyViewBeforeStream(view) {
  if (!view) return;
  if (Array.isArray(view.layers)) for (const l of ALL_LAYERS) setLayer(l, view.layers.includes(l));
  if (typeof view.zoom === 'boolean') $('zoom-modes').checked = view.zoom;
}

function applyViewAfterResult(view) {
  const n = state.sampling.result?.label.length ?? 0;
  if (Number.isInteger(view.frame)) {
    player.pause();
    player.seek(Math.min(view.frame, state.sampling.frames.length - 1));
  }
  if (Number.isInteger(view.particle) && view.particle < n) select(view.particle);
  else if (view.select) pick(view.select === 'between' ? 'between' : 'support');
}

function reportLinkProblems(problems) {
  if (!problems.length) return;
  const list = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  showError(new Error(`This link has values the lab cannot use, so their defaults are shown instead — ${list}.`));
}

/** Open one lesson step: its state (a hash, like any link), its text and its predict switch. */
function goToStep(number, { keepErrors = false } = {}) {
  const step = lesson.steps[number - 1];
  if (!step) return Promise.resolve();
  state.lessonStep = number;
  renderLesson(lesson);
  const decoded = decodeHash(spec, step.hash);
  setConcealed(step.predict || flag('predict'));
  return openState(decoded, { select: step.select, keepErrors });
}

function openState(decoded, extra = {}) {
  applyConfig(decoded.config, decoded.view.kind);
  fillSampler(decoded.sampler);
  applyViewBeforeStream(decoded.view);
  pendingView = { ...decoded.view, ...extra };
  return trainAndSample({ keepErrors: extra.keepErrors ?? true });
}

/** Replay a stored result (GET /api/results/{id} object) through the same stream code: no computation. */
async function replayResult(res, view) {
  const { body: run } = await getRun(res.run_id);
  applyConfig(run.config, run.kind);
  fillSampler(res.params);
  applyViewBeforeStream(view);
  state.run = { run_id: run.run_id, kind: run.kind, status: run.status };
  state.runMixture = structuredClone(state.mixture);
  $('sample').disabled = run.status !== 'done';
  const history = run.metrics?.loss_history;
  if (Array.isArray(history) && history.length) resetLoss(lossDiv, history);
  else resetLoss(lossDiv, [], run.kind === 'oracle' ? 'exact denoiser: nothing to train' : undefined);
  setProgress(1, `Stored result ${res.result_id} of run ${run.run_id}: replayed, not recomputed.`);
  pendingView = view ?? {};
  startStream(res.links.events, res.params, 'Replaying a stored result…');
}

/** What the page opens with: a permalink, a link's hash, a lesson step, or the ready default run. */
async function openFromUrl() {
  const hash = window.location.hash;
  const decoded = spec && hash.length > 1 ? decodeHash(spec, hash) : null;
  if (decoded) reportLinkProblems(decoded.problems);
  if (flag('presenter')) setPresenter(true);
  if (lesson) {
    state.lessonStep = Math.min(decoded?.view.step ?? 1, lesson.steps.length);
    renderLesson(lesson);
    const step = lesson.steps[state.lessonStep - 1];
    setConcealed(Boolean(step.predict) || flag('predict'));
    if (!decoded && !boot.permalink) return goToStep(state.lessonStep, { keepErrors: true });
  } else if (flag('predict')) setConcealed(true);
  if (boot.permalink) return replayResult(boot.permalink, decoded?.view);
  if (decoded?.view.result) {
    try {
      const { body } = await requestJSON('GET', `/api/results/${encodeURIComponent(decoded.view.result)}`);
      if (body.status !== 'failed') return replayResult(body, decoded.view);
    } catch (err) {
      showError(new Error(`The stored result of this link could not be opened (${err.message}); `
        + 'computing it again from the link’s settings.'));
    }
  }
  if (decoded) return openState(decoded);
  if (boot.default_run && query.get('open') !== 'none') { // ?open=none: start empty, nothing sampled
    const { body } = await getRun(boot.default_run);
    applyConfig(body.config, body.kind);
    pendingView = null;
    return trainAndSample();
  }
  state.opened = true;
  return undefined;
}

function wireSharing() {
  $('copy-link').addEventListener('click', copyLink);
  $('export-png').addEventListener('click', () => exportChart('png'));
  $('export-svg').addEventListener('click', () => exportChart('svg'));
  $('presenter').addEventListener('change', (ev) => setPresenter(ev.target.checked));
  $('predict').addEventListener('change', (ev) => setConcealed(ev.target.checked));
  $('reveal').addEventListener('click', () => setConcealed(false));
  for (const box of document.querySelectorAll('[data-layer]')) {
    box.addEventListener('change', () => setLayer(box.dataset.layer, box.checked));
  }
  const sel = $('lesson-select');
  for (const l of lessons) {
    const opt = document.createElement('option');
    opt.value = l.id;
    opt.textContent = l.title;
    sel.append(opt);
  }
  sel.addEventListener('change', () => {
    const q = new URLSearchParams(window.location.search);
    if (sel.value) q.set('lesson', sel.value); else q.delete('lesson');
    window.location.assign(`/?${q}`); // a lesson is a fresh page: its first step, its flags
  });
  $('lesson-prev').addEventListener('click', () => goToStep((state.lessonStep ?? 1) - 1));
  $('lesson-next').addEventListener('click', () => goToStep((state.lessonStep ?? 1) + 1));
}

function init() {
  initEditor(boot.datasets ?? []);
  wireControls();
  wirePresets();
  wirePlotPointer();
  wireKeyboard();
  applyLimits(boot.limits);
  fillForm(defaults.experiment ?? {});
  fillSampler({ ...defaults.sampler, frames: defaults.frames ?? 100 });
  const first = defaults.experiment?.data?.dataset ?? boot.datasets?.[0]?.name ?? 'grid25';
  setDataset(first, defaults.experiment?.data?.mixture ?? null);
  resetLoss(lossDiv);
  syncDetector();
  renderTrajectory($('traj-plot'), null);
  syncPlayerControls(player);
  applyHideFlags(lesson);
  renderLesson(lesson);
  openFromUrl().then(() => { state.openRequested = true; }, (err) => {
    state.openRequested = true;
    state.opened = true;
    showError(err);
  });
}

// ------------------------------------------------------------------ test hook

async function measurePlayback() {
  const frames = state.sampling.frames.length;
  if (!frames) throw new Error('nothing to play: sample first');
  const speed = player.fps;
  player.pause();
  player.setSpeed(0);
  player.seek(0);
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  const r0 = player.rendered;
  const d0 = player.drawMs;
  const t0 = performance.now();
  player.play();
  await new Promise((res) => {
    const check = () => (player.playing || player.drawing || player.dirty ? requestAnimationFrame(check) : res());
    requestAnimationFrame(check);
  });
  const seconds = (performance.now() - t0) / 1000;
  const rendered = player.rendered - r0;
  player.setSpeed(speed);
  return { frames: rendered, seconds, fps: rendered / seconds, drawMs: (player.drawMs - d0) / Math.max(rendered, 1) };
}

window.__lab = {
  state,
  player,
  get framesReceived() { return state.sampling.framesReceived; },
  get frameIndex() { return player.index; },
  summaryText: () => $('summary').textContent,
  detectorText: () => $('detector-readout').textContent,
  errors: () => Array.from($('error-list').children, (li) => li.textContent),
  currentHash,
  get opened() { return Boolean(state.openRequested); },
  measurePlayback,
  emit,
};

try {
  init();
} catch (err) {
  showError(new Error(`The page could not start: ${err.message}`));
}
