// The page's calls to the service: the same API an integration uses, with three rules of its own.
// Every call says it comes from this page (X-Segment-Source: ui), so the service leaves the
// customers tried here out of drift and the history. A call about the model is pinned to the
// version the page shows (?version=V), and its answer must name that version: a page never
// shows two versions at once. (The history of shares is not about one version: app.js reads it
// unpinned.) The API key, when the service wants one, lives in this tab only.
"use strict";

const KEY_STORAGE = "segment-api-key";
export const SOURCE_HEADER = "X-Segment-Source";

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error.message : `the service answered ${status}`);
    this.status = status;
    this.details = body && body.error ? body.error.details || [] : [];
    this.total = Math.max(this.details.length, (body && body.error && body.error.total) || 0);
  }

  // A 404 about the version the page pinned: it is no longer served (a reload replaced it).
  get versionGone() {
    return this.status === 404 && (this.details.some((d) => d.field === "version" || d.field.endsWith(".version")) || /\bversion\b/.test(this.message));
  }

  // A 422 about the version asked for: not a version name at all (a link typed or cut wrong).
  get badVersionName() {
    return this.status === 422 && this.details.some((d) => d.field === "version" || d.field.endsWith(".version"));
  }

  get needsKey() {
    return this.status === 401 || this.status === 403;
  }
}

// An answer that came from another version than the one asked for: never shown.
export class VersionMismatch extends Error {
  constructor(asked, answered) {
    super(`the service answered with version ${answered} instead of ${asked}`);
    this.asked = asked;
    this.answered = answered;
  }
}

export const setKey = (key) => sessionStorage.setItem(KEY_STORAGE, key);

export function pinned(path, version) {
  if (!version) return path;
  const url = new URL(path, location.origin);
  url.searchParams.set("version", version);
  return url.pathname + url.search;
}

export async function call(path, { version = null, headers = {}, ...options } = {}) {
  const sent = { [SOURCE_HEADER]: "ui", ...headers };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) sent.Authorization = `Bearer ${key}`;
  return fetch(pinned(path, version), { ...options, headers: sent });
}

// The version an answer came from: its X-Model-Version header, else the body's own field.
export function answeredVersion(response, body) {
  return response.headers.get("X-Model-Version") || (body && (body.model_version || body.version)) || null;
}

export function checkVersion(version, response, body) {
  const answered = answeredVersion(response, body);
  if (version && answered && answered !== version) throw new VersionMismatch(version, answered);
}

export async function callJson(path, options = {}) {
  const response = await call(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  checkVersion(options.version, response, body);
  return body;
}

export async function errorOf(response) {
  return new ApiError(response.status, await response.json().catch(() => null));
}
