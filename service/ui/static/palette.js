// Each segment's colour and marker shape, from its stable id (kept across retraining), so a
// segment looks the same on the cards, the map, the legend, the result and the charts, and in
// the next model version too. Okabe and Ito's palette reads for every common colour vision
// deficiency; the shape makes colour never the only carrier: with 8 colours and 7 shapes
// (numbers with no common factor), ids 0 to 55 each get a pair of their own.
"use strict";

import { shape } from "./dom.js";

export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"];
export const SHAPES = ["circle", "square", "triangle", "diamond", "triangle-down", "plus", "star"];

export const colour = (id) => OKABE_ITO[id % OKABE_ITO.length];
export const shapeName = (id) => SHAPES[id % SHAPES.length];

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
