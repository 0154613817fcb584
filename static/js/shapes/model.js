// The shapes page's state: the sample on screen (meta, received frames, decoded result) and the view choices.
// Frames and the result are decoded once, on arrival (typed arrays: the grid draws straight from them).

import { flat } from '../codec.js';

export const S = {
  runs: [], // the shapes runs of the bootstrap (trained first, then the oracle)
  meta: null,
  frames: [], // [{index, t, x: Uint8Array (N·D), x0: Uint8Array | null}]
  result: null, // decoded `result` event (see decodeResult)
  streaming: false,
  replay: false, // the stream replays a stored result (permalink, or a seed sampled before)
  startedAt: 0,
  view: 'x0', // 'x0' | 'xt': which array the grid shows
  selected: null, // image index of the film strip
  concealed: false, // predict-then-reveal: label cues hidden
  threshold: null, // detector threshold (variance), null = not set
  lessonStep: null,
};

export function resetSample(meta) {
  Object.assign(S, { meta, frames: [], result: null, streaming: true, startedAt: performance.now() });
}

export function addFrame(ev) {
  S.frames.push({ index: ev.index, t: ev.t, x: flat(ev.x), x0: ev.x0 ? flat(ev.x0) : null });
}

/** The `result` event with its arrays decoded (shapes as the spec gives them: N images of D pixels, K steps). */
export function decodeResult(ev) {
  const comps = ev.components ?? {};
  return {
    images: flat(ev.images),
    label: flat(ev.label),
    counts: flat(ev.counts), // (N, 3, 4): column × kind
    reasons: ev.reasons ?? [],
    variance: flat(ev.variance),
    x0Last: flat(ev.x0_last), // (N, K, D)
    x0LastTs: ev.x0_last_ts ?? [],
    components: { image: flat(comps.image), column: flat(comps.column), kind: flat(comps.kind), box: flat(comps.box) },
    roc: ev.roc ? { fpr: flat(ev.roc.fpr), tpr: flat(ev.roc.tpr), thresholds: flat(ev.roc.thresholds) } : null,
    summary: ev.summary ?? null,
  };
}

export const labelName = (i) => S.meta?.labels?.[S.result?.label?.[i]] ?? null;
export const pixelsPerImage = () => (S.meta ? S.meta.resolution * S.meta.resolution : 0);

/** Indices of the images whose final label is `name`. */
export function imagesLabelled(name) {
  if (!S.result || !S.meta) return [];
  const code = S.meta.labels.indexOf(name);
  const out = [];
  S.result.label.forEach((l, i) => { if (l === code) out.push(i); });
  return out;
}
