// The hints of the Simple Shapes page: its own complete id → key map (texts in ../hints.js), not the explorer's, so
// an id the two pages share with another meaning (dataset, oracle, s-n, sample, time, threshold, predict, reveal)
// never shows a hint about points. Terms in running text carry data-hint in the template.

import { initHints } from '../hints.js';

const BY_ID = {
  // the toolbar and the lesson box
  'lesson-select': 'lesson', presenter: 'presenter', predict: 'imagePredict', reveal: 'imageReveal',
  'copy-link': 'copyLink', 'lesson-prev': 'lessonStep', 'lesson-next': 'lessonStep',
  // data and sampling
  dataset: 'imageDataset', oracle: 'imageOracle', 's-n': 'images', 's-seed': 'sampleSeed', 's-sampler': 'sampler',
  's-eta': 'eta', 's-steps': 'chainSteps', 's-window': 'window', sample: 'sampleImages', quick: 'quick', stop: 'stop',
  // the player and the view toggle
  time: 'imageTime', play: 'play', back10: 'frameStep', back1: 'frameStep', fwd1: 'frameStep', fwd10: 'frameStep',
  speed: 'speed', 'view-x0': 'viewX0', 'view-xt': 'viewXt',
  // exports, detector, map
  'export-png': 'exportPng', 'export-csv': 'exportCsv', 'export-npz': 'exportNpz',
  threshold: 'imageThreshold', 'map-load': 'mapLoad',
};
const BY_SELECTOR = [
  ['input[name="det-source"][value="bundled"]', 'detBundled'],
  ['input[name="det-source"][value="live"]', 'detLive'],
];

/** Hint every control and term of the page (call once its controls exist). */
export function initShapesHints() {
  initHints(document, { byId: BY_ID, bySelector: BY_SELECTOR });
}
