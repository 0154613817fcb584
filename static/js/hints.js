// Hints: one short explanation per control and term, shown next to it on hover AND on keyboard focus.
// Each hinted element gets its own tooltip element (role="tooltip") that it names with aria-describedby, so
// a screen reader reads the hint on focus and a sighted keyboard user sees it. No inline script or style
// attribute: the tooltip is placed with CSSOM properties, which the page's CSP allows.

// The one source of hint texts, written for a student meeting diffusion models for the first time.
export const HINT_TEXTS = {
  preset: 'A ready-made experiment: a dataset plus a model. Ready ones sample at once, no training needed.',
  dataset: 'The true data: a mixture of Gaussian "modes" (bumps). The model learns from samples of it.',
  sigma: 'σ (sigma): the width of each mode. Small σ means tight, well-separated bumps with empty gaps between them.',
  modes: 'Each row is one mode (bump): where it sits (mean), how wide it is (σ), how often it is drawn (weight).',
  sixSigma: '6σ support: the band within 3σ either side of a mode’s centre. Real data essentially never falls outside it.',
  oracle: 'The exact (oracle) denoiser: computed from the true mixture with a formula, no network. It never lands '
    + 'between modes — compare it with a trained model.',
  steps: 'How many gradient steps the network trains for. More steps fit the data more closely (and take longer).',
  batch: 'How many training points each step looks at.',
  lr: 'Learning rate: how big each training step is. Too big and the loss jumps around; too small and it crawls.',
  lrSchedule: 'How the learning rate changes during training: cosine lowers it smoothly to zero; constant keeps it.',
  width: 'Neurons per layer of the denoising network. A wider net can fit a sharper step between modes.',
  blocks: 'Number of residual blocks (depth) of the network.',
  trainSeed: 'Seed: the number that fixes the random choices (initial weights, training batches). Same seed, same model.',
  T: 'T: the number of noise levels (timesteps). The reverse process walks from pure noise at t = T down to t = 0.',
  schedule: 'How the noise level grows with t: a linear schedule of variances, or a continuous (cosine-like) one.',
  train: 'Train the network on the dataset, then draw samples from it.',
  samples: 'How many particles (samples) to draw at once. More samples make rare between-mode samples easier to see.',
  sampleSeed: 'Seed of the sampler’s noise. Same seed, same samples — change it to get a fresh draw.',
  sampler: 'DDPM adds fresh noise at every step (stochastic); DDIM follows a deterministic path (η = 0) from the '
    + 'same starting noise.',
  eta: 'η (eta), DDIM only: how much fresh noise each step adds. 0 is deterministic; 1 behaves like DDPM.',
  frames: 'Frames: how many snapshots of the reverse process are recorded for playback.',
  window: 'K: how many of the last reverse steps the detector looks at. The score is the variance of x̂₀ over them.',
  sample: 'Draw a new sample from the current model with the settings above.',
  time: 'Scrub through the reverse process: from pure noise (first frame) to the finished samples (last frame).',
  threshold: 'Samples whose x̂₀ varied more than this are removed. Drag left to remove more.',
  thresholdReset: 'Put the threshold back where 96% of in-support samples are kept, as in the paper.',
  xhat0: 'x̂₀ (x-hat-zero): the model’s current guess of the clean sample it is heading to, at each step.',
  between: 'Between modes: a sample that ended outside every mode’s 6σ support, in the gap between two modes. '
    + 'The true data never goes there: it is a hallucination.',
  auroc: 'AUROC: how well the score separates between-mode from in-support samples. 1 = perfectly, 0.5 = a coin flip.',
  kept: '“Removed at 96% kept”: set the threshold so 96% of good (in-support) samples survive; this is the share '
    + 'of between-mode samples it throws away.',
  ddpm: 'DDPM and DDIM: two ways to run the reverse process. DDPM adds noise each step; DDIM can be deterministic.',
  predict: 'Hide where samples land and the detector, so the class can guess first; then press Reveal.',
  presenter: 'Larger text and plot for a projector.',
  pickBetween: 'Jump to a sample that ended between modes and show how its x̂₀ moved.',
  pickSupport: 'Jump to a sample that ended inside a mode, for comparison.',
  layerPaths: 'Show each particle’s path through the reverse process.',
  lesson: 'A guided lesson: a few steps, each with a ready model and a question to think about.',
  copyLink: 'Copy a link that reopens exactly this view (model, sample, seed, frame) on any machine running the lab.',
  editModes: 'Move, add or remove modes by clicking on the plot. Changing the data sets the model aside.',
  undo: 'Undo the last edit of the modes (Ctrl+Z); a model the edit set aside comes back.',
  reveal: 'Show where the samples really landed, and the detector.',
  play: 'Play or pause the reverse process (space).',
  speed: 'Playback speed, in frames per second.',
  zoom: 'Frame the modes; untick to see the whole cloud of starting noise.',
  layerSupport: 'Show samples that ended inside a mode’s 6σ support (real-looking samples).',
  layerOutside: 'Show samples that ended outside every support but not between two modes.',
  exportChart: 'Which chart the PNG and SVG buttons save.',
  split: 'Sample the exact denoiser with the same seed beside this model: the same particles, the same noise. '
    + 'Circled: particles only the network leaves between modes.',
  // /analysis
  run: 'A finished model (trained, bundled, or the exact denoiser) whose denoiser and samples the views below read.',
  benchRun: 'Draw samples from the run and score every detector on them.',
  swParam: 'The setting the sweep changes; everything else stays fixed.',
  swValues: 'The values of that setting to train and sample, separated by commas.',
  swSeeds: 'Seeds: each value is trained once per seed, so the spread between seeds shows the noise of the result.',
  rcN: 'How many samples each generation draws and trains the next one on.',
  filters: 'Each ticked filter runs its own chain of generations: it removes the samples it flags before the next '
    + 'generation trains on them ("none" keeps everything).',
  rcShow: 'Which filter’s chain the scatter plots below show, one plot per generation.',
  rcOver: 'Draw this much more than N, so that N remain after the filter removes samples.',
  // /analysis
  mechT: 't: the noise level. At small t the exact denoiser is a sharp step between modes; the network’s is a ramp.',
  benchK: 'K: the window of last steps over which each detector score is computed.',
  maxK: 'The largest window K scored; the slider then picks any K up to it.',
  generations: 'Generations: train on samples, sample, filter, train again on the result — repeated this many times.',
  // /shapes: where an image means something else than a point
  imageDataset: 'The data: small pictures of simple shapes, and the U-Net trained on them. The other entries '
    + 'open the point datasets in the explorer.',
  imageOracle: 'The exact (oracle) denoiser: computed from the training images themselves, no network. It only '
    + 'ever returns training images, so it never makes a duplicate — compare it with the U-Net.',
  images: 'How many images to draw at once (at most 64). More images make a rare duplicate easier to find.',
  chainSteps: 'How many reverse steps the sampler takes. Must divide T = 1000; fewer steps = faster, DDIM recommended.',
  sampleImages: 'Draw a new grid of images from the model with the settings above.',
  quick: 'Switch to DDIM on the shortest chain that still fits the window K, then sample: much faster.',
  stop: 'Stop sampling: the frames already received stay on screen.',
  imageTime: 'Scrub through the reverse process: from pure noise (first frame) to the finished images (last frame).',
  frameStep: 'Step the player back or forward by one frame (or ten).',
  viewX0: 'Show x̂₀: for every image, the model’s current guess of the clean picture it is heading to.',
  viewXt: 'Show x_t: every image as the sampler holds it at this step, noise included.',
  detBundled: 'Scores of the bundled set: thousands of images sampled once from this model, dozens of them '
    + 'duplicates.',
  detLive: 'Scores of the images on screen now. A small grid may hold no duplicate at all.',
  imageThreshold: 'Images whose x̂₀ varied more than this over the last K steps are removed. Drag left to remove more.',
  imagePredict: 'Hide the labels, the detector and the statistics, so the class can guess first; then press Reveal.',
  imageReveal: 'Show which images are duplicates, the detector and the statistics.',
  lessonStep: 'Go to the previous or the next step of the lesson.',
  exportPng: 'Save the grid as a PNG picture, with the outlines and badges drawn in.',
  exportCsv: 'Download a table with one row per image: its label, the reason and its variance score.',
  exportNpz: 'Download the whole result (every frame, x̂₀, label and shape count) as a NumPy .npz file.',
  mapLoad: 'Compute the bottleneck map of this model (about 10 s the first time, then stored).',
  duplicate: 'Duplicate: two shapes of one kind in one column. No training image has that: the model glued '
    + 'together parts of images it saw — a hallucination.',
  malformed: 'Malformed: a blob that is no clean triangle, square or pentagon.',
  empty: 'Empty: an image with no shape at all.',
  valid: 'Valid: at most one shape of each kind, each in its own column — a combination the training images have.',
  trajVariance: 'Trajectory variance: how much x̂₀ changed over the last K steps. A settled image scores low; a '
    + 'duplicate, torn between choices, tends to wobble and score high.',
  imageAuroc: 'AUROC: how well the score separates duplicates from the other images. 1 = perfectly, 0.5 = a coin flip.',
  bottleneck: 'Bottleneck map: the U-Net’s innermost features of each image (its most compressed summary), '
    + 'laid out in 2D so that similar images sit close together.',
  tsne: 't-SNE: a method that draws high-dimensional points on a flat map, keeping near neighbours near. '
    + 'Distances between far-apart clusters mean little.',
};

