// The segments page: reads the service's own API (the same calls an integration makes) and
// draws with plain HTML and SVG. No framework, no build step, nothing from another origin.
//
// One version per view: the page reads one model version whole (model, segments, map sample,
// drift) and pins every later call to it. It checks which version the service serves every
// 30 seconds and after each answer; when that changes while the page is open (or the version
// shown is no longer served), a banner offers to reload every part together. A link to an older
// version shows it without a banner: its line says which version is served now. An answer from
// another version is never shown beside this one's cards. The shares over time are the one
// exception: segments keep their ids across versions, so the history is read across versions
// (days served by another version, or before a rename, count too) and named with the version
// shown.
"use strict";

import { ApiError, VersionMismatch, callJson, setKey } from "./api.js";
import { largestFirst, showCards } from "./cards.js";
import { showChanges } from "./changes.js";
import { buildForm, clearFieldErrors, placeFieldErrors, readForm, showResult } from "./customer.js";
import { $, element } from "./dom.js";
import { showDrift, showDriftError } from "./drift.js";
import { clearFile, scoreFile } from "./file.js";
import { HISTORY_DAYS, showHistory, showHistoryError } from "./history.js";
import { draw, mapAxes, setUpMap } from "./map.js";
import { renameEditor, showAccess } from "./rename.js";
import { showStatistics } from "./statistics.js";
import { view } from "./view.js";

const SERVED_CHECK_MS = 30000;
let offered = null;

// A part that may be missing (a bundle without a sample) or that answered for another version
// is shown as its reason, never its content; a version that vanished or a missing key stop the
// whole view.
function orReason(error) {
  if (error instanceof ApiError && (error.versionGone || error.needsKey)) throw error;
  return { error: error.message };
}

async function loadView(version) {
  const model = await callJson("/model", { version });
  const pinned = { version: model.version };
  const [segments, served, sample, drift, history, access] = await Promise.all([
    callJson("/segments", pinned),
    callJson("/models"),
    callJson("/model/sample", pinned).catch(orReason),
    callJson("/drift", pinned).catch(orReason),
    // Not pinned: ?version=V would list only V's days, and a rename or a retrain makes a new V.
    callJson(`/segments/history?days=${HISTORY_DAYS}`).catch(orReason),
    // Who may rename: a failure to ask reads as "no", with the reason.
    callJson("/admin/access").catch((error) => ({ can_rename: false, reason: error.message })),
  ]);
  return { model, segments: segments.segments, served, sample, drift, history, access };
}

// Every part of the page redrawn from one snapshot, in one go: nothing of the previous version
// (its result, its scored file, its tried customer) stays on the screen.
function render(snapshot, axes) {
  Object.assign(view, {
    version: snapshot.model.version, model: snapshot.model, segments: largestFirst(snapshot.segments),
    served: snapshot.served, servedWhenLoaded: snapshot.served.current, sample: snapshot.sample.error ? null : snapshot.sample,
    sampleError: snapshot.sample.error || "", tried: null, access: snapshot.access,
  });
  offered = null;
  $("version-banner").hidden = true;
  $("key-panel").hidden = true;
  $("content").hidden = false;
  $("view-tools").hidden = false;
  const model = view.model;
  $("model-line").replaceChildren(`Model ${model.version}: ${model.k} segments of ${model.training_data.rows.toLocaleString("en")} customers`);
  const current = snapshot.served.current;
  if (current && current !== model.version) {
    $("model-line").append(`. Not the version served now (${current}): `, element("a", { href: `/ui?version=${current}` }, "show the current version"));
  }
  showAccess();
  showCards(renameEditor(moveTo));
  buildForm();
  clearFile();
  if (snapshot.history.error) showHistoryError(snapshot.history.error);
  else showHistory(snapshot.history);
  showChanges();
  if (snapshot.drift.error) showDriftError(snapshot.drift.error);
  else showDrift(snapshot.drift);
  showStatistics();
  setUpMap(axes, updateLink);
  updateLink(mapAxes());
}

async function showVersion(version, axes) {
  let snapshot;
  try {
    snapshot = await loadView(version);
  } catch (error) {
    if (error.needsKey) {
      askForKey(error.status === 403 ? error.message : "");
      return false;
    }
    // The key was good (else the answer would ask for one): its form goes, whatever went wrong.
    $("key-panel").hidden = true;
    if (view.version) {
      $("version-banner-text").textContent = `The segments of version ${version} cannot be shown: ${error.message}`;
      return false;
    }
    if (error instanceof ApiError && error.badVersionName) {
      // The service's words are its pattern for a version name: said in words here.
      $("model-line").replaceChildren(`The version in the link, "${version}", is not a version name. `,
        element("a", { href: "/ui" }, "Show the version served now"));
      return false;
    }
    $("model-line").textContent = `The model cannot be shown: ${error.message}`;
    if (error.versionGone) offerServed();
    return false;
  }
  render(snapshot, axes);
  return true;
}

