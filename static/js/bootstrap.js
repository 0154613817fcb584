// The server's bootstrap, read once from the page, and the protocol names it may set: the SSE event
// names and the URL hash spec.

import { state } from './state.js';

export const boot = JSON.parse(document.getElementById('bootstrap').textContent || '{}');
state.bootstrap = boot;

// Event names are shared with the server through the bootstrap when it sends them.
export const EV = { progress: 'progress', done: 'done', error: 'error', meta: 'meta', frame: 'frame', result: 'result' };
for (const [k, v] of Object.entries(boot.events ?? {})) if (k in EV && typeof v === 'string') EV[k] = v;

export const spec = boot.url_spec ?? null; // codec spec of the URL hash (state.js encodeHash/decodeHash)
