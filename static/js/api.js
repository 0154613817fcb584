// Talking to the server: JSON requests with readable errors, and SSE streams that close themselves
// on `done`/`error` (an EventSource left open would reconnect and, for /sample, start sampling again).

import { queueMessage } from './queue.js';

export class ApiError extends Error {
  constructor(message, { status = 0, fields = [] } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields; // [{path: 'train.steps', msg}] from a 422 detail
  }
}

const NETWORK_HINT = 'Cannot reach the lab server. Check that it is still running, then try again.';

// Pydantic names the branch of a union it tried ("constrained-float", "tuple[constrained-float, ...]"):
// a type's name, not a field's, so it is left out of the path a person reads.
const UNION_TAG = /[^A-Za-z0-9_]|^(float|int|str|bool|list|tuple|dict|none)$/;

function fieldPath(loc) {
  // FastAPI locations look like ["body", "config", "train", "steps"] or ["query", "n"].
  const parts = (loc ?? []).filter((p) => p !== 'body' && p !== 'query' && p !== 'config')
    .filter((p) => typeof p === 'number' || !UNION_TAG.test(p));
  return parts.join('.') || 'request';
}

/** One entry per field: of a union's branches, the one that fits the value sent (its error is not
 * "should be a valid <type>"), and the most specific path (sigma.1 over sigma). */
function fieldErrors(detail) {
  const all = detail.map((d) => ({ path: fieldPath(d.loc), msg: String(d.msg ?? d.message ?? 'invalid value'),
    type: String(d.type ?? '') }));
  const kept = all.filter((f) => !(f.type.endsWith('_type') && all.some((g) => g !== f && !g.type.endsWith('_type')
    && (g.path === f.path || g.path.startsWith(`${f.path}.`) || f.path.startsWith(`${g.path}.`)))));
  const specific = kept.filter((f) => !kept.some((g) => g.path.startsWith(`${f.path}.`)));
  const seen = new Set();
  return specific.filter((f) => !seen.has(f.path) && seen.add(f.path)).map(({ path, msg }) => ({ path, msg }));
}

/** Turn a non-2xx response body into an ApiError whose message a person can act on. */
export function errorFromResponse(status, payload, retryAfter) {
  const detail = payload && typeof payload === 'object' ? payload.detail ?? payload.message : payload;
  let fields = [];
  let message;
  if (Array.isArray(detail)) {
    fields = fieldErrors(detail);
    message = `Please check these settings — ${fields.map((f) => `${f.path}: ${f.msg}`).join('; ')}`;
  } else if (typeof detail === 'string' && detail) {
    message = detail;
  } else if (detail && typeof detail === 'object') {
    message = detail.message ?? JSON.stringify(detail);
  } else {
    message = `The server answered ${status}.`;
  }
  if (status === 429 && Number.isInteger(payload?.ahead)) { // a sample stream: where it would stand
    const wait = retryAfter ? ` Try again in about ${retryAfter} s.` : ' Try again shortly.';
    message = `${queueMessage(payload)}${wait}`;
  } else if (status === 429) {
    const wait = retryAfter ? ` Try again in about ${retryAfter} s.` : ' Try again shortly.';
    message = `The server is busy (${message}).${wait}`;
  } else if (status === 401) {
    message = `Token needed: ${message}. Try again to enter it.`;
  } else if (status === 403) {
    message = `Not allowed here: ${message}.`;
  } else if (status === 404) {
    message = `Not found: ${message}`;
  } else if (status >= 500) {
    message = `Server error (${status}): ${message}`;
  }
  return new ApiError(message, { status, fields });
}

// A deployment may set a shared token (MODELAB_TOKEN): requests that start or cancel work then need it.
// Asked for once, on the first 401, and kept for this tab only.
const TOKEN_KEY = 'modelab-token';

function askForToken() {
  const token = window.prompt('This lab asks for its token before starting or cancelling work. '
    + 'Paste the token you were given (it is kept for this tab only):');
  if (token && token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
  return Boolean(token && token.trim());
}

export async function requestJSON(method, url, body, { retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && method !== 'GET') headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(NETWORK_HINT, { status: 0 });
  }
  const text = await res.text();
  let payload = null;
  try { payload = text ? JSON.parse(text) : null; } catch { payload = text; }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY); // a wrong or stale token: ask again
    if (!retried && askForToken()) return requestJSON(method, url, body, { retried: true });
  }
  if (!res.ok) throw errorFromResponse(res.status, payload, res.headers.get('Retry-After'));
  return { status: res.status, body: payload };
}

export const createRun = (kind, config) => requestJSON('POST', '/api/runs', { kind, config });
export const getRun = (runId) => requestJSON('GET', `/api/runs/${encodeURIComponent(runId)}`);
export const cancelJob = (runId) => requestJSON('DELETE', `/api/runs/${encodeURIComponent(runId)}/job`);

/**
 * EventSource cannot show the status or body of a refused request (404/409/422/429 are checked
 * before the stream starts), so after a failed open we repeat the request with fetch to read them.
 */
async function explainFailedOpen(url) {
  const ctl = new AbortController();
  try {
    const res = await fetch(url, { signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (res.ok) {
      ctl.abort(); // the stream would have started: do not leave a sampler running for nobody
      return new ApiError('The stream could not be opened although the server accepts it; please retry.');
    }
    const text = await res.text();
    let payload = text;
    try { payload = JSON.parse(text); } catch { /* plain-text body */ }
    return errorFromResponse(res.status, payload, res.headers.get('Retry-After'));
  } catch {
    return new ApiError(NETWORK_HINT);
  }
}

/**
 * Open an SSE stream. `handlers` maps event names to callbacks taking the parsed JSON;
 * `onError(ApiError)` is called once for a server `error` event, a refused open or a dropped connection.
 * Returns {close}. The stream closes itself after `done` (or the event named in `finalEvent`).
 */
export function openStream(url, handlers, onError, { finalEvent = 'done', errorEvent = 'error' } = {}) {
  const source = new EventSource(url);
  let finished = false;
  let received = 0;
  const close = () => { finished = true; source.close(); };

  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (ev) => {
      if (finished) return;
      received += 1;
      let data;
      try { data = ev.data ? JSON.parse(ev.data) : {}; } catch {
        close();
        onError(new ApiError(`The server sent an unreadable "${name}" event.`));
        return;
      }
      if (name === finalEvent) close();
      try { fn(data); } catch (err) {
        close();
        onError(new ApiError(`The page could not show the "${name}" event: ${err.message}`));
      }
    });
  }

  // The server's `error` event and the browser's connection error share one name; only the former has data.
  source.addEventListener(errorEvent, async (ev) => {
    if (finished) return;
    if (typeof ev.data === 'string') {
      close();
      let message = ev.data;
      try { message = JSON.parse(ev.data).message ?? message; } catch { /* plain text */ }
      onError(new ApiError(message));
      return;
    }
    close();
    if (received === 0) onError(await explainFailedOpen(url));
    else onError(new ApiError('The connection to the server dropped before the stream finished.'));
  });
  return { close };
}
