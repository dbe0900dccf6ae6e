// What changed since the previous version, in words first (how many customers keep their
// segment, the largest moves, each new, retired or kept segment), the transition matrix below.
// From ``comparison`` in GET /model; a model with none (the first one) hides the section.
"use strict";

import { $, count, element, fixed } from "./dom.js";
import { label, view } from "./view.js";

export function showChanges() {
  const comparison = view.model.comparison;
  if (!comparison) {
    $("changes").hidden = true;
    return;
  }
  const pct = (n) => `${Math.round((100 * n) / Math.max(comparison.customers, 1))}%`;
  const share = (n) => `${count(n)} (${pct(n)})`;
  $("changes-summary").textContent = `Against version ${comparison.old_version}, on ${comparison.data} ` +
    `(${count(comparison.customers)}): ${share(comparison.kept)} keep their segment, ${share(comparison.moved)} move.`;
  const before = Object.fromEntries(comparison.segments.map((s) => [s.id, s.old_name]));
  const after = Object.fromEntries(comparison.segments.map((s) => [s.id, s.new_name]));
  const moves = comparison.transitions.filter((t) => t.source !== t.target)
    .sort((a, b) => b.customers - a.customers || a.source - b.source || a.target - b.target).slice(0, 5);
  $("changes-moves").replaceChildren(...moves.map((t) => element("li", {},
    `${count(t.customers)} customers (${pct(t.customers)}) moved from '${before[t.source]}' to '${after[t.target]}'`)));
  const words = comparison.segments.map((s) => {
    if (s.status === "new") return `New segment: '${s.new_name}' (${count(s.new_customers)} customers)`;
    if (s.status === "retired") return `Retired segment: '${s.old_name}' (${count(s.old_customers)} customers before)`;
    const moved = Object.entries(s.centroid_shift).filter(([, v]) => v !== 0)
      .map(([name, v]) => `${label(name)} ${v > 0 ? "+" : ""}${fixed(v, 1)}`).join(", ");
    return `'${s.new_name}': ${count(s.stayed)} of ${count(s.old_customers)} stayed` + (moved ? `; its centre moved by ${moved}` : "");
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
