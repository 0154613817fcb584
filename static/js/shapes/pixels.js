// 8-bit grey images (u1, one byte per pixel, 0 = −1 and 255 = +1 in model units) onto canvases: one image into a
// small canvas (film strip, map thumbnail), or N images into one grid bitmap with a single putImageData.

// Each image of the grid sits in a slot of background: BAND native pixels above it hold its label badge and PAD either
// side and below hold its outline, so neither covers a pixel of the image (a shape may touch any edge).
export const PAD = 2;
export const BAND = 8;
const BACKGROUND = [223, 229, 236]; // --line: the gap between cells

/** Write `count` bytes of grey from `src` (starting at `from`) into RGBA `out` at pixel `to`. */
function grey(src, from, count, out, to) {
  let o = to * 4;
  for (let i = from, end = from + count; i < end; i += 1) {
    const v = src[i];
    out[o] = v; out[o + 1] = v; out[o + 2] = v; out[o + 3] = 255;
    o += 4;
  }
}

/** One res×res image (`src` from byte `offset`) into `canvas` at its native size (CSS scales it, pixelated). */
export function drawImage(canvas, src, offset, res) {
  canvas.width = res;
  canvas.height = res;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(res, res);
  grey(src, offset, res * res, img.data, 0);
  ctx.putImageData(img, 0, 0);
}

/** Columns and rows of a grid of n images: near-square, wider than tall. */
export function gridShape(n) {
  const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  return { cols, rows: Math.max(1, Math.ceil(n / cols)) };
}

/** Draws (N, res·res) frames into one canvas; the ImageData is kept between frames (no allocation per frame). */
export class GridBitmap {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.image = null;
    this.n = 0;
    this.res = 0;
  }

  resize(n, res) {
    const { cols, rows } = gridShape(n);
    Object.assign(this, { n, res, cols, rows });
    this.canvas.width = cols * (res + 2 * PAD);
    this.canvas.height = rows * (BAND + res + PAD);
    this.image = this.ctx.createImageData(this.canvas.width, this.canvas.height);
    const d = this.image.data;
    for (let i = 0; i < d.length; i += 4) {
      [d[i], d[i + 1], d[i + 2]] = BACKGROUND;
      d[i + 3] = 255;
    }
  }

  /** Top-left native pixel of image i. */
  origin(i) {
    const col = i % this.cols;
    const row = Math.floor(i / this.cols);
    return { x: col * (this.res + 2 * PAD) + PAD, y: row * (BAND + this.res + PAD) + BAND };
  }

  /** pixels: (n, res·res) u1, or null (nothing to show yet: mid grey). */
  draw(pixels) {
    const { res, image } = this;
    if (!image) return; // no sample laid out yet
    const width = this.canvas.width;
    for (let i = 0; i < this.n; i += 1) {
      const { x, y } = this.origin(i);
      for (let r = 0; r < res; r += 1) {
        const to = (y + r) * width + x;
        if (pixels) grey(pixels, i * res * res + r * res, res, image.data, to);
        else image.data.fill(128, to * 4, (to + res) * 4);
      }
    }
    this.ctx.putImageData(image, 0, 0);
  }
}
