// What the page shows: one model version and everything read for it. Every part of the page
// draws from this one object, replaced whole when the page moves to another version.
"use strict";

export const view = {
  version: null, // the version every part of the page shows
  model: null, // GET /model
  segments: [], // GET /segments, largest first
  sample: null, // GET /model/sample, or null when there is none
  sampleError: "",
  served: null, // GET /models
  servedWhenLoaded: null, // the version the service served when this view was read
  access: null, // GET /admin/access
  tried: null, // the customer tried on the page, for the map
};

// Everything about a column comes from the bundle's feature schema: nothing here names one.
export const schemaColumns = () => (view.model ? [...view.model.feature_schema.features, ...view.model.feature_schema.attributes] : []);
export const column = (name) => schemaColumns().find((c) => c.name === name);
export const numericFeatures = () => (view.model ? view.model.feature_schema.features.filter((f) => f.kind === "numeric").map((f) => f.name) : []);

export function label(name) {
  const known = column(name);
  const words = name.replaceAll("_", " ");
  const text = words.charAt(0).toUpperCase() + words.slice(1);
  return known && known.unit ? `${text} (${known.unit})` : text;
}

// A feature the model reads through log1p (spend, visits: a few large values, most small) is
// drawn on that scale too, else most customers crowd the low end of a linear axis. Values stay
// in the feature's own unit; only positions go through the transform.
export const onLogScale = (name) => column(name)?.transform === "log1p";
export const scaleOf = (name) => (onLogScale(name) ? Math.log1p : (value) => value);

export const segmentById = (id) => view.segments.find((s) => s.id === id);
export const segmentName = (id) => (segmentById(id) ? segmentById(id).name : `segment ${id}`);
