// Playback speed of the grid, for bench/bench_shapes_fps.py (the Player's own measure: every frame at "max" speed).

import { S } from './model.js';
import { player } from './playback.js';

export async function measurePlayback() {
  if (!S.frames.length) throw new Error('nothing to play: sample first');
  return player.measure();
}
