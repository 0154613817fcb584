// The URL hash codec of the explorer: page state ⇄ `key=value&…`, with no defaults or bounds of its own.
// The same generic algorithm as server/catalog/url_state.py, driven by the spec the server sends in the
// bootstrap (`bootstrap.url_spec`): no defaults or bounds are written here. Canonical form: fields in
// spec order, only values that differ from the default, `key=value` joined by `&`; numbers as
// String(number) writes them (the server emulates it, and a test checks both agree byte for byte).

const INT_RE = /^-?\d+$/;
const FLOAT_RE = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/;

function num(v) {
  return Object.is(v, -0) ? '-0' : String(v);
}

function getPath(tree, path) {
  let node = tree;
  for (const part of path.split('.')) {
    if (node === null || node === undefined) return undefined;
    node = node[part];
  }
  return node;
}

function setPath(tree, path, value) {
  const parts = path.split('.');
  let node = tree;
  for (const p of parts.slice(0, -1)) {
    if (node[p] === null || typeof node[p] !== 'object') node[p] = {};
    node = node[p];
  }
  node[parts[parts.length - 1]] = value;
}

function sameValue(field, value, dflt) {
  if (field.type === 'set') {
    const a = new Set(value);
    return a.size === new Set(dflt).size && [...a].every((x) => dflt.includes(x));
  }
  if (Array.isArray(value) || Array.isArray(dflt)) return JSON.stringify(value) === JSON.stringify(dflt);
  return Object.is(value, dflt);
}

function formatValue(field, value) {
  switch (field.type) {
    case 'bool': return value ? '1' : '0';
    case 'int': case 'float': return num(value);
    case 'choice': case 'id': return String(value);
    case 'floats': return value.map(num).join(',');
    case 'float_or_floats':
      return Array.isArray(value) ? value.map(num).join(',') + (value.length === 1 ? ',' : '') : num(value);
    case 'points': return value.map((p) => p.map(num).join(',')).join(';');
    case 'set': return field.choices.filter((c) => value.includes(c)).join(',');
    default: throw new Error(`unknown URL field type ${field.type}`);
  }
}

/** Canonical hash body (no '#') of {config, sampler (with frames), view}. */
export function encodeHash(spec, config, sampler, view = {}) {
  const trees = { config, sampler, view };
  const parts = [];
  for (const f of spec.fields) {
    const value = getPath(trees[f.group], f.path);
    if (value === null || value === undefined || sameValue(f, value, f.default)) continue;
    parts.push(`${f.key}=${formatValue(f, value)}`);
  }
  return parts.join('&');
}

function checkBounds(f, v) {
  if ('ge' in f && !(v >= f.ge)) throw new Error(`must be ≥ ${num(f.ge)}`);
  if ('gt' in f && !(v > f.gt)) throw new Error(`must be > ${num(f.gt)}`);
  if ('le' in f && !(v <= f.le)) throw new Error(`must be ≤ ${num(f.le)}`);
  if ('lt' in f && !(v < f.lt)) throw new Error(`must be < ${num(f.lt)}`);
}

function parseNumber(f, text) {
  if (f.type === 'int') {
    if (!INT_RE.test(text)) throw new Error('expected a whole number');
  } else if (!FLOAT_RE.test(text)) throw new Error('expected a number');
  const v = Number(text);
  if (!Number.isFinite(v)) throw new Error('expected a finite number');
  checkBounds(f, v);
  return v;
}

function parseFloats(f, text) {
  return text.split(',').map((s) => parseNumber({ ...f, type: 'float' }, s));
}

/** One URL value → a value of the field's type; throws an Error with a readable message. */
export function parseValue(f, text) {
  switch (f.type) {
    case 'bool':
      if (text !== '0' && text !== '1') throw new Error('expected 0 or 1');
      return text === '1';
    case 'int': case 'float': return parseNumber(f, text);
    case 'choice':
      if (!f.choices.includes(text)) throw new Error(`expected one of ${f.choices.join(', ')}`);
      return text;
    case 'id':
      if (!new RegExp(f.pattern ?? '^[0-9a-f]{16}$').test(text)) throw new Error('expected 16 hex digits');
      return text;
    case 'floats': return parseFloats(f, text);
    case 'float_or_floats':
      if (text.includes(',')) return parseFloats(f, text.endsWith(',') ? text.slice(0, -1) : text);
      return parseNumber({ ...f, type: 'float' }, text);
    case 'points': return text.split(';').map((p) => p.split(',').map((c) => parseNumber({ type: 'float' }, c)));
    case 'set': {
      const items = text ? text.split(',').filter(Boolean) : [];
      const bad = items.find((s) => !f.choices.includes(s));
      if (bad !== undefined) throw new Error(`unknown layer '${bad}'; expected some of ${f.choices.join(', ')}`);
      return f.choices.filter((c) => items.includes(c));
    }
    default: throw new Error(`unknown URL field type ${f.type}`);
  }
}

/**
 * Hash (with or without '#') → {config, sampler, view, problems}. Unknown keys are ignored; an invalid
 * value is reported as {key, field, message} and keeps its default. Cross-field rules (eta only for
 * ddim, a custom mixture's shapes) are the server's: it names the field when the page posts.
 */
export function decodeHash(spec, text) {
  const body = text.startsWith('#') ? text.slice(1) : text;
  const pairs = new Map();
  for (const part of body.split('&')) {
    if (!part) continue;
    const at = part.indexOf('=');
    pairs.set(at < 0 ? part : part.slice(0, at), at < 0 ? '' : part.slice(at + 1));
  }
  const trees = { config: {}, sampler: {}, view: {} };
  const problems = [];
  for (const f of spec.fields) {
    const raw = pairs.get(f.key);
    let value = f.default;
    if (raw !== undefined) {
      try {
        value = parseValue({ pattern: spec.id_pattern, ...f }, decodeURIComponent(raw));
      } catch (err) {
        problems.push({ key: f.key, field: f.group === 'config' ? f.path : `${f.group}.${f.path}`, message: err.message });
      }
    }
    if (f.group === 'config' && f.path.startsWith('data.mixture.') && (raw === undefined || value === null)) continue;
    setPath(trees[f.group], f.path, Array.isArray(value) ? structuredClone(value) : value);
  }
  const mixture = trees.config.data?.mixture;
  if (mixture && typeof mixture === 'object') {
    for (const f of spec.fields) {
      const name = f.path.startsWith('data.mixture.') ? f.path.slice('data.mixture.'.length) : null;
      if (name && mixture[name] === undefined) mixture[name] = f.default;
    }
  } else if (trees.config.data) trees.config.data.mixture = null;
  return { ...trees, problems };
}
