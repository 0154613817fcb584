// The explorer's errors, on the banner every page shares (banner.js), and the inputs a 422 names are outlined until edited. Field errors are told in the page's
// own words: the label of the input the path belongs to ("learning rate", "σ of mode 2"), not the API path.

import { state } from './state.js';
import { addBannerLine, clearBanner } from './banner.js';

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
  addBannerLine(text);
  for (const f of err?.fields ?? []) {
    const input = inputFor(f.path);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.title = f.msg;
    }
  }
}

export function clearErrors() {
  clearBanner();
  for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('title');
  }
}
