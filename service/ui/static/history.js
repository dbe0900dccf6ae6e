// Segment shares over time: for each segment a small chart of its share of the customers scored
// each day over the last 30 days (GET /segments/history, kept by the service across restarts;
// the page's own customers are not counted), on one shared scale, and the same numbers as a
// table. Segments keep their ids across versions, so the history is read across versions (not
// pinned to the one shown: a rename or a retrain serves a new one) and a day of another version
// counts too, each segment under the name the version shown gives it.
"use strict";

import { $, count, element, percent, shape } from "./dom.js";
import { colour, markerPath, swatch } from "./palette.js";
import { segmentById, view } from "./view.js";

export const HISTORY_DAYS = 30;
const DAY_MS = 86400000;

// One entry per day (the service splits a day in which the version changed): counts added up.
function byDay(history) {
  const days = new Map();
  for (const entry of history.days) {
    const day = days.get(entry.date) || { date: entry.date, total: 0, counts: new Map(), names: new Map() };
    day.total += entry.total;
    for (const s of entry.segments) {
      day.counts.set(s.id, (day.counts.get(s.id) || 0) + s.count);
      day.names.set(s.id, s.name);
    }
    days.set(entry.date, day);
  }
  return [...days.values()].sort((a, b) => a.date.localeCompare(b.date));
}

export function showHistoryError(message) {
  $("history").hidden = false;
  $("history-summary").textContent = `The shares over time cannot be shown: ${message}`;
  $("history-chart").replaceChildren();
  $("history-table").replaceChildren();
}

export function showHistory(history) {
  $("history").hidden = false;
  const days = byDay(history);
  const total = days.reduce((sum, d) => sum + d.total, 0);
  if (!days.length) {
    $("history-summary").textContent = `No customers were scored in the last ${HISTORY_DAYS} days (customers tried or scored on this page are not counted).`;
    $("history-chart").replaceChildren();
    $("history-table").replaceChildren();
    $("history-as-table").hidden = true;
    return;
  }
  $("history-as-table").hidden = false;
  const ids = [...new Set(days.flatMap((d) => [...d.counts.keys()]))]
    .sort((a, b) => (segmentById(b)?.size || 0) - (segmentById(a)?.size || 0) || a - b);
  const nameOf = (id) => (segmentById(id) ? segmentById(id).name : `${days.findLast((d) => d.names.has(id)).names.get(id)} (not in this version)`);
  const share = (day, id) => (day.total ? (day.counts.get(id) || 0) / day.total : 0);
  const others = history.days.some((entry) => entry.model_version !== view.version);
  $("history-summary").textContent = `${count(total)} customer${total === 1 ? "" : "s"} scored on ${days.length} of the last ${HISTORY_DAYS} days, ` +
    "each segment's share of a day's customers (customers tried or scored on this page are not counted)." +
    (others ? " Days served by other model versions count too: a segment keeps its id across versions." : "");
  const last = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const first = last - (HISTORY_DAYS - 1) * DAY_MS;
  const highest = Math.max(0.05, ...days.flatMap((d) => ids.map((id) => share(d, id))));
  $("history-chart").replaceChildren(element("div", { class: "small" }, ...ids.map((id) =>
    element("figure", { class: "history-segment", "data-segment": String(id) },
      element("h3", {}, swatch(id), ` ${nameOf(id)}`),
      sparkline(id, days.map((d) => [(Date.parse(`${d.date}T00:00:00Z`) - first) / DAY_MS, share(d, id)]), highest),
      element("figcaption", { class: "muted" }, `latest day (${days[days.length - 1].date}): ${percent(share(days[days.length - 1], id))}`)))));
  const head = element("tr", {}, element("th", { scope: "col" }, "day"), element("th", { scope: "col" }, "customers"),
    ...ids.map((id) => element("th", { scope: "col" }, nameOf(id))));
  const rows = days.map((d) => element("tr", {}, element("th", { scope: "row" }, d.date), element("td", {}, count(d.total)),
    ...ids.map((id) => element("td", {}, percent(share(d, id))))));
  $("history-table").replaceChildren(element("table", {}, element("caption", {}, `Share of each day's customers by segment, last ${HISTORY_DAYS} days`),
    element("thead", {}, head), element("tbody", {}, ...rows)));
}

// A small chart of one segment's share per day: days across (the last 30), share up.
function sparkline(id, points, highest) {
  const width = 240, height = 70, left = 30, right = 6, top = 6, bottom = 14;
  const x = (day) => left + (day / (HISTORY_DAYS - 1)) * (width - left - right);
  const y = (value) => height - bottom - (value / highest) * (height - top - bottom);
  const line = points.map(([day, value], i) => `${i ? "L" : "M"}${x(day).toFixed(1)},${y(value).toFixed(1)}`).join("");
  return shape("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" },
    shape("line", { x1: left, x2: width - right, y1: y(0), y2: y(0), stroke: "#9aa5b1" }),
    shape("line", { x1: left, x2: width - right, y1: y(highest), y2: y(highest), stroke: "#eef2f6" }),
    shape("text", { x: left - 4, y: y(0) + 4, "text-anchor": "end" }, "0%"),
    shape("text", { x: left - 4, y: y(highest) + 4, "text-anchor": "end" }, `${Math.round(100 * highest)}%`),
    shape("text", { x: left, y: height - 2 }, `${HISTORY_DAYS} days ago`),
    shape("text", { x: width - right, y: height - 2, "text-anchor": "end" }, "today"),
    shape("path", { d: line, fill: "none", stroke: colour(id) === "#F0E442" ? "#8a7d00" : colour(id), "stroke-width": 2 }),
    ...points.map(([day, value]) => shape("path", { d: markerPath(id, x(day), y(value), 3), fill: colour(id), stroke: "#1f2933", "stroke-width": 0.6 })));
}

$("history-as-table").addEventListener("click", () => {
  const table = $("history-as-table").getAttribute("aria-pressed") !== "true";
  $("history-as-table").setAttribute("aria-pressed", String(table));
  $("history-chart").hidden = table;
  $("history-table").hidden = !table;
});
