// Small helpers to build the page's HTML and SVG and to write numbers the same way everywhere.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

export function shape(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

export const fixed = (value, digits = 2) => (value === null || value === undefined ? "n/a" : Number(value).toFixed(digits));
export const percent = (value) => (value === null || value === undefined ? "n/a" : `${(100 * value).toFixed(1)}%`);
export const count = (value) => Number(value).toLocaleString("en");
// A value as a person writes it: no trailing zeros, at most two decimals.
export const plain = (value) => (value === null || value === undefined ? "n/a" : String(Number(Number(value).toFixed(2))));

export function when(iso) {
  return new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

// A file the page made (a scored CSV, a segment's customers) saved through a download link.
export function downloadLink(text, name, id, words) {
  const blob = new Blob([text], { type: "text/csv" });
  return element("a", { href: URL.createObjectURL(blob), download: name, id }, words);
}
