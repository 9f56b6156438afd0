/* The two-weight model of the losslandscape library, in the reader's browser.
 *
 * A twin of Landscape.cost_and_gradient and the compiled training loop (_kernel.py),
 * operation for operation, so that the book's live panels retrain without a kernel and
 * agree with Python to about 1e-13 (the tests ask for 1e-9). The update rules (rules.js),
 * the registry and the per-image arrays (images.json) are written at build time by
 * losslandscape.twin.export into _static/losslandscape/, from the library itself; the
 * arrays of the first N images, for any N, are slices of them.
 *
 * window.losslandscape:
 *   train({method, lr, start, epochs, n, hyperparameters}) -> Promise of {weights, costs,
 *     divergedAt}: weights[i] = [w_a, w_b] after i updates and costs[i] the cost there,
 *     epochs + 1 of each, NaN from divergedAt on (null if the run stays finite).
 *   grid({n, wa, wb}) -> Promise of the costs, one row per wb value, one column per wa value.
 *   model(n) -> Promise of a Model with the same two methods, synchronous, and run(options)
 *     and runs([options, ...]), the same runs trained side by side, faster than one by one;
 *     and runsParallel([options, ...]) -> Promise of what runs gives, bit for bit, trained
 *     by two Web Workers (or by the page, where workers cannot start).
 *   workers() -> Promise of the number of Web Workers runsParallel trains with, once they
 *     have started (0: none could, the page trains alone).
 *   registry() -> Promise of the registry: methods, their hyperparameters, the number of
 *     images, the live panels' settings.
 *   mapExtent({wa, wb, runs, maxGrowth, bounds}) -> the axes a panel's map grows to, as
 *     plotting.surface.grown_axes, and the epoch at which each run leaves it.
 *   panelView(settings, previous) -> Promise of what a live panel draws for its settings.
 *
 * The same script runs in those Web Workers (serveRuns), so they train with this very code.
 */
