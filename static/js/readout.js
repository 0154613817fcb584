// What the page says about the current sample: the summary line, the detector panel at the chosen
// threshold, and predict mode, which hides where samples landed until the reveal.

import { state } from './state.js';
import { renderDetector } from './plots.js';
import { readoutText, atThreshold, formatVariance, shortWindowCheck, SHORT_WINDOW } from './detector.js';
import { showTrajectory } from './particle.js';
import { player } from './mainplot.js';
import { scheduleHash } from './address.js';

const $ = (id) => document.getElementById(id);
export const fmt = (v) => Math.round(v).toLocaleString('en-US');
const pct = (v) => `${(100 * v).toFixed(1)}%`;

let det = null; // detector statistics of the current result

/** Detector statistics of a new result (detector.js detectorStats), or null while there is none. */
export function setDetector(stats) {
  det = stats;
  windowHint();
}

/** The window that works, measured on the sample shown: a shorter K often catches more than the paper's. */
function windowHint() {
  const el = $('window-hint');
  const check = det ? shortWindowCheck(state.sampling.result, det) : null;
  if (!check) {
    el.textContent = det && det.nBetween && (state.sampling.result?.x0Last?.shape?.[1] ?? 0) <= SHORT_WINDOW
      ? `Window K = ${state.sampling.result.x0Last.shape[1]}: the short window that works best on these models.`
      : '';
    return;
  }
  const better = check.removedShort > check.removedOwn;
  el.textContent = `On this sample, at 96% kept: K = ${check.k} removes ${pct(check.removedShort)} of between-mode `
    + `samples, K = ${check.window} removes ${pct(check.removedOwn)}.`
    + (better ? ` Try window K = ${check.k} (Sampling card) and sample again.` : '');
}

// ------------------------------------------------------------------ summary

export function setSummary(text) {
  if ($('summary').textContent !== text) $('summary').textContent = text;
}

export function summaryText() {
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

// ------------------------------------------------------------------ detector

export function syncDetector() {
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

/** The threshold slider moved: a custom threshold, which links carry. */
export function setThreshold(value) {
  state.threshold = value;
  state.thresholdCustom = true;
  updateReadout();
  scheduleHash();
}

/** Back to the paper's threshold (keeps 96% of in-support samples). */
export function resetThreshold() {
  if (!det) return;
  state.threshold = det.paperThreshold;
  state.thresholdCustom = false;
  syncDetector();
  scheduleHash();
}

// ------------------------------------------------------------------ predict mode

export function syncConcealed() {
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

export function setConcealed(on) {
  state.concealed = on;
  $('predict').checked = on;
  syncConcealed();
}
