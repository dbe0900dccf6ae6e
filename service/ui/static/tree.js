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
const ROW = 56; // height of one k's row, at least
const LINE = 14; // height of a line of a note wrapped under the one before
const TREE = 420; // width of the tree itself, at most
const NARROWEST_TREE = 240; // ... and at least: narrower, the drawing scrolls sideways
const SHORTEST_LINE = 16; // a note is wrapped at no fewer characters than this
const CHARACTER = 7.2; // width of a character of the 12px labels, to leave room for the longest
const LARGEST_RADIUS = 15;
// The tree is drawn for the width of its column, one unit a pixel, so its text stays at the
// page's 12 px (a viewBox wider than the column, scaled down, put its labels at 8 px). What it
// was last drawn with, to draw it again when that width changes:
let drawn = { words: null, room: 0 };

// A note cut into lines of at most `most` characters at its spaces; each line but the last keeps
// its space, so the lines joined are the note.
function wrap(note, most) {
  const lines = [];
  for (const word of note.split(/(?<= )/)) {
    if (lines.length && (lines[lines.length - 1] + word).trimEnd().length <= most) lines[lines.length - 1] += word;
    else lines.push(word);
  }
  return lines.length ? lines : [""];
}

// How wide the tree and its notes are drawn in `room` pixels: the tree as wide as it may be with
// each note on one line, else narrower, else the notes wrapped; never narrower than NARROWEST_TREE.
function layout(room, left, notes) {
  const fixedParts = left + 14 + 8;
  const longest = CHARACTER * Math.max(0, ...notes.map((n) => n.length));
  if (room - fixedParts - longest >= NARROWEST_TREE) {
    return { tree: Math.min(TREE, room - fixedParts - longest), lines: notes.map((n) => [n]) };
  }
  const most = Math.max(SHORTEST_LINE, Math.floor((room - fixedParts - NARROWEST_TREE) / CHARACTER));
  const lines = notes.map((n) => wrap(n, most));
  const widest = CHARACTER * Math.max(0, ...lines.flat().map((l) => l.trimEnd().length));
  return { tree: Math.min(TREE, Math.max(NARROWEST_TREE, room - fixedParts - widest)), lines };
}

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
  drawn = { words, room: 0 };
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
  // Room for the longest label on the left and the notes on the right, in the width shown.
  const wrapper = $("k-tree").parentElement;
  drawn.room = wrapper.clientWidth;
  const left = 12 + CHARACTER * Math.max(...labels.map((l) => l.length));
  const { tree: treeWidth, lines: noteLines } = layout(drawn.room || 800, left, notes);
  const noteX = left + treeWidth + 14;
  const width = Math.ceil(noteX + CHARACTER * Math.max(0, ...noteLines.flat().map((l) => l.trimEnd().length)) + 8);
  const row = Math.max(ROW, LINE * Math.max(...noteLines.map((l) => l.length)) + 16);
  const placed = positions(levels);
  const x = (k, segment) => left + treeWidth * placed.get(k)[segment];
  const y = (k) => row * (levels.findIndex((level) => level.k === k) + 0.5);
  const biggest = Math.max(1, ...levels.flatMap((level) => level.sizes));
  const bands = [], lines = [], marks = [], texts = [];
  levels.forEach((level, index) => {
    const chosen = level.k === words.chosen;
    if (chosen) bands.push(shape("rect", { class: "tree-chosen", x: 0, y: y(level.k) - row / 2, width, height: row }));
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
    const note = noteLines[index];
    texts.push(shape("text", { class: "tree-note", x: noteX, y: y(level.k) + 4 - (LINE * (note.length - 1)) / 2 },
      ...note.map((line, i) => (note.length === 1 ? line : shape("tspan", { x: noteX, dy: i ? LINE : 0 }, line)))));
  });
  const svg = $("k-tree");
  // Drawn at its own size (one unit a pixel): a drawing wider than its column scrolls sideways.
  svg.setAttribute("viewBox", `0 0 ${width} ${row * levels.length}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", row * levels.length);
  svg.setAttribute("aria-label", `The split tree of k = ${levels[0].k} to ${levels[levels.length - 1].k}, in words below`);
  svg.replaceChildren(...bands, ...lines, ...marks, ...texts);
  $("k-steps").replaceChildren(...model.k_steps.map((step) => element("li", {}, `${step}.`)));
}

// Drawn again for a new width (a window resized, a phone turned), on the next frame.
new ResizeObserver(() => {
  const room = $("k-tree").parentElement.clientWidth;
  if (drawn.words && view.model?.k_selection.split_tree && room && room !== drawn.room) {
    requestAnimationFrame(() => drawSplitTree(drawn.words));
  }
}).observe($("k-tree").parentElement);
