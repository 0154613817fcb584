// Playback of received frames. One requestAnimationFrame loop advances the frame index at the
// chosen speed and asks for a draw; drawing itself happens in the `render` callback, at most once
// per animation frame, so a fast SSE stream never queues more Plotly work than the screen shows.

export class Player {
  /**
   * @param {object} opts
   * @param {() => number} opts.available  number of frames received so far
   * @param {() => boolean} opts.complete  true once no more frames will arrive
   * @param {(index: number) => Promise|void} opts.render  draw frame `index`
   * @param {(player: Player) => void} opts.onChange  UI sync (slider, labels, buttons)
   */
  constructor({ available, complete, render, onChange }) {
    this.available = available;
    this.complete = complete;
    this.renderFn = render;
    this.onChange = onChange;
    this.index = 0;
    this.playing = false;
    this.fps = 20; // frames of the reverse process per second; 0 = as fast as the screen draws
    this.dirty = false;
    this.rafId = null;
    this.lastAdvance = 0;
    this.rendered = 0; // frames drawn (the fps benchmark reads it)
    this.drawing = false;
    this.drawMs = 0; // time spent inside render (the benchmark splits it from the browser's own work)
  }

  play() {
    if (this.available() === 0 && this.complete()) return; // nothing received and nothing coming
    if (this.available() > 0 && this.index >= this.available() - 1 && this.complete()) this.index = 0; // replay from the noise
    this.playing = true;
    this.lastAdvance = performance.now();
    this.invalidate();
  }

  pause() {
    this.playing = false;
    this.onChange(this);
  }

  toggle() {
    if (this.playing) this.pause(); else this.play();
  }

  seek(index) {
    const last = Math.max(this.available() - 1, 0);
    this.index = Math.min(Math.max(Math.round(index), 0), last);
    this.invalidate();
  }

  step(delta) {
    this.pause();
    this.seek(this.index + delta);
  }

  setSpeed(fps) {
    this.fps = fps;
  }

  /** A new frame arrived, or labels changed: redraw (and keep playing if we were waiting for it). */
  invalidate() {
    this.dirty = true;
    this.schedule();
  }

  schedule() {
    if (this.rafId === null) this.rafId = requestAnimationFrame((now) => this.tick(now));
  }

  tick(now) {
    this.rafId = null;
    if (this.playing) this.advance(now);
    if (this.dirty && !this.drawing) {
      this.dirty = false;
      this.drawing = true;
      const start = performance.now();
      Promise.resolve(this.renderFn(this.index)).finally(() => {
        this.drawing = false;
        this.rendered += 1;
        this.drawMs += performance.now() - start;
      });
      this.onChange(this);
    }
    if (this.playing || this.dirty) this.schedule();
  }

  /** Replay every frame from the first at "max" speed (one draw per animation frame, none skipped): the fps
   * benchmarks' measure. Resolves to {frames drawn, seconds, fps, drawMs per frame}. */
  async measure() {
    const speed = this.fps;
    this.pause();
    this.setSpeed(0);
    this.seek(0);
    await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
    const r0 = this.rendered;
    const d0 = this.drawMs;
    const t0 = performance.now();
    this.play();
    await new Promise((res) => {
      const check = () => (this.playing || this.drawing || this.dirty ? requestAnimationFrame(check) : res());
      requestAnimationFrame(check);
    });
    const seconds = (performance.now() - t0) / 1000;
    const rendered = this.rendered - r0;
    this.setSpeed(speed);
    return { frames: rendered, seconds, fps: rendered / seconds, drawMs: (this.drawMs - d0) / Math.max(rendered, 1) };
  }

  advance(now) {
    const last = this.available() - 1;
    const due = this.fps <= 0 ? 1 : Math.floor(((now - this.lastAdvance) / 1000) * this.fps);
    if (due <= 0) return;
    this.lastAdvance = this.fps <= 0 ? now : this.lastAdvance + (due * 1000) / this.fps;
    if (this.index < last) {
      // Never skip frames at max speed (the benchmark counts them); at a set speed, catch up.
      this.index = Math.min(this.index + (this.fps <= 0 ? 1 : due), last);
      this.dirty = true;
    } else if (this.complete()) {
      this.playing = false;
      this.onChange(this);
    } else {
      this.lastAdvance = now; // waiting for the stream: do not bank time
    }
  }
}
