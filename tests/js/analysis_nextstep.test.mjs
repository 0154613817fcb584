// The /analysis "try next" line's choice for each state of the page (static/js/analysis/nextstep.js).
import test from 'node:test';
import assert from 'node:assert/strict';

import { analysisNextStep } from '../../static/js/analysis/nextstep.js';

const base = (patch = {}) => ({
  run: { kind: 'trained' }, mechanism: { moved: false }, bench: { report: null, k: 10 },
  sweeps: { job: null, view: null }, recursive: { job: null, result: null }, ...patch,
});
const key = (s) => analysisNextStep(s)[0];

test('analysisNextStep: no run, then running jobs come first', () => {
  assert.equal(key(base({ run: null })), 'no-run');
  assert.equal(key(base({ sweeps: { job: {}, view: null } })), 'sweeping');
  assert.equal(key(base({ recursive: { job: {}, result: null } })), 'recursing');
});

test('analysisNextStep: the exact denoiser points to a trained run', () => {
  assert.equal(key(base({ run: { kind: 'oracle' } })), 'oracle');
});

test('analysisNextStep: the views in order, mechanism to recursive training', () => {
  assert.equal(key(base()), 'mechanism');
  assert.match(analysisNextStep(base())[1], /Drag t/);
  const moved = { mechanism: { moved: true } };
  assert.equal(key(base(moved)), 'bench');
  const scored = { ...moved, bench: { report: {}, k: 10 } };
  assert.equal(key(base(scored)), 'window');
  assert.match(analysisNextStep(base(scored))[1], /K = 5/);
  const windowed = { ...moved, bench: { report: {}, k: 5 } };
  assert.equal(key(base(windowed)), 'sweep');
  assert.equal(key(base({ ...windowed, sweeps: { job: null, view: {} } })), 'recursive');
  assert.equal(key(base({ ...windowed, sweeps: { job: null, view: {} }, recursive: { job: null, result: {} } })), 'done');
});
