// Classroom flags of the page address (?lesson=, ?hide=, ?presenter=1, ?predict=1), the lesson that
// ?lesson= names and the lesson box.

import { state } from './state.js';
import { boot } from './bootstrap.js';

const $ = (id) => document.getElementById(id);

export const query = new URLSearchParams(window.location.search);

export const flag = (name) => ['1', 'true', 'on', 'yes', ''].includes(query.get(name) ?? 'no');

export const lessons = boot.lessons ?? [];
export const lesson = lessons.find((l) => l.id === query.get('lesson')) ?? null; // the one ?lesson= names
state.lessonStep = null; // the step shown, 1-based, while a lesson is open

export function applyHideFlags(lesson) {
  const raw = query.has('hide') ? query.get('hide') : (lesson?.hide ?? []).join(',');
  const flags = new Set(raw.split(',').map((x) => x.trim()).filter(Boolean));
  for (const el of document.querySelectorAll('[data-hide]')) {
    if (el.dataset.hide.split(/\s+/).some((f) => flags.has(f))) el.hidden = true;
  }
  if (flags.has('controls')) document.querySelector('.controls').hidden = true;
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
