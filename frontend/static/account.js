// @ts-check
// The organizer's account page, for the rights of the person: what the account holds, the
// display name to rectify, the export to download, and the erasure of the account. While
// processing is restricted (GDPR art. 18) only reading and exporting are offered.

import { ApiError, sendJSON } from "./api.js";
import { byId } from "./dom.js";
import { clearFieldError, showFieldError } from "./fields.js";
import { initI18n, localize, setPlainText, translate } from "./i18n.js";
import { clearHeader, errorKey, loadMe, loginIfExpired, setupHeader } from "./session.js";

/** @typedef {import("./api.js").Me} Me */
/** @typedef {import("./api.js").Erasure} Erasure */

/** The longest display name, in characters (Unicode code points). */
const MAX_NAME = 100;

/** The organizer, once loaded. @type {Me | null} */
let me = null;

const loading = byId("loading", HTMLElement);
const pageError = byId("page-error", HTMLElement);
const statusLine = byId("status", HTMLElement);
const content = byId("content", HTMLElement);
const restricted = byId("restricted", HTMLElement);
const nameSection = byId("name-section", HTMLElement);
const nameForm = byId("name-form", HTMLFormElement);
const nameInput = byId("f-display-name", HTMLInputElement);
const deleteSection = byId("delete-section", HTMLElement);
const deleteForm = byId("delete-form", HTMLFormElement);
const confirmInput = byId("f-confirm-email", HTMLInputElement);

// ---------------------------------------------------------------------------------------
// Messages

/**
 * Says key in the status line (announced politely), or in the alert line when it is an error.
 *
 * @param {string} key
 * @param {import("./i18n.js").Vars} [vars]
 * @param {boolean} [isError]
 */
function say(key, vars, isError = false) {
  setPlainText(isError ? statusLine : pageError, "");
  localize(isError ? pageError : statusLine, key, vars);
}

/**
 * Reports a failed request: the login page when the session is over, the restriction notice
 * when the account was restricted meanwhile, else a message at page level.
 *
 * @param {unknown} err
 */
async function fail(err) {
  if (loginIfExpired(err)) return;
  if (err instanceof ApiError && err.code === "restricted") {
    try {
      const fresh = await loadMe();
      if (fresh) me = fresh;
    } catch {
      // keep what is known; the notice goes without its date
    }
    showRestricted(me ? me.restricted_at : null);
    restricted.focus();
    return;
  }
  say(errorKey(err), {}, true);
}

// ---------------------------------------------------------------------------------------
// The account

/** @param {Me} who */
function render(who) {
  byId("me-given-name", HTMLElement).textContent = who.given_name;
  byId("me-family-name", HTMLElement).textContent = who.family_name;
  byId("me-email", HTMLElement).textContent = who.email;
  const shown = byId("me-display-name", HTMLElement);
  if (who.display_name) {
    setPlainText(shown, who.display_name);
  } else {
    const name = [who.given_name, who.family_name].filter(Boolean).join(" ") || who.email;
    localize(shown, "account.display_name.default", { name });
  }
  for (const [id, value] of [
    ["me-last-activity", who.last_activity_at],
    ["me-session-expires", who.session_expires],
  ]) {
    const time = byId(id, HTMLTimeElement);
    time.dateTime = value;
    time.setAttribute("data-value", value);
  }
  localize(byId("f-confirm-email-hint", HTMLElement), "account.delete.confirm.hint", { email: who.email });
  translate(content);
}

/**
 * Shows that processing is restricted and takes away every action but the export.
 *
 * @param {string | null} since
 */
function showRestricted(since) {
  const text = byId("restricted-text", HTMLElement);
  if (since) localize(text, "account.restricted.text", { date: { datetime: since } });
  else localize(text, "account.restricted.text.nodate");
  restricted.hidden = false;
  nameSection.hidden = true;
  deleteSection.hidden = true;
}

// ---------------------------------------------------------------------------------------
// Rectification: the display name

/**
 * The problem with a display name, as the server checks it, or "".
 *
 * @param {string} name already trimmed
 * @returns {string} a message key
 */
export function nameProblem(name) {
  if ([...name].length > MAX_NAME || /[\u0000-\u001f\u007f-\u009f]/.test(name)) return "account.name.error";
  return "";
}

let saving = false;

/** @param {SubmitEvent} event */
async function submitName(event) {
  event.preventDefault();
  if (saving || !me) return;
  clearFieldError(nameInput);
  const name = nameInput.value.trim();
  const problem = nameProblem(name);
  if (problem) {
    showFieldError(nameInput, problem);
    nameInput.focus();
    return;
  }
  saving = true;
  nameForm.setAttribute("aria-busy", "true");
  try {
    /** @type {Me} */
    const updated = await sendJSON("PATCH", "/api/v1/me", { display_name: name }, me.csrf_token);
    me = updated;
    render(updated);
    nameInput.value = updated.display_name;
    say(updated.display_name ? "account.name.saved" : "account.name.cleared", { name: updated.display_name });
  } catch (err) {
    if (err instanceof ApiError && err.code === "validation") {
      showFieldError(nameInput, "account.name.error");
      nameInput.focus();
    } else {
      await fail(err);
    }
  } finally {
    saving = false;
    nameForm.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------------------------------
// Erasure

let erasing = false;

/** @param {SubmitEvent} event */
async function submitDelete(event) {
  event.preventDefault();
  if (erasing || !me) return;
  clearFieldError(confirmInput);
  if (confirmInput.value.trim().toLowerCase() !== me.email.toLowerCase()) {
    showFieldError(confirmInput, confirmInput.value.trim() === "" ? "account.delete.confirm.empty" : "account.delete.confirm.mismatch");
    confirmInput.focus();
    return;
  }
  erasing = true;
  deleteForm.setAttribute("aria-busy", "true");
  try {
    /** @type {Erasure} */
    const res = await sendJSON("DELETE", "/api/v1/me", undefined, me.csrf_token);
    showErased(res);
  } catch (err) {
    await fail(err);
  } finally {
    erasing = false;
    deleteForm.removeAttribute("aria-busy");
  }
}

/**
 * The page after the erasure: what stays, until when, and the way out. There is no session
 * any more.
 *
 * @param {Erasure} res
 */
function showErased(res) {
  me = null;
  clearHeader();
  byId("account", HTMLElement).hidden = true;
  const kept = byId("erased-kept", HTMLElement);
  if (res.connection_log_entries > 0 && res.connection_log_kept_until) {
    localize(kept, "account.erased.kept", {
      count: res.connection_log_entries,
      until: { datetime: res.connection_log_kept_until },
    });
  } else {
    localize(kept, "account.erased.none");
  }
  byId("erased", HTMLElement).hidden = false;
  byId("erased-title", HTMLElement).focus();
}

// ---------------------------------------------------------------------------------------

async function main() {
  initI18n();
  try {
    me = await loadMe();
  } catch (err) {
    loading.hidden = true;
    say(errorKey(err), {}, true);
    return;
  }
  if (!me) return;
  setupHeader(me, fail);
  render(me);
  nameInput.value = me.display_name;
  if (me.restricted_at !== null) showRestricted(me.restricted_at);
  nameForm.addEventListener("submit", submitName);
  deleteForm.addEventListener("submit", submitDelete);
  loading.hidden = true;
  content.hidden = false;
}

main();
