// @ts-check
// An error shown at a form field: the message in the field's error line (the element with id
// "<field id>-error"), aria-invalid on the field, and the message added to its description so
// that a screen reader says it with the field.

import { localize, setPlainText } from "./i18n.js";

/** @typedef {HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement} Field */

/**
 * The field's own description (its hints), remembered the first time.
 *
 * @param {Field} input
 * @returns {string}
 */
function ownDescription(input) {
  if (!input.hasAttribute("data-describedby")) {
    input.setAttribute("data-describedby", input.getAttribute("aria-describedby") || "");
  }
  return input.getAttribute("data-describedby") || "";
}

/**
 * @param {Field} input
 * @returns {HTMLElement}
 */
function errorLine(input) {
  const el = document.getElementById(`${input.id}-error`);
  if (!el) throw new Error(`page is missing #${input.id}-error`);
  return el;
}

/**
 * Shows the message of key at the field.
 *
 * @param {Field} input
 * @param {string} key
 * @param {import("./i18n.js").Vars} [vars]
 */
export function showFieldError(input, key, vars) {
  const error = errorLine(input);
  localize(error, key, vars);
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", [ownDescription(input), error.id].filter(Boolean).join(" "));
}

/**
 * Removes the error shown at the field, if any.
 *
 * @param {Field} input
 */
export function clearFieldError(input) {
  const error = errorLine(input);
  setPlainText(error, "");
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  const own = ownDescription(input);
  if (own) input.setAttribute("aria-describedby", own);
  else input.removeAttribute("aria-describedby");
}
