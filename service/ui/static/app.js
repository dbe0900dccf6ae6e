// The segments page: reads the service's own API (the same calls an integration makes) and
// draws with plain SVG. No framework, no build step, nothing fetched from another origin.
"use strict";

const KEY_STORAGE = "segment-api-key";
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { model: null, segments: [], sample: null, tried: null };

const $ = (id) => document.getElementById(id);
const colour = (id) => COLOURS[id % COLOURS.length];
// Everything about a column comes from the bundle's feature schema: nothing here names one.
const schemaColumns = () => (state.model ? [...state.model.feature_schema.features, ...state.model.feature_schema.attributes] : []);
const column = (name) => schemaColumns().find((c) => c.name === name);
function label(name) {
  const known = column(name);
  const words = name.replaceAll("_", " ");
  const text = words.charAt(0).toUpperCase() + words.slice(1);
  return known && known.unit ? `${text} (${known.unit})` : text;
}
const numericFeatures = (model) => model.feature_schema.features.filter((f) => f.kind === "numeric").map((f) => f.name);
const fixed = (value, digits = 2) => (value === null || value === undefined ? "n/a" : Number(value).toFixed(digits));
const percent = (value) => (value === null || value === undefined ? "n/a" : `${(100 * value).toFixed(1)}%`);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function shape(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error.message : `the service answered ${status}`);
    this.status = status;
    this.details = body && body.error ? body.error.details || [] : [];
  }
}

async function call(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = `Bearer ${key}`;
  return fetch(path, { ...options, headers });
}

async function callJson(path, options = {}) {
  const response = await call(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// --- start-up and the API key ------------------------------------------------------------

async function start() {
  let model, segments, versions;
  try {
    [model, segments, versions] = await Promise.all([
      callJson("/model"), callJson("/segments"), callJson("/models")]);
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      askForKey(error.status === 403 ? error.message : "");
      return;
    }
    $("model-line").textContent = `The model cannot be shown: ${error.message}`;
    return;
  }
  $("key-panel").hidden = true;
  $("content").hidden = false;
  state.model = model;
  state.segments = segments.segments;
  showOverview(model, versions);
  showCards(model, state.segments);
  buildForm(model);
  showChanges(model);
  await Promise.all([loadMap(), showDrift()]);
}

function askForKey(message) {
  $("content").hidden = true;
  $("key-panel").hidden = false;
  $("key-error").textContent = message;
  $("model-line").textContent = "An API key is needed to see the segments.";
  $("api-key").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
  start();
});

// --- overview ------------------------------------------------------------------------------

function showOverview(model, versions) {
  const trained = new Date(model.created_at);
  $("model-line").textContent = `Model ${model.version}: ${model.k} segments of ` +
    `${model.training_data.rows.toLocaleString()} customers`;
  const facts = [
    ["Version", model.version],
    ["Trained", trained.toISOString().replace("T", " ").slice(0, 16) + " UTC"],
    ["Customers", model.training_data.rows.toLocaleString()],
    ["Features", model.features.map(label).join(", ")],
    ["Segments (k)", `${model.k} (${model.k_selection.mode === "auto" ? "chosen automatically" : "fixed"})`],
  ];
  $("overview").replaceChildren(...facts.flatMap(([name, value]) => [element("dt", {}, name), element("dd", {}, value)]));
  $("k-rule").textContent = model.k_selection.rule;
  // Training's own words when no k showed segments: the k shown is then an arbitrary cut.
  $("k-warning").textContent = model.k_selection.warning || "";
  $("k-warning").hidden = !model.k_selection.warning;
  const rows = model.k_selection.table.map((score) => {
    const chosen = score.k === model.k_selection.chosen_k;
    const row = element("tr", chosen ? { class: "chosen" } : {},
      element("td", {}, chosen ? `${score.k} (chosen)` : String(score.k)),
      element("td", {}, fixed(score.silhouette, 3)),
      element("td", {}, fixed(score.knee_distance, 3)),
      element("td", {}, fixed(score.inertia, 1)));
    return row;
  });
  $("k-table").tBodies[0].replaceChildren(...rows);
  const stability = model.stability;
  if (stability) {
    const names = Object.fromEntries(state.segments.map((s) => [s.id, s.name]));
    const perSegment = stability.segments.map((s) => `${names[s.id] || `segment ${s.id}`} ${fixed(s.mean_ari)}`).join("; ");
    $("stability").textContent = `Mean adjusted Rand index ${fixed(stability.mean_ari)} over ` +
      `${stability.samples} bootstrap refits (1 is identical every time). Per segment: ${perSegment}.` + (stability.warning ? ` ${stability.warning}` : "");
  } else {
    $("stability").textContent = "Not measured for this model.";
  }
  $("versions").replaceChildren(...versions.models.map((served) =>
    element("li", {}, `${served.version}${served.current ? " (current)" : ""}: k=${served.k}`)));
}

