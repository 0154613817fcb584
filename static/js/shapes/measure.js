// Playback speed of the grid, for bench/bench_shapes_fps.py: replay every received frame at "max" speed (one draw
// per animation frame, none skipped) and report frames per second and the time spent drawing.

import { S } from './model.js';
import { player } from './playback.js';

const nextPaint = () => new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));

export async function measurePlayback() {
  if (!S.frames.length) throw new Error('nothing to play: sample first');
  const speed = player.fps;
  player.pause();
  player.setSpeed(0);
  player.seek(0);
  await nextPaint();
  const r0 = player.rendered;
  const d0 = player.drawMs;
  const t0 = performance.now();
  player.play();
  await new Promise((res) => {
    const check = () => (player.playing || player.drawing || player.dirty ? requestAnimationFrame(check) : res());
    requestAnimationFrame(check);
  });
  const seconds = (performance.now() - t0) / 1000;
  const rendered = player.rendered - r0;
  player.setSpeed(speed);
  return { frames: rendered, seconds, fps: rendered / seconds, drawMs: (player.drawMs - d0) / Math.max(rendered, 1) };
}
