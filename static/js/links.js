// What the page opens (a permalink, a link's hash, a lesson step or the default run) and the sharing
// and classroom controls: copy link, chart export, presenter, predict, layers and lessons.

import { getRun, requestJSON } from './api.js';
import { state } from './state.js';
import { decodeHash } from './hash_codec.js';
import { boot, spec } from './bootstrap.js';
import { showError } from './errors.js';
import { fillForm, fillSampler } from './form.js';
import { setDataset } from './editor.js';
import { exportChart } from './exports.js';
import { query, flag, renderLesson, lessons, lesson } from './classroom.js';
import { player, setLayer, ALL_LAYERS } from './mainplot.js';
import { setConcealed, setSummary, fmt } from './readout.js';
import { expectView, startStream } from './sampling.js';
import { trainAndSample, adoptRun, setProgress, secondsText } from './training.js';
import { readConfig } from './form.js';
import { writeHash } from './address.js';

const $ = (id) => document.getElementById(id);

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

function setPresenter(on, { fullscreen = false } = {}) {
  state.presenter = on;
  $('presenter').checked = on;
  document.body.classList.toggle('presenter', on);
  // Side charts keep their data: only their type size follows (the main plot is redrawn by the player).
  for (const id of ['detector-plot', 'traj-plot', 'loss-plot']) {
    const div = $(id);
    if (div?.layout) Plotly.relayout(div, { 'font.size': on ? 16 : 12, 'legend.font.size': on ? 15 : 11 });
  }
  player.invalidate();
  window.dispatchEvent(new Event('resize')); // the grid changed: Plotly refits its charts
  // A projector wants the whole screen; only a click may ask for it, and a refusal changes nothing else.
  if (fullscreen && on && !document.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => {});
  if (fullscreen && !on && document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
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
  if (step.problem) { // its model is missing on this server: say so, in place of the step's view
    showError(new Error(`Lesson step ${number}: ${step.problem}`));
    return Promise.resolve();
  }
  const decoded = decodeHash(spec, step.hash);
  setConcealed(step.predict || flag('predict'));
  return openState(decoded, { select: step.select, keepErrors });
}

/** The server's estimate for the form's model when opening it would start a new training job, else null. */
async function untrainedEstimate() {
  if ($('oracle').checked) return null;
  try {
    const { body } = await requestJSON('POST', '/api/runs/estimate', { kind: 'trained', config: readConfig() });
    return body.status === null ? body : null;
  } catch {
    return null; // a config the server refuses: trainAndSample reports why, and nothing starts
  }
}

/** A link may name a model nobody has trained: training starts only once the person says so. */
function askBeforeTraining(estimate) {
  const box = $('confirm-train');
  const about = secondsText(estimate.seconds) || 'an unknown time';
  $('confirm-text').textContent = `This link asks for a model that is not trained yet: ${fmt(estimate.steps)} `
    + `training steps, about ${about} on this server, which keeps working on it until it is done or cancelled. `
    + 'Nothing has started.';
  $('confirm-yes').textContent = `Train it (about ${about})`;
  box.hidden = false;
  setProgress(0, 'Not started: waiting for your answer.');
  setSummary('This link needs a model that is not trained yet: train it, or use the exact denoiser.');
  const answer = (train, oracle = false) => {
    box.hidden = true;
    if (oracle) { $('oracle').checked = true; $('train-fields').disabled = true; }
    if (train || oracle) { trainAndSample({ keepErrors: true }); return; }
    state.opened = true; // the address bar follows the page from here
    setProgress(0, 'Not trained.');
    setSummary('Not trained. Train it, pick a ready preset, or use the exact denoiser.');
  };
  $('confirm-yes').onclick = () => answer(true);
  $('confirm-oracle').onclick = () => answer(false, true);
  $('confirm-no').onclick = () => answer(false);
  $('confirm-yes').focus();
}

async function openState(decoded, extra = {}) {
  applyConfig(decoded.config, decoded.view.kind);
  fillSampler(decoded.sampler);
  applyViewBeforeStream(decoded.view);
  expectView({ ...decoded.view, ...extra });
  const estimate = await untrainedEstimate();
  if (estimate) { askBeforeTraining(estimate); return undefined; }
  return trainAndSample({ keepErrors: extra.keepErrors ?? true });
}

/** Replay a stored result (GET /api/results/{id} object) through the same stream code: no computation. */
async function replayResult(res, view) {
  const { body: run } = await getRun(res.run_id);
  applyConfig(run.config, run.kind);
  fillSampler(res.params);
  applyViewBeforeStream(view);
  adoptRun(run, `Stored result ${res.result_id} of run ${run.run_id}: replayed, not recomputed.`);
  expectView(view ?? {});
  startStream(res.links.events, res.params, 'Replaying a stored result…');
}

/** What the page opens with: a permalink, a link's hash, a lesson step, or the ready default run. */
export async function openFromUrl() {
  const hash = window.location.hash;
  const decoded = spec && hash.length > 1 ? decodeHash(spec, hash) : null;
  if (decoded) reportLinkProblems(decoded.problems);
  if (flag('presenter')) setPresenter(true);
  if (query.get('lesson') && !lesson) { // a mistyped lesson name: say so, and open the lab as usual
    showError(new Error(`No lesson ${JSON.stringify(query.get('lesson').slice(0, 40))}: the lessons are `
      + `${lessons.map((l) => l.id).join(', ')} (the Lesson menu above). Showing the lab without a lesson.`));
  }
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
    expectView(null);
    return trainAndSample();
  }
  state.opened = true;
  return undefined;
}

export function wireSharing() {
  $('copy-link').addEventListener('click', copyLink);
  $('export-png').addEventListener('click', () => exportChart('png'));
  $('export-svg').addEventListener('click', () => exportChart('svg'));
  $('presenter').addEventListener('change', (ev) => setPresenter(ev.target.checked, { fullscreen: true }));
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
