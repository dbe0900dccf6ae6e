// The split tree (a clustree, Zappia and Oshlack 2018): each k tried is a row, each segment a
// circle sized by its customers, each line the customers a segment at k passes to one at k + 1.
// It shows what choosing one k over its neighbours would mean, drawn as the report draws it, from
// the metadata's `k_selection.split_tree`; the chosen k's segments wear their colour and shape
// from the rest of the page. The service says each step in words (`k_steps`), listed under it.
"use strict";

import { $, count, element, shape } from "./dom.js";
import { colour, markerPath } from "./palette.js";
import { segmentName, view } from "./view.js";

// Lines for less of a segment than this are left out, as in the report (k_choice.NOTABLE_SHARE).
const NOTABLE_SHARE = 0.05;
const ROW = 56; // height of one k's row
const TREE = 420; // width of the tree itself
const CHARACTER = 7.2; // width of a character of the 12px labels, to leave room for the longest
const LARGEST_RADIUS = 15;

// Across each row, every segment under the customers' weighted mean position of its parents,
// so that few lines cross; the first row in the fit's own order. Positions from 0 to 1.
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
    order.forEach((segment, rank) => { x[segment] = (rank + 0.5) / level.k; });
    placed.set(level.k, x);
  });
  return placed;
}

// A segment's tooltip: its customers (of those counted, when the tree counts a sample) and,
// below the first row, where they came from; the chosen k's segments by name.
function tooltip(levels, index, segment, words) {
  const level = levels[index];
  const whose = (k, s, sizes) => (k === words.chosen ? `'${segmentName(words.idsByRow[s])}'` : `the segment of ${count(sizes[s])}`);
  const size = `${count(level.sizes[segment])} ${words.counted}`;
  const at = level.k === words.chosen
    ? `${whose(level.k, segment)} at k = ${level.k}, ${size}`
    : `At k = ${level.k}, a segment of ${size}`;
  if (index === 0) return `${at}.`;
  const above = levels[index - 1];
  const parents = above.flows.filter((f) => f.target === segment).sort((a, b) => b.customers - a.customers)
    .map((f) => `${count(f.customers)} from ${whose(above.k, f.source, above.sizes)} at k = ${above.k}`);
  return `${at}: ${parents.join(", ")}.`;
}

// `words`: the chosen k, a row's label and its criteria as the k table beside the tree says them,
// and whether the tree counts a sample of the customers.
export function drawSplitTree(words) {
  const model = view.model;
  const tree = model.k_selection.split_tree;
  $("k-tree-figure").hidden = !tree;
  if (!tree) {
    $("k-tree").replaceChildren();
    $("k-steps").replaceChildren();
    return;
  }
  const context = {
    ...words,
    idsByRow: view.segments.map((s) => s.id).sort((a, b) => a - b),
    counted: words.sampled ? `of the ${count(tree.rows)} customers counted` : "customers",
  };
  const levels = tree.levels;
  const labels = levels.map((level) => `k = ${words.label(level.k)}`);
  const notes = levels.map((level) => [words.bestFor(level.k).join(", "), level.split_distinct ? "distinct split to k + 1" : ""]
    .filter(Boolean).join("; "));
  // Room for the longest label on the left and the longest note on the right.
  const left = 12 + CHARACTER * Math.max(...labels.map((l) => l.length));
  const noteX = left + TREE + 14;
  const width = Math.ceil(noteX + CHARACTER * Math.max(0, ...notes.map((n) => n.length)) + 8);
  const placed = positions(levels);
  const x = (k, segment) => left + TREE * placed.get(k)[segment];
  const y = (k) => ROW * (levels.findIndex((level) => level.k === k) + 0.5);
  const biggest = Math.max(1, ...levels.flatMap((level) => level.sizes));
  const bands = [], lines = [], marks = [], texts = [];
  levels.forEach((level, index) => {
    const chosen = level.k === words.chosen;
    if (chosen) bands.push(shape("rect", { class: "tree-chosen", x: 0, y: y(level.k) - ROW / 2, width, height: ROW }));
    for (const flow of level.flows) {
      if (flow.share < NOTABLE_SHARE) continue;
      lines.push(shape("line", {
        class: "tree-flow", "data-k": level.k, "data-source": flow.source, "data-target": flow.target, "data-customers": flow.customers,
        x1: x(level.k, flow.source).toFixed(1), y1: y(level.k), x2: x(level.k + 1, flow.target).toFixed(1), y2: y(level.k + 1),
        "stroke-width": (0.75 + (10 * flow.customers) / tree.rows).toFixed(2), "stroke-opacity": (0.35 + 0.55 * flow.share).toFixed(2),
      }));
    }
    level.sizes.forEach((size, segment) => {
      const r = 3 + (LARGEST_RADIUS - 3) * Math.sqrt(size / biggest);
      const cx = x(level.k, segment), cy = y(level.k);
      const attributes = { class: "tree-segment", "data-k": level.k, "data-segment": segment, "data-customers": size };
      const id = context.idsByRow[segment];
      const mark = chosen
        ? shape("path", { ...attributes, d: markerPath(id, cx, cy, r), fill: colour(id) })
        : shape("circle", { ...attributes, cx: cx.toFixed(1), cy, r: r.toFixed(1) });
      mark.append(shape("title", {}, tooltip(levels, index, segment, context)));
      marks.push(mark);
    });
    texts.push(shape("text", { class: chosen ? "tree-k tree-k-chosen" : "tree-k", x: 4, y: y(level.k) + 4 }, labels[index]));
    texts.push(shape("text", { class: "tree-note", x: noteX, y: y(level.k) + 4 }, notes[index]));
  });
  const svg = $("k-tree");
  svg.setAttribute("viewBox", `0 0 ${width} ${ROW * levels.length}`);
  svg.setAttribute("aria-label", `The split tree of k = ${levels[0].k} to ${levels[levels.length - 1].k}, in words below`);
  svg.style.maxWidth = `${width}px`; // never drawn larger than its labels were measured for
  svg.replaceChildren(...bands, ...lines, ...marks, ...texts);
  $("k-steps").replaceChildren(...model.k_steps.map((step) => element("li", {}, `${step}.`)));
}
