// Adam over plain Float32Arrays, with TensorFlow.js' conventions (β1 0.9, β2 0.999, ε 1e-7, bias
// correction by β^(iterations + 1)), so one checkpoint's optimizer state serves both trainers.
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

export interface AdamState {
  /** Steps taken so far. */
  iterations: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class Adam {
  readonly state: AdamState;

  constructor(state?: AdamState) {
    this.state = state ?? { iterations: 0, m: new Map(), v: new Map() };
  }

  /** Updates `weights` in place from `grads` (same names and lengths) at learning rate `lr`. */
  step(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    const { beta1, beta2, epsilon } = ADAM;
    const s = this.state;
    const c1 = 1 - beta1 ** (s.iterations + 1);
    const c2 = 1 - beta2 ** (s.iterations + 1);
    for (const [name, g] of grads) {
      const w = weights.get(name);
      if (!w || w.length !== g.length) throw new Error(`Adam: no weight of ${g.length} values named ${name}`);
      let m = s.m.get(name);
      let v = s.v.get(name);
      if (!m || !v) {
        m = new Float32Array(g.length);
        v = new Float32Array(g.length);
        s.m.set(name, m);
        s.v.set(name, v);
      }
      for (let i = 0; i < g.length; i++) {
        const gi = g[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
      }
    }
    s.iterations++;
  }
}
