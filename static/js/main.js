// Page controller: boots the page from the bootstrap, wires the controls to the modules that act on
// them, and exposes window.__lab so browser tests can wait on real progress instead of sleeping.

import { state, on, emit } from './state.js';
import { boot } from './bootstrap.js';
import { initEditor, setDataset, handlePlotPointerDown, setEditing, undoEdit, pageOfChoice } from './editor.js';
import { boundsOf } from './mixture.js';
import { resetLoss, renderTrajectory } from './plots.js';
import { showError, clearErrors } from './errors.js';
import { fillForm, applyLimits, fillSampler } from './form.js';
import { applyHideFlags, renderLesson, lesson, canTrain } from './classroom.js';
import { mainDiv, player, syncPlayerControls, pick, select, nearestParticle } from './mainplot.js';
import { setSummary, syncDetector, setThreshold, resetThreshold } from './readout.js';
import { currentHash, scheduleHash } from './address.js';
import { startSampling, clearSampling } from './sampling.js';
import { trainAndSample, cancelTraining, setProgress, syncTrainButton } from './training.js';
import { openFromUrl, wireSharing } from './links.js';
import { initHints } from './hints.js';
import { initNextStep } from './nextstep.js';
import { initSplit } from './split.js';
import { initLinked } from './linked.js';

const $ = (id) => document.getElementById(id);

const defaults = boot.defaults ?? {};

on('error', showError);
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason ?? new Error('Unexpected failure')));

// ------------------------------------------------------------------ mixture edits

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
  if (structural) syncTrainButton();
  player.invalidate();
});

// Undoing the edit that set a model aside brings the model back, and its sample (same seed, same numbers).
on('undone', (entry) => {
  if (!entry.run || state.training.active) return;
  state.run = { ...entry.run };
  state.runMixture = entry.runMixture;
  $('sample').disabled = false;
  syncTrainButton();
  setProgress(1, 'The model from before the edit is back.');
  if (entry.hadSample) startSampling();
  else setSummary('The model from before the edit is back: sample it again.');
});

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

// Fields where keys type text (or open a list): shortcuts stay out of them. Checkboxes, radios and the
// frame slider are not among them, so space still plays after scrubbing or ticking a layer.
const TYPING = 'input:not([type="checkbox"]):not([type="radio"]):not([type="range"]):not([type="button"]),'
  + ' select, textarea, [contenteditable="true"]';

function wireKeyboard() {
  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    const typing = t instanceof HTMLElement && t.closest(TYPING) !== null;
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === 'z') {
      if (typing) return; // the field's own undo of what was typed
      if (undoEdit()) ev.preventDefault();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === 'Escape' && state.editMode) {
      setEditing(false);
      return;
    }
    if (typing || !state.sampling.frames.length) return;
    const onSlider = t instanceof HTMLInputElement && t.type === 'range';
    if (ev.key === ' ' || ev.code === 'Space') {
      if (t instanceof HTMLButtonElement) return; // space on a focused button presses that button
      ev.preventDefault(); // a focused checkbox is not toggled: space means play/pause here
      player.toggle();
    } else if (onSlider) {
      // the slider's own arrow and home/end keys move it, and its input event seeks
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
  $('train').addEventListener('click', () => { setEditing(false); trainAndSample(); });
  $('cancel').addEventListener('click', cancelTraining);
  $('stage-cancel').addEventListener('click', cancelTraining);
  $('sample').addEventListener('click', () => { setEditing(false); startSampling(); });
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
  $('threshold').addEventListener('input', (ev) => setThreshold(10 ** Number(ev.target.value)));
  $('threshold-reset').addEventListener('click', () => resetThreshold());
  $('pick-between').addEventListener('click', () => pick('between'));
  $('pick-support').addEventListener('click', () => pick('support'));
  for (const el of document.querySelectorAll('[data-path], #s-n, #s-seed, #s-frames, #s-window, #s-eta')) {
    el.addEventListener('input', () => el.removeAttribute('aria-invalid'));
  }
  for (const el of document.querySelectorAll('.controls input, .controls select')) {
    el.addEventListener('change', scheduleHash);
  }
  $('h-model').closest('section').addEventListener('input', syncTrainButton);
  $('h-model').closest('section').addEventListener('change', syncTrainButton);
  wireSharing();
}

const samplesAtOnce = (p) => p.kind === 'oracle' || p.ready;

function wirePresets() {
  // With training hidden (?hide=train, as the lessons use) every choice must still sample: only ready
  // presets are offered, and a preset or dataset choice opens its model at once (no Train button needed).
  const presets = (boot.presets ?? []).filter((p) => canTrain || samplesAtOnce(p));
  const select = $('preset');
  for (const p of presets) {
    const opt = document.createElement('option');
    opt.value = p.id;
    opt.textContent = p.title ?? p.id;
    select.append(opt);
  }
  const choose = (p) => {
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
  };
  select.addEventListener('change', () => {
    const p = presets.find((x) => x.id === select.value);
    choose(p);
    // A ready model (or the exact denoiser) opens at once: there is nothing to train, so nothing to press.
    if (select.value && (!canTrain || (p && samplesAtOnce(p)))) {
      setEditing(false);
      trainAndSample();
    }
  });
  // Runs after the editor's own listener (registered first) has switched the mixture.
  $('dataset').addEventListener('change', () => {
    if (canTrain || pageOfChoice($('dataset'))) return;
    const name = $('dataset').value;
    const ofData = presets.filter((p) => p.config?.data?.dataset === name && !p.config?.data?.mixture);
    // The ready trained model that shows the phenomenon most (its card's measured between-mode share),
    // else the exact denoiser: a model that puts 0 of 2,000 samples between the modes teaches nothing.
    const shown = (x) => x.metrics?.share_between_modes ?? 0;
    const trained = ofData.filter((x) => x.kind === 'trained').sort((a, b) => shown(b) - shown(a));
    const p = trained[0] ?? ofData[0];
    if (p) {
      select.value = p.id;
      choose(p);
    } else { // a custom mixture: only the exact denoiser samples it without training
      select.value = '';
      $('oracle').checked = true;
      $('train-fields').disabled = true;
    }
    trainAndSample();
  });
}

function init() {
  initEditor(boot.datasets ?? [], boot.shapes ? [boot.shapes] : []);
  wireControls();
  wirePresets();
  wirePlotPointer();
  wireKeyboard();
  applyLimits(boot.limits);
  fillForm(defaults.experiment ?? {});
  fillSampler({ ...defaults.sampler, frames: defaults.frames ?? 100 });
  const first = defaults.experiment?.data?.dataset ?? boot.datasets?.[0]?.name ?? 'grid25';
  setDataset(first, defaults.experiment?.data?.mixture ?? null);
  resetLoss($('loss-plot'));
  syncDetector();
  renderTrajectory($('traj-plot'), null);
  syncPlayerControls(player);
  applyHideFlags();
  renderLesson(lesson);
  initHints();
  initNextStep();
  initSplit();
  initLinked();
  openFromUrl().then(() => { state.openRequested = true; }, (err) => {
    state.openRequested = true;
    state.opened = true;
    showError(err);
  });
}

// ------------------------------------------------------------------ test hook

async function measurePlayback() {
  if (!state.sampling.frames.length) throw new Error('nothing to play: sample first');
  return player.measure();
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
