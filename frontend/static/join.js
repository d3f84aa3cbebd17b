// @ts-check
// The page of an invitation link, /join/<token>: what the session is, when, in which role,
// whether it may be recorded, and its calendar entry; then the preview and choice of camera
// and microphone and, under a display name, the room itself. No login, no cookie.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { DevicePreview } from "./devices.js";
import { byId } from "./dom.js";
import { initI18n, localize, setPlainText, translate } from "./i18n.js";
import { MeetingRoom } from "./room.js";

/** @typedef {import("./api.js").PublicInvitation} PublicInvitation */
/** @typedef {import("./rtc.js").JoinAnswer} JoinAnswer */

/**
 * The token of a /join/<token> path, or "" when the path has none.
 *
 * @param {string} pathname
 * @returns {string}
 */
export function tokenOf(pathname) {
  const m = /^\/join\/([^/]+)\/?$/.exec(pathname);
  if (!m) return "";
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return "";
  }
}

const loading = byId("loading", HTMLElement);
const invalid = byId("invalid", HTMLElement);
const failure = byId("failure", HTMLElement);
const failureText = byId("failure-text", HTMLElement);
const retry = byId("retry", HTMLButtonElement);
const view = byId("invitation", HTMLElement);
const enterForm = byId("enter-form", HTMLFormElement);
const nameInput = byId("display-name", HTMLInputElement);
const nameError = byId("display-name-error", HTMLElement);
const enterError = byId("enter-error", HTMLElement);
const enterMedia = byId("enter-media", HTMLElement);
const preview = byId("preview", DevicePreview);
const room = byId("room", MeetingRoom);

/** @param {HTMLElement} shown */
function show(shown) {
  for (const el of [loading, invalid, failure, view]) el.hidden = el !== shown;
}

/**
 * @param {string} token
 * @param {PublicInvitation} inv
 */
function render(token, inv) {
  const base = `/api/v1/invitations/${encodeURIComponent(token)}`;
  byId("inv-title", HTMLElement).textContent = inv.title;
  const description = byId("inv-description", HTMLElement);
  description.textContent = inv.description;
  description.hidden = inv.description === "";

  const when = byId("inv-when", HTMLTimeElement);
  when.dateTime = inv.starts_at;
  when.setAttribute("data-value", inv.starts_at);
  byId("inv-duration", HTMLElement).setAttribute("data-value", String(inv.duration_minutes));
  localize(byId("inv-kind", HTMLElement), `kind.${inv.kind}`);
  localize(byId("inv-role", HTMLElement), `role.${inv.role}`);
  localize(byId("inv-lobby", HTMLElement), inv.lobby_enabled ? "join.lobby.yes" : "join.lobby.no");

  const recording = byId("inv-recording", HTMLElement);
  localize(recording, inv.recording_allowed ? "join.recording.yes" : "join.recording.no");
  recording.classList.toggle("notice-warning", inv.recording_allowed);

  byId("inv-ics", HTMLAnchorElement).href = `${base}/invitation.ics`;
  enterMedia.hidden = inv.kind === "webinar" && inv.role === "attendee";
  if (!enterMedia.hidden) preview.startIfAllowed();
  localize(byId("doc-title", HTMLTitleElement), "join.doc_title.named", { title: inv.title });
  translate(view); // formats the date and the duration just set
}

/**
 * Loads the invitation and shows it, or says why not. After a retry the focus goes to the
 * heading of what is shown, since the retry button is gone.
 *
 * @param {string} token
 * @param {boolean} moveFocus
 */
async function load(token, moveFocus) {
  show(loading);
  /** @type {HTMLElement} */
  let shown;
  try {
    /** @type {PublicInvitation} */
    const inv = await getJSON(`/api/v1/invitations/${encodeURIComponent(token)}`);
    render(token, inv);
    shown = view;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      shown = invalid;
    } else {
      localize(failureText, err instanceof ApiError && err.status === 0 ? "error.network" : "error.unavailable");
      shown = failure;
    }
  }
  show(shown);
  if (moveFocus) shown.querySelector("h1")?.focus();
}

/**
 * A join token for the room of the invitation, under the name typed.
 *
 * @param {string} token
 * @param {string} name
 * @returns {Promise<JoinAnswer>}
 */
function joinRoom(token, name) {
  return sendJSON("POST", `/api/v1/invitations/${encodeURIComponent(token)}/join`, { display_name: name }, "");
}

/**
 * Enters the room under the name typed, in place of the invitation.
 *
 * @param {string} token
 * @param {string} title
 */
async function enter(token, title) {
  const name = nameInput.value.trim();
  setPlainText(enterError, "");
  nameError.hidden = true;
  nameInput.removeAttribute("aria-invalid");
  if (name === "") {
    localize(nameError, "join.name.error");
    nameError.hidden = false;
    nameInput.setAttribute("aria-invalid", "true");
    nameInput.focus();
    return;
  }
  /** @type {JoinAnswer} */
  let answer;
  try {
    answer = await joinRoom(token, name);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      show(invalid);
      invalid.querySelector("h1")?.focus();
    } else if (err instanceof ApiError && err.code === "validation") {
      localize(nameError, "join.name.error");
      nameError.hidden = false;
      nameInput.setAttribute("aria-invalid", "true");
      nameInput.focus();
    } else {
      localize(enterError, err instanceof ApiError && err.status === 0 ? "error.network" : "error.unavailable");
    }
    return;
  }
  view.hidden = true;
  room.hidden = false;
  byId("main", HTMLElement).classList.remove("narrow");
  // A token that expires during a reconnection is replaced by a new one, under the same name.
  const media = enterMedia.hidden ? undefined : { choice: preview.choice(), local: preview.take() };
  await room.enter(answer, { title, renew: () => joinRoom(token, name), media });
}

initI18n();
const token = tokenOf(location.pathname);
if (token === "") {
  show(invalid);
} else {
  retry.addEventListener("click", () => load(token, true));
  let busy = false;
  enterForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    try {
      await enter(token, byId("inv-title", HTMLElement).textContent || "");
    } finally {
      busy = false;
    }
  });
  load(token, false);
}
