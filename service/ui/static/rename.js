// Rename and describe a segment on the page. With an admin key (GET /admin/access says
// can_rename) each card has an Edit button; Save sends PUT /admin/names with the version the
// edit was made on, which writes a new bundle version exactly as `segment-names apply` does and
// serves it. The API's refusals (a blank or duplicate name, a version that changed meanwhile,
// a key without the role) appear by the field they name; on success the page moves to the new
// version. Without the role the page is read-only and says why; so is a view of a version that
// is not the one served now (a link to an older one): the service renames only that one.
"use strict";

import { call, errorOf } from "./api.js";
import { $, element } from "./dom.js";
import { view } from "./view.js";

const FIELDS = [["name", "Name", "input"], ["description", "Description", "textarea"], ["action", "Suggested action", "textarea"]];

// Renaming writes a new version from the one served now: a view of another one cannot.
const notServedNow = () => Boolean(view.served && view.served.current && view.served.current !== view.version);

export function showAccess() {
  const access = view.access;
  const note = $("access-note");
  note.hidden = !access || (access.can_rename && !notServedNow());
  if (access && !access.can_rename) {
    note.textContent = `Read-only: ${access.reason}`;
  } else if (access && notServedNow()) {
    const current = view.served.current;
    note.replaceChildren(`Read-only: this is version ${view.version}, and segments are renamed on the version served now, ${current}. `,
      element("a", { href: `/ui?version=${current}` }, "Rename them there"));
  } else {
    note.textContent = "";
  }
}

// A card's Edit button and its form; null without the role, or on a version not served now.
export function renameEditor(onSaved) {
  if (!view.access || !view.access.can_rename || notServedNow()) return null;
  return (segment) => {
    const prefix = `edit-${segment.id}`;
    const toggle = element("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": `${prefix}-form` }, "Edit");
    toggle.setAttribute("aria-label", `Edit ${segment.name}`);
    const form = element("form", { id: `${prefix}-form`, hidden: "" });
    for (const [field, text, tag] of FIELDS) {
      const control = element(tag, { id: `${prefix}-${field}`, name: field, "aria-describedby": `${prefix}-${field}-error` });
      control.value = segment[field] || "";
      form.append(element("label", { for: `${prefix}-${field}` }, text), control, element("p", { class: "error", id: `${prefix}-${field}-error` }));
    }
    const status = element("p", { class: "error", id: `${prefix}-error`, role: "alert" });
    form.append(status, element("div", { class: "buttons" }, element("button", { type: "submit" }, "Save"),
      element("button", { type: "button", class: "secondary", "data-cancel": "" }, "Cancel")));
    const open = (shown) => {
      form.hidden = !shown;
      toggle.setAttribute("aria-expanded", String(shown));
      if (shown) form.elements.name.focus();
      else toggle.focus();
    };
    toggle.addEventListener("click", () => open(form.hidden));
    form.querySelector("[data-cancel]").addEventListener("click", () => open(false));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await save(segment, form, prefix, onSaved);
    });
    return element("div", { class: "edit" }, toggle, form);
  };
}

async function save(segment, form, prefix, onSaved) {
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  // What the marketer changed; an untouched empty field is left as it is.
  const edit = { id: segment.id };
  for (const [field] of FIELDS) {
    const value = form.elements[field].value;
    if (field === "name" || value.trim() !== (segment[field] || "")) edit[field] = value;
  }
  // Writing and loading a new version takes seconds: say so, and never send it twice.
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  $(`${prefix}-error`).textContent = "";
  const saving = element("p", { class: "muted", role: "status" }, "Saving a new version…");
  form.append(saving);
  let response;
  try {
    response = await call("/admin/names", {
      method: "PUT", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ version: view.version, segments: [edit] }) });
  } catch (error) {
    $(`${prefix}-error`).textContent = `Not saved: ${error.message}`;
    return;
  } finally {
    submit.disabled = false;
    saving.remove();
  }
  if (!response.ok) {
    const error = await errorOf(response);
    let placed = false;
    for (const detail of error.details) {
      const field = FIELDS.map(([f]) => f).find((f) => detail.field.endsWith(`.${f}`) || detail.field === f);
      if (!field) continue;
      $(`${prefix}-${field}-error`).textContent = detail.message;
      form.elements[field].setAttribute("aria-invalid", "true");
      placed = true;
    }
    $(`${prefix}-error`).textContent = placed ? "Not saved: see the message by the field." : `Not saved: ${error.message}`;
    return;
  }
  const saved = await response.json();
  await onSaved(saved.model_version || saved.version);
}
