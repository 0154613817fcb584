// The player of the image grid: the explorer's Player (animation.js) over the received frames, its controls
// (play/pause, ±1, ±10, scrub, speed), the x_t / x̂0 switch and the keyboard.

import { Player } from '../animation.js';
import { S } from './model.js';
import { drawFrame } from './gridview.js';

const $ = (id) => document.getElementById(id);
const listeners = [];

function sync(p) {
  const n = S.frames.length;
  const slider = $('time');
  slider.max = String(Math.max(n - 1, 0));
  slider.value = String(p.index);
  slider.disabled = n === 0;
  const f = S.frames[p.index];
  const what = S.view === 'xt' || !f?.x0 ? 'x_t' : 'x̂₀';
  $('time-label').textContent = f ? `t = ${f.t} · frame ${p.index + 1} of ${n} · ${what}` : 't = —';
  $('play').textContent = p.playing ? '❚❚' : '▶';
  $('play').setAttribute('aria-label', p.playing ? 'Pause' : 'Play');
  for (const id of ['play', 'back10', 'back1', 'fwd1', 'fwd10']) $(id).disabled = n === 0 && !S.streaming;
  for (const fn of listeners) fn(p);
}

export const player = new Player({
  available: () => S.frames.length,
  complete: () => !S.streaming,
  render: (i) => drawFrame(i),
  onChange: sync,
});

/** Called after each player change (the address bar follows a paused moment). */
export const onPlayerChange = (fn) => listeners.push(fn);

export function setView(view) {
  S.view = view;
  $(view === 'xt' ? 'view-xt' : 'view-x0').checked = true;
  player.invalidate();
}

export function wirePlayer() {
  $('play').addEventListener('click', () => player.toggle());
  $('back10').addEventListener('click', () => player.step(-10));
  $('back1').addEventListener('click', () => player.step(-1));
  $('fwd1').addEventListener('click', () => player.step(1));
  $('fwd10').addEventListener('click', () => player.step(10));
  $('time').addEventListener('input', () => { player.pause(); player.seek(Number($('time').value)); });
  $('speed').addEventListener('change', () => player.setSpeed(Number($('speed').value)));
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener('change', () => { if (radio.checked) setView(radio.value); });
  }
  document.addEventListener('keydown', (ev) => {
    const target = ev.target;
    if (target instanceof HTMLElement && (target.closest('input, select, textarea') || target.isContentEditable)) return;
    const big = ev.shiftKey ? 10 : 1;
    if (ev.key === ' ') { ev.preventDefault(); player.toggle(); } else if (ev.key === 'ArrowLeft') { ev.preventDefault(); player.step(-big); } else if (ev.key === 'ArrowRight') { ev.preventDefault(); player.step(big); } else if (ev.key === 'Home') player.step(-1e9);
    else if (ev.key === 'End') player.step(1e9);
    else if (ev.key === 'x') setView(S.view === 'xt' ? 'x0' : 'xt');
  });
}
