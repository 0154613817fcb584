// Downloads: the stored result as CSV / NPZ, its run's config, and any chart as PNG or SVG.

import { state } from './state.js';
import { showError } from './errors.js';

const $ = (id) => document.getElementById(id);

export function setExports(meta) {
  setLinks({
    'export-csv': meta ? `/api/results/${meta.result_id}/export.csv?table=particles` : null,
    'export-frames': meta ? `/api/results/${meta.result_id}/export.csv?table=frames` : null,
    'export-npz': meta ? `/api/results/${meta.result_id}/export.npz` : null,
    'export-config': meta ? `/api/runs/${meta.run_id}/config.json` : null,
  });
}

/** Point each download link (by id) at its URL, or disable it (null). */
export function setLinks(links) {
  for (const [id, href] of Object.entries(links)) {
    const a = $(id);
    if (href) { a.href = href; a.setAttribute('download', ''); a.removeAttribute('aria-disabled'); } else {
      a.removeAttribute('href');
      a.setAttribute('aria-disabled', 'true');
    }
  }
}

export function exportChart(format) {
  const id = $('export-chart').value;
  const div = $(id);
  if (!div || !div.data) { showError(new Error('That chart has nothing to export yet.')); return; }
  const name = `modelab-${id.replace('-plot', '')}${state.sampling.meta ? `-${state.sampling.meta.result_id}` : ''}`;
  Plotly.downloadImage(div, { format, filename: name, scale: format === 'png' ? 2 : 1 })
    .catch((err) => showError(new Error(`Export failed: ${err.message ?? err}`)));
}
