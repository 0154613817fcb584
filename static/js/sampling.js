// The sample stream of the current run: a live (/sample) or replayed stream followed into
// state.sampling, and the view a link asked for, restored once its stream has finished.

import { openStream } from './api.js';
import { columns, decode, flat } from './codec.js';
import { state, emit } from './state.js';
import { EV } from './bootstrap.js';
import { renderTrajectory } from './plots.js';
import { detectorStats } from './detector.js';
import { showError, clearErrors } from './errors.js';
import { readSampler } from './form.js';
import { setExports } from './exports.js';
import { player, syncPlayerControls, select, pick, newSample } from './mainplot.js';
import { fmt, setDetector, syncDetector, setSummary, summaryText, syncConcealed } from './readout.js';
import { formKey, scheduleHash } from './address.js';
import { queueMessage } from './queue.js';

const $ = (id) => document.getElementById(id);

let sampleStream = null;
let pendingView = null; // view state to restore once the stream it belongs to has finished
let startText = null; // the summary shown while sampling, put back when a queued stream starts
const reducedMotion = window.matchMedia?.('(prefers-reduced-motion: reduce)');

/** The view (decoded from a link, plus lesson extras) the next stream should end on; null for none. */
export function expectView(view) {
  pendingView = view;
}

/** Close the sample stream, if one is running, and forget what it drew. */
export function clearSampling() {
  if (sampleStream) sampleStream.close();
  sampleStream = null;
  newSample();
  state.sampling = { active: false, meta: null, frames: [], result: null, framesReceived: 0, idx: null };
  setExports(null); // the links follow the sample on screen: none while there is none
  state.selected = null;
  setDetector(null);
  player.pause();
  player.index = 0;
  syncDetector();
  renderTrajectory($('traj-plot'), null);
  $('traj-info').textContent = 'Click a particle in the main plot, or:';
  syncPlayerControls(player);
  emit('sample-cleared'); // split.js: the side-by-side view belonged to that sample
}

export function startSampling({ keepErrors = false } = {}) {
  if (!state.run) return;
  if (!keepErrors) clearErrors();
  const params = readSampler();
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, v === null ? '' : String(v));
  startStream(`/api/runs/${encodeURIComponent(state.run.run_id)}/sample?${qs}`, params,
    `Sampling ${Number.isFinite(params.n) ? fmt(params.n) : ''} particles from noise…`);
}

/** Follow a sample stream, live (/sample) or a stored result's replay (/api/results/{id}/events). */
export function startStream(url, params, text) {
  clearSampling();
  state.sampling.active = true;
  state.sampling.params = params;
  state.producedKey = formKey();
  setExports(null);
  setSummary(text);
  startText = text;
  sampleStream = openStream(url, {
    [EV.meta]: onMeta, [EV.frame]: onFrame, [EV.result]: onResult, [EV.done]: onSampleDone, [EV.queue]: onQueue,
  }, (err) => {
    sampleStream = null;
    state.sampling.active = false;
    setSummary('Sampling stopped: see the message above.');
    showError(err);
    syncPlayerControls(player);
  }, { finalEvent: EV.done, errorEvent: EV.error });
}

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

/** The server queued this stream: say where it stands until its first frame comes. */
function onQueue(standing) {
  setSummary(queueMessage(standing));
}

function onFrame(f) {
  if (!state.sampling.framesReceived && startText) setSummary(startText);
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
  const det = detectorStats(result.variance, result.label);
  setDetector(det);
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
  emit('sample-done'); // split.js: the same request to the exact denoiser, when compared side by side
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
