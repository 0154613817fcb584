// The "Try next" line's plumbing, shared by both pages (static/js/nextstep.js, static/js/analysis/nextstep.js):
// show a suggestion only when its state changes (no re-announcing), and recompute it at most once a frame
// whenever the page's own text changes or the person changes or clicks anything.

/** Put [key, text] into #next-step unless it already shows that state. */
export function showTryNext([key, text]) {
  const el = document.getElementById('next-step');
  if (!el || el.dataset.state === key) return;
  el.dataset.state = key;
  document.getElementById('next-step-text').textContent = text;
}

/** Run `refresh` after any change of the elements `ids` or any change/click/input; returns the scheduler. */
export function refreshOnChange(ids, refresh) {
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; refresh(); });
  };
  const observer = new MutationObserver(schedule);
  for (const id of ids) {
    const el = document.getElementById(id);
    if (el) observer.observe(el, { childList: true, characterData: true, subtree: true, attributes: true });
  }
  for (const type of ['change', 'click', 'input']) document.addEventListener(type, schedule);
  refresh();
  return schedule;
}
