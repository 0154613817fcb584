// Classroom flags of the page address (?lesson=, ?hide=, ?presenter=1, ?predict=1), the lesson that
// ?lesson= names and the lesson box.

import { state } from './state.js';
import { boot } from './bootstrap.js';

const $ = (id) => document.getElementById(id);

export const query = new URLSearchParams(window.location.search);

export const flag = (name) => ['1', 'true', 'on', 'yes', ''].includes(query.get(name) ?? 'no');

export const lessons = boot.lessons ?? [];
export const lesson = lessons.find((l) => l.id === query.get('lesson')) ?? null; // the one ?lesson= names

// Panels ?hide= names (or the lesson's own list when the address has none).
export const hidden = new Set((query.has('hide') ? query.get('hide') : (lesson?.hide ?? []).join(','))
  .split(',').map((x) => x.trim()).filter(Boolean));
// Without the Model card nobody can train: pickers then offer only what samples at once (main.js).
export const canTrain = !hidden.has('train') && !hidden.has('controls');

export function applyHideFlags() {
  const flags = hidden;
  for (const el of document.querySelectorAll('[data-hide]')) {
    if (el.dataset.hide.split(/\s+/).some((f) => flags.has(f))) el.hidden = true;
  }
  if (flags.has('controls')) document.querySelector('.controls').hidden = true;
  // A column whose panels are all hidden goes too, and gives its grid track to the plot (lab.css).
  const lab = document.querySelector('.lab');
  for (const [selector, cls] of [['.controls', 'no-controls'], ['.side', 'no-side']]) {
    const column = lab.querySelector(selector);
    if (Array.from(column.children).every((el) => el.hidden)) column.hidden = true;
    lab.classList.toggle(cls, column.hidden);
  }
}

export function renderLesson(lesson) {
  const box = $('lesson');
  if (!lesson) { box.hidden = true; return; }
  const i = Math.min(Math.max((state.lessonStep ?? 1) - 1, 0), lesson.steps.length - 1);
  const step = lesson.steps[i];
  box.hidden = false;
  $('lesson-title').textContent = lesson.title;
  $('lesson-count').textContent = `step ${i + 1} of ${lesson.steps.length}`;
  $('lesson-step-title').textContent = step.title;
  $('lesson-text').textContent = step.text;
  $('lesson-prev').disabled = i === 0;
  $('lesson-next').disabled = i === lesson.steps.length - 1;
  $('lesson-select').value = lesson.id;
}
