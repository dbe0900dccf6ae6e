// The statistics behind the segments, below them: the model's facts, how k was chosen, how
// stable the segments are and which versions the service holds, each explained in a sentence.
"use strict";

import { $, count, element, fixed, when } from "./dom.js";
import { drawSplitTree } from "./tree.js";
import { label, segmentName, view } from "./view.js";

// The criteria that vote for a k, as the metadata names them and as people read them.
const CRITERIA = {
  silhouette: "silhouette",
  calinski_harabasz: "Calinski-Harabasz",
  davies_bouldin: "Davies-Bouldin",
  gap_statistic: "gap statistic",
};
const criterion = (name) => CRITERIA[name] || name;

// A k's row label: chosen, the vote's and the runner-up marked in words, not colour alone. The
// runner-up is marked only where the service says what it would change (not for one cloud).
function kLabel(k, model) {
  const selection = model.k_selection;
  const marks = [];
  if (k === selection.chosen_k) marks.push("chosen");
  if (k === selection.voted_k && k !== selection.chosen_k) marks.push("the vote's");
  if (model.runner_up_change && k === selection.split_tree?.runner_up) marks.push("runner-up");
  return marks.length ? `${k} (${marks.join(", ")})` : String(k);
}

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
  const selection = model.k_selection;
  // The service's words (the report's), the runner-up's with the names served now.
  $("k-how").textContent = model.k_choice || "";
  $("k-runner-up").textContent = model.runner_up_change ? `Runner-up: ${model.runner_up_change}.` : "";
  $("k-runner-up").hidden = !model.runner_up_change;
  $("k-rule").textContent = selection.rule;
  // Training's own words when no k showed segments: the k shown is then an arbitrary cut.
  $("k-warning").textContent = selection.warning || "";
  $("k-warning").hidden = !selection.warning;
  const votes = Object.entries(selection.votes || {});
  const bestFor = (k) => votes.filter(([, best]) => best === k).map(([name]) => criterion(name));
  // Customers per segment at each k, largest first: the split tree's counts, or the model's
  // own segments for a k fixed in advance (no tree).
  const tree = selection.split_tree;
  const sizesAt = (k) => {
    const level = tree?.levels.find((l) => l.k === k);
    const sizes = level ? level.sizes : k === model.k && !tree ? view.segments.map((s) => s.size) : [];
    return [...sizes].sort((a, b) => b - a).map(count).join(", ");
  };
  const sampled = tree && tree.rows !== model.training_data.rows;
  $("k-sizes-heading").textContent = sampled ? `customers per segment, of ${count(tree.rows)} counted` : "customers per segment";
  $("k-tree-rows").textContent = sampled
    ? ` The tree counts a seeded sample of ${count(tree.rows)} of the ${count(model.training_data.rows)} customers.` : "";
  $("k-table").tBodies[0].replaceChildren(...selection.table.map((score) => {
    return element("tr", score.k === selection.chosen_k ? { class: "chosen" } : {},
      element("td", {}, kLabel(score.k, model)),
      element("td", {}, fixed(score.silhouette, 3)),
      element("td", {}, fixed(score.calinski_harabasz, 1)),
      element("td", {}, fixed(score.davies_bouldin, 3)),
      element("td", {}, bestFor(score.k).join(", ")),
      element("td", {}, sizesAt(score.k)));
  }));
  drawSplitTree({ chosen: selection.chosen_k, label: (k) => kLabel(k, model), bestFor, sampled });
  const stability = model.stability;
  if (stability) {
    const perSegment = stability.segments.map((s) => `${segmentName(s.id)} ${fixed(s.mean_ari)}`).join("; ");
    $("stability").textContent = `Mean adjusted Rand index ${fixed(stability.mean_ari)} over ` +
      `${stability.samples} bootstrap refits. Per segment: ${perSegment}.` + (stability.warning ? ` ${stability.warning}` : "");
  } else {
    $("stability").textContent = "Not measured for this model.";
  }
  // Each version served, a link to its view (the one shown here is not a link).
  $("versions").replaceChildren(...view.served.models.map((served) => {
    const name = served.version === view.version
      ? element("span", { "aria-current": "page" }, served.version)
      : element("a", { href: `/ui?version=${served.version}` }, served.version);
    return element("li", {}, name, `${served.current ? " (current)" : ""}${served.version === view.version ? " (shown here)" : ""}: k=${served.k}`);
  }));
}
