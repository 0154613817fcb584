// Exact mixture maths in the browser: the page draws the true density and support regions
// without asking the server, so editing a mixture redraws at once.

export const SUPPORT_RADIUS_SIGMA = 6; // in support = within 6σ of a mode (server/gaussian/ground_truth.py)

export function dimOf(mixture) {
  return mixture && mixture.means.length ? mixture.means[0].length : 2;
}

export function sigmasOf(mixture) {
  const K = mixture.means.length;
  return Array.isArray(mixture.sigma) ? mixture.sigma.slice(0, K) : new Array(K).fill(mixture.sigma);
}

export function weightsOf(mixture) {
  const K = mixture.means.length;
  const w = Array.isArray(mixture.weights) && mixture.weights.length === K ? mixture.weights : new Array(K).fill(1);
  const total = w.reduce((a, b) => a + b, 0) || 1;
  return w.map((v) => v / total);
}

/** Exact 1D mixture density at every y (a Float64Array). */
export function pdf1d(mixture, ys) {
  const sig = sigmasOf(mixture);
  const w = weightsOf(mixture);
  const out = new Float64Array(ys.length);
  for (let k = 0; k < mixture.means.length; k += 1) {
    const mu = mixture.means[k][0];
    const s = sig[k];
    const c = w[k] / (s * Math.sqrt(2 * Math.PI));
    for (let i = 0; i < ys.length; i += 1) {
      const z = (ys[i] - mu) / s;
      out[i] += c * Math.exp(-0.5 * z * z);
    }
  }
  return out;
}

/** True when `point` lies within `radius` of some mode, measured in that mode's σ. */
export function inSupport(point, means, sigmas, radius = SUPPORT_RADIUS_SIGMA) {
  for (let k = 0; k < means.length; k += 1) {
    let d2 = 0;
    for (let j = 0; j < point.length; j += 1) d2 += (point[j] - means[k][j]) ** 2;
    if (Math.sqrt(d2) <= radius * sigmas[k]) return true;
  }
  return false;
}

/** Axis ranges around the modes when the server has not sent any (before the first sample). */
export function boundsOf(mixture, radius = SUPPORT_RADIUS_SIGMA) {
  const dim = dimOf(mixture);
  const sig = sigmasOf(mixture);
  const out = {};
  ['x', 'y'].slice(0, dim).forEach((axis, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    mixture.means.forEach((m, k) => {
      lo = Math.min(lo, m[j] - radius * sig[k]);
      hi = Math.max(hi, m[j] + radius * sig[k]);
    });
    const pad = Math.max(0.25 * (hi - lo), 0.5);
    out[axis] = [lo - pad, hi + pad];
  });
  if (dim === 2) {
    // Square, so that equal aspect does not squeeze one axis.
    const half = Math.max(out.x[1] - out.x[0], out.y[1] - out.y[0]) / 2;
    const cx = (out.x[0] + out.x[1]) / 2;
    const cy = (out.y[0] + out.y[1]) / 2;
    out.x = [cx - half, cx + half];
    out.y = [cy - half, cy + half];
  }
  return out;
}

/** A canonical mixture object for the API: scalar σ when all are equal, weights only when unequal. */
export function canonicalMixture(mixture) {
  const sig = sigmasOf(mixture);
  const sameSigma = sig.every((s) => s === sig[0]);
  const w = mixture.weights;
  const sameWeights = !Array.isArray(w) || w.every((v) => v === w[0]);
  return {
    means: mixture.means.map((m) => m.map(Number)),
    sigma: sameSigma ? sig[0] : sig,
    weights: sameWeights ? null : w.map(Number),
    n: mixture.n ?? 20000,
  };
}
