// Score a file: the CSV goes to POST /segment with ?invalid_rows=mark, so every row comes back:
// the valid ones scored, the others with their reason (the file's own line number and column
// header). The scored file downloads, and each segment's customers download as a CSV of their
// own, cut from the same answer in the page.
"use strict";

import { call, checkVersion, errorOf } from "./api.js";
import { parseCsv, writeCsv } from "./csv.js";
import { $, count, downloadLink, element } from "./dom.js";
import { swatch } from "./palette.js";
import { view } from "./view.js";

const ERROR_COLUMN = "error";

export function clearFile() {
  $("file-status").replaceChildren();
  $("file-errors").replaceChildren();
  $("file-result").replaceChildren();
}

export async function scoreFile(file, version) {
  clearFile();
  $("file-status").textContent = `Scoring ${file.name}…`;
  // Sent as read (the service reads the charset); decoded here only to count its lines.
  const bytes = await file.arrayBuffer();
  const response = await call("/segment?invalid_rows=mark", {
    version, method: "POST", headers: { "Content-Type": "text/csv", Accept: "text/csv" }, body: bytes });
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.versionGone) throw error;
    $("file-status").textContent = "The file was refused.";
    $("file-errors").replaceChildren(element("p", {}, error.message),
      element("ul", {}, ...error.details.map((d) => element("li", {}, d.line ? d.message : `${d.field}: ${d.message}`))));
    return;
  }
  const scored = await response.text();
  checkVersion(version, response, null);
  if (view.version !== version) return; // the page moved to another version meanwhile
  showScored(file.name, new TextDecoder().decode(bytes), scored);
}

function showScored(name, sent, scored) {
  const base = name.replace(/\.csv$/i, "");
  const [header, ...rows] = parseCsv(scored).map((r) => r.cells);
  // The line each data row starts on in the file as sent (quoted fields may span lines).
  const lines = parseCsv(sent).slice(1).map((r) => r.line);
  const errorAt = header.indexOf(ERROR_COLUMN), segmentAt = header.indexOf("segment_id");
  const rejected = errorAt < 0 ? [] : rows.map((row, i) => ({ line: lines[i], reason: row[errorAt] })).filter((r) => r.reason);
  const link = downloadLink(scored, `${base}-segments.csv`, "scored-file", `Download ${base}-segments.csv again`);
  $("file-status").replaceChildren(`Scored ${count(rows.length - rejected.length)} of ${count(rows.length)} rows of ${name}. `, link);
  link.click();
  if (rejected.length) {
    $("file-errors").replaceChildren(
      element("p", {}, `${count(rejected.length)} row${rejected.length === 1 ? " was" : "s were"} not scored (the file's own line numbers; line 1 is the header):`),
      element("ul", { id: "rejected-rows" }, ...rejected.map((r) => element("li", {}, r.reason.toLowerCase().startsWith("line ") ? r.reason : `line ${r.line}: ${r.reason}`))));
  }
  // Each segment's customers, largest segment first, without the error column.
  const keep = header.map((_, i) => i).filter((i) => i !== errorAt);
  const bySegment = new Map();
  for (const row of rows) {
    if (errorAt >= 0 && row[errorAt]) continue;
    const id = Number(row[segmentAt]);
    if (!bySegment.has(id)) bySegment.set(id, []);
    bySegment.get(id).push(keep.map((i) => row[i]));
  }
  const items = view.segments.filter((s) => bySegment.has(s.id)).map((s) => {
    const customers = bySegment.get(s.id);
    const csv = writeCsv([keep.map((i) => header[i]), ...customers]);
    return element("li", {}, swatch(s.id), " ", downloadLink(csv, `${base}-segment-${s.id}.csv`, `segment-${s.id}-file`,
      `${s.name} (segment ${s.id}): ${count(customers.length)} customer${customers.length === 1 ? "" : "s"}`));
  });
  $("file-result").replaceChildren(element("p", {}, "Each segment's customers from this file, as a CSV:"), element("ul", { class: "downloads" }, ...items));
}
