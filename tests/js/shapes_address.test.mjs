// The shapes page's URL hash (static/js/shapes/address.js): defaults are left out, a bad value is named and ignored,
// and what is written reads back the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHash, encodeHash } from '../../static/js/shapes/address.js';

const DEFAULTS = { n: 16, seed: 0, sampler: 'ddpm', eta: 0, steps: 100, window: 10 };

test('defaults are left out and flags are written as 1', () => {
  const hash = encodeHash({ ...DEFAULTS, n: 64, oracle: true, xt: false, frame: 12, sel: 3, thr: 0.0025 }, DEFAULTS);
  assert.equal(hash, 'n=64&oracle=1&frame=12&sel=3&thr=0.0025');
});

test('a written hash reads back', () => {
  const values = { n: 8, seed: 7, sampler: 'ddim', eta: 0.5, steps: 20, oracle: true, frame: 4, sel: 1, xt: true };
  const { values: back, problems } = decodeHash(`#${encodeHash(values, DEFAULTS)}`);
  assert.deepEqual(problems, []);
  assert.deepEqual(back, values);
});

test('bad values are named, unknown keys ignored', () => {
  const { values, problems } = decodeHash('n=-3&sampler=euler&steps=2.5&zoom=2&seed=4');
  assert.deepEqual(values, { seed: 4 });
  assert.equal(problems.length, 3);
  assert.match(problems[0], /^n: /);
  assert.match(problems[1], /^sampler: /);
  assert.match(problems[2], /^steps: /);
});
