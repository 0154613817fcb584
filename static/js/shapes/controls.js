// The sampling form of the shapes page: defaults and limits from the bootstrap, the steps choices (divisors of T
// no shorter than the window), the quick option (DDIM, few steps) and the measured cost per step said in words.

import { boot } from '../bootstrap.js';
import { S } from './model.js';

const $ = (id) => document.getElementById(id);
export const defaults = boot.defaults ?? {};
const limits = boot.limits ?? {};
const QUICK_STEPS = 20;

export function initForm() {
  $('s-n').max = String(limits.max_image_n ?? 64);
  const steps = $('s-steps');
  for (const s of limits.steps_choices ?? [defaults.steps]) steps.add(new Option(String(s), String(s)));
  $('s-sampler').addEventListener('change', () => { $('s-eta').disabled = $('s-sampler').value !== 'ddim'; });
  fillForm({});
}

/** Show `values` (missing ones: the defaults). */
export function fillForm(values) {
  const v = { ...defaults, ...values };
  $('s-n').value = String(v.n);
  $('s-seed').value = String(v.seed);
  $('s-sampler').value = v.sampler;
  $('s-eta').value = String(v.eta);
  $('s-eta').disabled = v.sampler !== 'ddim';
  const steps = $('s-steps');
  // A chain length the list does not offer (from a link) is kept as asked: the server says what it allows.
  if (!Array.from(steps.options).some((o) => o.value === String(v.steps))) steps.add(new Option(String(v.steps), String(v.steps)));
  steps.value = String(v.steps);
  $('s-window').value = String(v.window);
  $('oracle').checked = Boolean(v.oracle);
}

/** The request's fields as the form holds them (the server checks them and names any it refuses). */
export function readForm() {
  const steps = Number($('s-steps').value);
  const sampler = $('s-sampler').value;
  return {
    n: Number($('s-n').value), seed: Number($('s-seed').value), sampler,
    eta: sampler === 'ddim' ? Number($('s-eta').value) : 0, steps, window: Number($('s-window').value),
    frames: Math.min(defaults.frames ?? steps + 1, steps + 1), oracle: $('oracle').checked,
  };
}

/** The quick option: DDIM (deterministic) on a short chain. */
export function quickSettings() {
  const window = Number($('s-window').value) || defaults.window;
  const choices = (limits.steps_choices ?? []).filter((s) => s >= Math.max(QUICK_STEPS, window));
  $('s-sampler').value = 'ddim';
  $('s-eta').disabled = false;
  $('s-eta').value = '0';
  if (choices.length) $('s-steps').value = String(choices[0]);
}

/** The cost of a step on this server for this many images, and what the quick option would take. */
export function sayCost(secondsPerStep, n) {
  if (!secondsPerStep || !S.meta) { $('cost').textContent = ''; return; }
  const steps = S.meta.steps;
  const quick = Math.max(QUICK_STEPS, S.meta.window);
  $('cost').textContent = `On this server one step for ${n} images takes about ${(1000 * secondsPerStep).toFixed(0)} ms:`
    + ` ${steps} steps ≈ ${Math.ceil(secondsPerStep * steps)} s. Quick option: DDIM with ${quick} steps ≈ `
    + `${Math.ceil(secondsPerStep * quick)} s.`;
}
