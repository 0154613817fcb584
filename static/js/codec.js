// Typed-array specs ({dtype, bdata, shape}) from the server, decoded into plain typed arrays.
// We decode ourselves (instead of handing specs to Plotly) because we need per-column views
// for x/y, per-particle gathers for highlighting, and numbers for the detector maths.

const DTYPES = {
  f4: Float32Array, f8: Float64Array, u1: Uint8Array, i1: Int8Array,
  u2: Uint16Array, i2: Int16Array, u4: Uint32Array, i4: Int32Array,
};

function parseShape(shape, length) {
  if (shape === undefined || shape === null || shape === '') return [length];
  if (typeof shape === 'number') return [shape];
  if (Array.isArray(shape)) return shape.map(Number);
  return String(shape).split(',').map((s) => Number(s.trim()));
}

function base64Bytes(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** Decode a spec into {data, shape}. Plain JSON arrays are accepted too (flattened to Float64Array). */
export function decode(spec) {
  if (spec === null || spec === undefined) return null;
  if (Array.isArray(spec)) {
    const flat = spec.flat(Infinity);
    const shape = Array.isArray(spec[0]) ? [spec.length, spec[0].length] : [spec.length];
    return { data: Float64Array.from(flat), shape };
  }
  const Ctor = DTYPES[spec.dtype];
  if (!Ctor) throw new Error(`unsupported typed-array dtype "${spec.dtype}"`);
  const bytes = base64Bytes(spec.bdata);
  // A fresh buffer starts at offset 0, so any element size is aligned; browsers are little-endian like the wire.
  const data = new Ctor(bytes.buffer, 0, Math.floor(bytes.length / Ctor.BYTES_PER_ELEMENT));
  return { data, shape: parseShape(spec.shape, data.length) };
}

/** Decode and return only the flat typed array. */
export function flat(spec) {
  const decoded = decode(spec);
  return decoded ? decoded.data : null;
}

/** (N, D) spec → D Float32Arrays of length N: Plotly wants one array per axis. */
export function columns(spec) {
  const decoded = decode(spec);
  if (!decoded) return null;
  const [n, d = 1] = decoded.shape;
  const cols = [];
  for (let j = 0; j < d; j += 1) {
    const col = new Float32Array(n);
    for (let i = 0; i < n; i += 1) col[i] = decoded.data[i * d + j];
    cols.push(col);
  }
  return cols;
}

/** Pick the entries of `arr` at `idx` into a new Float32Array (for per-label traces). */
export function gather(arr, idx) {
  const out = new Float32Array(idx.length);
  for (let i = 0; i < idx.length; i += 1) out[i] = arr[idx[i]];
  return out;
}

/** Encode a typed array as a spec (used by tests and to round-trip). */
export function encode(typed, dtype, shape) {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 1) bin += String.fromCharCode(bytes[i]);
  return { dtype, bdata: btoa(bin), shape: shape ?? String(typed.length) };
}
