// The /analysis page: a stored-run picker feeding the mechanism and detector views, and two job
// views (sweeps, recursive training). window.__analysis exposes state so browser tests wait on
// real progress instead of sleeping.

import { $, BOOT, clearErrors, showError } from './common.js';
import * as mechanism from './mechanism.js';
import * as bench from './bench.js';
import * as sweeps from './sweeps.js';
import * as recursive from './recursive.js';
import { initHints } from '../hints.js';
import { initAnalysisNextStep } from './nextstep.js';

function pickRun(runId) {
  const run = BOOT.runs.find((r) => r.run_id === runId);
  if (!run) return;
  const url = new URL(window.location.href);
  url.searchParams.set('run', run.run_id);
  window.history.replaceState(null, '', url);
  $('run-info').textContent = `Run ${run.run_id} · T = ${run.T}. The mechanism and detector views read this run; `
    + 'sweeps and recursive training train their own models.';
  mechanism.setRun(run);
  bench.setRun(run);
}

function init() {
  const select = $('run');
  for (const r of BOOT.runs) select.add(new Option(`${r.label} · ${r.run_id}`, r.run_id));
  if (!BOOT.runs.length) select.add(new Option('no finished run yet — train one in the lab', ''));
  $('error-dismiss').addEventListener('click', clearErrors);
  // Enter in a job form must not reload the page (a listener: the CSP allows no inline onsubmit).
  for (const form of document.querySelectorAll('form.job-form')) form.addEventListener('submit', (e) => e.preventDefault());
  mechanism.init();
  bench.init();
  sweeps.init();
  recursive.init();
  initHints();
  const wanted = new URL(window.location.href).searchParams.get('run');
  const first = BOOT.runs.find((r) => r.run_id === wanted) ?? BOOT.runs.find((r) => r.run_id === BOOT.default_run)
    ?? BOOT.runs[0];
  select.addEventListener('change', () => pickRun(select.value));
  if (wanted && first?.run_id !== wanted) { // a link to a run this server does not have: say so, then go on
    showError(new Error(`No finished run ${JSON.stringify(wanted.slice(0, 40))} on this server`
      + `${first ? `: showing ${first.label} (${first.run_id}) instead` : ''}.`));
  }
  if (first) {
    select.value = first.run_id;
    pickRun(first.run_id);
  }
  initAnalysisNextStep(() => ({
    run: BOOT.runs.find((r) => r.run_id === select.value) ?? null, mechanism: mechanism.mechanismState,
    bench: bench.benchState, sweeps: sweeps.sweepState, recursive: recursive.recursiveState,
  }));
}

init();

window.__analysis = {
  mechanism: mechanism.mechanismState,
  bench: bench.benchState,
  sweeps: sweeps.sweepState,
  recursive: recursive.recursiveState,
  errors: () => Array.from($('error-list').children, (li) => li.textContent),
};
