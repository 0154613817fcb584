// Training a run (or preparing the exact denoiser): the run's event stream, the progress bar and the
// loss curve. A run that finishes goes straight on to sampling.

import { createRun, cancelJob, getRun, openStream } from './api.js';
import { state } from './state.js';
import { EV } from './bootstrap.js';
import { resetLoss, extendLoss } from './plots.js';
import { showError, clearErrors } from './errors.js';
import { readConfig } from './form.js';
import { fmt, setSummary } from './readout.js';
import { startSampling, clearSampling } from './sampling.js';

const $ = (id) => document.getElementById(id);

const lossDiv = $('loss-plot');
let trainStream = null;
let lastLossStep = -1;

function setTraining(active) {
  state.training.active = active;
  $('train').disabled = active;
  $('cancel').disabled = !active;
}

export function setProgress(fraction, text) {
  const p = Math.max(0, Math.min(1, fraction));
  $('progress-fill').style.width = `${(100 * p).toFixed(1)}%`;
  $('progress').setAttribute('aria-valuenow', String(Math.round(100 * p)));
  if (text !== undefined) $('progress-text').textContent = text;
}

export function secondsText(s) {
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

export async function trainAndSample({ keepErrors = false } = {}) {
  if (!keepErrors) clearErrors();
  $('confirm-train').hidden = true; // a link's pending question is answered by training now
  if (trainStream) trainStream.close();
  trainStream = null;
  clearSampling(); // closes a sample stream still running too
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

export async function cancelTraining() {
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

/** Make a stored run (GET /api/runs/{id}) the current one without training it: its loss curve, `text`. */
export function adoptRun(run, text) {
  state.run = { run_id: run.run_id, kind: run.kind, status: run.status };
  state.runMixture = structuredClone(state.mixture);
  $('sample').disabled = run.status !== 'done';
  const history = run.metrics?.loss_history;
  if (Array.isArray(history) && history.length) resetLoss(lossDiv, history);
  else resetLoss(lossDiv, [], run.kind === 'oracle' ? 'exact denoiser: nothing to train' : undefined);
  setProgress(1, text);
}
