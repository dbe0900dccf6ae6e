// Just enough CSV for the page: RFC 4180 records (quoted fields may hold commas, quotes and
// line breaks) with the physical line each record starts on, and CSV written back the same way.
"use strict";

export function parseCsv(text) {
  const records = [];
  let record = [], field = "", quoted = false, line = 1, start = 1, i = 0;
  const endField = () => { record.push(field); field = ""; };
  const endRecord = () => {
    endField();
    if (!(record.length === 1 && record[0] === "")) records.push({ line: start, cells: record });
    record = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') quoted = false;
      else {
        if (c === "\n") line += 1;
        field += c;
      }
      i += 1;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") endField();
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      endRecord();
      line += 1;
      start = line;
    } else field += c;
    i += 1;
  }
  if (field !== "" || record.length) endRecord();
  return records;
}

const quote = (cell) => (/[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
export const writeCsv = (rows) => rows.map((row) => row.map((cell) => quote(String(cell ?? ""))).join(",")).join("\r\n") + "\r\n";
