/* Runs the book's twin (rules.js, then losslandscape.js) in Node, as a page would load it.
 *
 * usage: node twin_node.js <folder>   where <folder> holds losslandscape.js and the
 * losslandscape/ folder twin.export writes. Reads a JSON list of train() options on
 * stdin and prints a JSON list of results; NaN is written as null, errors as {error}.
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

(async () => {
  const requests = JSON.parse(fs.readFileSync(0, "utf8"));
  const results = [];
  for (const options of requests) {
    try {
      const { weights, costs, divergedAt } = await page.window.losslandscape.train(options);
      results.push({ weights: weights.map(finite), costs: finite(costs), divergedAt });
    } catch (error) {
      results.push({ error: String(error.message) });
    }
  }
  process.stdout.write(JSON.stringify(results));
})();
