// Score a file: the CSV goes to POST /segment with ?invalid_rows=mark, so every row comes back:
// the valid ones scored, the others with their reason (the file's own line number and column
// header). The scored file downloads, and each segment's customers download as a CSV of their
// own, cut from the same answer in the page.
//
// A person cannot say which charset a file is in, so the page reads it: UTF-8 when every byte
// is UTF-8, else Windows-1252 (what Excel saves as "CSV" on a Western Windows), said on the page,
// and the file goes to the service as UTF-8 either way.
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

// The file's text and the charset it was read in: UTF-8 (a byte order mark dropped) when it is
// UTF-8 throughout, else Windows-1252, which gives every byte a character.
export function readText(bytes) {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), charset: "UTF-8" };
  } catch {
    return { text: new TextDecoder("windows-1252").decode(bytes), charset: "Windows-1252" };
  }
}

export async function scoreFile(file, version) {
  clearFile();
  $("file-status").textContent = `Scoring ${file.name}…`;
  const { text, charset } = readText(await file.arrayBuffer());
  const read = charset === "UTF-8" ? "" : `${file.name} was not UTF-8: read as ${charset}. `;
  const response = await call("/segment?invalid_rows=mark", {
    version, method: "POST", headers: { "Content-Type": "text/csv; charset=utf-8", Accept: "text/csv" },
    body: new TextEncoder().encode(text) });
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.versionGone) throw error;
    $("file-status").textContent = `${read}The file was refused.`;
    // The message is the first detail's words (with a count of the rest): each problem once.
    const problems = error.details.map((d) => (d.line ? d.message : `${d.field}: ${d.message}`));
    const more = error.total - problems.length;
    $("file-errors").replaceChildren(...(problems.length
      ? [element("ul", {}, ...problems.map((problem) => element("li", {}, problem))),
        ...(more > 0 ? [element("p", {}, `and ${count(more)} more problem${more === 1 ? "" : "s"}`)] : [])]
      : [element("p", {}, error.message)]));
    return;
  }
  const scored = await response.text();
  checkVersion(version, response, null);
  if (view.version !== version) return; // the page moved to another version meanwhile
  showScored(file.name, text, scored, read);
}

function showScored(name, sent, scored, read) {
  const base = name.replace(/\.csv$/i, "");
  const [header, ...rows] = parseCsv(scored).map((r) => r.cells);
  // The line each data row starts on in the file as sent (quoted fields may span lines).
  const lines = parseCsv(sent).slice(1).map((r) => r.line);
  const errorAt = header.indexOf(ERROR_COLUMN), segmentAt = header.indexOf("segment_id");
  const rejected = errorAt < 0 ? [] : rows.map((row, i) => ({ line: lines[i], reason: row[errorAt] })).filter((r) => r.reason);
  const link = downloadLink(scored, `${base}-segments.csv`, "scored-file", `Download ${base}-segments.csv again`);
  $("file-status").replaceChildren(`${read}Scored ${count(rows.length - rejected.length)} of ${count(rows.length)} rows of ${name}. `, link);
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
