// One mutable state object for the explorer plus a tiny publish/subscribe, so modules stay decoupled
// without a framework. Views subscribe to topics; controllers mutate state and emit. Every field is declared
// here (the URL codec is hash_codec.js).

export const state = {
  bootstrap: null,
  kind: 'trained', // 'trained' | 'oracle'
  dataset: 'grid25',
  mixture: null, // {means: [[..]], sigma: number | number[], weights: number[] | null, n}
  dim: 2,
  run: null, // {run_id, kind, status}
  training: { active: false, step: 0, steps: 0, loss: null },
  sampling: { active: false, meta: null, frames: [], result: null, framesReceived: 0 },
  player: { index: 0, playing: false, fps: 20 },
  selected: null, // particle index
  selectedMode: null, // editor: index of the selected 2D mode
  threshold: null, // the detector threshold (a variance)
  thresholdCustom: false, // true once the person moved the threshold (a new sample keeps it)
  editMode: false,
  baseConfig: null, // the chosen preset's experiment config, before the form's edits (links.js, main.js)
  runMixture: null, // the mixture the current run was trained on (an edit sets the run aside)
  viewBounds: null, // axis ranges of the main plot: follow the dataset, not each edit
  layers: null, // Set of the main plot's visible layers (mainplot.js fills it)
  producedKey: null, // the form's settings that produced the shown sample (a link names its result only then)
  concealed: false, // predict-then-reveal: the between-mode highlighting is hidden until revealed
  lessonStep: null, // the lesson step shown, 1-based, while a lesson is open
  presenter: false, // projector view (?presenter=1)
  openRequested: false, // the page asked to open what its URL names
  opened: false, // from then on the address bar follows the page
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(fn);
}

export function emit(topic, payload) {
  for (const fn of listeners.get(topic) ?? []) fn(payload);
}
