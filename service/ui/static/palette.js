// Each segment's colour and marker shape, so a segment looks the same on the cards, the map, the
// legend, the result and the charts. Okabe and Ito's palette reads for every common colour
// vision deficiency; the shape makes colour never the only carrier.
//
// The shape comes from the segment's stable id (kept across retraining): id mod 7. The colour
// is the id's own (id mod 8) unless a segment of the version with a lower id has it; then the
// next colour round the palette that no segment of the version has. So the segments of one
// version never share a colour while there are colours enough (8), and a segment keeps its
// colour in the next version unless a lower id takes it. Beyond 8 segments a colour is shared,
// never with the same shape (8 colours and 7 shapes: 56 pairs).
"use strict";

import { shape } from "./dom.js";
import { view } from "./view.js";

export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"];
export const SHAPES = ["circle", "square", "triangle", "diamond", "triangle-down", "plus", "star"];

export const shapeName = (id) => SHAPES[id % SHAPES.length];

// The colour (an index into the palette) of each id of one version, by the rule above.
export function assignColours(ids) {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const colours = new Map();
  const holders = OKABE_ITO.map(() => []); // the ids wearing each colour
  const wear = (id, index) => {
    colours.set(id, index);
    holders[index].push(id);
  };
  for (const id of sorted) {
    if (!holders[id % OKABE_ITO.length].length) wear(id, id % OKABE_ITO.length);
  }
  for (const id of sorted.filter((i) => !colours.has(i))) {
    const round = OKABE_ITO.map((_, step) => (id + step) % OKABE_ITO.length);
    const free = round.find((index) => !holders[index].length);
    // No colour left: the first round the palette whose wearers have other shapes.
    const shared = round.find((index) => holders[index].every((other) => shapeName(other) !== shapeName(id)));
    wear(id, free ?? shared ?? id % OKABE_ITO.length);
  }
  return colours;
}

// The version shown's colours, worked out once per version. An id it does not have (a retired
// segment in the shares over time) takes the first colour from its own that the version leaves
// free, else its own.
let assigned = { segments: null, colours: new Map(), free: [] };
function colourIndex(id) {
  if (assigned.segments !== view.segments) {
    const colours = assignColours(view.segments.map((s) => s.id));
    const taken = new Set(colours.values());
    assigned = { segments: view.segments, colours, free: OKABE_ITO.map((_, i) => !taken.has(i)) };
  }
  if (assigned.colours.has(id)) return assigned.colours.get(id);
  const own = id % OKABE_ITO.length;
  const round = OKABE_ITO.map((_, step) => (own + step) % OKABE_ITO.length);
  return round.find((index) => assigned.free[index]) ?? own;
}

export const colour = (id) => OKABE_ITO[colourIndex(id)];

// An SVG path of the segment's shape centred on (x, y), about 2r across.
export function markerPath(id, x, y, r) {
  const at = (dx, dy) => `${(x + dx).toFixed(1)},${(y + dy).toFixed(1)}`;
  switch (shapeName(id)) {
    case "square":
      return `M${at(-r * 0.85, -r * 0.85)}H${(x + r * 0.85).toFixed(1)}V${(y + r * 0.85).toFixed(1)}H${(x - r * 0.85).toFixed(1)}Z`;
    case "triangle":
      return `M${at(0, -r * 1.1)}L${at(r, r * 0.8)}L${at(-r, r * 0.8)}Z`;
    case "triangle-down":
      return `M${at(0, r * 1.1)}L${at(r, -r * 0.8)}L${at(-r, -r * 0.8)}Z`;
    case "diamond":
      return `M${at(0, -r * 1.15)}L${at(r * 1.15, 0)}L${at(0, r * 1.15)}L${at(-r * 1.15, 0)}Z`;
    case "plus": {
      const t = r * 0.38;
      return `M${at(-t, -r)}L${at(t, -r)}L${at(t, -t)}L${at(r, -t)}L${at(r, t)}L${at(t, t)}L${at(t, r)}` +
        `L${at(-t, r)}L${at(-t, t)}L${at(-r, t)}L${at(-r, -t)}L${at(-t, -t)}Z`;
    }
    case "star": {
      const points = [];
      for (let i = 0; i < 10; i += 1) {
        const radius = i % 2 === 0 ? r * 1.2 : r * 0.5;
        const angle = -Math.PI / 2 + (i * Math.PI) / 5;
        points.push(at(radius * Math.cos(angle), radius * Math.sin(angle)));
      }
      return `M${points.join("L")}Z`;
    }
    default:
      return `M${at(-r, 0)}A${r},${r} 0 1,0 ${at(r, 0)}A${r},${r} 0 1,0 ${at(-r, 0)}Z`;
  }
}

// A small picture of the segment's marker, for a card, a legend entry or a table row.
export function swatch(id, size = 14) {
  const half = size / 2;
  return shape("svg", { class: "swatch", width: size, height: size, viewBox: `0 0 ${size} ${size}`, "aria-hidden": "true", "data-shape": shapeName(id) },
    shape("path", { d: markerPath(id, half, half, half * 0.75), fill: colour(id), stroke: "#1f2933", "stroke-width": 1 }));
}
