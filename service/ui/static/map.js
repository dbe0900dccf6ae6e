// The segment map: the bundle's seeded sample of training customers on two features, each
// point in its segment's colour and shape. The axes cover the bulk of the customers (the 1st
// to the 99th percentile, stretched to the extremes when they are near): one extreme customer
// must not squash everyone else into a corner, so a point beyond is drawn at the edge with an
// arrow. Points are reached with the keyboard (Tab to the map, then the arrow keys) or a tap,
// and a popover names the segment and the customer's values; the table view is the same
// customers in text.
"use strict";

import { $, element, fixed, plain, shape } from "./dom.js";
import { colour, markerPath, swatch } from "./palette.js";
import { label, onLogScale, scaleOf, segmentName, view } from "./view.js";

const LOW_PERCENTILE = 0.01;
const HIGH_PERCENTILE = 0.99;
// Beyond the percentiles, the axis still stretches to the sample's extreme when it lies within
// this share of the bulk's span: only a customer far out is drawn at the edge.
const STRETCH = 0.1;
const map = { width: 0, items: [], active: 0, onAxes: () => {} };

export function setUpMap(axes, onAxes) {
  map.onAxes = onAxes;
  const sample = view.sample;
  $("map-popover").hidden = true;
  if (!sample || sample.features.length < 2) {
    const reason = view.sample ? "the model has fewer than two numeric features to draw it on" : view.sampleError;
    $("map").replaceChildren(element("p", {}, `No map: ${reason}.`));
    for (const id of ["map-x", "map-y"]) $(id).replaceChildren();
    $("map-table").replaceChildren();
    $("map-legend").replaceChildren();
    return;
  }
  const features = sample.features;
  // The last two numeric features by default (the study's income and spending score).
  let [x, y] = axes || [];
  if (!features.includes(x)) x = features[features.length - 2];
  if (!features.includes(y) || y === x) y = [...features].reverse().find((f) => f !== x);
  for (const [id, value] of [["map-x", x], ["map-y", y]]) {
    const select = $(id);
    select.replaceChildren(...features.map((f) => element("option", { value: f }, label(f))));
    select.value = value;
    select.onchange = () => changeAxis(id);
  }
  keepAxesApart();
  draw();
}

export const mapAxes = () => [$("map-x").value, $("map-y").value];

// The two axes never show the same feature: each list greys out the other's choice.
function keepAxesApart() {
  for (const [id, other] of [["map-x", "map-y"], ["map-y", "map-x"]]) {
    for (const option of $(id).options) option.disabled = option.value === $(other).value;
  }
}

function changeAxis(changed) {
  const other = changed === "map-x" ? "map-y" : "map-x";
  if ($(changed).value === $(other).value) {
    $(other).value = [...$(other).options].find((o) => o.value !== $(changed).value).value;
  }
  keepAxesApart();
  draw();
  map.onAxes(mapAxes());
}

function quantile(sorted, q) {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position), above = Math.ceil(position);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