// --- segment cards -------------------------------------------------------------------------

function showCards(model, segments) {
  const cards = segments.map((segment) => {
    const card = element("article", { class: "card", "data-segment": String(segment.id) },
      element("h3", {}, segment.name),
      element("p", { class: "share" }, `${segment.size.toLocaleString()} customers, ${percent(segment.share)}`));
    card.style.setProperty("--swatch", colour(segment.id));
    if (segment.description) card.append(element("p", {}, segment.description));
    if (segment.action) card.append(element("p", {}, element("strong", {}, "Suggested action: "), segment.action));
    const centroid = numericFeatures(model).map((f) => `${label(f)} ${fixed(segment.centroid[f], 1)}`).join(" · ");
    if (centroid) card.append(element("p", { class: "muted" }, `Centre: ${centroid}`));
    const distribution = element("div", { class: "dist" });
    for (const feature of numericFeatures(model)) {
      if (!segment.features[feature]) continue;
      distribution.append(element("span", {}, label(feature)),
        rangeBar(segment.features[feature], model.feature_stats[feature], colour(segment.id)));
    }
    card.append(distribution);
    // Level shares of each categorical column (bundles before the schema: their gender mix).
    const levels = Object.keys(segment.levels || {}).length ? segment.levels : (segment.gender_mix ? { gender: segment.gender_mix } : {});
    for (const [name, shares] of Object.entries(levels)) {
      const mix = Object.entries(shares).filter(([, s]) => s.share > 0).map(([level, s]) => `${level} ${percent(s.share)}`).join(", ");
      card.append(element("p", { class: "muted" }, `${label(name)}: ${mix}`));
    }
    const stable = model.stability && model.stability.segments.find((s) => s.id === segment.id);
    if (stable) card.append(element("p", { class: "muted" }, `Stability (adjusted Rand index): ${fixed(stable.mean_ari)}`));
    return card;
  });
  $("cards").replaceChildren(...cards);
}

// The whole population's range and middle half in grey, the segment's middle half in its colour.
function rangeBar(segment, population, fill) {
  const low = population.min, high = population.max, span = high - low || 1;
  const x = (value) => (100 * (value - low)) / span;
  const bar = shape("svg", { viewBox: "0 0 100 16", preserveAspectRatio: "none" });
  bar.append(
    shape("rect", { x: 0, y: 7, width: 100, height: 2, fill: "#d9e2ec" }),
    shape("rect", { x: x(population.q25), y: 4, width: Math.max(0.5, x(population.q75) - x(population.q25)), height: 8, fill: "#bcccdc" }),
    shape("rect", { x: x(segment.q25), y: 2, width: Math.max(0.8, x(segment.q75) - x(segment.q25)), height: 12, fill, "fill-opacity": 0.8 }),
    shape("rect", { x: x(segment.median) - 0.4, y: 0, width: 0.8, height: 16, fill: "#1f2933" }),
    shape("title", {}, `segment: ${fixed(segment.q25, 1)}–${fixed(segment.q75, 1)} (median ${fixed(segment.median, 1)}); ` +
      `everyone: ${fixed(population.q25, 1)}–${fixed(population.q75, 1)}`));
  return bar;
}

// --- segment map ---------------------------------------------------------------------------

