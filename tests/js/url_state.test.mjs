// Cross-check of the page's URL codec against the server's (tests/unit/test_url_state.py writes the
// cases: spec + Hypothesis-generated configs + the hash Python wrote). Skipped when run on its own.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { encodeHash, decodeHash } from '../../static/js/hash_codec.js';

const file = process.env.URL_STATE_CASES;

test('url codec: JS hashes are byte-identical to Python and decode back', { skip: !file }, () => {
  const { spec, cases } = JSON.parse(readFileSync(file, 'utf8'));
  for (const c of cases) {
    const sampler = { ...c.sampler, frames: c.frames };
    assert.equal(encodeHash(spec, c.config, sampler, c.view), c.hash, JSON.stringify(c));
    const back = decodeHash(spec, c.hash);
    assert.deepEqual(back.problems, []);
    assert.equal(encodeHash(spec, back.config, back.sampler, back.view), c.hash);
    assert.deepEqual(back.config, c.config);
  }
  for (const bad of spec.bad ?? []) assert.ok(decodeHash(spec, bad).problems.length > 0);
});

test('url codec: unknown keys ignored, invalid values reported by field', { skip: !file }, () => {
  const { spec } = JSON.parse(readFileSync(file, 'utf8'));
  const out = decodeHash(spec, '#zzz=1&st=abc&n=0&s=ddim&t=-2');
  assert.deepEqual(out.problems.map((p) => p.field), ['train.steps', 'sampler.n', 'view.frame']);
  assert.equal(out.sampler.sampler, 'ddim');
  assert.equal(encodeHash(spec, out.config, out.sampler, out.view), 's=ddim');
});