// The page moves to another version whole: after the banner's button, and after a rename saved one.
async function moveTo(version) {
  if (await showVersion(version, mapAxes())) {
    $("segments-title").setAttribute("tabindex", "-1");
    $("segments-title").focus();
  }
}

// The link to this view: the same version and the same map axes.
function updateLink([x, y]) {
  const params = new URLSearchParams({ version: view.version });
  if (x && y) {
    params.set("x", x);
    params.set("y", y);
  }
  $("view-link").setAttribute("href", `/ui?${params}`);
}

// --- the version the service serves --------------------------------------------------------

let checking = null;
export function checkServed() {
  checking = checking || (async () => {
    try {
      const served = await callJson("/models");
      const stillServed = served.models.some((m) => m.version === view.version);
      // A change while the page is open, or the version shown gone: not a link to an older
      // version, which shows what it was asked for.
      const changed = served.current !== view.servedWhenLoaded;
      if (served.current && served.current !== view.version && (changed || !stillServed)) offerVersion(served.current, !stillServed);
    } catch {
      // The next check will tell; the page keeps what it shows.
    } finally {
      checking = null;
    }
  })();
  return checking;
}

// A link to a version no longer served: the versions that are, each a link to its view.
async function offerServed() {
  let served;
  try {
    served = await callJson("/models");
  } catch {
    return; // the message above stands alone
  }
  if (!served.models.length) return;
  const links = served.models.flatMap((m, i) => [i ? ", " : "",
    element("a", { href: `/ui?version=${m.version}` }, m.version), m.current ? " (current)" : ""]);
  $("model-line").append(element("br"), "Versions served: ", ...links.filter(Boolean));
}

function offerVersion(version, gone) {
  offered = version;
  $("version-banner-text").textContent = gone && view.version
    ? `The version shown here, ${view.version}, is no longer served; model version ${version} is. Reload the page's segments.`
    : `A new model version ${version} is served; reload the page's segments.`;
  $("version-banner").hidden = false;
}

$("version-reload").addEventListener("click", () => {
  if (offered) moveTo(offered);
});

// An action's answer came from another version, or this one is gone: say so, show nothing.
function staleAnswer(error) {
  if (error instanceof VersionMismatch || (error instanceof ApiError && error.versionGone)) {
    checkServed();
    return true;
  }
  return false;
}

// --- the API key ---------------------------------------------------------------------------

function askForKey(message) {
  $("content").hidden = true;
  $("view-tools").hidden = true;
  $("key-panel").hidden = false;
  $("key-error").textContent = message;
  $("model-line").textContent = "An API key is needed to see the segments.";
  $("api-key").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("api-key").value.trim());
  $("api-key").value = ""; // kept in session storage; not left on the screen
  start();
});

// --- actions, each pinned to the version shown ---------------------------------------------

async function refreshDrift() {
  const version = view.version;
  try {
    const drift = await callJson("/drift", { version });
    if (view.version === version) showDrift(drift);
  } catch (error) {
    if (!staleAnswer(error) && view.version === version) showDriftError(error.message);
  }
}

$("drift-refresh").addEventListener("click", () => {
  refreshDrift();
  checkServed();
});

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  // A new attempt: the previous answer and its mark on the map go, whatever this one brings.
  $("try-result").replaceChildren();
  if (view.tried) {
    view.tried = null;
    draw();
  }
  const version = view.version;
  const customer = readForm();
  let answer;
  try {
    answer = await callJson("/segment?explain=true", {
      version, method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(customer) });
  } catch (error) {
    if (staleAnswer(error)) return;
    if (error.needsKey) {
      askForKey(error.message);
      return;
    }
    $("try-error").textContent = placeFieldErrors(error.details) ? "Please correct the fields marked below the inputs." : error.message;
    return;
  }
  if (view.version !== version) return;
  const result = answer.results[0];
  showResult(result, customer);
  const features = view.sample ? view.sample.features : [];
  view.tried = features.every((f) => typeof customer[f] === "number")
    ? { segment: result.segment_id, values: features.map((f) => customer[f]) } : null;
  draw();
  checkServed();
});

$("file-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("csv-file").files[0];
  if (!file) return;
  try {
    await scoreFile(file, view.version);
  } catch (error) {
    if (!staleAnswer(error)) $("file-status").textContent = `The file could not be scored: ${error.message}`;
    return;
  }
  checkServed();
});

$("print-view").addEventListener("click", () => window.print());

async function start() {
  const params = new URLSearchParams(location.search);
  if (await showVersion(params.get("version"), [params.get("x"), params.get("y")])) checkServed();
}

setInterval(() => {
  if (view.version) checkServed();
}, SERVED_CHECK_MS);
start();
