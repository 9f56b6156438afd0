/* Runs the book's twin (rules.js, then losslandscape.js) in Node, as a page would load it.
 *
 * usage: node twin_node.js <folder>   where <folder> holds losslandscape.js and the
 * losslandscape/ folder twin.export writes. Reads a JSON list of requests on stdin and
 * prints a JSON list of results; NaN is written as null, errors as {error}. A request is
 * train() options, or {call, args} with call one of
 *   "train"       args: train() options
 *   "grid"        args: grid() options {n, wa, wb}
 *   "model"       args: n; gives the model's n and rest
 *   "runs"        args: {n, runs}: Model.runs of the runs' train() options, as train()
 *                 gives each
 *   "panelViews"  args: a list of panelView() settings, each drawn after the one before
 *                 (as a panel's controls move); gives each view.
 */
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const url = require("node:url");
const vm = require("node:vm");

const folder = path.resolve(process.argv[2]);
const script = path.join(folder, "losslandscape.js");

// The browser globals the twin uses: its own <script> element, fetch, and window.
const page = {
  window: {},
  document: { currentScript: { src: url.pathToFileURL(script).href } },
  URL,
  performance,
  fetch: async (address) => {
    const file = url.fileURLToPath(address);
    if (!fs.existsSync(file)) return { ok: false, status: 404 };
    const text = fs.readFileSync(file, "utf8");
    return { ok: true, status: 200, json: async () => JSON.parse(text) };
  },
};
vm.createContext(page);
for (const file of [path.join(folder, "losslandscape", "rules.js"), script]) {
  vm.runInContext(fs.readFileSync(file, "utf8"), page, { filename: file });
}

const finite = (xs) => Array.from(xs, (x) => (Number.isFinite(x) ? x : null));
const pairs = (flat) => Array.from({ length: flat.length / 2 }, (_, i) => finite([flat[2 * i], flat[2 * i + 1]]));

async function answer(request) {
  const twin = page.window.losslandscape;
  const { call = "train", args = request } = "call" in request ? request : { args: request };
  if (call === "train") {
    const { weights, costs, divergedAt } = await twin.train(args);
    return { weights: weights.map(finite), costs: finite(costs), divergedAt };
  }
  if (call === "grid") return { z: (await twin.grid(args)).map(finite) };
  if (call === "runs") {
    const model = await twin.model(args.n);
    return model.runs(args.runs).map(({ weights, costs, divergedAt }) => ({
      weights: pairs(weights), costs: finite(costs), divergedAt,
    }));
  }
  if (call === "model") {
    const model = await twin.model(args);
    return { n: model.n, rest: model.rest };
  }
  if (call === "panelViews") {
    const views = [];
    let previous = null;
    for (const settings of args) {
      previous = await twin.panelView(settings, previous);
      const { n, wa, wb, z, bounds, leaving, mapChanged, runs } = previous;
      views.push({
        n, wa, wb, bounds, leaving, mapChanged,
        z: z.map(finite),
        runs: runs.map(({ method, weights, costs, divergedAt }) => ({
          method, weights: pairs(weights), costs: finite(costs), divergedAt,
        })),
      });
    }
    return { views };
  }
  throw new Error(`twin_node.js: no call ${JSON.stringify(call)}`);
}

(async () => {
  const requests = JSON.parse(fs.readFileSync(0, "utf8"));
  const results = [];
  for (const request of requests) {
    try {
      results.push(await answer(request));
    } catch (error) {
      results.push({ error: String(error.message) });
    }
  }
  process.stdout.write(JSON.stringify(results));
})();
