// The "try next" line's choice for each state of the page (static/js/nextstep.js), under Node's runner.
import test from 'node:test';
import assert from 'node:assert/strict';

import { nextStep } from '../../static/js/nextstep.js';

const base = () => ({
  training: { active: false }, sampling: { active: false, result: null, idx: null },
  run: null, concealed: false, selected: null,
});
const withSample = (between, patch = {}) => ({
  ...base(), run: { kind: 'trained' },
  sampling: { active: false, result: { label: [] }, idx: { between: Array(between).fill(0), outside: [5], support: [1] } },
  ...patch,
});

test('nextStep: nothing to sample yet asks for a model, then for a sample', () => {
  assert.equal(nextStep(base(), false)[0], 'train');
  assert.match(nextStep(base(), true)[1], /exact denoiser samples at once/);
  assert.equal(nextStep({ ...base(), run: { kind: 'trained' } }, false)[0], 'sample');
});

test('nextStep: work in progress is narrated before anything else', () => {
  assert.equal(nextStep({ ...withSample(3), training: { active: true } }, false)[0], 'training');
  assert.equal(nextStep({ ...withSample(3), sampling: { ...withSample(3).sampling, active: true } }, false)[0], 'sampling');
});

test('nextStep: between-mode samples lead to a diamond, then to the detector', () => {
  assert.equal(nextStep(withSample(0), false)[0], 'none-between');
  assert.match(nextStep(withSample(0), false)[1], /1D lesson model/);
  assert.equal(nextStep(withSample(2), false)[0], 'click-diamond');
  assert.equal(nextStep(withSample(2, { selected: 4 }), false)[0], 'detector');
  assert.match(nextStep(withSample(2, { selected: 4 }), false)[1], /K = 5/);
});

test('nextStep: the oracle and predict mode have their own suggestion', () => {
  assert.equal(nextStep(withSample(0, { run: { kind: 'oracle' } }), true)[0], 'oracle');
  assert.equal(nextStep(withSample(2, { concealed: true }), false)[0], 'predict');
});
