// The bottleneck map (GET /api/runs/{id}/shapes/bottleneck-map, about 10 s the first time, then cached): a 2D t-SNE
// of the U-Net's bottleneck features; training points coloured by their combination, generated ones on top,
// duplicates large and vermillion. Hovering a point draws its image into a small canvas.

import { requestJSON } from '../api.js';
import { decode, flat } from '../codec.js';
import { drawImage } from './pixels.js';
import { Plotly, CONFIG, COLORS, COMBINATION_COLORS, layout, message } from './plotting.js';

const $ = (id) => document.getElementById(id);

let map = null; // {coords, source, category, label, thumbnails, resolution, ...}

function traces() {
  const { coords, source, category, label } = map;
  const train = map.sources.indexOf('train');
  const dupCode = map.labels.indexOf('duplicate');
  const groups = new Map(); // trace name → {idx, style}
  const add = (name, i, style) => {
    if (!groups.has(name)) groups.set(name, { idx: [], style });
    groups.get(name).idx.push(i);
  };
  for (let i = 0; i < source.length; i += 1) {
    if (source[i] === train) {
      const c = category[i];
      add(`training: ${map.categories[c]}`, i, { color: COMBINATION_COLORS[c % COMBINATION_COLORS.length], size: 4, opacity: 0.55 });
    } else if (label[i] === dupCode) {
      add('generated: duplicate', i, { color: COLORS.duplicate, size: 9, symbol: 'diamond',
        line: { color: COLORS.ink, width: 1 } });
    } else {
      add('generated: other', i, { color: COLORS.ink, size: 4, symbol: 'x-thin', opacity: 0.45,
        line: { color: COLORS.ink, width: 1 } });
    }
  }
  // Generated points last: drawn on top of the training clusters.
  return [...groups.entries()].sort(([a], [b]) => Number(a.startsWith('generated')) - Number(b.startsWith('generated')))
    .map(([name, { idx, style }]) => ({
      type: 'scatter', mode: 'markers', name, x: idx.map((i) => coords[2 * i]), y: idx.map((i) => coords[2 * i + 1]),
      customdata: idx, marker: style, hovertemplate: `${name}<extra></extra>`,
    }));
}

function hover(ev) {
  const i = ev.points?.[0]?.customdata;
  if (i === undefined || !map) return;
  drawImage($('map-thumb'), map.thumbnails, i * map.resolution * map.resolution, map.resolution);
  const src = map.sources[map.source[i]];
  $('map-info').textContent = `${src === 'train' ? 'Training' : 'Generated'} image: ${map.categories[map.category[i]]}`
    + `${map.between[i] ? ' (its neighbours on the map hold both single-shape modes: it sits between them)' : ''}.`;
}

export async function loadMap(runId) {
  const div = $('map-plot');
  $('map-load').disabled = true;
  message(div, 'Computing the map (about 10 s the first time)…');
  let body;
  try {
    ({ body } = await requestJSON('GET', `/api/runs/${encodeURIComponent(runId)}/shapes/bottleneck-map`));
  } catch (err) {
    message(div, 'No map for this model.');
    $('map-info').textContent = err.message;
    $('map-load').disabled = false;
    return;
  }
  map = { ...body, coords: flat(body.coords), source: flat(body.source), category: flat(body.category),
    label: flat(body.label), between: flat(body.between), thumbnails: decode(body.thumbnails).data };
  Plotly.react(div, traces(), layout({ xaxis: { visible: false }, yaxis: { visible: false }, hovermode: 'closest',
    legend: { orientation: 'h', y: -0.02, yanchor: 'top', font: { size: 9.5 }, itemwidth: 20 }, margin: { l: 6, r: 6, t: 6, b: 6 } }),
  CONFIG);
  div.on('plotly_hover', hover);
  const b = body.between_modes ?? {};
  $('map-info').textContent = b.duplicates ? `${b.between_modes} of ${b.duplicates} duplicates sit between the `
    + `two single-shape clusters of their shapes (for random training images: ${(100 * (b.chance_share ?? 0)).toFixed(0)}%). Hover a point.`
    : 'Hover a point to see its image.';
  $('map-load').hidden = true;
}
