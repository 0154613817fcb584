// One sample stream at a time: open it (a live sample, or the replay of a stored result), feed its events into
// the page state, and say the progress with an ETA; a new request closes the previous stream first.

import { openStream } from '../api.js';
import { EV, boot } from '../bootstrap.js';
import { S, resetSample, addFrame, decodeResult } from './model.js';

const $ = (id) => document.getElementById(id);
const QUEUE = boot.events?.queue ?? 'queue';
let current = null;

export function sampleUrl(runId, p) {
  const q = new URLSearchParams({ n: p.n, seed: p.seed, sampler: p.sampler, eta: p.eta, window: p.window,
    frames: p.frames, steps: p.steps });
  return `/api/runs/${encodeURIComponent(runId)}/sample?${q}`;
}

export function stopStream() {
  if (current) current.close();
  current = null;
  S.streaming = false;
}

function expected() {
  return S.meta?.frame_ts?.length ?? 0;
}

/** Progress bar and words: frames received of those expected, elapsed and (after a few frames) what is left. */
export function showProgress() {
  const total = expected();
  const got = S.frames.length;
  const share = total ? got / total : 0;
  $('progress-fill').style.width = `${(100 * share).toFixed(1)}%`;
  $('progress').setAttribute('aria-valuenow', String(Math.round(100 * share)));
  const elapsed = (performance.now() - S.startedAt) / 1000;
  if (!S.streaming) {
    $('progress-text').textContent = S.result ? `Done: ${got} frames in ${elapsed.toFixed(1)} s.` : 'Not sampling.';
    return;
  }
  let eta = '';
  if (got >= 2 && total) eta = ` · about ${Math.ceil((elapsed / got) * (total - got))} s left`;
  else if (S.meta?.seconds_per_step) eta = ` · about ${Math.ceil(S.meta.seconds_per_step * S.meta.steps)} s in all`;
  $('progress-text').textContent = `Frame ${got} of ${total || '?'} · ${elapsed.toFixed(1)} s${eta}`;
}

/**
 * Open `url` and route its events: `on.meta(meta)`, `on.frame()`, `on.result()`, `on.end(error|null)`.
 * The queue event (all sampling slots busy) is said in the progress line.
 */
export function startStream(url, on) {
  stopStream();
  S.streaming = true;
  S.startedAt = performance.now();
  $('progress-text').textContent = 'Starting…';
  const handlers = {
    [EV.meta]: (m) => { resetSample(m); on.meta(m); showProgress(); },
    [EV.frame]: (f) => { addFrame(f); on.frame(); showProgress(); },
    [EV.result]: (r) => { S.result = decodeResult(r); on.result(); },
    [EV.done]: () => { current = null; S.streaming = false; showProgress(); on.end(null); },
    [QUEUE]: (q) => { $('progress-text').textContent = `Waiting for a free sampling slot (${q.ahead ?? '?'} ahead)…`; },
  };
  const stream = openStream(url, handlers, (err) => {
    current = null;
    S.streaming = false;
    showProgress();
    on.end(err);
  }, { finalEvent: EV.done, errorEvent: EV.error });
  current = stream;
  return stream;
}
