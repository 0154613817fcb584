// The Simple Shapes page: sample a grid of images from the bundled U-Net (or the exact denoiser), play it, outline
// the duplicates, drill into one image, score them with the detector; window.__shapes exposes the state so browser
// tests wait on real progress instead of sleeping.

import { boot } from '../bootstrap.js';
import { state } from '../state.js';
import { showError, clearErrors } from '../errors.js';
import { applyHideFlags, renderLesson, lesson, lessons, query, flag } from '../classroom.js';
import { S, imagesLabelled, labelName } from './model.js';
import { decodeHash } from './address.js';
import { initForm, fillForm, readForm, quickSettings, sayCost } from './controls.js';
import { initGrid, layoutGrid, describeCells } from './gridview.js';
import { player, wirePlayer, setView, onPlayerChange } from './playback.js';
import { renderStrip } from './strip.js';
import { initDetector, setScores, setThreshold, readout } from './detector.js';
import { loadStatistics } from './stats.js';
import { loadMap } from './bmap.js';
import { sampleUrl, startStream, stopStream } from './stream.js';
import { setExports, setPresenter, wireSharing, writeHash } from './share.js';
import { measurePlayback } from './measure.js';
import { initShapesHints } from './hints.js';

const $ = (id) => document.getElementById(id);
S.runs = boot.runs ?? [];
const runOf = (oracle) => S.runs.find((r) => r.kind === (oracle ? 'oracle' : 'trained')) ?? null;
let moment = null; // {frame, sel, thr, xt} to show once the result is in (a link, a lesson step)
let lessonSelect = null; // a lesson step's "select"
let stripAt = null; // the player frame the film strip last showed

function select(i) {
  S.selected = i;
  describeCells();
  renderStrip(i);
  writeHash();
}

function summary() {
  const m = S.meta;
  if (!m) return;
  const who = m.kind === 'oracle' ? 'the exact denoiser' : 'the bundled U-Net';
  const what = `${m.n} images from ${who} (${m.sampler.toUpperCase()}, ${m.steps} steps, seed ${m.seed})`;
  if (!S.result) { $('summary').textContent = `${what}: forming…`; return; }
  if (S.concealed) {
    $('summary').textContent = `${what}. Predict: will any image end with two shapes of one kind in one column? `
      + 'Then press “Reveal the duplicates”.';
    return;
  }
  const count = (name) => imagesLabelled(name).length;
  const dup = count('duplicate');
  $('summary').textContent = `${what}: ${dup} duplicate${dup === 1 ? '' : 's'} (outlined, dashed), `
    + `${count('malformed')} malformed, ${count('empty')} empty, ${count('valid')} valid.`;
}

function setConcealed(on) {
  S.concealed = on;
  $('predict').checked = on;
  $('reveal').hidden = !on;
  for (const id of ['detector-card', 'stats-card', 'map-card']) $(id).classList.toggle('concealed', on);
  describeCells();
  renderStrip(S.selected);
  summary();
}

function applyMoment() {
  const m = moment ?? {};
  moment = null;
  if (m.xt !== undefined) setView(m.xt ? 'xt' : 'x0');
  if (m.frame !== undefined) { player.pause(); player.seek(m.frame); }
  let sel = m.sel !== undefined && m.sel < S.meta.n ? m.sel : null;
  if (lessonSelect === 'duplicate') sel = imagesLabelled('duplicate')[0] ?? null;
  lessonSelect = null;
  if (sel !== null) select(sel);
  if (m.thr !== undefined) { S.thresholdMoved = true; setThreshold(m.thr); }
}

function onResult() {
  const dupCode = S.meta.labels.indexOf('duplicate');
  setScores('live', S.result.variance, Array.from(S.result.label, (l) => l === dupCode),
    S.result.summary?.auroc ?? null, `This sample (${S.meta.n} images, K = ${S.meta.window})`);
  describeCells();
  renderStrip(S.selected);
  setExports(S.meta);
  summary();
  applyMoment();
  readout();
}

function begin(url) {
  S.selected = null;
  setExports(null);
  renderStrip(null);
  $('stop').disabled = false;
  $('sample').disabled = true;
  startStream(url, {
    meta: (m) => {
      layoutGrid(m.n, m.resolution);
      player.seek(0);
      if (!moment || moment.frame === undefined) player.play();
      sayCost(m.seconds_per_step, m.n);
      $('oracle').checked = m.kind === 'oracle';
      summary();
    },
    frame: () => player.invalidate(),
    result: onResult,
    end: (err) => {
      $('stop').disabled = true;
      $('sample').disabled = false;
      if (err) showError(err);
      if (!err && S.meta && S.frames.length > 1) {
        sayCost(S.meta.seconds_per_step ?? ((performance.now() - S.startedAt) / 1000) / S.meta.steps, S.meta.n);
      }
      player.invalidate();
    },
  });
}

