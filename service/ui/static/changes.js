// What changed since the previous version, in words first (how many customers keep their
// segment, the largest moves, each new, retired or kept segment), the transition matrix below.
// From ``comparison`` in GET /model; a model with none (the first one) hides the section.
"use strict";

import { $, count, element } from "./dom.js";
import { column, label, schemaColumns, segmentName, view } from "./view.js";

const MINUS = "\u2212";
const customers = (n) => `${count(n)} customer${n === 1 ? "" : "s"}`;

// A shift as written, one decimal and its sign; null when it rounds to 0.0 (float noise, or too
// small to say at this precision).
function signed(value) {
  const shown = Math.abs(value).toFixed(1);
  if (Number(shown) === 0) return null;
  return `${value > 0 ? "+" : MINUS}${shown}`;
}

// One feature's shift of a segment's centre in words. A categorical level's one-hot column
// ("channel=both") moves by a share of the segment's customers: said in points, as
// "Channel: both +3.2 points", beside the cards' "Channel: both 12.0%".
function shiftWords(name, value) {
  const categorical = column(name) ? null
    : schemaColumns().find((c) => c.kind === "categorical" && name.startsWith(`${c.name}=`));
  if (categorical) {
    const points = signed(100 * value);
    return points && `${label(categorical.name)}: ${name.slice(categorical.name.length + 1)} ${points} points`;
  }
  const shift = signed(value);
  return shift && `${label(name)} ${shift}`;
}

// Customers one of the models refuses (a new level, a value outside the old ranges): neither
// kept nor moved, so the shares above are of the others; said with the commonest reasons.
function leftOutWords(comparison) {
  const left = comparison.left_out || 0;
  if (!left) return "";
  const reasons = (comparison.refused || []).slice(0, 2)
    .map((r) => `${label(r.column)} ${r.problem} for ${count(r.customers)} in the ${r.model} version`);
  return ` ${customers(left)} could not be compared` + (reasons.length ? ` (${reasons.join("; ")})` : "") +
    (comparison.customers ? ": the shares are of the others." : ".");
}

export function showChanges() {
  const comparison = view.model.comparison;
  if (!comparison) {
    $("changes").hidden = true;
    return;
  }
  const pct = (n) => `${Math.round((100 * n) / Math.max(comparison.customers, 1))}%`;
  const share = (n) => `${count(n)} (${pct(n)})`;
  $("changes-summary").textContent = `Against version ${comparison.old_version}, on ${comparison.data} ` +
    (comparison.customers
      ? `(${count(comparison.customers)}): ${share(comparison.kept)} keep their segment, ${share(comparison.moved)} move.`
      : ": no customer could be compared.") + leftOutWords(comparison);
  // This version's segments under the names the page shows (a rename on the page serves a new
  // version whose comparison still holds the names training gave); the previous version's
  // under the names they had then.
  const before = Object.fromEntries(comparison.segments.map((s) => [s.id, s.old_name]));
  const after = Object.fromEntries(comparison.segments.map((s) => [s.id, segmentName(s.id)]));
  const moves = comparison.transitions.filter((t) => t.source !== t.target)
    .sort((a, b) => b.customers - a.customers || a.source - b.source || a.target - b.target).slice(0, 5);
  $("changes-moves").replaceChildren(...moves.map((t) => element("li", {},
    `${customers(t.customers)} (${pct(t.customers)}) moved from '${before[t.source]}' to '${after[t.target]}'`)));
  const words = comparison.segments.map((s) => {
    if (s.status === "new") return `New segment: '${after[s.id]}' (${customers(s.new_customers)})`;
    if (s.status === "retired") return `Retired segment: '${s.old_name}' (${customers(s.old_customers)} before)`;
    const moved = Object.entries(s.centroid_shift).map(([name, v]) => shiftWords(name, v)).filter(Boolean).join(", ");
    return `'${after[s.id]}': ${count(s.stayed)} of ${count(s.old_customers)} stayed` + (moved ? `; its centre moved by ${moved}` : "");
  });
  $("changes-segments").replaceChildren(...words.map((text) => element("li", {}, text)));
  const olds = comparison.segments.filter((s) => s.status !== "new").map((s) => s.id);
  const news = comparison.segments.filter((s) => s.status !== "retired").map((s) => s.id);
  const counts = Object.fromEntries(comparison.transitions.map((t) => [`${t.source}:${t.target}`, t.customers]));
  $("changes-matrix").tHead.replaceChildren(element("tr", {}, element("th", { scope: "col" }, "before \\ after"),
    ...news.map((id) => element("th", { scope: "col" }, after[id]))));
  $("changes-matrix").tBodies[0].replaceChildren(...olds.map((source) => {
    const total = news.reduce((sum, target) => sum + (counts[`${source}:${target}`] || 0), 0);
    return element("tr", {}, element("th", { scope: "row" }, before[source]), ...news.map((target) => {
      const n = counts[`${source}:${target}`] || 0;
      const cell = element("td", { class: "count" }, count(n));
      cell.style.setProperty("--weight", total ? (n / total).toFixed(3) : "0");
      return cell;
    }));
  }));
  $("changes").hidden = false;
}
