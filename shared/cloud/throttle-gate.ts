// Throttling in windows (ECS: "throttled at minute T, the operation can continue as of minute T+1"), shared fairly.
// Without a gate every throttled caller backs off on its own, at random: when the window opens, the first to wake
// take its slots and come straight back for more, and a caller that slept longest can find the next window spent too
// (the fan-out benchmark saw 43 of 39,600 resources give up so: docs/benchmarks.md). With one gate per action and
// region of one account's client, a throttled call waits in line, oldest first; while the gate is closed one probe at
// a time asks whether the window is open, at short intervals, and when it passes the whole line goes at once, before
// any call that came later. A call that waits past its deadline is let go to try once more on its own.

export interface GateClock {
  now(): number;
  /** A timer; returns a cancel. */
  after(ms: number, fn: () => void): () => void;
  random(): number;
}

export const realClock: GateClock = {
  now: () => Date.now(),
  // Referenced timers: a worker whose every call waits in line has nothing else keeping its process alive.
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  random: Math.random,
};

interface Waiter {
  since: number;
  go: () => void;
  cancel?: () => void;
}

interface Gate {
  closed: boolean;
  /** Oldest first. */
  line: Waiter[];
  /** A probe has been let go and has not reported back. */
  probing: boolean;
  probes: number;
  cancelProbe?: () => void;
}

export class ThrottleGates {
  private readonly gates = new Map<string, Gate>();

  /** `windowMs`: the throttling window assumed (probes come at most a twentieth of it apart, at most 3 s). */
  constructor(
    private readonly windowMs: number,
    private readonly clock: GateClock = realClock,
  ) {}

  /**
   * Before a call is sent: when its gate is closed, wait in line (by `since`, the call's first attempt) until a probe
   * finds the window open, or until `deadline` (then it goes anyway). Resolves at once when the gate is open.
   */
  async turn(key: string, since: number, deadline: number): Promise<void> {
    const g = this.gates.get(key);
    if (!g?.closed) return;
    await this.wait(g, since, deadline);
  }

  /** The call went through: the window is open, the whole line goes. */
  passed(key: string): void {
    const g = this.gates.get(key);
    if (!g) return;
    g.closed = false;
    g.probing = false;
    g.probes = 0;
    g.cancelProbe?.();
    g.cancelProbe = undefined;
    const line = g.line.splice(0);
    for (const w of line) {
      w.cancel?.();
      w.go();
    }
    this.gates.delete(key);
  }

  /**
   * The call was throttled without being told when to come back: the gate closes and the call waits in line for its
   * next attempt (see turn).
   */
  async throttled(key: string, since: number, deadline: number): Promise<void> {
    this.close(key);
    await this.wait(this.gates.get(key)!, since, deadline);
  }

  /** Close the gate without waiting in it (a caller that backs off on its own, then calls turn). */
  close(key: string): void {
    let g = this.gates.get(key);
    if (!g) this.gates.set(key, (g = { closed: true, line: [], probing: false, probes: 0 }));
    g.closed = true;
    g.probing = false;
    this.schedule(g);
  }

  /** The call ended otherwise (another error, or it gave up): if it was the probe, the next one is scheduled. */
  left(key: string): void {
    const g = this.gates.get(key);
    if (!g) return;
    g.probing = false;
    this.schedule(g);
  }

  /** Calls waiting in line for `key` (for tests and logs). */
  waiting(key: string): number {
    return this.gates.get(key)?.line.length ?? 0;
  }

  private wait(g: Gate, since: number, deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const w: Waiter = { since, go: resolve };
      const at = g.line.findIndex((x) => x.since > since);
      g.line.splice(at < 0 ? g.line.length : at, 0, w);
      w.cancel = this.clock.after(Math.max(0, deadline - this.clock.now()), () => {
        const i = g.line.indexOf(w);
        if (i >= 0) g.line.splice(i, 1);
        resolve();
      });
      this.schedule(g);
    });
  }

  /** Let the oldest waiter go as the probe after a short, growing, jittered pause, unless one is out or scheduled. */
  private schedule(g: Gate): void {
    if (!g.closed || g.probing || g.cancelProbe || g.line.length === 0) return;
    const cap = Math.min(3_000, Math.max(50, Math.floor(this.windowMs / 20)));
    const pause = Math.min(cap, 250 * 2 ** Math.min(g.probes, 6));
    g.probes++;
    g.cancelProbe = this.clock.after(Math.floor(pause / 2 + this.clock.random() * (pause / 2)), () => {
      g.cancelProbe = undefined;
      const w = g.line.shift();
      if (!w) return;
      w.cancel?.();
      g.probing = true;
      w.go();
    });
  }
}