function sample() {
  const params = readForm();
  const run = runOf(params.oracle);
  if (!run) {
    showError(new Error(`This server has no ${params.oracle ? 'exact-denoiser' : 'trained'} Simple Shapes run `
      + '(models/shapes32.safetensors missing?).'));
    return;
  }
  begin(sampleUrl(run.run_id, params));
  writeHash();
}

/** A hash (a link, a lesson step): fill the form, remember the moment, sample (a stored result replays). */
function openHash(hash, base = {}) {
  const { values, problems } = decodeHash(hash);
  if (problems.length) showError(new Error(`This link has values the page cannot use — ${problems.join('; ')}.`));
  fillForm({ ...base, ...values });
  moment = { frame: values.frame, sel: values.sel, thr: values.thr, xt: values.xt };
  return values;
}

function goToStep(number) {
  const steps = lesson.steps;
  const i = Math.min(Math.max(number, 1), steps.length);
  const step = steps[i - 1];
  S.lessonStep = i;
  state.lessonStep = i;
  renderLesson(lesson);
  openHash(step.hash);
  lessonSelect = step.select;
  setConcealed(Boolean(step.predict) || flag('predict'));
  sample();
}

function wireDataset() {
  const sel = $('dataset');
  sel.add(new Option(boot.title ?? 'Simple Shapes (images)', ''));
  const group = document.createElement('optgroup');
  group.label = 'Points (the explorer)';
  for (const d of boot.datasets ?? []) group.append(new Option(d.title, d.href));
  sel.append(group);
  sel.addEventListener('change', () => { if (sel.value) window.location.assign(sel.value); });
  const trained = runOf(false);
  const dup = trained?.card?.model?.labels?.duplicate;
  $('model-info').textContent = trained ? `The bundled U-Net (run ${trained.run_id})`
    + `${dup ? `: ${(100 * dup.share).toFixed(1)}% of its images are duplicates` : ''}. The oracle returns training images.`
    : 'No trained Simple Shapes model on this server.';
}

function wireLessons() {
  const sel = $('lesson-select');
  for (const l of lessons) sel.add(new Option(l.title, l.id));
  sel.addEventListener('change', () => {
    const q = new URLSearchParams(window.location.search);
    if (sel.value) q.set('lesson', sel.value); else q.delete('lesson');
    window.location.assign(`/shapes?${q}`);
  });
  $('lesson-prev').addEventListener('click', () => { clearErrors(); goToStep((S.lessonStep ?? 1) - 1); });
  $('lesson-next').addEventListener('click', () => { clearErrors(); goToStep((S.lessonStep ?? 1) + 1); });
}

async function init() {
  initForm();
  initGrid(select);
  wirePlayer();
  wireDataset();
  wireLessons();
  initDetector(() => { S.thresholdMoved = true; writeHash(); });
  wireSharing({ onConceal: setConcealed });
  initShapesHints();
  onPlayerChange((p) => {
    if (p.playing || !S.result) return;
    writeHash();
    if (S.selected !== null && p.index !== stripAt) { stripAt = p.index; renderStrip(S.selected); }
  });
  $('error-dismiss').addEventListener('click', clearErrors);
  // A request the reader makes clears the old messages; the opening one keeps what the link's hash said.
  $('sample').addEventListener('click', () => { clearErrors(); sample(); });
  $('quick').addEventListener('click', () => { clearErrors(); quickSettings(); sample(); });
  $('stop').addEventListener('click', () => { stopStream(); $('stop').disabled = true; $('sample').disabled = false; });
  $('oracle').addEventListener('change', () => { clearErrors(); sample(); });
  $('map-load').addEventListener('click', () => { const r = runOf(false); if (r) loadMap(r.run_id); });
  applyHideFlags();
  if (flag('presenter')) setPresenter(true);
  if (query.get('lesson') && !lesson) {
    showError(new Error(`No lesson ${JSON.stringify(query.get('lesson').slice(0, 40))} on this page: the lessons `
      + `here are ${lessons.map((l) => l.id).join(', ')}.`));
  }
  // What the page opens: a permalink's stored result, a lesson step, a link's hash, or the default seed.
  if (boot.permalink) {
    const p = boot.permalink.params ?? {};
    openHash(window.location.hash, { ...p, oracle: boot.permalink.kind === 'oracle' });
    setConcealed(flag('predict'));
    begin(boot.permalink.links.events);
  } else if (lesson) {
    const { values } = decodeHash(window.location.hash);
    goToStep(values.step ?? 1);
  } else {
    openHash(window.location.hash);
    setConcealed(flag('predict'));
    sample();
  }
  const trained = runOf(false);
  const bundled = trained ? await loadStatistics(trained.run_id) : null;
  setScores('bundled', bundled?.variance ?? null, bundled?.duplicate, bundled?.auroc, bundled?.what);
}

window.__shapes = { S, player, errors: () => Array.from($('error-list').children).map((li) => li.textContent),
  labelName, measurePlayback };
init().catch((err) => showError(err));
