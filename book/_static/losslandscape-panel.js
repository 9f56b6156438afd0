/* Live panels of the static book: sliders that retrain in the page (losslandscape.js).
 *
 * Each element of class "losslandscape-live" carries its settings, its map's grid and the
 * frame of its figure (plotting.trajectory_figure with empty arrays) in data-config,
 * written by losslandscape.twin.panel_html. Controls as the ipywidgets panel's, with the
 * ranges and steps both read from losslandscape.panel (registry.panel here): a log-scale
 * learning rate, each method's hyperparameters, epochs, a log-scale N from 1 to all the
 * images; the start is set by clicking or dragging on the map. "Keep these runs" leaves
 * the current runs drawn, faint, beside the next ones.
 *
 * The map is losslandscape.panelView's, the ipywidgets panel's: the grid grown at its own
 * spacing to cover every path drawn since the panel opened (or was reset), by at most
 * registry.panel.map.maxGrowth times its width on each side, beyond which the status says
 * which path leaves it; the cost axis spans the map's costs, so neither moves while the
 * sliders do unless a path reaches past the map.
 */
(() => {
  "use strict";

  const panels = [];

  const STYLE = `
.ll-panel { margin: 1rem 0; font-size: 0.85rem; }
.ll-controls { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 0.2rem 1.2rem; }
.ll-controls label { display: grid; grid-template-columns: 6.5rem 1fr 3.8rem; align-items: center; gap: 0.3rem; margin: 0.1rem 0; }
.ll-controls output { font-variant-numeric: tabular-nums; text-align: right; }
.ll-controls fieldset { border: 1px solid #ccc; border-radius: 4px; margin: 0.2rem 0; padding: 0.1rem 0.4rem 0.2rem; }
.ll-controls legend { font-size: 0.85rem; padding: 0 0.2rem; width: auto; float: none; margin: 0; }
.ll-controls input[type="range"] { width: 100%; }
.ll-wide { grid-column: 1 / -1; display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3rem 0.6rem; margin-top: 0.3rem; }
.ll-wide button { font-size: 0.8rem; padding: 0.1rem 0.5rem; }
.ll-status { grid-column: 1 / -1; margin-top: 0.3rem; line-height: 1.35; font-variant-numeric: tabular-nums; }
.ll-figure { cursor: crosshair; }
`;

  const format = (x, digits = 3) => (Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toFixed(digits));
  const formatLr = (lr) => (lr >= 10 ? lr.toFixed(1) : lr >= 1 ? lr.toFixed(2) : lr.toFixed(3));
  const formatHyper = (x) => (x < 0.01 ? x.toExponential(1) : x.toFixed(4).replace(/0+$/, "").replace(/\.$/, ""));

  function element(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    node.append(...children);
    return node;
  }

  /* A range input with its label and readout; `scale` maps the slider's position to the value. */
  function slider(label, { min, max, step, position, scale, show }) {
    const input = element("input", { type: "range", min, max, step, "aria-label": label });
    input.value = position;
    const readout = element("output");
    const update = () => {
      readout.textContent = show(scale(Number(input.value)));
    };
    update();
    input.addEventListener("input", update);
    return { node: element("label", {}, [label, input, readout]), input, value: () => scale(Number(input.value)) };
  }

  /* A slider over powers of 10: its ends and step are exponents. */
  function logSlider(label, [low, high], step, value, show) {
    return slider(label, {
      min: low, max: high, step, position: Math.log10(value), scale: (x) => 10 ** x, show,
    });
  }

  function hyperSlider(label, hyper) {
    if (hyper.positive) {
      return logSlider(label, hyper.slider.map(Math.log10), hyper.step, hyper.default, formatHyper);
    }
    const [low, high] = hyper.slider;
    return slider(label, {
      min: low, max: high, step: hyper.step, position: hyper.default, scale: (x) => x, show: formatHyper,
    });
  }

  /* The N slider: one position per value of `values` (the registry's log scale, and this
   * panel's own N), with tick marks at the original notebook's 100 and 1,000 and at all. */
  function nSlider(label, values, id) {
    const s = slider(label, {
      min: 0, max: values.length - 1, step: 1, position: 0,
      scale: (k) => values[k], show: (n) => n.toLocaleString("en"),
    });
    s.position = (n) => values.indexOf(n);
    const marked = [100, 1000, values.at(-1)].filter((n) => values.includes(n));
    const marks = element("datalist", { id }, marked.map((n) => element("option", { value: s.position(n) })));
    s.input.setAttribute("list", id);
    s.node.append(marks);
    return s;
  }

  class Panel {
    constructor(root, config, registry) {
      this.root = root;
      this.config = config;
      this.registry = registry;
      this.methods = config.methods;
      this.kept = [];
      this.timings = { train: [], grid: [] };
      this.view = null; // what panelView gave for the settings drawn last
      this.updating = Promise.resolve(); // one update at a time: each grows the map drawn before
      this.pending = false;
      // Bumped by every change; `drawn` catches up once the figure shows it (for tests).
      this.version = 0;
      this.drawn = -1;
      this.dropped = false; // whether the last update's view was left undrawn (update)
      this.build();
      this.reset();
    }

    build() {
      const { methods, registry, config } = this;
      const { lr, epochs, n } = registry.panel;
      this.lr = logSlider("learning rate", lr.log10, lr.step, config.lr, formatLr);
      this.hyper = {};
      this.shown = {};
      const groups = methods.map((method) => {
        const spec = registry.methods[method];
        this.hyper[method] = Object.fromEntries(
          Object.entries(spec.hyper).map(([key, hyper]) => [key, hyperSlider(key, hyper)]),
        );
        const sliders = Object.values(this.hyper[method]).map((s) => s.node);
        if (methods.length === 1) return sliders;
        const box = element("input", { type: "checkbox", "aria-label": `show ${method}` });
        box.checked = true;
        this.shown[method] = box;
        const swatch = element("span", { style: `color:${spec.style.color}` }, ["■ "]);
        return [element("fieldset", {}, [element("legend", {}, [box, " ", swatch, method]), ...sliders])];
      });
      this.epochs = slider("epochs", {
        min: epochs.range[0], max: epochs.range[1], step: epochs.step, position: config.epochs,
        scale: (x) => x, show: String,
      });
      const values = [...new Set([...n.values, config.n])].sort((a, b) => a - b);
      this.n = nSlider("N images", values, `${config.id}-n`);
      this.startText = element("b");
      this.status = element("div", { class: "ll-status", "aria-live": "polite" });
      const button = (text, action) => {
        const node = element("button", { type: "button" }, [text]);
        node.addEventListener("click", action);
        return node;
      };
      const controls = element("form", { class: "ll-controls" }, [
        this.lr.node,
        this.epochs.node,
        this.n.node,
        ...groups.flat(),
        element("div", { class: "ll-wide" }, [
          element("span", {}, ["start ", this.startText, ": click or drag on the map to move it."]),
          button("Keep these runs", () => this.keep()),
          button("Clear kept runs", () => this.clearKept()),
          button("Original settings", () => this.reset()),
        ]),
        this.status,
      ]);
      controls.addEventListener("input", () => this.schedule());
      controls.addEventListener("submit", (event) => event.preventDefault());
      this.figure = element("div", { class: "ll-figure", id: `${config.id}-figure` });
      this.root.append(element("div", { class: "ll-panel" }, [controls, this.figure]));
      this.listenForStart();
    }

    /* The panel's settings as config gave them, the map back to the original grid. */
    reset() {
      const { config, registry } = this;
      const setSlider = (s, position) => {
        s.input.value = position;
        s.input.dispatchEvent(new Event("input"));
      };
      setSlider(this.lr, Math.log10(config.lr));
      for (const method of this.methods) {
        for (const [key, s] of Object.entries(this.hyper[method])) {
          const hyper = registry.methods[method].hyper[key];
          setSlider(s, hyper.positive ? Math.log10(hyper.default) : hyper.default);
        }
        if (this.shown[method]) this.shown[method].checked = true;
      }
      setSlider(this.epochs, config.epochs);
      setSlider(this.n, this.n.position(config.n));
      this.start = [...config.start];
      this.view = null; // the map back to the panel's grid
      this.schedule();
    }

    schedule() {
      this.version++;
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.updating = this.updating.then(() => this.update()).catch((error) => {
          this.status.textContent = String(error);
          setTimeout(() => {
            throw error; // reported as the page's error; the next update still runs
          });
        });
      });
    }

    settings(method) {
      const hyperparameters = Object.fromEntries(
        Object.entries(this.hyper[method]).map(([key, s]) => [key, s.value()]),
      );
      return { method, lr: this.lr.value(), start: this.start, epochs: this.epochs.value(), hyperparameters };
    }

    async update() {
      const { config, methods } = this;
      const version = this.version;
      const hyperparameters = Object.fromEntries(methods.map((m) => [m, this.settings(m).hyperparameters]));
      const settings = {
        methods, n: this.n.value(), lr: this.lr.value(), start: this.start,
        epochs: this.epochs.value(), hyperparameters, wA: config.wA, wB: config.wB,
      };
      const view = await window.losslandscape.panelView(settings, this.view);
      this.timings.train.push(view.trainMs);
      // The settings changed while the runs trained (in Web Workers): the next update, already
      // scheduled, draws the new ones and this view is dropped; but not two in a row, so
      // that a drag that keeps moving the start still shows its paths.
      if (version !== this.version && !this.dropped) {
        this.dropped = true;
        return;
      }
      this.dropped = false;
      if (view.mapChanged) {
        this.timings.grid.push(view.gridMs);
        this.costs = costRange(view.z, view.runs);
      }
      this.view = view;
      this.runs = view.runs;
      this.leaving = view.runs.flatMap((run, i) =>
        view.leaving[i] === null ? [] : [`${run.method} leaves the map at epoch ${view.leaving[i]}`]);
      await this.draw();
      this.drawn = version;
    }

    draw() {
      const { view, config } = this;
      const frame = config.figure;
      const data = frame.data.map((trace) => ({ ...trace }));
      const name = `cost, N = ${view.n.toLocaleString("en")}`;
      Object.assign(data[0], { x: view.wa, y: view.wb, z: view.z, name });
      const lines = [`<b>after epoch ${this.epochs.value()}</b>`];
      this.runs.forEach((run, i) => {
        const shown = !this.shown[run.method] || this.shown[run.method].checked;
        Object.assign(data[1 + 2 * i], pathData(run), { visible: shown });
        Object.assign(data[2 + 2 * i], curveData(run), { visible: shown });
        const last = run.costs.length - 1;
        lines.push(
          run.divergedAt !== null
            ? `${run.method}: diverged at epoch ${run.divergedAt}`
            : `${run.method}: (${format(run.weights[2 * last])}, ${format(run.weights[2 * last + 1])}), ` +
              `cost ${run.costs[last].toFixed(5)}`,
        );
      });
      this.status.innerHTML = [...lines, ...this.leaving].join("<br>");
      this.startText.textContent = `(${this.start[0].toFixed(2)}, ${this.start[1].toFixed(2)})`;
      const layout = {
        ...frame.layout,
        xaxis: { ...frame.layout.xaxis, range: [view.wa[0], view.wa.at(-1)] },
        yaxis: { ...frame.layout.yaxis, range: [view.wb[0], view.wb.at(-1)] },
        xaxis2: { ...frame.layout.xaxis2, range: [0, this.epochs.value()] },
        yaxis2: { ...frame.layout.yaxis2, range: this.costs },
      };
      // No mode bar: zooming is off (a click sets the start), and it would cover the legend.
      return Plotly.react(this.figure, [...data, ...this.kept], layout, {
        responsive: true,
        displayModeBar: false,
      });
    }

    keep() {
      if (!this.runs) return;
      const frame = this.config.figure;
      this.runs.forEach((run, i) => {
        if (this.shown[run.method] && !this.shown[run.method].checked) return;
        const settings = this.settings(run.method);
        const label = [`η=${formatLr(settings.lr)}`,
          ...Object.entries(settings.hyperparameters).map(([k, v]) => `${k}=${formatHyper(v)}`)].join(" ");
        const name = `${run.method} ${label}`;
        const faint = { opacity: 0.45, name, legendgroup: name, showlegend: false };
        this.kept.push(
          { ...frame.data[1 + 2 * i], ...pathData(run), ...faint, showlegend: true },
          { ...frame.data[2 + 2 * i], ...curveData(run), ...faint },
        );
      });
      this.schedule();
    }

    clearKept() {
      this.kept = [];
      this.schedule();
    }

    /* Clicking on the map moves the start there; dragging moves it along. */
    listenForStart() {
      const toWeights = (event) => {
        const layout = this.figure._fullLayout;
        if (!layout) return null;
        const box = this.figure.getBoundingClientRect();
        const [xa, ya] = [layout.xaxis, layout.yaxis];
        const px = event.clientX - box.left - xa._offset;
        const py = event.clientY - box.top - ya._offset;
        if (px < 0 || px > xa._length || py < 0 || py > ya._length) return null;
        return [xa.p2l(px), ya.p2l(py)];
      };
      let dragging = false;
      this.figure.addEventListener("pointerdown", (event) => {
        const weights = toWeights(event);
        if (!weights) return;
        dragging = true;
        this.figure.setPointerCapture(event.pointerId);
        this.start = weights;
        this.schedule();
      });
      this.figure.addEventListener("pointermove", (event) => {
        const weights = dragging && toWeights(event);
        if (!weights) return;
        this.start = weights;
        this.schedule();
      });
      const stop = () => {
        dragging = false;
      };
      this.figure.addEventListener("pointerup", stop);
      this.figure.addEventListener("pointercancel", stop);
    }
  }

  /* A path's points; customdata [epoch, cost] feeds the tooltip of plotting._path_hover. */
  function pathData(run) {
    const x = [];
    const y = [];
    const customdata = [];
    for (let i = 0; i < run.costs.length && !Number.isNaN(run.costs[i]); i++) {
      x.push(run.weights[2 * i]);
      y.push(run.weights[2 * i + 1]);
      customdata.push([i, run.costs[i]]);
    }
    return { x, y, customdata };
  }

  function curveData(run) {
    const x = [];
    const y = [];
    for (let i = 0; i < run.costs.length && !Number.isNaN(run.costs[i]); i++) {
      x.push(i);
      y.push(run.costs[i]);
    }
    return { x, y };
  }

  /* The cost axis: the map's costs and the paths' when the map was drawn, padded. */
  function costRange(z, runs) {
    let low = Infinity;
    let high = -Infinity;
    const include = (cost) => {
      if (Number.isFinite(cost)) {
        low = Math.min(low, cost);
        high = Math.max(high, cost);
      }
    };
    for (const row of z) row.forEach(include);
    for (const run of runs) run.costs.forEach(include);
    const pad = 0.05 * (high - low || 1);
    return [low - pad, high + pad];
  }

  async function start() {
    const roots = document.querySelectorAll(".losslandscape-live");
    if (!roots.length) return;
    document.head.append(element("style", {}, [STYLE]));
    const registry = await window.losslandscape.registry();
    for (const root of roots) {
      panels.push(new Panel(root, JSON.parse(root.dataset.config), registry));
    }
  }

  window.losslandscape.panels = panels;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
