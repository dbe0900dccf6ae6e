// Try a customer: one input per column of the model's schema, the API's refusals under the
// field they name, and the answer in words. A customer farther from its segment's centre than
// 99% of the segment's own customers is said to be unlike any segment: the nearest one is
// named as the nearest, never as a description of the customer.
"use strict";

import { $, element, fixed, percent, plain } from "./dom.js";
import { colour, swatch } from "./palette.js";
import { column, label, schemaColumns, segmentById, segmentName, view } from "./view.js";

// The API's own hints (POST /segment), given here as the value is typed. A comma before three
// digits ("1,234", "12,500.50"; not "0,500") separates thousands: never read as a decimal comma, which would
// turn 1,234 EUR into 1.23. Once the API's message for the field is shown, the hint gives way.
const HINTS = [
  [/^\s*([-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?)\s*$/, (text, number) => `write it without the thousands separator: ${number.replaceAll(",", "")}`],
  [/^\s*[-+]?\d+,\d+\s*$/, (text) => `use a decimal point: ${text.trim().replace(",", ".")}`],
  [/^\s*([-+]?\d+(?:\.\d+)?)\s*k\s*$/i, (text, number) => `write the full number: ${plain(Number(number) * 1000)}`],
];

export function numberHint(text) {
  for (const [pattern, hint] of HINTS) {
    const found = text.match(pattern);
    if (found) return hint(text, found[1]);
  }
  return "";
}

// Labels beside their inputs; "optional" said where it applies, and "required" once above.
export function buildForm() {
  const required = new Set(view.model.feature_schema.features.map((f) => f.name));
  $("try-required").textContent = "Every field is needed, except those marked optional.";
  const field = (name, text, control) => {
    const hint = element("p", { class: "hint", id: `try-${name}-hint` });
    const error = element("p", { class: "error", id: `try-${name}-error` });
    control.setAttribute("aria-describedby", `try-${name}-hint try-${name}-error`);
    if (control.tagName === "INPUT" && name !== "customer_id") {
      control.addEventListener("input", () => {
        // The API's message was about the value sent: a new value has only the page's hint.
        error.textContent = "";
        control.removeAttribute("aria-invalid");
        hint.textContent = numberHint(control.value);
      });
    }
    return element("div", { class: "field" }, element("label", { for: `try-${name}` }, text), control, hint, error);
  };
  const inputs = [field("customer_id", "Customer id (optional)", element("input", { id: "try-customer_id", name: "customer_id", type: "text" }))];
  for (const spec of schemaColumns()) {
    const id = `try-${spec.name}`;
    const needed = required.has(spec.name);
    const attributes = { id, name: spec.name, ...(needed ? { "aria-required": "true" } : {}) };
    const text = needed ? label(spec.name) : `${label(spec.name)} (optional)`;
    if (spec.kind === "categorical") {
      const select = element("select", { ...attributes, "data-kind": "categorical" },
        element("option", { value: "" }, needed ? "choose" : "not given"),
        ...spec.levels.map((level) => element("option", { value: level }, level)));
      inputs.push(field(spec.name, text, select));
    } else {
      inputs.push(field(spec.name, text, element("input", { ...attributes, type: "text", inputmode: "decimal", autocomplete: "off" })));
    }
  }
  $("try-fields").replaceChildren(...inputs);
  $("try-error").textContent = "";
  $("try-result").replaceChildren();
}

export function clearFieldErrors() {
  for (const node of document.querySelectorAll("#try-fields .error")) node.textContent = "";
  for (const node of document.querySelectorAll("#try-fields [aria-invalid]")) node.removeAttribute("aria-invalid");
  $("try-error").textContent = "";
}

// A number written in decimals, with an exponent or not (34.5, -2, .5, 1e3): sent as a number.
// Anything else ("Infinity", "0x10", "34,5", "45k", 1e400 that no double holds) is sent as typed,
// so the API's own words come back under the field: Number() would turn "0x10" into 16 and
// "Infinity" into null.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function asNumber(text) {
  if (!DECIMAL.test(text)) return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : null;
}

export function readForm() {
  const customer = {};
  for (const input of document.querySelectorAll("#try-fields input, #try-fields select")) {
    const text = input.value.trim();
    if (text === "") continue;
    const number = input.name === "customer_id" || input.dataset.kind === "categorical" ? null : asNumber(text);
    customer[input.name] = number === null ? text : number;
  }
  return customer;
}

