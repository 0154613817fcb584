// The shapes page's URL hash: what to sample (n, seed, sampler, eta, steps, window, oracle) and the moment shown
// (frame, sel: the selected image, thr: the detector threshold, xt: x_t instead of x̂0), plus a lesson's step.
// Only values that differ from the bootstrap's defaults are written; a bad value is reported by name and ignored.

const FIELDS = {
  n: 'int', seed: 'int', sampler: ['ddpm', 'ddim'], eta: 'float', steps: 'int', window: 'int', oracle: 'flag',
  frame: 'int', sel: 'int', thr: 'float', xt: 'flag', step: 'int',
};

function parse(key, raw) {
  const type = FIELDS[key];
  if (Array.isArray(type)) return type.includes(raw) ? raw : undefined;
  if (type === 'flag') return raw === '1' ? true : raw === '0' ? false : undefined;
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v)) return undefined;
  if (type === 'int') return Number.isInteger(v) && v >= 0 ? v : undefined;
  return v >= 0 ? v : undefined;
}

/** {values, problems}: the known keys of `hash` (with or without '#'), and one line per unusable value. */
export function decodeHash(hash) {
  const values = {};
  const problems = [];
  for (const part of hash.replace(/^#/, '').split('&').filter(Boolean)) {
    const [key, raw = ''] = part.split('=').map(decodeURIComponent);
    if (!(key in FIELDS)) continue; // unknown keys are ignored, as on the explorer
    const v = parse(key, raw);
    if (v === undefined) problems.push(`${key}: “${raw}” is not a valid value; the default is used`);
    else values[key] = v;
  }
  return { values, problems };
}

/** Canonical hash body: fields in FIELDS order, defaults left out, flags as 1. */
export function encodeHash(values, defaults) {
  const parts = [];
  for (const key of Object.keys(FIELDS)) {
    const v = values[key];
    if (v === undefined || v === null || v === false) continue;
    if (defaults[key] !== undefined && v === defaults[key]) continue;
    parts.push(`${key}=${v === true ? 1 : encodeURIComponent(String(v))}`);
  }
  return parts.join('&');
}
