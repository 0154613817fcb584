// Unit tests of the page's pure modules (codec, detector, mixture maths, queue words) under Node's own runner:
//   node --test tests/js/
// The numbers are checked against the server's definitions (server/diffusion/detectors.py).
import test from 'node:test';
import assert from 'node:assert/strict';

import { decode, columns, encode, gather } from '../../static/js/codec.js';
import { auroc, detectorStats, atThreshold } from '../../static/js/detector.js';
import { pdf1d, inSupport, canonicalMixture, boundsOf, weightsOf } from '../../static/js/mixture.js';
import { queueMessage } from '../../static/js/queue.js';
import { errorFromResponse } from '../../static/js/api.js';

test('codec: f4 (N, 2) spec splits into x and y columns', () => {
  const xy = new Float32Array([1, 2, 3, 4, 5, 6]);
  const spec = encode(xy, 'f4', '3,2');
  const [x, y] = columns(spec);
  assert.deepEqual(Array.from(x), [1, 3, 5]);
  assert.deepEqual(Array.from(y), [2, 4, 6]);
  assert.ok(x instanceof Float32Array);
});

test('codec: u1, i2 and (N, K, D) shapes keep dtype and shape', () => {
  const labels = decode(encode(new Uint8Array([0, 1, 2]), 'u1', '3'));
  assert.ok(labels.data instanceof Uint8Array);
  assert.deepEqual(Array.from(labels.data), [0, 1, 2]);
  const between = decode(encode(new Int16Array([-1, -1, 3, 7]), 'i2', '2,2'));
  assert.deepEqual(Array.from(between.data), [-1, -1, 3, 7]);
  assert.deepEqual(between.shape, [2, 2]);
  const cube = decode(encode(new Float32Array(24), 'f4', '4,3,2'));
  assert.deepEqual(cube.shape, [4, 3, 2]);
  assert.equal(decode(null), null);
  assert.throws(() => decode({ dtype: 'f2', bdata: '', shape: '0' }), /unsupported/);
});

test('codec: gather picks entries by index', () => {
  assert.deepEqual(Array.from(gather(new Float32Array([10, 20, 30]), [2, 0])), [30, 10]);
});

test('detector: AUROC counts ties as half (Mann–Whitney)', () => {
  assert.equal(auroc([3, 4], [1, 2]), 1);
  assert.equal(auroc([1, 2], [3, 4]), 0);
  assert.equal(auroc([1], [1]), 0.5);
  assert.ok(Number.isNaN(auroc([], [1])));
});

test('detector: default threshold keeps at least 96% of in-support samples (paper operating point)', () => {
  const n = 100;
  const variance = new Float32Array(n + 10);
  const label = new Uint8Array(n + 10);
  for (let i = 0; i < n; i += 1) variance[i] = (i + 1) * 1e-4; // in support
  for (let i = n; i < n + 10; i += 1) { variance[i] = 1; label[i] = 1; } // between modes, high variance
  const det = detectorStats(variance, label);
  assert.equal(det.nSupport, 100);
  assert.equal(det.nBetween, 10);
  assert.ok(Math.abs(det.paperThreshold - 96e-4) < 1e-9);
  const r = atThreshold(det, det.paperThreshold);
  assert.equal(r.keptSupport, 96);
  assert.equal(r.removedShare, 1);
  assert.equal(det.auroc, 1);
  const lower = atThreshold(det, 1.05e-3); // between the float32 values 10e-4 and 11e-4
  assert.equal(lower.keptSupport, 10);
});

test('mixture: 1D pdf integrates to one and weights are normalised', () => {
  const mix = { means: [[1], [2], [3]], sigma: 0.05, weights: [1, 1, 2], n: 1000 };
  assert.deepEqual(weightsOf(mix), [0.25, 0.25, 0.5]);
  const ys = Float64Array.from({ length: 40001 }, (_, i) => i * 1e-4);
  const p = pdf1d(mix, ys);
  const integral = p.reduce((a, b) => a + b, 0) * 1e-4;
  assert.ok(Math.abs(integral - 1) < 1e-6, String(integral));
});

test('mixture: 6σ support rule and canonical API form', () => {
  const means = [[0, 0], [1, 0]];
  assert.ok(inSupport([0.29, 0], means, [0.05, 0.05]));
  assert.ok(!inSupport([0.5, 0], means, [0.05, 0.05]));
  const canon = canonicalMixture({ means, sigma: [0.05, 0.05], weights: [1, 1], n: 500 });
  assert.deepEqual(canon, { means, sigma: 0.05, weights: null, n: 500 });
  const b = boundsOf({ means, sigma: 0.05, weights: null, n: 500 });
  assert.ok(b.x[0] < -0.3 && b.x[1] > 1.3);
  assert.ok(Math.abs((b.x[1] - b.x[0]) - (b.y[1] - b.y[0])) < 1e-12); // square for equal aspect
});

test('queue: a waiting student is told in words how many are ahead and about how long', () => {
  assert.equal(queueMessage({ ahead: 12, eta_s: 20 }), 'The server is busy: 12 students are ahead of you, about 20 s.');
  assert.equal(queueMessage({ ahead: 1, eta_s: 3 }), 'The server is busy: 1 student is ahead of you, about 3 s.');
  assert.equal(queueMessage({ ahead: 0, eta_s: null }), 'The server is busy: you are next.');
  const refused = errorFromResponse(429, { detail: 'too many sample streams at once: 4 ahead of you, about 9 s',
    ahead: 4, eta_s: 9 }, '2');
  assert.equal(refused.message, 'The server is busy: 4 students are ahead of you, about 9 s. Try again in about 2 s.');
  assert.match(errorFromResponse(429, { detail: 'queue full' }, '5').message, /busy \(queue full\)\. Try again in about 5 s/);
});