// The API's field errors under the fields they name; true when at least one found its field.
export function placeFieldErrors(details) {
  let placed = false;
  for (const detail of details) {
    const target = $(`try-${detail.field}-error`);
    if (!target) continue;
    target.textContent = detail.message;
    $(`try-${detail.field}-hint`).textContent = ""; // one message by the field: the API's
    $(`try-${detail.field}`).setAttribute("aria-invalid", "true");
    placed = true;
  }
  return placed;
}

// How far from the centre, against the segment's own training customers (their median distance).
function farness(result, segment) {
  const typical = segment.distances.p50;
  const times = typical > 0 ? result.distance / typical : null;
  if (result.atypical) {
    return `${times ? `${times.toFixed(1)} times as far from its centre as the segment's typical customer: ` : ""}` +
      "farther than 99% of the segment's own customers";
  }
  if (result.distance <= typical) return "closer to its centre than half of the segment's own customers: a typical member";
  if (result.distance <= segment.distances.p90) return "about as close to its centre as most of the segment's own customers";
  return "at the edge of the segment: farther from its centre than 90% of its own customers";
}

// The features that make most of the distance, with the customer's value beside the segment's
// middle half: words that can be checked against the numbers.
function differences(result, segment, customer) {
  const contributions = result.explanation ? result.explanation.contributions : {};
  return Object.entries(contributions).filter(([name]) => segment.features[name] && typeof customer[name] === "number")
    .sort((a, b) => b[1] - a[1]).slice(0, 2)
    .map(([name]) => `${label(name)} ${plain(customer[name])} (the segment's middle half: ${plain(segment.features[name].q25)} to ${plain(segment.features[name].q75)})`);
}

export function showResult(result, customer) {
  const segment = segmentById(result.segment_id);
  const explanation = result.explanation;
  const name = element("span", { class: "segment-name" }, result.segment_name);
  const box = element("div", { class: "result", id: "try-segment", "data-atypical": String(result.atypical) });
  box.style.setProperty("--swatch", colour(result.segment_id));
  if (result.atypical) {
    box.append(element("h3", {}, "Unlike any segment"),
      element("p", { class: "headline" }, "The nearest segment is ", swatch(result.segment_id), "'", name, `' (segment ${result.segment_id}), but this customer is ${farness(result, segment)}.`));
    const far = differences(result, segment, customer);
    if (far.length) box.append(element("p", {}, `Where the customer differs most: ${far.join("; ")}.`));
  } else {
    box.append(element("h3", {}, swatch(result.segment_id), " ", name, ` (segment ${result.segment_id})`),
      element("p", { class: "headline" }, `This customer is ${farness(result, segment)}.`));
  }
  if (segment && segment.action && !result.atypical) box.append(element("p", {}, element("strong", {}, "Suggested action: "), segment.action));
  const terms = [["Distance", fixed(result.distance), "how far the customer is from the segment's centre, in standard deviations of all training customers (0 is the centre)"]];
  if (explanation) {
    box.append(element("p", {}, `Runner-up: '${segmentName(explanation.runner_up_segment_id)}' (segment ${explanation.runner_up_segment_id}).`));
    terms.push(["Margin", fixed(explanation.margin), "how much farther the runner-up's centre is than this segment's (0 would be a tie)"],
      ["Confidence", fixed(explanation.confidence), "1 at the segment's centre, 0 halfway between this segment and the runner-up"]);
  }
  box.append(element("dl", { class: "terms" }, ...terms.flatMap(([term, value, meaning]) => [
    element("dt", {}, element("dfn", {}, term), ` ${value}`), element("dd", {}, meaning)])));
  if (explanation) {
    box.append(element("p", { class: "muted" }, "What makes up the distance to the centre, per feature:"), contributionBars(explanation.contributions, colour(result.segment_id)));
  }
  $("try-result").replaceChildren(box);
}

function contributionBars(contributions, fill) {
  const chart = element("div", { class: "bars" });
  chart.style.setProperty("--swatch", fill);
  for (const [feature, share] of Object.entries(contributions)) {
    const bar = element("div", { class: "bar" });
    bar.style.setProperty("width", `${(100 * share).toFixed(1)}%`);
    chart.append(element("span", { class: "feature" }, column(feature) ? label(feature) : feature), element("div", { class: "track" }, bar),
      element("span", { class: "value" }, percent(share)));
  }
  return chart;
}
