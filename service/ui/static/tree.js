// The split tree (a clustree, Zappia and Oshlack 2018): each k tried is a row, each segment a
// circle sized by its customers, each line the customers a segment at k passes to one at k + 1.
// It shows what choosing one k over its neighbours would mean, drawn as the report draws it, from
// the metadata's `k_selection.split_tree`; the chosen k's segments wear their colour and shape
// from the rest of the page, and each circle's tooltip says its customers and where they came from.
"use strict";

import { $, count, shape } from "./dom.js";
import { colour, markerPath } from "./palette.js";
import { segmentName, view } from "./view.js";

// Lines for less of a segment than this are left out, as in the report (k_choice.NOTABLE_SHARE).
const NOTABLE_SHARE = 0.05;
const ROW = 56; // height of one k's row
const LEFT = 118; // room for the row labels ("k = 10 (chosen)")
const TREE = 420; // width of the tree itself
const WIDTH = LEFT + TREE + 260; // and the criteria's votes beside each row
const LARGEST_RADIUS = 15;

// Across each row, every segment under the customers' weighted mean position of its parents,
// so that few lines cross; the first row in the fit's own order.
function positions(levels) {
  const placed = new Map();
  levels.forEach((level, index) => {
    const weight = new Array(level.k).fill(0), total = new Array(level.k).fill(0);
    if (index > 0) {
      const above = levels[index - 1];
      for (const flow of above.flows) {
        weight[flow.target] += flow.customers * placed.get(above.k)[flow.source];
        total[flow.target] += flow.customers;
      }
    }
    const mean = weight.map((w, s) => (index === 0 ? s : w / Math.max(total[s], 1)));
    const order = [...mean.keys()].sort((a, b) => mean[a] - mean[b] || a - b);
    const x = new Array(level.k);
    order.forEach((segment, rank) => { x[segment] = LEFT + (TREE * (rank + 0.5)) / level.k; });
    placed.set(level.k, x);
  });
  return placed;
}

// A segment as a person knows it: by name at the chosen k, by its size elsewhere.
function segmentWords(k, segment, sizes, idsByRow) {
  return k === view.model.k_selection.chosen_k
    ? `'${segmentName(idsByRow[segment])}'`
    : `the segment of ${count(sizes[segment])} at k = ${k}`;
}

function tooltip(levels, index, segment, idsByRow) {
  const level = levels[index];
  const size = level.sizes[segment];
  const at = level.k === view.model.k_selection.chosen_k
    ? `${segmentWords(level.k, segment, level.sizes, idsByRow)} at k = ${level.k}: ${count(size)} customers`
    : `At k = ${level.k}, a segment of ${count(size)} customers`;
  if (index === 0) return `${at}.`;
  const above = levels[index - 1];
  const parents = above.flows.filter((f) => f.target === segment).sort((a, b) => b.customers - a.customers)
    .map((f) => `${count(f.customers)} from ${segmentWords(above.k, f.source, above.sizes, idsByRow)}`);
  return `${at}: ${parents.join(", ")}.`;
}

// `words` says a row's k and a criterion as the k table beside the tree says them.
export function drawSplitTree(words) {
  const selection = view.model.k_selection;
  const tree = selection.split_tree;
  $("k-tree-figure").hidden = !tree;
  if (!tree) {
    $("k-tree").replaceChildren();
    return;
  }
  const levels = tree.levels;
  const chosen = selection.chosen_k;
  const idsByRow = view.segments.map((s) => s.id).sort((a, b) => a - b);
  const x = positions(levels);
  const y = (k) => ROW * (levels.findIndex((level) => level.k === k) + 0.5);
  const biggest = Math.max(1, ...levels.flatMap((level) => level.sizes));
  const bands = [], lines = [], nodes = [], notes = [];
  const votes = Object.entries(selection.votes || {});
  levels.forEach((level, index) => {
    if (level.k === chosen) {
      bands.push(shape("rect", { class: "tree-chosen", x: 0, y: y(level.k) - ROW / 2, width: WIDTH, height: ROW }));
    }
    for (const flow of level.flows) {
      if (flow.share < NOTABLE_SHARE) continue;
      lines.push(shape("line", {
        class: "tree-flow", "data-k": level.k, "data-source": flow.source, "data-target": flow.target, "data-customers": flow.customers,
        x1: x.get(level.k)[flow.source].toFixed(1), y1: y(level.k), x2: x.get(level.k + 1)[flow.target].toFixed(1), y2: y(level.k + 1),
        "stroke-width": (0.75 + (10 * flow.customers) / tree.rows).toFixed(2), "stroke-opacity": (0.25 + 0.6 * flow.share).toFixed(2),
      }));
    }
    level.sizes.forEach((size, segment) => {
      const r = 3 + (LARGEST_RADIUS - 3) * Math.sqrt(size / biggest);
      const cx = x.get(level.k)[segment], cy = y(level.k);
      const attributes = { class: "tree-segment", "data-k": level.k, "data-segment": segment, "data-customers": size };
      const mark = level.k === chosen
        ? shape("path", { ...attributes, d: markerPath(idsByRow[segment], cx, cy, r), fill: colour(idsByRow[segment]) })
        : shape("circle", { ...attributes, cx: cx.toFixed(1), cy, r: r.toFixed(1) });
      mark.append(shape("title", {}, tooltip(levels, index, segment, idsByRow)));
      nodes.push(mark);
    });
    notes.push(shape("text", { class: level.k === chosen ? "tree-k tree-k-chosen" : "tree-k", x: 4, y: y(level.k) + 4 }, `k = ${words.k(level.k)}`));
    const named = votes.filter(([, best]) => best === level.k).map(([name]) => words.criterion(name)).join(", ");
    const beside = [named, level.split_distinct ? "distinct split to k + 1" : ""].filter(Boolean).join("; ");
    notes.push(shape("text", { class: "tree-note", x: LEFT + TREE + 12, y: y(level.k) + 4 }, beside));
  });
  const svg = $("k-tree");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${ROW * levels.length}`);
  svg.setAttribute("width", WIDTH);
  svg.setAttribute("height", ROW * levels.length);
  svg.replaceChildren(...bands, ...lines, ...nodes, ...notes);
}