async function loadMap() {
  try {
    state.sample = await callJson("/model/sample");
  } catch (error) {
    $("map").textContent = `No map: ${error.message}`;
    return;
  }
  const features = state.sample.features;
  if (features.length < 2) {
    $("map").textContent = "No map: the model has fewer than two numeric features to draw it on.";
    state.sample = null;
    return;
  }
  // The last two numeric features by default (the study's income and spending score).
  for (const [id, position] of [["map-x", features.length - 2], ["map-y", features.length - 1]]) {
    const select = $(id);
    select.replaceChildren(...features.map((f) => element("option", { value: f }, label(f))));
    select.value = features[position];
    select.onchange = drawMap;
  }
  drawMap();
}

// Round steps (1, 2 or 5 times a power of ten) covering [low, high].
function ticks(low, high, most = 6) {
  const span = high - low || 1;
  const power = 10 ** Math.floor(Math.log10(span / most));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => span / s <= most);
  const values = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

// Drawn in the map box's own pixels (redrawn when its width changes) so text stays readable.
function drawMap() {
  const sample = state.sample;
  if (!sample) return;
  const box = $("map");
  const width = Math.max(280, Math.round(box.clientWidth));
  const height = Math.round(Math.min(460, Math.max(240, width * 0.62)));
  state.mapWidth = box.clientWidth;
  const left = 48, right = 12, top = 10, bottom = 44;
  const xi = sample.features.indexOf($("map-x").value);
  const yi = sample.features.indexOf($("map-y").value);
  const xName = sample.features[xi], yName = sample.features[yi];
  const centroids = state.segments.map((s) => [s.centroid[xName], s.centroid[yName], s]);
  const xs = sample.rows.map((r) => r[xi]).concat(centroids.map((c) => c[0]));
  const ys = sample.rows.map((r) => r[yi]).concat(centroids.map((c) => c[1]));
  if (state.tried) { xs.push(state.tried[xi]); ys.push(state.tried[yi]); }
  const scale = (values, from, to) => {
    const min = Math.min(...values), max = Math.max(...values), pad = (max - min) * 0.03 || 1;
    const low = min - pad, high = max + pad;
    const at = (v) => from + ((v - low) / (high - low)) * (to - from);
    at.ticks = ticks(low, high, Math.max(3, Math.round(Math.abs(to - from) / 70)));
    return at;
  };
  const x = scale(xs, left, width - right), y = scale(ys, height - bottom, top);
  const chart = shape("svg", { viewBox: `0 0 ${width} ${height}` });
  for (const value of x.ticks) {
    chart.append(shape("line", { x1: x(value), x2: x(value), y1: top, y2: height - bottom, stroke: "#eef2f6" }),
      shape("text", { x: x(value), y: height - bottom + 16, "text-anchor": "middle" }, String(value)));
  }
  for (const value of y.ticks) {
    chart.append(shape("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#eef2f6" }),
      shape("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, String(value)));
  }
  chart.append(
    shape("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: "#9aa5b1" }),
    shape("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#9aa5b1" }),
    shape("text", { class: "axis-title", x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle" }, label(xName)),
    shape("text", { class: "axis-title", x: 14, y: (top + height - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(top + height - bottom) / 2})` }, label(yName)));
  const names = Object.fromEntries(state.segments.map((s) => [s.id, s.name]));
  sample.rows.forEach((row, index) => {
    const segment = sample.segment_ids[index];
    chart.append(shape("circle", { class: "point", cx: x(row[xi]).toFixed(1), cy: y(row[yi]).toFixed(1), r: 3.5, fill: colour(segment), "fill-opacity": 0.65 },
      shape("title", {}, `${names[segment]}: ${label(xName)} ${row[xi]}, ${label(yName)} ${row[yi]}`)));
  });
  for (const [cx, cy, segment] of centroids) {
    const px = x(cx), py = y(cy), d = 7;
    const cross = `M${px - d},${py - d}L${px + d},${py + d}M${px - d},${py + d}L${px + d},${py - d}`;
    chart.append(shape("path", { d: cross, stroke: "#fff", "stroke-width": 7 }),
      shape("path", { class: "centroid", d: cross, stroke: colour(segment.id), "stroke-width": 4 },
        shape("title", {}, `centre of ${segment.name}: ${label(xName)} ${fixed(cx, 1)}, ${label(yName)} ${fixed(cy, 1)}`)));
  }
  if (state.tried) {
    chart.append(shape("circle", { class: "tried", cx: x(state.tried[xi]), cy: y(state.tried[yi]), r: 9, fill: "none", stroke: "#111", "stroke-width": 3 },
      shape("title", {}, `the customer you tried: ${label(xName)} ${state.tried[xi]}, ${label(yName)} ${state.tried[yi]}`)));
  }
  box.replaceChildren(chart);
  drawLegend();
}

function drawLegend() {
  const items = state.segments.map((segment) => {
    const swatch = element("span", { class: "swatch" });
    swatch.style.setProperty("--swatch", colour(segment.id));
    return element("li", {}, swatch, segment.name);
  });
  items.push(element("li", {}, element("span", { class: "mark" }, "×"), "centre of a segment"));
  if (state.tried) items.push(element("li", {}, element("span", { class: "mark" }, "○"), "the customer you tried"));
  $("map-legend").replaceChildren(...items);
}

// The map follows its box's width (window resized, phone turned); redrawn on the next frame.
new ResizeObserver(() => {
  if (state.sample && $("map").clientWidth !== state.mapWidth) requestAnimationFrame(drawMap);
}).observe($("map"));

// --- try a customer ------------------------------------------------------------------------

// One input per column of the schema: a number box for a number, a list of levels for a
// categorical column (features must be chosen; attributes may be left "not given").
function buildForm(model) {
  const field = (name, text, control) => element("div", { class: "field" },
    element("label", { for: `try-${name}` }, text), control, element("p", { class: "error", id: `try-${name}-error` }));
  const inputs = [field("customer_id", "Customer id (optional)",
    element("input", { id: "try-customer_id", name: "customer_id", type: "text", "aria-describedby": "try-customer_id-error" }))];
  const required = new Set(model.feature_schema.features.map((f) => f.name));
  for (const spec of schemaColumns()) {
    const id = `try-${spec.name}`;
    const described = { id, name: spec.name, "aria-describedby": `${id}-error` };
    if (spec.kind === "categorical") {
      const select = element("select", { ...described, "data-kind": "categorical" },
        element("option", { value: "" }, required.has(spec.name) ? "choose" : "not given"),
        ...spec.levels.map((level) => element("option", { value: level }, level)));
      inputs.push(field(spec.name, label(spec.name), select));
    } else {
      inputs.push(field(spec.name, label(spec.name), element("input", { ...described, type: "text", inputmode: "decimal" })));
    }
  }
  $("try-fields").replaceChildren(...inputs);
}

function clearFieldErrors() {
  for (const node of document.querySelectorAll("#try-fields .error")) node.textContent = "";
  for (const node of document.querySelectorAll("#try-fields [aria-invalid]")) node.removeAttribute("aria-invalid");
  $("try-error").textContent = "";
}

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  const customer = {};
  for (const input of document.querySelectorAll("#try-fields input, #try-fields select")) {
    const text = input.value.trim();
    if (text === "") continue;
    const number = Number(text);
    customer[input.name] = input.name === "customer_id" || input.dataset.kind === "categorical" || Number.isNaN(number) ? text : number;
  }
  let answer;
  try {
    answer = await callJson("/segment?explain=true", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(customer) });
  } catch (error) {
    let placed = false;
    for (const detail of error.details) {
      const target = $(`try-${detail.field}-error`);
      if (target) {
        target.textContent = detail.message;
        $(`try-${detail.field}`).setAttribute("aria-invalid", "true");
        placed = true;
      }
    }
    $("try-error").textContent = placed ? "Please correct the fields marked below the inputs." : error.message;
    if (error.status === 401 || error.status === 403) askForKey(error.message);
    return;
  }
  showResult(answer.results[0]);
  state.tried = state.sample ? state.sample.features.map((f) => customer[f]) : null;
  drawMap();
  showDrift();
});

function showResult(result) {
  const names = Object.fromEntries(state.segments.map((s) => [s.id, s.name]));
  const explanation = result.explanation;
  const box = element("div", { class: "result", id: "try-segment" },
    element("h3", {}, element("span", { class: "segment-name" }, result.segment_name), ` (segment ${result.segment_id})`),
    element("p", {}, `Distance to its centre ${fixed(result.distance)}` + (result.atypical ? "; atypical: farther than 99% of the segment's training customers." : "; typical of the segment.")));
  box.style.setProperty("--swatch", colour(result.segment_id));
  if (explanation) {
    box.append(element("p", {}, `Confidence ${fixed(explanation.confidence)}; runner-up: ${names[explanation.runner_up_segment_id]} ` +
      `(distance ${fixed(explanation.runner_up_distance)}, margin ${fixed(explanation.margin)}).`));
    box.append(element("p", { class: "muted" }, "What makes the distance to the centre, per feature:"), contributionBars(explanation.contributions, colour(result.segment_id)));
  }
  $("try-result").replaceChildren(box);
}

function contributionBars(contributions, fill) {
  const chart = element("div", { class: "bars" });
  chart.style.setProperty("--swatch", fill);
  for (const [feature, share] of Object.entries(contributions)) {
    const bar = element("div", { class: "bar" });
    bar.style.setProperty("width", `${(100 * share).toFixed(1)}%`);
    chart.append(element("span", {}, label(feature)), element("div", { class: "track" }, bar),
      element("span", { class: "value" }, percent(share)));
  }
  return chart;
}

// --- score a file --------------------------------------------------------------------------

$("file-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("csv-file").files[0];
  $("file-errors").replaceChildren();
  if (!file) return;
  $("file-status").textContent = `Scoring ${file.name}…`;
  let response;
  try {
    response = await call("/segment", {
      method: "POST", headers: { "Content-Type": "text/csv", Accept: "text/csv" }, body: await file.arrayBuffer() });
  } catch (error) {
    $("file-status").textContent = `The file could not be sent: ${error.message}`;
    return;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const error = new ApiError(response.status, body);
    $("file-status").textContent = "The file was refused.";
    $("file-errors").replaceChildren(element("p", {}, error.message),
      element("ul", {}, ...error.details.map((d) => element("li", {}, `${d.field}: ${d.message}`))));
    return;
  }
  const blob = await response.blob();
  const name = file.name.replace(/\.csv$/i, "") + "-segments.csv";
  const link = element("a", { href: URL.createObjectURL(blob), download: name, id: "scored-file" }, `Download ${name} again`);
  $("file-status").replaceChildren(`Scored ${file.name}. `, link);
  link.click();
  showDrift();
});

// --- what changed since the previous version ------------------------------------------------

// The comparison training recorded against the version this model replaced (``comparison`` in
// GET /model, also served by GET /model/comparison); a model with none (the first one, or one
// trained before alignment) hides the section.
function showChanges(model) {
  const comparison = model.comparison;
  if (!comparison) {
    $("changes").hidden = true;
    return;
  }
  const pct = (count) => `${Math.round(100 * count / Math.max(comparison.customers, 1))}%`;
  const share = (count) => `${count.toLocaleString()} (${pct(count)})`;
  $("changes-summary").textContent = `Against version ${comparison.old_version}, on ${comparison.data} ` +
    `(${comparison.customers.toLocaleString()}): ${share(comparison.kept)} keep their segment, ${share(comparison.moved)} move.`;
  const before = Object.fromEntries(comparison.segments.map((s) => [s.id, s.old_name]));
  const after = Object.fromEntries(comparison.segments.map((s) => [s.id, s.new_name]));
  const moves = comparison.transitions.filter((t) => t.source !== t.target)
    .sort((a, b) => b.customers - a.customers || a.source - b.source || a.target - b.target).slice(0, 5);
  $("changes-moves").replaceChildren(...moves.map((t) => element("li", {},
    `${t.customers.toLocaleString()} customers (${pct(t.customers)}) moved from '${before[t.source]}' to '${after[t.target]}'`)));
  const words = comparison.segments.map((s) => {
    if (s.status === "new") return `New segment: '${s.new_name}' (${s.new_customers.toLocaleString()} customers)`;
    if (s.status === "retired") return `Retired segment: '${s.old_name}' (${s.old_customers.toLocaleString()} customers before)`;
    const moved = Object.entries(s.centroid_shift).filter(([, v]) => v !== 0)
      .map(([name, v]) => `${label(name)} ${v > 0 ? "+" : ""}${fixed(v, 1)}`).join(", ");
    return `'${s.new_name}': ${s.stayed.toLocaleString()} of ${s.old_customers.toLocaleString()} stayed` +
      (moved ? `; its centre moved by ${moved}` : "");
  });
  $("changes-segments").replaceChildren(...words.map((text) => element("li", {}, text)));
  const olds = comparison.segments.filter((s) => s.status !== "new").map((s) => s.id);
  const news = comparison.segments.filter((s) => s.status !== "retired").map((s) => s.id);
  const counts = Object.fromEntries(comparison.transitions.map((t) => [`${t.source}:${t.target}`, t.customers]));
  const head = element("tr", {}, element("th", { scope: "col" }, "before \\ after"),
    ...news.map((id) => element("th", { scope: "col" }, after[id])));
  $("changes-matrix").tHead.replaceChildren(head);
  $("changes-matrix").tBodies[0].replaceChildren(...olds.map((source) => {
    const total = olds.length ? news.reduce((sum, target) => sum + (counts[`${source}:${target}`] || 0), 0) : 0;
    return element("tr", {}, element("th", { scope: "row" }, before[source]), ...news.map((target) => {
      const count = counts[`${source}:${target}`] || 0;
      const cell = element("td", { class: "count" }, count.toLocaleString());
      cell.style.setProperty("--weight", total ? (count / total).toFixed(3) : "0");
      return cell;
    }));
  }));
  $("changes").hidden = false;
}

// --- drift ---------------------------------------------------------------------------------

async function showDrift() {
  let drift;
  try {
    drift = await callJson("/drift");
  } catch (error) {
    $("drift-status").textContent = `Drift cannot be shown: ${error.message}`;
    return;
  }
  const limits = drift.thresholds;
  const seen = drift.observations.toLocaleString();
  const moved = drift.features.filter((f) => f.drifted).map((f) => label(f.feature));
  const shifted = drift.segments.filter((s) => s.drifted).map((s) => s.name);
  const what = [...moved, ...shifted.map((name) => `the share of ${name}`)].join("; ");
  const words = {
    insufficient_data: `Not enough customers yet to judge drift: ${seen} seen of the ${limits.min_observations.toLocaleString()} needed. The numbers below are not judged until then.`,
    ok: `No drift: the ${seen} customers seen look like the training customers.`,
    drift: `Drift: the ${seen} customers seen differ from the training customers in ${what}.`,
  };
  $("drift-status").textContent = words[drift.status];
  $("drift-segments").caption.textContent = "Segments: share of the customers seen " +
    `(drift beyond ${(100 * limits.share_shift).toFixed(1)} points either way)`;
  const judged = drift.status !== "insufficient_data";
  const verdict = (drifted) => element("td", drifted && judged ? { class: "yes" } : {}, judged ? (drifted ? "yes" : "no") : "not yet");
  $("drift-features").tBodies[0].replaceChildren(...drift.features.map((f) => element("tr", {},
    element("td", {}, label(f.feature)), element("td", {}, fixed(f.psi, 3)), element("td", {}, fixed(limits.psi, 2)), verdict(f.drifted))));
  const shift = (value) => (value === null ? "n/a" : `${value > 0 ? "+" : ""}${(100 * value).toFixed(1)}`);
  $("drift-segments").tBodies[0].replaceChildren(...drift.segments.map((s) => {
    const swatch = element("span", { class: "swatch" });
    swatch.style.setProperty("--swatch", colour(s.segment_id));
    return element("tr", {}, element("td", {}, swatch, s.name), element("td", {}, percent(s.expected_share)),
      element("td", {}, percent(s.observed_share)), element("td", {}, shift(s.shift)), verdict(s.drifted));
  }));
}

$("drift-refresh").addEventListener("click", showDrift);

start();
