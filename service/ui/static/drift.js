// Drift in words: how many customers were scored since when, and no verdict (no PSI, no share
// shift, nothing marked) until the service's minimum sample is reached, saying how many more
// customers are needed. The page's own customers are never counted (api.js marks them).
"use strict";

import { $, count, element, fixed, percent, when } from "./dom.js";
import { swatch } from "./palette.js";
import { label } from "./view.js";

export function showDriftError(message) {
  $("drift-status").textContent = `Drift cannot be shown: ${message}`;
  $("drift-tables").hidden = true;
}

export function showDrift(drift) {
  const limits = drift.thresholds;
  const since = drift.since ? `since ${when(drift.since)}` : "since the service started";
  const seen = `${count(drift.observations)} customer${drift.observations === 1 ? "" : "s"} ${since}`;
  if (drift.status === "insufficient_data") {
    const more = Math.max(0, limits.min_observations - drift.observations);
    $("drift-status").textContent = `${seen}. Not enough customers yet to judge drift: ` +
      `${count(more)} more are needed (the minimum is ${count(limits.min_observations)}).`;
    $("drift-tables").hidden = true;
    return;
  }
  const moved = drift.features.filter((f) => f.drifted).map((f) => label(f.feature));
  const shifted = drift.segments.filter((s) => s.drifted).map((s) => `the share of ${s.name}`);
  $("drift-status").textContent = drift.status === "drift"
    ? `Drift: the ${seen} differ from the training customers in ${[...moved, ...shifted].join("; ")}.`
    : `No drift: the ${seen} look like the training customers.`;
  $("drift-features").caption.textContent = `Features: PSI (population stability index: 0 is the same distribution as in training) against the training histogram; drift from ${fixed(limits.psi, 2)}`;
  $("drift-segments").caption.textContent = "Segments: share of the customers seen " +
    `(drift beyond ${(100 * limits.share_shift).toFixed(1)} points either way)`;
  const verdict = (drifted) => element("td", drifted ? { class: "yes" } : {}, drifted ? "⚠ yes" : "no");
  $("drift-features").tBodies[0].replaceChildren(...drift.features.map((f) => element("tr", {},
    element("td", {}, label(f.feature)), element("td", {}, fixed(f.psi, 3)), element("td", {}, fixed(limits.psi, 2)), verdict(f.drifted))));
  const shift = (value) => (value === null || value === undefined ? "n/a" : `${value > 0 ? "+" : ""}${(100 * value).toFixed(1)}`);
  $("drift-segments").tBodies[0].replaceChildren(...drift.segments.map((s) => element("tr", {},
    element("td", {}, swatch(s.segment_id), ` ${s.name}`), element("td", {}, percent(s.expected_share)),
    element("td", {}, percent(s.observed_share)), element("td", {}, shift(s.shift)), verdict(s.drifted))));
  $("drift-tables").hidden = false;
}
