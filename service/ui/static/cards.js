// The segment cards, the page's first screen: largest segment first, each in words a marketer
// reads (the generated profile, the description and suggested action from the names file),
// its size and share, RFM words for a model on orders, then the numbers behind the words.
"use strict";

import { $, count, element, fixed, percent, plain, shape } from "./dom.js";
import { colour, swatch } from "./palette.js";
import { label, numericFeatures, onLogScale, scaleOf, view } from "./view.js";

// The RFM preset's columns (segmentation/rfm.py) and the words CRM teams use for each, by where
// the segment's median sits against the whole population's quartiles: [low, middle, high].
const RFM_WORDS = {
  recency_days: ["recent buyers", "bought a while ago", "lapsed buyers"],
  frequency: ["rare buyers", "occasional buyers", "frequent buyers"],
  monetary: ["low spend", "average spend", "high spend"],
};

export const largestFirst = (segments) => [...segments].sort((a, b) => b.size - a.size || a.id - b.id);

export function showCards(editor) {
  const model = view.model;
  $("segments-intro").textContent = `${view.segments.length} segments of ${count(model.training_data.rows)} training customers, ` +
    "the largest first. Each bar spans the feature's whole range: grey is the middle half of all customers, the colour the segment's middle half, the dark line its median." +
    logScaleWords();
  $("cards").replaceChildren(...view.segments.map((segment) => card(model, segment, editor)));
}

function card(model, segment, editor) {
  const heading = element("h3", { id: `segment-${segment.id}-name` }, swatch(segment.id, 16), " ", element("span", { class: "name" }, segment.name));
  const node = element("article", { class: "card", "data-segment": String(segment.id), "aria-labelledby": `segment-${segment.id}-name` },
    heading,
    element("p", { class: "share" }, `Segment ${segment.id} · ${count(segment.size)} customers · ${percent(segment.share)} of all`));
  node.style.setProperty("--swatch", colour(segment.id));
  const words = element("div", { class: "words" });
  if (segment.profile_text) words.append(element("p", { class: "profile" }, segment.profile_text));
  if (segment.description) words.append(element("p", { class: "description" }, segment.description));
  if (segment.action) words.append(element("p", { class: "action" }, element("strong", {}, "Suggested action: "), segment.action));
  const rfm = rfmWords(model, segment);
  if (rfm) words.append(element("p", { class: "rfm" }, rfm));
  node.append(words);
  if (editor) node.append(editor(segment));
  const distribution = element("div", { class: "dist" });
  for (const feature of numericFeatures()) {
    if (!segment.features[feature]) continue;
    distribution.append(element("span", {}, label(feature)), rangeBar(feature, segment.features[feature], model.feature_stats[feature], colour(segment.id)));
  }
  node.append(distribution);
  for (const [name, shares] of Object.entries(levelsOf(segment))) {
    const mix = Object.entries(shares).filter(([, s]) => s.share > 0).sort((a, b) => b[1].share - a[1].share)
      .map(([level, s]) => `${level} ${percent(s.share)}`).join(", ");
    node.append(element("p", { class: "muted" }, `${label(name)}: ${mix}`));
  }
  const details = element("details", { class: "numbers" }, element("summary", {}, "The numbers"));
  const centre = numericFeatures().map((f) => `${label(f)} ${fixed(segment.centroid[f], 1)}`).join(" · ");
  if (centre) details.append(element("p", {}, `Centre: ${centre}`));
  const stable = model.stability && model.stability.segments.find((s) => s.id === segment.id);
  if (stable) details.append(element("p", {}, `Stability: ${fixed(stable.mean_ari)} (1 means the same segment comes back every time the model is retrained on resampled customers)`));
  if (segment.name !== segment.auto_name) details.append(element("p", {}, `Name training gave it: ${segment.auto_name}`));
  node.append(details);
  return node;
}

// Level shares of each categorical column (bundles before the schema: their gender mix).
const levelsOf = (segment) => (Object.keys(segment.levels || {}).length ? segment.levels : (segment.gender_mix ? { gender: segment.gender_mix } : {}));

function rfmWords(model, segment) {
  const names = Object.keys(RFM_WORDS);
  if (!names.every((name) => segment.features[name] && model.feature_stats[name])) return "";
  const words = names.map((name) => {
    const median = segment.features[name].median, everyone = model.feature_stats[name];
    const position = median <= everyone.q25 ? 0 : median >= everyone.q75 ? 2 : 1;
    return RFM_WORDS[name][position];
  });
  const medians = names.map((name) => `${label(name)} ${plain(segment.features[name].median)}`).join(", ");
  return `RFM: ${words.join(" · ")} (medians: ${medians})`;
}

// The features the model reads on a log scale, said once: their bars are drawn on it too.
function logScaleWords() {
  const logged = numericFeatures().filter(onLogScale).map(label);
  if (!logged.length) return "";
  const which = logged.length === 1 ? `${logged[0]} is` : `${logged.slice(0, -1).join(", ")} and ${logged[logged.length - 1]} are`;
  return ` ${which} drawn on a log scale, as the model reads ${logged.length === 1 ? "it" : "them"}: equal steps along the bar multiply the value.`;
}

// The whole population's range and middle half in grey, the segment's middle half in its colour,
// on the scale the model reads the feature (log1p for spend-like features).
function rangeBar(feature, segment, population, fill) {
  const along = scaleOf(feature);
  const low = along(population.min), span = along(population.max) - low || 1;
  const x = (value) => (100 * (along(value) - low)) / span;
  const words = `${label(feature)}: this segment's middle half ${fixed(segment.q25, 1)} to ${fixed(segment.q75, 1)} ` +
    `(median ${fixed(segment.median, 1)}); all customers' ${fixed(population.q25, 1)} to ${fixed(population.q75, 1)}` +
    (onLogScale(feature) ? " (log scale)" : "");
  const bar = shape("svg", { viewBox: "0 0 100 16", preserveAspectRatio: "none", role: "img", "aria-label": words });
  bar.append(
    shape("rect", { x: 0, y: 7, width: 100, height: 2, fill: "#d9e2ec" }),
    shape("rect", { x: x(population.q25), y: 4, width: Math.max(0.5, x(population.q75) - x(population.q25)), height: 8, fill: "#bcccdc" }),
    shape("rect", { x: x(segment.q25), y: 2, width: Math.max(0.8, x(segment.q75) - x(segment.q25)), height: 12, fill, "fill-opacity": 0.85, stroke: "#1f2933", "stroke-width": 0.3 }),
    // The median: a dark line edged in white, so that it shows on every segment colour (black
    // included). Strokes in screen pixels: the bar stretches its 100 units to the card's width.
    ...["#fff", "#1f2933"].map((stroke, i) => shape("line", { class: i ? "median" : "median-edge", x1: x(segment.median), x2: x(segment.median), y1: 0, y2: 16,
      stroke, "stroke-width": i ? 2 : 4, "vector-effect": "non-scaling-stroke" })),
    shape("title", {}, words));
  return bar;
}
