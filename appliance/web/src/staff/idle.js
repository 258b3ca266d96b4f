// The vault's idle lock: after `minutes` without the user's input the app locks the vault
// (the worker forgets the keys). Pure timing over an injectable clock, so the Node tests run it
// without waiting; the page feeds it input events.

/** The practice setting's default (issue 19: 15 minutes). */
export const DEFAULT_IDLE_MINUTES = 15;

export class IdleTimer {
  /**
   * @param {number} minutes
   * @param {() => void} onIdle called once per idle period
   * @param {{now?: () => number, every?: (fn: () => void, ms: number) => unknown,
   *   stop?: (handle: any) => void}} [clock] Date.now / setInterval / clearInterval by default
   */
  constructor(minutes, onIdle, clock = {}) {
    this.limitMs = Math.max(1, minutes) * 60000;
    this.onIdle = onIdle;
    this.now = clock.now ?? (() => Date.now());
    this.every = clock.every ?? ((fn, ms) => setInterval(fn, ms));
    this.stopTimer = clock.stop ?? ((handle) => clearInterval(handle));
    this.last = this.now();
    /** @type {unknown} */
    this.handle = null;
  }

  /** Starts watching; checks twice a minute, so the lock comes at most 30 s late. */
  start() {
    this.stop();
    this.last = this.now();
    this.handle = this.every(() => this.check(), 30000);
  }

  /** The user did something. */
  touch() {
    this.last = this.now();
  }

  check() {
    if (this.handle !== null && this.now() - this.last >= this.limitMs) {
      this.stop();
      this.onIdle();
    }
  }

  stop() {
    if (this.handle !== null) this.stopTimer(this.handle);
    this.handle = null;
  }
}
