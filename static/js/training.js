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
import { showPreview, clearPreview } from './preview.js';

const $ = (id) => document.getElementById(id);

const lossDiv = $('loss-plot');
let trainStream = null;
let lastLossStep = -1;

function setTraining(active) {
  state.training.active = active;
  $('train').disabled = active;
  $('cancel').disabled = !active;
  $('stage-cancel').disabled = !active;
  // While a model trains the centre says so: its progress, loss and Cancel belong there too, not below the fold.
  $('stage-progress').hidden = !active || $('oracle').checked;
  syncTrainButton();
}

const formRunKey = () => `${$('oracle').checked ? 'oracle' : 'trained'} ${JSON.stringify(readConfig())}`;

/** The main button says what it will do: only sample when the form's model is the current, ready run. */
export function syncTrainButton() {
  const ready = state.run?.status === 'done' && !state.training.active && state.run.formKey === formRunKey();
  $('train').textContent = ready ? 'Sample (model ready)' : 'Train & sample';
}

export function setProgress(fraction, text) {
  const p = Math.max(0, Math.min(1, fraction));
  for (const [bar, fill, label] of [['progress', 'progress-fill', 'progress-text'],
    ['stage-progress-bar', 'stage-progress-fill', 'stage-progress-text']]) {
    $(fill).style.width = `${(100 * p).toFixed(1)}%`;
    $(bar).setAttribute('aria-valuenow', String(Math.round(100 * p)));
    if (text !== undefined) $(label).textContent = text;
  }
}

export function secondsText(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '';
  return s < 90 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function onProgress(p) {
  state.training.step = p.step;
  state.training.steps = p.steps;
  if (p.preview) showPreview(p.preview); // the network's x̂0 as it learns (watched next to the loss)
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
  syncTrainButton();
  if (status === 'done') {
    const m = d.metrics ?? {};
    const oracle = state.run?.kind === 'oracle';
    const ready = Boolean(state.run?.ready);
    const finalLoss = Number.isFinite(m.final_loss) ? `final loss ${m.final_loss.toFixed(4)}` : '';
    if (Array.isArray(m.loss_history) && m.loss_history.length) resetLoss(lossDiv, m.loss_history);
    else if (!oracle) resetLoss(lossDiv, [], `trained ahead of time${finalLoss ? `: ${finalLoss}` : ''} (no curve stored)`);
    const steps = fmt(m.steps ?? state.training.steps);
    setProgress(1, oracle ? 'Exact (oracle) denoiser: nothing to train.'
      : ready ? `Ready model: trained ahead of time, ${steps} steps${finalLoss ? `, ${finalLoss}` : ''}. Sampling it now.`
        : `Trained ${steps} steps in ${secondsText(m.train_seconds)}${finalLoss ? `, ${finalLoss}` : ''}.`);
    $('sample').disabled = false;
    startSampling({ keepErrors: true }); // errors were cleared when training was asked for; keep a link's
    return;
  }
  if (status === 'cancelled') {
    setProgress(0, 'Training cancelled.');
    setSummary('Training was cancelled. Change the settings or train again.');
    // The server cancels a job nobody watched for a while (a sleeping tab): say so rather than blame a click.
    getRun(state.run.run_id).then(({ body }) => {
      const why = body?.error ?? '';
      if (why) setSummary(`Training was cancelled by the server: ${why.replace(/^cancelled: /, '')}. Train again to restart it.`);
    }, () => {});
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
  clearPreview();
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
  // A config that is already trained (a bundled model, an earlier run) is opened, not trained.
  const ready = body.status === 'done';
  state.run = { run_id: body.run_id, kind: body.kind ?? kind, status: body.status, ready, formKey: formRunKey() };
  state.runMixture = structuredClone(state.mixture);
  if (ready && kind !== 'oracle') {
    setProgress(1, `Ready model ${body.run_id}: trained ahead of time.`);
    resetLoss(lossDiv, [], 'trained ahead of time');
  }
  setSummary(kind === 'oracle' ? 'Using the exact denoiser of this mixture.'
    : ready ? `Opening ready model ${body.run_id}…` : `Training model ${body.run_id}…`);
  trainStream = openStream(`/api/runs/${encodeURIComponent(body.run_id)}/events`,
    { [EV.progress]: onProgress, [EV.done]: onTrainDone }, onTrainError,
    { finalEvent: EV.done, errorEvent: EV.error });
}

export async function cancelTraining() {
  if (!state.run) return;
  $('cancel').disabled = true;
  $('stage-cancel').disabled = true;
  setProgress(0, 'Cancelling…'); // before the request: its `done` event may arrive before the reply
  try {
    await cancelJob(state.run.run_id);
  } catch (err) {
    showError(err);
    $('cancel').disabled = !state.training.active;
    $('stage-cancel').disabled = !state.training.active;
  }
}

/** Make a stored run (GET /api/runs/{id}) the current one without training it: its loss curve, `text`. */
export function adoptRun(run, text) {
  state.run = { run_id: run.run_id, kind: run.kind, status: run.status, formKey: formRunKey() };
  state.runMixture = structuredClone(state.mixture);
  syncTrainButton();
  clearPreview();
  $('sample').disabled = run.status !== 'done';
  const history = run.metrics?.loss_history;
  if (Array.isArray(history) && history.length) resetLoss(lossDiv, history);
  else resetLoss(lossDiv, [], run.kind === 'oracle' ? 'exact denoiser: nothing to train' : undefined);
  setProgress(1, text);
}
