// The error banner shared by every part of the page: one line per failure, and the inputs a 422
// names are marked invalid until edited.

import { state } from './state.js';

const $ = (id) => document.getElementById(id);

export function showError(err) {
  state.opened = true; // from now on the address bar follows the page even if the opening run failed
  const li = document.createElement('li');
  li.textContent = err && err.message ? err.message : String(err);
  $('error-list').append(li);
  $('errors').hidden = false;
  for (const f of err?.fields ?? []) {
    const input = document.querySelector(`[data-path="${CSS.escape(f.path)}"]`)
      ?? document.querySelector(`[data-path^="${CSS.escape(f.path.split('.').slice(0, 2).join('.'))}"]`);
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