// Controls that carry a hint: element id → key above. Terms in running text use data-hint="key" instead.
const BY_ID = {
  preset: 'preset', dataset: 'dataset', 'sigma-2d': 'sigma', 'add-mode-1d': 'modes', oracle: 'oracle',
  'f-steps': 'steps', 'f-batch': 'batch', 'f-lr': 'lr', 'f-lr-schedule': 'lrSchedule', 'f-width': 'width',
  'f-blocks': 'blocks', 'f-seed': 'trainSeed', 'f-T': 'T', 'f-schedule': 'schedule', train: 'train',
  's-n': 'samples', 's-seed': 'sampleSeed', 's-sampler': 'sampler', 's-eta': 'eta', 's-frames': 'frames',
  's-window': 'window', sample: 'sample', time: 'time', threshold: 'threshold', 'threshold-reset': 'thresholdReset',
  predict: 'predict', presenter: 'presenter', 'pick-between': 'pickBetween', 'pick-support': 'pickSupport',
  'mech-t': 'mechT', 'bench-k': 'benchK', 'bench-kmax': 'maxK', 'bench-n': 'samples', 'bench-seed': 'sampleSeed',
  'sw-T': 'T', 'rc-T': 'T', 'sw-n': 'samples', 'rc-window': 'window', 'rc-generations': 'generations',
  'lesson-select': 'lesson', 'copy-link': 'copyLink', 'edit-modes': 'editModes', 'undo-edit': 'undo',
  reveal: 'reveal', play: 'play', speed: 'speed', 'zoom-modes': 'zoom', 'export-chart': 'exportChart',
  run: 'run', 'bench-run': 'benchRun', 'sw-param': 'swParam', 'sw-values': 'swValues', 'sw-seeds': 'swSeeds',
  'rc-show': 'rcShow', 'rc-n': 'rcN', 'rc-over': 'rcOver', 'sw-dataset': 'dataset', 'rc-dataset': 'dataset',
  'sw-batch': 'batch', 'rc-batch': 'batch', 'sw-steps': 'steps', 'rc-steps': 'steps',
};
const BY_SELECTOR = [
  ['input[data-layer="between"]', 'between'],
  ['input[data-layer="bands"]', 'sixSigma'],
  ['input[data-layer="paths"]', 'layerPaths'],
  ['input[data-layer="support"]', 'layerSupport'],
  ['#rc-filters input', 'filters'],
  ['input[data-layer="outside"]', 'layerOutside'],
];

