// The paper's detector, recomputed in the page from the per-sample variance and label the server
// sends: histograms, AUROC and what a threshold keeps and removes. Doing it here keeps the
// threshold slider instant (no round trip) for 10k samples.

export const PAPER_KEPT = 0.96;
const LABEL = { support: 0, between: 1, outside: 2 };

function sortedOf(values) {
  return Float64Array.from(values).sort();
}

/** Number of entries of a sorted array that are ≤ v (binary search). */
function countAtMost(sorted, v) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** P(score of a random positive > random negative), ties counted half (Mann–Whitney U). */
export function auroc(pos, neg) {
  if (!pos.length || !neg.length) return NaN;
  const all = [];
  for (const v of pos) all.push([v, 1]);
  for (const v of neg) all.push([v, 0]);
  all.sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  let i = 0;
  while (i < all.length) {
    let j = i;
    while (j + 1 < all.length && all[j + 1][0] === all[i][0]) j += 1;
    const rank = (i + j + 2) / 2; // average 1-based rank of the tie group
    for (let k = i; k <= j; k += 1) if (all[k][1]) rankSumPos += rank;
    i = j + 1;
  }
  const u = rankSumPos - (pos.length * (pos.length + 1)) / 2;
  return u / (pos.length * neg.length);
}

/** Everything the detector panel needs from (variance, label); positives are between-mode samples. */
export function detectorStats(variance, label, nBins = 40) {
  const support = [];
  const between = [];
  let nOutside = 0;
  for (let i = 0; i < variance.length; i += 1) {
    if (label[i] === LABEL.support) support.push(variance[i]);
    else if (label[i] === LABEL.between) between.push(variance[i]);
    else nOutside += 1;
  }
  const sSorted = sortedOf(support);
  const bSorted = sortedOf(between);
  // The paper's operating point: the lowest threshold that keeps 96% of in-support samples.
  const paperThreshold = sSorted.length ? sSorted[Math.ceil(PAPER_KEPT * sSorted.length) - 1] : Infinity;
  const floor = 1e-12; // variance can be exactly 0 in float32; keep it on the log axis
  const logs = Array.from(variance, (v) => Math.log10(Math.max(v, floor)));
  let lo = Math.min(...logs);
  let hi = Math.max(...logs);
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const pad = 0.03 * (hi - lo);
  lo -= pad; hi += pad;
  const binWidth = (hi - lo) / nBins;
  const share = (vals) => {
    const counts = new Array(nBins).fill(0);
    for (const v of vals) {
      const b = Math.min(nBins - 1, Math.max(0, Math.floor((Math.log10(Math.max(v, floor)) - lo) / binWidth)));
      counts[b] += 1;
    }
    return counts.map((c) => (vals.length ? c / vals.length : 0));
  };
  return {
    nSupport: support.length,
    nBetween: between.length,
    nOutside,
    supportSorted: sSorted,
    betweenSorted: bSorted,
    paperThreshold,
    auroc: auroc(between, support),
    range: [lo, hi],
    binWidth,
    centres: Array.from({ length: nBins }, (_, b) => lo + (b + 0.5) * binWidth),
    supportShare: share(support),
    betweenShare: share(between),
  };
}

/** What keeping samples with variance ≤ threshold does to each group. */
export function atThreshold(det, threshold) {
  const keptSupport = countAtMost(det.supportSorted, threshold);
  const keptBetween = countAtMost(det.betweenSorted, threshold);
  return {
    keptSupport,
    removedBetween: det.nBetween - keptBetween,
    keptShare: det.nSupport ? keptSupport / det.nSupport : NaN,
    removedShare: det.nBetween ? (det.nBetween - keptBetween) / det.nBetween : NaN,
  };
}

const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—');
const int = (v) => v.toLocaleString('en-US');

export function readoutText(det, threshold) {
  const r = atThreshold(det, threshold);
  const removed = det.nBetween
    ? `Removes ${pct(r.removedShare)} of between-mode samples (${int(r.removedBetween)} of ${int(det.nBetween)})`
    : 'No between-mode samples to remove';
  const kept = `keeps ${pct(r.keptShare)} of in-support samples (${int(r.keptSupport)} of ${int(det.nSupport)})`;
  const au = Number.isFinite(det.auroc) ? `AUROC ${det.auroc.toFixed(3)}` : 'AUROC — (needs both groups)';
  return { line: `${removed}; ${kept}.`, auroc: au, ...r };
}

export function formatVariance(v) {
  if (!Number.isFinite(v)) return '—';
  return v === 0 ? '0' : v.toExponential(2);
}

/** Trajectory variance over only the last `k` steps of x̂0, from the result's (N, K, D) x0_last block
 * (steps ordered t = K−1 … 0, as the server sends them): variance over steps (ddof 0), mean over D. */
export function varianceOverLast(x0Last, k) {
  const [n, steps, d] = x0Last.shape;
  const out = new Float64Array(n);
  const from = steps - k;
  for (let i = 0; i < n; i += 1) {
    let total = 0;
    for (let c = 0; c < d; c += 1) {
      let sum = 0;
      let sq = 0;
      for (let j = from; j < steps; j += 1) {
        const v = x0Last.data[(i * steps + j) * d + c];
        sum += v;
        sq += v * v;
      }
      const mean = sum / k;
      total += Math.max(sq / k - mean * mean, 0);
    }
    out[i] = total / d;
  }
  return out;
}

export const SHORT_WINDOW = 5;

/** What the paper's operating point removes with a window of SHORT_WINDOW steps instead of the sample's
 * own, measured on this sample; null when it cannot be measured (no between-mode samples, K too short). */
export function shortWindowCheck(result, det) {
  const steps = result?.x0Last?.shape?.[1] ?? 0;
  if (!det || !det.nBetween || !det.nSupport || steps <= SHORT_WINDOW) return null;
  const short = detectorStats(varianceOverLast(result.x0Last, SHORT_WINDOW), result.label);
  return {
    k: SHORT_WINDOW,
    window: steps,
    removedShort: atThreshold(short, short.paperThreshold).removedShare,
    removedOwn: atThreshold(det, det.paperThreshold).removedShare,
  };
}
