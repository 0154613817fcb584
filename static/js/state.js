// One mutable state object for the page plus a tiny publish/subscribe, so modules stay decoupled
// without a framework. Views subscribe to topics; controllers mutate state and emit.

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
  threshold: null,
  editMode: false,
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(fn);
}

export function emit(topic, payload) {
  for (const fn of listeners.get(topic) ?? []) fn(payload);
}