let counter = 0;

function place(tip, anchor) {
  const r = anchor.getBoundingClientRect();
  tip.hidden = false;
  const width = tip.offsetWidth;
  const left = Math.max(8, Math.min(r.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - width - 8));
  tip.style.left = `${left}px`;
  tip.style.top = `${r.bottom + window.scrollY + 6}px`;
}

let shown = null; // the one tooltip visible at a time

function hide() {
  if (shown) shown.hidden = true;
  shown = null;
}

function show(tip, anchor) {
  if (shown && shown !== tip) shown.hidden = true;
  shown = tip;
  place(tip, anchor);
}

/** Give `el` the hint `key`: a tooltip it describes itself by, shown on hover (of it or its label) and focus. */
export function attachHint(el, key) {
  const text = HINT_TEXTS[key];
  if (!text || el.dataset.hinted) return null;
  el.dataset.hinted = key;
  const tip = document.createElement('span');
  tip.id = `hint-${++counter}`;
  tip.className = 'hint-tip';
  tip.setAttribute('role', 'tooltip');
  tip.dataset.hintKey = key;
  tip.textContent = text;
  tip.hidden = true;
  document.body.append(tip);
  const described = el.getAttribute('aria-describedby');
  el.setAttribute('aria-describedby', described ? `${described} ${tip.id}` : tip.id);
  const zone = el.closest('label') ?? el;
  zone.addEventListener('mouseenter', () => show(tip, zone));
  zone.addEventListener('mouseleave', () => { if (document.activeElement !== el && shown === tip) hide(); });
  el.addEventListener('focus', () => show(tip, zone));
  el.addEventListener('blur', () => { if (shown === tip) hide(); });
  return tip;
}

/** Hint every known control and every [data-hint] term on the page; Escape dismisses the visible hint. A page
 * whose ids mean something else (/shapes) passes its own complete `byId` and `bySelector`: nothing falls through. */
export function initHints(root = document, { byId = BY_ID, bySelector = BY_SELECTOR } = {}) {
  for (const [id, key] of Object.entries(byId)) {
    const el = root.getElementById?.(id) ?? document.getElementById(id);
    if (el) attachHint(el, key);
  }
  for (const [selector, key] of bySelector) {
    for (const el of root.querySelectorAll(selector)) attachHint(el, key);
  }
  for (const el of root.querySelectorAll('[data-hint]')) attachHint(el, el.dataset.hint);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') hide(); });
  window.addEventListener('scroll', hide, { passive: true });
}
