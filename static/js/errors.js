// The error banner shared by every part of the page: one line per failure (a repeat counts up instead of
// piling up), and the inputs a 422 names are outlined until edited. Field errors are told in the page's
// own words: the label of the input the path belongs to ("learning rate", "σ of mode 2"), not the API path.

import { state } from './state.js';

const $ = (id) => document.getElementById(id);

// Sampling parameters travel in the query string under their bare names.
const QUERY_INPUTS = { n: 's-n', seed: 's-seed', sampler: 's-sampler', eta: 's-eta', frames: 's-frames', window: 's-window' };
const TABLE_FIELDS = { means: 'mean', sigma: 'sigma', weights: 'weight' };

/** The input a field path belongs to on this page, or null: exact matches only, never a prefix. */
export function inputFor(path) {
  if (QUERY_INPUTS[path]) return $(QUERY_INPUTS[path]);
  const exact = document.querySelector(`[data-path="${CSS.escape(path)}"]`);
  const mix = /^data\.mixture\.(means|sigma|weights)(?:\.(\d+))?/.exec(path);
  if (!mix) return exact;
  if (state.dim === 1) {
    const k = mix[2] ?? '0';
    return document.querySelector(`#modes-body input[data-field="${TABLE_FIELDS[mix[1]]}"][data-k="${k}"]`);
  }
  return mix[1] === 'sigma' ? $('sigma-2d') : null; // 2D means and weights are edited on the plot
}

function labelOf(input) {
  const aria = input.getAttribute('aria-label');
  if (aria) return aria;
  const label = input.closest('label');
  const text = label ? Array.from(label.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE)
    .map((n) => n.textContent).join(' ').replace(/\s+/g, ' ').trim() : '';
  return text || null;
}

function modeWord(path) {
  const m = /^data\.mixture\.(means|sigma|weights)\.(\d+)/.exec(path);
  const what = { means: 'mean', sigma: 'σ', weights: 'weight' };
  return m ? `${what[m[1]]} of mode ${Number(m[2]) + 1}` : null;
}

function messageOf(err) {
  const fields = err?.fields ?? [];
  if (!fields.length) return err && err.message ? err.message : String(err);
  const words = fields.map((f) => {
    const input = inputFor(f.path);
    return `${(input && labelOf(input)) || modeWord(f.path) || f.path}: ${f.msg}`;
  });
  return `Please check these settings — ${words.join('; ')}`;
}

export function showError(err) {
  state.opened = true; // from now on the address bar follows the page even if the opening run failed
  const text = messageOf(err);
  const same = Array.from($('error-list').children).find((li) => li.dataset.text === text);
  if (same) {
    const count = Number(same.dataset.count) + 1;
    same.dataset.count = String(count);
    same.textContent = `${text} (×${count})`;
  } else {
    const li = document.createElement('li');
    li.dataset.text = text;
    li.dataset.count = '1';
    li.textContent = text;
    $('error-list').append(li);
  }
  $('errors').hidden = false;
  for (const f of err?.fields ?? []) {
    const input = inputFor(f.path);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.title = f.msg;
    }
  }
}

export function clearErrors() {
  $('error-list').replaceChildren();
  $('errors').hidden = true;
  for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('title');
  }
}