// The axis range: the bulk of the values, stretched to an extreme that is near, padded.
export function axisRange(values) {
  const sorted = [...values].sort((a, b) => a - b);
  let low = quantile(sorted, LOW_PERCENTILE), high = quantile(sorted, HIGH_PERCENTILE);
  const span = high - low;
  low = Math.max(sorted[0], low - STRETCH * span);
  high = Math.min(sorted[sorted.length - 1], high + STRETCH * span);
  const pad = (high - low) * 0.03 || 1;
  return [low - pad, high + pad];
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

// Round values of the feature's own unit on a log1p axis whose ends are [low, high] (in log1p):
// 0 and 1, 2 and 5 times a power of ten, else 1 and 3 times, else powers of ten (thinned), as
// many as fit `most` apart. Below 20 the axis is nearly linear: round steps of the unit.
function logTicks(low, high, most) {
  const top = Math.expm1(high);
  if (top < 20) return ticks(Math.max(0, Math.expm1(low)), top, most);
  const gap = (0.8 * (high - low)) / most;
  const inRange = (v) => Math.log1p(v) >= low - 1e-9 && Math.log1p(v) <= high + 1e-9;
  const powers = [];
  for (let power = 1; power <= top; power *= 10) powers.push(power);
  const spaced = (values) => values.every((v, i) => i === 0 || Math.log1p(v) - Math.log1p(values[i - 1]) >= gap);
  let values = null;
  for (const multiples of [[1, 2, 5], [1, 3]]) {
    const candidates = powers.flatMap((p) => multiples.map((m) => m * p)).filter(inRange);
    if (spaced(candidates)) {
      values = candidates;
      break;
    }
  }
  if (!values) { // powers of ten, every one that is far enough from the last kept
    values = [];
    for (const power of powers.filter(inRange)) {
      if (!values.length || Math.log1p(power) - Math.log1p(values[values.length - 1]) >= gap) values.push(power);
    }
  }
  // 0 leads when the axis starts there and the next tick is far enough.
  if (inRange(0) && (!values.length || Math.log1p(values[0]) >= gap)) values.unshift(0);
  return values.length >= 2 ? values : ticks(Math.max(0, Math.expm1(low)), top, most);
}

// Positions along an axis: the feature's values through the scale the model reads them on (log1p
// or none); `low` and `high` are on that scale, the ticks in the feature's own unit.
function scale([low, high], along, from, to) {
  const at = (v) => from + ((Math.min(high, Math.max(low, along(v))) - low) / (high - low)) * (to - from);
  at.beyond = (v) => (along(v) < low ? -1 : along(v) > high ? 1 : 0);
  const most = Math.max(3, Math.round(Math.abs(to - from) / 70));
  at.ticks = along === Math.log1p ? logTicks(low, high, most) : ticks(low, high, most);
  return at;
}

// A tick's words: the unit's own number, thousands separated (1,000 EUR, not 1000 or 1e3).
const tickText = (value) => value.toLocaleString("en", { maximumFractionDigits: 6 });

// Drawn in the map box's own pixels (redrawn when its width changes) so text stays readable.
export function draw() {
  const sample = view.sample;
  if (!sample || sample.features.length < 2) return;
  const box = $("map");
  const width = Math.max(280, Math.round(box.clientWidth));
  const height = Math.round(Math.min(460, Math.max(240, width * 0.62)));
  map.width = box.clientWidth;
  const left = 52, right = 16, top = 14, bottom = 44;
  const [xName, yName] = mapAxes();
  const xi = sample.features.indexOf(xName), yi = sample.features.indexOf(yName);
  const [alongX, alongY] = [scaleOf(xName), scaleOf(yName)];
  const x = scale(axisRange(sample.rows.map((r) => alongX(r[xi]))), alongX, left, width - right);
  const y = scale(axisRange(sample.rows.map((r) => alongY(r[yi]))), alongY, height - bottom, top);
  // The svg itself is no tab stop (Chromium makes one of it): the points are.
  const chart = shape("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", tabindex: -1,
    "aria-label": `Segment map: ${axisTitle(xName)} across, ${axisTitle(yName)} up, ${sample.rows.length} customers` });
  chart.append(...grid(x, y, { left, right, top, bottom, width, height }, xName, yName));
  map.items = [
    ...sample.rows.map((row, index) => ({ kind: "point", segment: sample.segment_ids[index], values: row, index })),
    ...view.segments.map((s) => ({ kind: "centroid", segment: s.id, values: sample.features.map((f) => s.centroid[f]) })),
  ];
  if (view.tried) map.items.push({ kind: "tried", segment: view.tried.segment, values: view.tried.values });
  // Keyboard order follows the horizontal axis, so the arrow keys move left and right.
  const order = map.items.map((item, i) => i).sort((a, b) => map.items[a].values[xi] - map.items[b].values[xi] || map.items[a].values[yi] - map.items[b].values[yi]);
  map.order = order;
  map.active = 0;
  order.forEach((itemIndex, position) => {
    const item = map.items[itemIndex];
    const px = x(item.values[xi]), py = y(item.values[yi]);
    const out = [x.beyond(item.values[xi]), -y.beyond(item.values[yi])];
    item.beyond = out[0] !== 0 || out[1] !== 0;
    const r = item.kind === "point" ? 5 : 10;
    const classes = [item.kind, item.beyond ? "beyond" : ""].join(" ").trim();
    const marker = item.kind === "tried"
      ? shape("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 10, fill: "none", stroke: "#1f2933", "stroke-width": 3, "stroke-dasharray": "4 2" })
      : shape("path", { d: markerPath(item.segment, px, py, r), fill: colour(item.segment), "fill-opacity": item.kind === "point" ? 0.8 : 1,
        stroke: item.kind === "point" ? "#1f2933" : "#fff", "stroke-width": item.kind === "point" ? 0.7 : 2.5 });
    const node = shape("g", { class: classes, tabindex: position === 0 ? 0 : -1, role: "button", "data-position": position,
      "data-segment": item.segment, "aria-label": words(item, sample.features) }, marker);
    if (item.kind === "centroid") node.prepend(shape("path", { d: markerPath(item.segment, px, py, r + 2), fill: "#1f2933" }));
    if (item.beyond) node.append(arrow(px, py, out));
    node.addEventListener("focus", () => showPopover(position));
    node.addEventListener("click", () => node.focus());
    chart.append(node);
  });
  chart.addEventListener("keydown", moveFocus);
  chart.addEventListener("focusout", (event) => {
    if (!chart.contains(event.relatedTarget)) $("map-popover").hidden = true;
  });
  box.replaceChildren(chart);
  for (const title of chart.querySelectorAll(".axis-title")) fitTitle(title);
  drawLegend();
  drawTable();
}

function grid(x, y, box, xName, yName) {
  const { left, right, top, bottom, width, height } = box;
  const parts = [];
  for (const value of x.ticks) {
    parts.push(shape("line", { x1: x(value), x2: x(value), y1: top, y2: height - bottom, stroke: "#eef2f6" }),
      shape("text", { x: x(value), y: height - bottom + 16, "text-anchor": "middle" }, tickText(value)));
  }
  for (const value of y.ticks) {
    parts.push(shape("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#eef2f6" }),
      shape("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, tickText(value)));
  }
  const middle = (top + height - bottom) / 2;
  parts.push(
    shape("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: "#9aa5b1" }),
    shape("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#9aa5b1" }),
    shape("text", { class: "axis-title", x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle", "data-room": width - left - right }, axisTitle(xName)),
    shape("text", { class: "axis-title", x: 14, y: middle, "text-anchor": "middle", transform: `rotate(-90 14 ${middle})`, "data-room": height - top - bottom }, axisTitle(yName)));
  return parts;
}

// An axis drawn on a log scale says so in its title.
const axisTitle = (name) => (onLogScale(name) ? `${label(name)}, log scale` : label(name));

// An axis title longer than its axis is cut to fit with an ellipsis; the full name stays its
// tooltip (an SVG title) and in the map's label and the axis lists. Measured once drawn: a map
// drawn hidden (the table view) is measured again when shown, as its width changes then.
function fitTitle(node) {
  const full = node.textContent, room = Number(node.dataset.room);
  const fits = (text) => {
    node.textContent = text;
    return node.getComputedTextLength() <= room;
  };
  if (fits(full)) return;
  let low = 0, high = full.length; // the longest start of the name that fits with an ellipsis
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(`${full.slice(0, middle).trimEnd()}…`)) low = middle;
    else high = middle - 1;
  }
  node.textContent = `${full.slice(0, low).trimEnd()}…`;
  node.append(shape("title", {}, full));
}

// A dark arrow from the edge outwards: the customer's value lies beyond the axis this way.
function arrow(px, py, [dx, dy]) {
  const length = Math.hypot(dx, dy);
  const ux = dx / length, uy = dy / length, tip = [px + ux * 13, py + uy * 13], base = [px + ux * 6, py + uy * 6];
  const side = [-uy * 4, ux * 4];
  const d = `M${tip[0].toFixed(1)},${tip[1].toFixed(1)}L${(base[0] + side[0]).toFixed(1)},${(base[1] + side[1]).toFixed(1)}` +
    `L${(base[0] - side[0]).toFixed(1)},${(base[1] - side[1]).toFixed(1)}Z`;
  return shape("path", { class: "edge-arrow", d, fill: "#1f2933" });
}

function itemTitle(item) {
  const who = { point: "A training customer", centroid: "The centre", tried: "The customer you tried" }[item.kind];
  const of = item.kind === "centroid" ? ` of segment ${item.segment}` : ` in segment ${item.segment}`;
  return `${who}${of}, ${segmentName(item.segment)}`;
}

function words(item, features) {
  const values = features.map((f, i) => `${label(f)} ${plain(item.values[i])}`).join(", ");
  return `${itemTitle(item)}: ${values}${item.beyond ? " (beyond the axis, drawn at its edge)" : ""}`;
}

function showPopover(position) {
  const item = map.items[map.order[position]];
  const nodes = $("map").querySelectorAll("g[data-position]");
  nodes.forEach((node) => {
    node.setAttribute("tabindex", "-1");
    node.removeAttribute("aria-describedby");
  });
  const node = nodes[position];
  node.setAttribute("tabindex", "0");
  node.setAttribute("aria-describedby", "map-popover");
  map.active = position;
  const features = view.sample.features;
  const popover = $("map-popover");
  popover.replaceChildren(
    element("p", { class: "popover-title" }, swatch(item.segment), ` ${itemTitle(item)}`),
    element("dl", {}, ...features.flatMap((f, i) => [element("dt", {}, label(f)), element("dd", {}, item.kind === "centroid" ? fixed(item.values[i], 1) : plain(item.values[i]))])));
  if (item.beyond) popover.append(element("p", { class: "muted" }, "Beyond the axis range: drawn at its edge."));
  popover.hidden = false;
  const section = $("map-section").getBoundingClientRect(), at = node.getBoundingClientRect();
  const left = Math.min(Math.max(4, at.left - section.left + at.width / 2 - popover.offsetWidth / 2), section.width - popover.offsetWidth - 4);
  const below = at.bottom - section.top + 8, above = at.top - section.top - popover.offsetHeight - 8;
  popover.style.setProperty("left", `${left}px`);
  popover.style.setProperty("top", `${above > 0 ? above : below}px`);
}

function moveFocus(event) {
  const steps = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: -Infinity, End: Infinity };
  if (event.key === "Escape") {
    $("map-popover").hidden = true;
    return;
  }
  if (!(event.key in steps)) return;
  event.preventDefault();
  const last = map.order.length - 1;
  const position = Math.min(last, Math.max(0, map.active + steps[event.key]));
  $("map").querySelectorAll("g[data-position]")[position].focus();
}

function drawLegend() {
  const items = view.segments.map((segment) => element("li", {}, swatch(segment.id), `${segment.name} (segment ${segment.id})`));
  items.push(element("li", {}, element("span", { class: "mark" }, "◆"), "larger, outlined: the centre of a segment"));
  items.push(element("li", {}, element("span", { class: "mark" }, "➤"), "beyond the axis range, drawn at its edge"));
  if (view.tried) items.push(element("li", {}, element("span", { class: "mark" }, "◌"), "the customer you tried"));
  $("map-legend").replaceChildren(...items);
}

// The text alternative: every customer of the sample with its segment and values.
function drawTable() {
  const sample = view.sample;
  const head = element("tr", {}, element("th", { scope: "col" }, "segment"),
    ...sample.features.map((f) => element("th", { scope: "col" }, label(f))));
  const rows = sample.rows.map((row, index) => {
    const id = sample.segment_ids[index];
    return element("tr", {}, element("td", {}, swatch(id), `${id} ${segmentName(id)}`), ...row.map((v) => element("td", {}, plain(v))));
  });
  $("map-table").replaceChildren(element("table", {},
    element("caption", {}, `The map's ${sample.rows.length} customers, by segment`), element("thead", {}, head), element("tbody", {}, ...rows)));
}

$("map-as-table").addEventListener("click", () => {
  const table = $("map-as-table").getAttribute("aria-pressed") !== "true";
  $("map-as-table").setAttribute("aria-pressed", String(table));
  $("map").hidden = table;
  $("map-table").hidden = !table;
  $("map-popover").hidden = true;
});

// The map follows its box's width (window resized, phone turned); redrawn on the next frame.
new ResizeObserver(() => {
  if (view.sample && !$("map").hidden && $("map").clientWidth !== map.width) requestAnimationFrame(draw);
}).observe($("map"));
