// The statistics behind the segments, below them: the model's facts, how k was chosen, how
// stable the segments are and which versions the service holds, each explained in a sentence.
"use strict";

import { $, count, element, fixed, when } from "./dom.js";
import { label, segmentName, view } from "./view.js";

export function showStatistics() {
  const model = view.model;
  const facts = [
    ["Version", model.version],
    ["Trained", when(model.created_at)],
    ["Customers", count(model.training_data.rows)],
    ["Features", model.features.map(label).join(", ")],
    ["Segments (k)", `${model.k} (${model.k_selection.mode === "auto" ? "chosen automatically" : "fixed"})`],
  ];
  $("overview").replaceChildren(...facts.flatMap(([name, value]) => [element("dt", {}, name), element("dd", {}, value)]));
  $("k-rule").textContent = model.k_selection.rule;
  // Training's own words when no k showed segments: the k shown is then an arbitrary cut.
  $("k-warning").textContent = model.k_selection.warning || "";
  $("k-warning").hidden = !model.k_selection.warning;
  $("k-table").tBodies[0].replaceChildren(...model.k_selection.table.map((score) => {
    const chosen = score.k === model.k_selection.chosen_k;
    return element("tr", chosen ? { class: "chosen" } : {},
      element("td", {}, chosen ? `${score.k} (chosen)` : String(score.k)),
      element("td", {}, fixed(score.silhouette, 3)),
      element("td", {}, fixed(score.knee_distance, 3)),
      element("td", {}, fixed(score.inertia, 1)));
  }));
  const stability = model.stability;
  if (stability) {
    const perSegment = stability.segments.map((s) => `${segmentName(s.id)} ${fixed(s.mean_ari)}`).join("; ");
    $("stability").textContent = `Mean adjusted Rand index ${fixed(stability.mean_ari)} over ` +
      `${stability.samples} bootstrap refits. Per segment: ${perSegment}.` + (stability.warning ? ` ${stability.warning}` : "");
  } else {
    $("stability").textContent = "Not measured for this model.";
  }
  $("versions").replaceChildren(...view.served.models.map((served) =>
    element("li", {}, `${served.version}${served.current ? " (current)" : ""}${served.version === view.version ? " (shown here)" : ""}: k=${served.k}`)));
}