(() => {
  "use strict";

  const inWorker = typeof document === "undefined";
  const SCRIPT = inWorker ? self.location.href : document.currentScript.src;
  const DATA = new URL("losslandscape/", SCRIPT);

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
  // Python step functions at build time, operation for operation; a worker loads it when
  // the page sends its address (serveRuns).
  let RULES = globalThis.losslandscapeRules;
  if (!RULES && !inWorker) {
    throw new Error("losslandscape: rules.js must load before losslandscape.js");
  }

  const MAX_EXPONENT = 700; // exp overflows float64 past 709.78, as in landscape.py

  // The arrays of all the images, as typed arrays; a Model of the first N views them.
  let allImages = null;
  function images() {
    if (!allImages) {
      allImages = fetchJson("images.json").then((json) => ({
        count: json.images,
        gradientFactor: json.gradientFactor,
        rest: Float64Array.from(json.rest),
        // One row per output unit the watched weights feed (one for the original's pair).
        rows: json.target.map((target, k) => ({
          base: Float64Array.from(json.base[k]),
          coefA: Float64Array.from(json.coefA[k]),
          coefB: Float64Array.from(json.coefB[k]),
          target: Float64Array.from(target),
        })),
      }));
    }
    return allImages;
  }

  /* Sum of xs[start .. start + count), added as NumPy adds (pairwise_sum in its loops):
   * so `rest`, the mean of the images' own errors, is Landscape(N).rest to the last bit. */
  function pairwiseSum(xs, start, count) {
    if (count < 8) {
      let sum = 0;
      for (let i = 0; i < count; i++) sum += xs[start + i];
      return sum;
    }
    if (count <= 128) {
      const r = xs.slice(start, start + 8);
      let i = 8;
      for (; i < count - (count % 8); i += 8) {
        for (let j = 0; j < 8; j++) r[j] += xs[start + i + j];
      }
      let sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < count; i++) sum += xs[start + i];
      return sum;
    }
    let half = Math.floor(count / 2);
    half -= half % 8;
    return pairwiseSum(xs, start, half) + pairwiseSum(xs, start + half, count - half);
  }

  const maxAbs = (xs) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

  class Model {
    /* The model of the first n images: as Landscape(n), from the arrays of all of them. */
    constructor(all, n, methods) {
      this.n = n;
      this.rest = pairwiseSum(all.rest, 0, n) / n;
      this.gradientFactor = all.gradientFactor;
      this.rows = all.rows.map((row) => {
        const [base, coefA, coefB, target] = [row.base, row.coefA, row.coefB, row.target].map(
          (xs) => xs.subarray(0, n),
        );
        const bounds = { maxBase: maxAbs(base), maxA: maxAbs(coefA), maxB: maxAbs(coefB) };
        return { base, coefA, coefB, target, ...bounds };
      });
      this.methods = methods;
    }

    /* The cost at (a, b); the gradient goes into out[0], out[1]. As _kernel.py's: the same
     * sums in the same order. */
    costAndGradient(a, b, out) {
      let squared = 0;
      let gradA = 0;
      let gradB = 0;
      const rows = this.rows;
      for (let k = 0; k < rows.length; k++) {
        const { base, coefA, coefB, target } = rows[k];
        const n = target.length;
        for (let i = 0; i < n; i++) {
          const x = coefA[i];
          const y = coefB[i];
          const pred = 1 / (1 + Math.exp(-(base[i] + a * x + b * y)));
          const error = pred - target[i];
          squared += error * error;
          const delta = error * pred * (1 - pred);
          gradA += delta * x;
          gradB += delta * y;
        }
      }
      out[0] = this.gradientFactor * (gradA / this.n);
      out[1] = this.gradientFactor * (gradB / this.n);
      return this.rest + squared / this.n;
    }

    /* costAndGradient at four points, points = [a0, b0, ..., a3, b3], in one pass over the
     * images: point j's cost and gradient into sums[3j], sums[3j + 1] and sums[3j + 2]. Each
     * point's sums are costAndGradient's, added in the same order, so bit for bit the same.
     * Math.exp takes most of a run's time; four independent sums per image let the processor
     * overlap its calls, as one point's sums, each waiting on the one before, cannot. */
    costAndGradient4(points, sums) {
      const a0 = points[0], b0 = points[1], a1 = points[2], b1 = points[3];
      const a2 = points[4], b2 = points[5], a3 = points[6], b3 = points[7];
      let squared0 = 0, gradA0 = 0, gradB0 = 0, squared1 = 0, gradA1 = 0, gradB1 = 0;
      let squared2 = 0, gradA2 = 0, gradB2 = 0, squared3 = 0, gradA3 = 0, gradB3 = 0;
      const rows = this.rows;
      for (let k = 0; k < rows.length; k++) {
        const { base, coefA, coefB, target } = rows[k];
        const n = target.length;
        for (let i = 0; i < n; i++) {
          const x = coefA[i];
          const y = coefB[i];
          const c = base[i];
          const t = target[i];
          const pred0 = 1 / (1 + Math.exp(-(c + a0 * x + b0 * y)));
          const pred1 = 1 / (1 + Math.exp(-(c + a1 * x + b1 * y)));
          const pred2 = 1 / (1 + Math.exp(-(c + a2 * x + b2 * y)));
          const pred3 = 1 / (1 + Math.exp(-(c + a3 * x + b3 * y)));
          const error0 = pred0 - t;
          const error1 = pred1 - t;
          const error2 = pred2 - t;
          const error3 = pred3 - t;
          squared0 += error0 * error0;
          squared1 += error1 * error1;
          squared2 += error2 * error2;
          squared3 += error3 * error3;
          const delta0 = error0 * pred0 * (1 - pred0);
          const delta1 = error1 * pred1 * (1 - pred1);
          const delta2 = error2 * pred2 * (1 - pred2);
          const delta3 = error3 * pred3 * (1 - pred3);
          gradA0 += delta0 * x;
          gradA1 += delta1 * x;
          gradA2 += delta2 * x;
          gradA3 += delta3 * x;
          gradB0 += delta0 * y;
          gradB1 += delta1 * y;
          gradB2 += delta2 * y;
          gradB3 += delta3 * y;
        }
      }
      const totals = [squared0, gradA0, gradB0, squared1, gradA1, gradB1,
        squared2, gradA2, gradB2, squared3, gradA3, gradB3];
      for (let j = 0; j < 12; j += 3) {
        sums[j] = this.rest + totals[j] / this.n;
        sums[j + 1] = this.gradientFactor * (totals[j + 1] / this.n);
        sums[j + 2] = this.gradientFactor * (totals[j + 2] / this.n);
      }
    }

    /* costAndGradient4 at three points, points[0 .. 5] into sums[0 .. 8]: a worker's share
     * of the race's five runs (runsParallel), in three quarters of four's time. */
    costAndGradient3(points, sums) {
      const a0 = points[0], b0 = points[1], a1 = points[2], b1 = points[3];
      const a2 = points[4], b2 = points[5];
      let squared0 = 0, gradA0 = 0, gradB0 = 0, squared1 = 0, gradA1 = 0, gradB1 = 0;
      let squared2 = 0, gradA2 = 0, gradB2 = 0;
      const rows = this.rows;
      for (let k = 0; k < rows.length; k++) {
        const { base, coefA, coefB, target } = rows[k];
        const n = target.length;
        for (let i = 0; i < n; i++) {
          const x = coefA[i];
          const y = coefB[i];
          const c = base[i];
          const t = target[i];
          const pred0 = 1 / (1 + Math.exp(-(c + a0 * x + b0 * y)));
          const pred1 = 1 / (1 + Math.exp(-(c + a1 * x + b1 * y)));
          const pred2 = 1 / (1 + Math.exp(-(c + a2 * x + b2 * y)));
          const error0 = pred0 - t;
          const error1 = pred1 - t;
          const error2 = pred2 - t;
          squared0 += error0 * error0;
          squared1 += error1 * error1;
          squared2 += error2 * error2;
          const delta0 = error0 * pred0 * (1 - pred0);
          const delta1 = error1 * pred1 * (1 - pred1);
          const delta2 = error2 * pred2 * (1 - pred2);
          gradA0 += delta0 * x;
          gradA1 += delta1 * x;
          gradA2 += delta2 * x;
          gradB0 += delta0 * y;
          gradB1 += delta1 * y;
          gradB2 += delta2 * y;
        }
      }
      const totals = [squared0, gradA0, gradB0, squared1, gradA1, gradB1, squared2, gradA2, gradB2];
      for (let j = 0; j < 9; j += 3) {
        sums[j] = this.rest + totals[j] / this.n;
        sums[j + 1] = this.gradientFactor * (totals[j + 1] / this.n);
        sums[j + 2] = this.gradientFactor * (totals[j + 2] / this.n);
      }
    }

    /* One run as flat arrays: weights [a0, b0, a1, b1, ...] and costs, NaN once diverged. */
    run(options) {
      return this.runs([options])[0];
    }

    /* Several runs, each as run() gives it, trained side by side (advance). */
    runs(list) {
      const runs = list.map((options) => this.prepare(options));
      this.advance(runs);
      return runs.map(({ weights, costs, divergedAt }) => ({ weights, costs, divergedAt }));
    }

    /* runs(list) as a Promise, bit for bit: split in shares (the race's five runs as three
     * and two), each trained side by side by one of the page's Web Workers, once they have
     * started; until then, and where they cannot start, by the page. */
    async runsParallel(list) {
      startWorkers();
      if (workers.length === 0) return this.runs(list);
      const size = Math.ceil(list.length / workers.length);
      const shares = [];
      for (let i = 0; i < list.length; i += size) shares.push(list.slice(i, i + size));
      const results = await Promise.all(shares.map((share, i) => workers[i].train(this.n, share)));
      return results.flat();
    }

    /* Trains prepared runs epoch by epoch until each has run its epochs or diverged: the cost
     * and gradient at four runs' points at a time (costAndGradient4), three if three are
     * left, the rest one by one. Kept apart from runs(), whose options come in many shapes,
     * so that the compiled loop sees runs of one shape only and is not thrown away when
     * another shape turns up. */
    advance(runs) {
      const points = new Float64Array(8);
      const sums = new Float64Array(12);
      const grad = new Float64Array(2);
      let live = runs;
      for (let epoch = 0; live.length > 0; epoch++) {
        let j = 0;
        while (live.length - j >= 3) {
          const count = Math.min(live.length - j, 4);
          for (let k = 0; k < count; k++) {
            points[2 * k] = live[j + k].weights[2 * epoch];
            points[2 * k + 1] = live[j + k].weights[2 * epoch + 1];
          }
          if (count === 4) this.costAndGradient4(points, sums);
          else this.costAndGradient3(points, sums);
          for (let k = 0; k < count; k++) {
            step(live[j + k], epoch, sums[3 * k], sums[3 * k + 1], sums[3 * k + 2]);
          }
          j += count;
        }
        for (; j < live.length; j++) {
          const { weights } = live[j];
          const cost = this.costAndGradient(weights[2 * epoch], weights[2 * epoch + 1], grad);
          step(live[j], epoch, cost, grad[0], grad[1]);
        }
        live = live.filter((run) => run.going);
      }
    }

    /* A run's options checked, and the run at its start, as advance() and step() take it. */
    prepare({ method, lr, start, epochs, hyperparameters }) {
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
      weights.set(start);
      return {
        rule, h, lr, epochs, weights,
        costs: new Float64Array(epochs + 1),
        stateA: new Float64Array(spec.state.length),
        stateB: new Float64Array(spec.state.length),
        divergedAt: null,
        going: true,
      };
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

  /* Records the cost at the run's point after `epoch` updates and, unless that was its last,
   * takes update epoch + 1 from the gradient (gradA, gradB) there. As _kernel.py's loop. */
  function step(run, epoch, cost, gradA, gradB) {
    run.costs[epoch] = cost;
    if (epoch === run.epochs) {
      run.going = false;
      return;
    }
    const { weights } = run;
    const t = epoch + 1;
    const a = run.rule(weights[2 * epoch], gradA, run.stateA, t, run.lr, run.h);
    const b = run.rule(weights[2 * epoch + 1], gradB, run.stateB, t, run.lr, run.h);
    weights[2 * t] = a;
    weights[2 * t + 1] = b;
    if (!(Number.isFinite(a) && Number.isFinite(b))) {
      run.divergedAt = t;
      weights.fill(NaN, 2 * t);
      run.costs.fill(NaN, t);
      run.going = false;
    }
  }

  // Whether no exponential of the factorised grid can overflow (as Landscape._grid_term).
  function factorisable({ maxBase, maxA, maxB }, wa, wb) {
    return maxAbs(wa) * maxA + maxAbs(wb) * maxB + maxBase < MAX_EXPONENT;
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

  // A value in an error message: numbers as numbers, anything else as JSON.
  const describe = (value) =>
    typeof value === "number" || value === undefined ? String(value) : JSON.stringify(value);

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
  /* The model of the first n images, any n from 1 to all the book's images. */
  async function model(n) {
    const reg = await registry();
    if (!(Number.isInteger(n) && n >= 1 && n <= reg.images)) {
      throw new Error(`n must be an integer from 1 to ${reg.images}, got ${describe(n)}`);
    }
    if (!models.has(n)) models.set(n, images().then((all) => new Model(all, n, reg.methods)));
    return models.get(n);
  }

  const WORKERS = 2; // the race's five runs as three and two (costAndGradient3 and two alone)

  // The Web Workers runsParallel trains with, once all have started. None until then, and
  // none for good where workers cannot start (a Content Security Policy that forbids them,
  // browsers without them, file:// pages): the page trains the runs itself.
  let workers = [];
  let starting = null;

  /* Starts the workers, once: a Promise of how many started. */
  function startWorkers() {
    if (!starting) {
      starting = Promise.all([registry(), images()]).then(async ([reg, all]) => {
        const started = [];
        try {
          const rules = new URL("rules.js", DATA).href;
          const init = {
            rules: [...document.scripts].find((script) => script.src.startsWith(rules)).src,
            methods: reg.methods,
            all,
          };
          for (let i = 0; i < WORKERS; i++) started.push(new RunsWorker(init));
          await Promise.all(started.map((worker) => worker.ready));
          workers = started;
        } catch {
          for (const worker of started) worker.worker.terminate();
        }
        return workers.length;
      });
    }
    return starting;
  }

  /* A Web Worker running this script (serveRuns). It is sent, once, the address of rules.js
   * as the page loaded it (with its ?v= checksum), the registry's methods and the arrays of
   * all the images; then lists of runs, answered one at a time in the order asked. */
  class RunsWorker {
    constructor(init) {
      this.worker = new Worker(SCRIPT);
      this.waiting = [];
      this.ready = new Promise((resolve, reject) => {
        this.worker.onmessage = ({ data }) => (data.ready ? resolve() : this.answer(data));
        this.worker.onerror = () => {
          const error = new Error("losslandscape: a Web Worker failed");
          reject(error);
          for (const { fail } of this.waiting.splice(0)) fail(error);
        };
      });
      this.worker.postMessage(init);
    }

    train(n, runs) {
      return new Promise((done, fail) => {
        this.waiting.push({ done, fail });
        this.worker.postMessage({ n, runs });
      });
    }

    answer({ results, error }) {
      const { done, fail } = this.waiting.shift();
      if (error === undefined) done(results);
      else fail(new Error(error));
    }
  }

  /* The worker's side of RunsWorker: rules.js and the arrays first, then Model.runs. */
  function serveRuns() {
    let all, methods;
    const models = new Map();
    self.onmessage = ({ data }) => {
      if (data.rules) {
        importScripts(data.rules);
        RULES = globalThis.losslandscapeRules;
        ({ all, methods } = data);
        self.postMessage({ ready: true });
        return;
      }
      try {
        if (!models.has(data.n)) models.set(data.n, new Model(all, data.n, methods));
        const results = models.get(data.n).runs(data.runs);
        // Handed over, not copied.
        self.postMessage({ results }, results.flatMap((run) => [run.weights.buffer, run.costs.buffer]));
      } catch (error) {
        self.postMessage({ error: error.message });
      }
    };
  }

  /* The lowest and highest finite (w_a, w_b) the runs visit, widened to `bounds`, as
   * [[lowA, lowB], [highA, highB]]; `bounds` if there is no such point. As path_bounds. */
  function pathBounds(runs, bounds) {
    const low = [Infinity, Infinity];
    const high = [-Infinity, -Infinity];
    let any = false;
    for (const { weights } of runs) {
      for (let i = 0; i < weights.length; i += 2) {
        const point = [weights[i], weights[i + 1]];
        if (!point.every(Number.isFinite)) continue;
        any = true;
        for (const axis of [0, 1]) {
          low[axis] = Math.min(low[axis], point[axis]);
          high[axis] = Math.max(high[axis], point[axis]);
        }
      }
    }
    if (!any) return bounds || null;
    if (bounds) {
      for (const axis of [0, 1]) {
        low[axis] = Math.min(low[axis], bounds[0][axis]);
        high[axis] = Math.max(high[axis], bounds[1][axis]);
      }
    }
    return [low, high];
  }

  /* `axis` extended at its end spacings to reach low and high, by at most maxGrowth times
   * its width on each side: plotting.surface._grow, operation for operation. */
  function growAxis(axis, low, high, maxGrowth) {
    const last = axis.length - 1;
    if (last < 1) return Array.from(axis);
    const reach = maxGrowth * (axis[last] - axis[0]);
    const stepLow = axis[1] - axis[0];
    const stepHigh = axis[last] - axis[last - 1];
    const below = Math.ceil(Math.min(axis[0] - low, reach) / stepLow - 1e-9);
    const above = Math.ceil(Math.min(high - axis[last], reach) / stepHigh - 1e-9);
    const grown = [];
    for (let k = Math.max(below, 0); k > 0; k--) grown.push(axis[0] - stepLow * k);
    grown.push(...axis);
    for (let k = 1; k <= above; k++) grown.push(axis[last] + stepHigh * k);
    return grown;
  }

  /* The map of a live panel, as plotting.surface.grown_axes: its grid wa x wb grown to cover
   * every finite point of the runs and of `bounds` (the bounds of the paths drawn before),
   * and for each run the first epoch at which it leaves that map (null if it stays on it).
   * Runs are {weights: [a0, b0, a1, b1, ...]}, as Model.run gives them. */
  function mapExtent({ wa, wb, runs, maxGrowth, bounds = null }) {
    bounds = pathBounds(runs, bounds);
    const axes = [wa, wb].map((axis, i) =>
      bounds ? growAxis(axis, bounds[0][i], bounds[1][i], maxGrowth) : Array.from(axis));
    const leaving = runs.map(({ weights }) => {
      for (let i = 0; 2 * i < weights.length; i++) {
        const point = [weights[2 * i], weights[2 * i + 1]];
        if (!point.every(Number.isFinite)) continue;
        if (point.some((x, axis) => x < axes[axis][0] || x > axes[axis].at(-1))) return i;
      }
      return null;
    });
    return { wa: axes[0], wb: axes[1], bounds, leaving };
  }

  const sameAxis = (xs, ys) => xs.length === ys.length && xs.every((x, i) => x === ys[i]);

  /* What a live panel draws for its settings {methods, n, lr, start, epochs,
   * hyperparameters: {method: {...}}, wA, wB}: each method's run, the map (mapExtent, grown
   * from `previous`, the view drawn before, if given) and its costs, computed again only
   * when N or the map's axes change. As OptimizerPanel.update. */
  async function panelView(settings, previous = null) {
    const { methods, n, lr, start, epochs, hyperparameters = {}, wA, wB } = settings;
    const [reg, m] = await Promise.all([registry(), model(n)]);
    let started = performance.now();
    const options = methods.map((method) => ({
      method, lr, start, epochs, hyperparameters: hyperparameters[method] || {},
    }));
    const runs = (await m.runsParallel(options)).map((run, i) => ({ method: methods[i], ...run }));
    const trainMs = performance.now() - started;
    const extent = mapExtent({
      wa: wA, wb: wB, runs, maxGrowth: reg.panel.map.maxGrowth, bounds: previous && previous.bounds,
    });
    const same =
      previous && previous.n === n && sameAxis(previous.wa, extent.wa) && sameAxis(previous.wb, extent.wb);
    started = performance.now();
    const z = same ? previous.z : m.grid(extent.wa, extent.wb);
    const gridMs = same ? 0 : performance.now() - started;
    return { n, runs, ...extent, z, mapChanged: !same, trainMs, gridMs };
  }

  async function withDefaults(options) {
    const original = (await registry()).original;
    return { n: 100, lr: original.lr, start: original.start, epochs: original.epochs, ...options };
  }

  if (inWorker) {
    serveRuns();
    return;
  }

  window.losslandscape = {
    registry,
    model,
    workers: startWorkers,
    mapExtent,
    panelView,
    async train(options = {}) {
      const settings = await withDefaults(options);
      return (await model(settings.n)).train(settings);
    },
    async grid({ n = 100, wa, wb } = {}) {
      return (await model(n)).grid(wa, wb);
    },
  };
})();
