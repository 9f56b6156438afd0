/* The two-weight model of the losslandscape library, in the reader's browser.
 *
 * A twin of Landscape.cost_and_gradient and the compiled training loop (_kernel.py),
 * operation for operation, so that the book's live panels retrain without a kernel and
 * agree with Python to about 1e-12 (the tests ask for 1e-9). The update rules (rules.js),
 * the arrays and the registry are written at build time by losslandscape.twin.export
 * into _static/losslandscape/, from the library itself.
 *
 * window.losslandscape:
 *   train({method, lr, start, epochs, n, hyperparameters}) -> Promise of {weights, costs,
 *     divergedAt}: weights[i] = [w_a, w_b] after i updates and costs[i] the cost there,
 *     epochs + 1 of each, NaN from divergedAt on (null if the run stays finite).
 *   grid({n, wa, wb}) -> Promise of the costs, one row per wb value, one column per wa value.
 *   model(n) -> Promise of a Model with the same two methods, synchronous.
 *   registry() -> Promise of the registry: methods, their hyperparameters, the sizes N.
 */
(() => {
  "use strict";

  const DATA = new URL("losslandscape/", document.currentScript.src);

  const cached = new Map();
  function fetchJson(name) {
    if (!cached.has(name)) {
      cached.set(
        name,
        fetch(new URL(name, DATA)).then((response) => {
          if (!response.ok) {
            throw new Error(`losslandscape: ${name} could not be loaded (HTTP ${response.status})`);
          }
          return response.json();
        }),
      );
    }
    return cached.get(name);
  }

  const registry = () => fetchJson("registry.json");

  // Each rule updates one weight from its gradient; `state` is that weight's state
  // (zeros at the start), `h` the hyperparameters by name. rules.js is written from the
  // Python step functions at build time, operation for operation.
  const RULES = window.losslandscapeRules;
  if (!RULES) throw new Error("losslandscape: rules.js must load before losslandscape.js");

  const MAX_EXPONENT = 700; // exp overflows float64 past 709.78, as in landscape.py

  class Model {
    constructor(arrays, methods) {
      this.n = arrays.n;
      this.rest = arrays.rest;
      this.gradientFactor = arrays.gradientFactor;
      // One row per output unit the watched weights feed (one for the original's pair).
      this.rows = arrays.target.map((target, k) => ({
        base: Float64Array.from(arrays.base[k]),
        coefA: Float64Array.from(arrays.coefA[k]),
        coefB: Float64Array.from(arrays.coefB[k]),
        target: Float64Array.from(target),
      }));
      this.methods = methods;
    }

    /* The cost at (a, b); the gradient goes into out[0], out[1]. As _kernel.py's. */
    costAndGradient(a, b, out) {
      let squared = 0;
      let gradA = 0;
      let gradB = 0;
      for (const { base, coefA, coefB, target } of this.rows) {
        for (let i = 0; i < target.length; i++) {
          const pred = 1 / (1 + Math.exp(-(base[i] + a * coefA[i] + b * coefB[i])));
          const error = pred - target[i];
          squared += error * error;
          const delta = error * pred * (1 - pred);
          gradA += delta * coefA[i];
          gradB += delta * coefB[i];
        }
      }
      out[0] = this.gradientFactor * (gradA / this.n);
      out[1] = this.gradientFactor * (gradB / this.n);
      return this.rest + squared / this.n;
    }

    /* One run as flat arrays: weights [a0, b0, a1, b1, ...] and costs, NaN once diverged. */
    run({ method, lr, start, epochs, hyperparameters }) {
      const spec = this.methods[method];
      const rule = RULES[method];
      if (!spec || !rule) {
        const known = Object.keys(this.methods).filter((name) => name in RULES);
        throw new Error(`unknown optimizer ${JSON.stringify(method)}; allowed: ${known.join(", ")}`);
      }
      const h = checkHyperparameters(method, spec, hyperparameters || {});
      lr = checkNumber("lr", lr, (x) => x > 0, "a positive finite number");
      epochs = checkNumber("epochs", epochs, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
      if (!Array.isArray(start) || start.length !== 2 || !start.every(Number.isFinite)) {
        throw new Error(`start must be a pair of finite numbers [w_a, w_b], got ${JSON.stringify(start)}`);
      }
      const weights = new Float64Array(2 * (epochs + 1));
      const costs = new Float64Array(epochs + 1);
      const stateA = new Float64Array(spec.state.length);
      const stateB = new Float64Array(spec.state.length);
      const grad = new Float64Array(2);
      let [a, b] = start;
      weights[0] = a;
      weights[1] = b;
      let divergedAt = null;
      for (let t = 1; t <= epochs; t++) {
        costs[t - 1] = this.costAndGradient(a, b, grad);
        a = rule(a, grad[0], stateA, t, lr, h);
        b = rule(b, grad[1], stateB, t, lr, h);
        weights[2 * t] = a;
        weights[2 * t + 1] = b;
        if (!(Number.isFinite(a) && Number.isFinite(b))) {
          divergedAt = t;
          break;
        }
      }
      if (divergedAt === null) {
        costs[epochs] = this.costAndGradient(a, b, grad);
      } else {
        weights.fill(NaN, 2 * divergedAt);
        costs.fill(NaN, divergedAt);
      }
      return { weights, costs, divergedAt };
    }

    /* Paired like Trajectory.weights and Trajectory.costs. */
    train(options) {
      const { weights, costs, divergedAt } = this.run(options);
      const pairs = [];
      for (let i = 0; i < costs.length; i++) pairs.push([weights[2 * i], weights[2 * i + 1]]);
      return { weights: pairs, costs: Array.from(costs), divergedAt };
    }

    /* Costs over a grid, rows following wb, as Landscape.grid: the same factorisation of
     * exp(-s z) into an a-part and a b-part, and direct evaluation where it could overflow. */
    grid(wa, wb) {
      wa = checkAxis("wa", wa);
      wb = checkAxis("wb", wb);
      const rows = Array.from(wb, () => new Float64Array(wa.length).fill(this.rest));
      for (const row of this.rows) {
        const term = factorisable(row, wa, wb) ? gridFactorised : gridDirect;
        term(wa, wb, row.base, row.coefA, row.coefB, row.target, (j, i, sum) => {
          rows[j][i] += sum / this.n;
        });
      }
      return rows.map((row) => Array.from(row));
    }
  }

  // Whether no exponential of the factorised grid can overflow (as Landscape._grid_term).
  function factorisable({ base, coefA, coefB }, wa, wb) {
    const maxAbs = (xs) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    return maxAbs(wa) * maxAbs(coefA) + maxAbs(wb) * maxAbs(coefB) + maxAbs(base) < MAX_EXPONENT;
  }

  function gridFactorised(wa, wb, base, coefA, coefB, target, add) {
    const n = target.length;
    const factorA = new Float64Array(wa.length * n);
    const factorB = new Float64Array(wb.length * n);
    for (let i = 0; i < wa.length; i++) {
      for (let k = 0; k < n; k++) {
        factorA[i * n + k] = Math.exp(-(1 - 2 * target[k]) * (wa[i] * coefA[k]));
      }
    }
    for (let j = 0; j < wb.length; j++) {
      for (let k = 0; k < n; k++) {
        factorB[j * n + k] = Math.exp(-(1 - 2 * target[k]) * (base[k] + wb[j] * coefB[k]));
      }
    }
    for (let j = 0; j < wb.length; j++) {
      const offsetB = j * n;
      for (let i = 0; i < wa.length; i++) {
        const offsetA = i * n;
        let sum = 0;
        for (let k = 0; k < n; k++) {
          const u = 1 / (factorA[offsetA + k] * factorB[offsetB + k] + 1);
          sum += u * u;
        }
        add(j, i, sum);
      }
    }
  }

  function gridDirect(wa, wb, base, coefA, coefB, target, add) {
    for (let j = 0; j < wb.length; j++) {
      for (let i = 0; i < wa.length; i++) {
        let sum = 0;
        for (let k = 0; k < target.length; k++) {
          const error = expit(wa[i] * coefA[k] + (base[k] + wb[j] * coefB[k])) - target[k];
          sum += error * error;
        }
        add(j, i, sum);
      }
    }
  }

  // As scipy's expit: no overflow warning, 0 or 1 in the limits.
  const expit = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

  function checkNumber(name, value, ok, allowed) {
    if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) {
      throw new Error(`${name} must be ${allowed}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  function checkAxis(name, values) {
    const axis = Float64Array.from(values || []);
    if (axis.length === 0 || !axis.every(Number.isFinite)) {
      throw new Error(`${name} must be a non-empty array of finite numbers`);
    }
    for (let i = 1; i < axis.length; i++) {
      if (!(axis[i] > axis[i - 1])) throw new Error(`${name} must be strictly increasing`);
    }
    return axis;
  }

  function checkHyperparameters(method, spec, overrides) {
    const unknown = Object.keys(overrides).filter((key) => !(key in spec.hyper));
    if (unknown.length) {
      const allowed = Object.keys(spec.hyper).join(", ") || "none";
      throw new Error(
        `${method} has no hyperparameter ${unknown.sort().join(", ")}; allowed: ${allowed} ` +
          "(the learning rate is passed separately)",
      );
    }
    const values = {};
    for (const [key, hyper] of Object.entries(spec.hyper)) {
      const value = key in overrides ? overrides[key] : hyper.default;
      values[key] = hyper.positive
        ? checkNumber(`${method}: ${key}`, value, (x) => x > 0, "a positive finite number")
        : checkNumber(`${method}: ${key}`, value, (x) => x >= 0 && x < 1, "a number in [0, 1)");
    }
    return values;
  }

  const models = new Map();
  function model(n) {
    if (!models.has(n)) {
      models.set(
        n,
        registry().then((reg) => {
          if (!reg.sizes.includes(n)) {
            throw new Error(`n=${JSON.stringify(n)} is not in this book; choose one of ${reg.sizes.join(", ")}`);
          }
          return fetchJson(`n${n}.json`).then((arrays) => new Model(arrays, reg.methods));
        }),
      );
    }
    return models.get(n);
  }

  async function withDefaults(options) {
    const original = (await registry()).original;
    return { n: 100, lr: original.lr, start: original.start, epochs: original.epochs, ...options };
  }

  window.losslandscape = {
    registry,
    model,
    async train(options = {}) {
      const settings = await withDefaults(options);
      return (await model(settings.n)).train(settings);
    },
    async grid({ n = 100, wa, wb } = {}) {
      return (await model(n)).grid(wa, wb);
    },
  };
})();
