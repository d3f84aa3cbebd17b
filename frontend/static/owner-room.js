// @ts-check
// The organizer's own room, /room/<webinar id>: he enters it as moderator with the owner's
// join endpoint, which needs his session and its CSRF token. When the webinar allows it, he
// starts and stops its recording from the room.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { byId, h } from "./dom.js";
import { initI18n, localize, setPlainText } from "./i18n.js";
import { MeetingRoom } from "./room.js";
import { errorKey, loadMe, loginIfExpired, setupHeader } from "./session.js";

/** @typedef {import("./api.js").Me} Me */
/** @typedef {import("./api.js").Webinar} Webinar */
/** @typedef {import("./rtc.js").JoinAnswer} JoinAnswer */

/**
 * The webinar id of a /room/<id> path, or "".
 *
 * @param {string} pathname
 * @returns {string}
 */
export function webinarOf(pathname) {
  const m = /^\/room\/([0-9a-fA-F-]+)\/?$/.exec(pathname);
  return m ? m[1] : "";
}

const loading = byId("loading", HTMLElement);
const pageError = byId("page-error", HTMLElement);
const lobby = byId("lobby", HTMLElement);
const enterButton = byId("enter", HTMLButtonElement);
const room = byId("room", MeetingRoom);

/** @param {unknown} err */
function fail(err) {
  if (loginIfExpired(err)) return;
  loading.hidden = true;
  localize(pageError, errorKey(err));
}

/** The API's refusals of a recording request that have their own message. */
const RECORDING_ERRORS = new Set(["room_not_open", "recording_not_allowed", "recording_active", "not_recording"]);

/**
 * Adds the Record / Stop recording button of webinar id to the room's moderator controls.
 * The button follows the room's recording messages; a refusal is said politely beside it.
 *
 * @param {string} id
 * @param {Me} me
 */
function recordingControls(id, me) {
  const button = h("button", { type: "button", class: "button secondary", "data-action": "record", "data-i18n": "room.rec.start" });
  const message = h("span", { class: "record-message", role: "status" });
  let active = false;
  /** @param {boolean} on */
  const show = (on) => {
    active = on;
    localize(button, on ? "room.rec.stop" : "room.rec.start");
  };
  room.addEventListener("recording", (event) => show(Boolean(/** @type {CustomEvent} */ (event).detail.active)));
  button.addEventListener("click", async () => {
    button.disabled = true;
    setPlainText(message, "");
    const url = `/api/v1/webinars/${encodeURIComponent(id)}/recording`;
    const start = !active;
    try {
      await sendJSON(start ? "POST" : "DELETE", url, undefined, me.csrf_token);
      show(start);
    } catch (err) {
      if (loginIfExpired(err)) return;
      const code = err instanceof ApiError ? err.code : "";
      localize(message, RECORDING_ERRORS.has(code) ? `room.rec.error.${code}` : errorKey(err));
    } finally {
      button.disabled = false;
    }
  });
  room.addModeratorControls(button, message);
}

/**
 * A moderator's join token for the room of webinar id.
 *
 * @param {string} id
 * @param {Me} me
 * @returns {Promise<JoinAnswer>}
 */
function joinRoom(id, me) {
  return sendJSON("POST", `/api/v1/webinars/${encodeURIComponent(id)}/join`, undefined, me.csrf_token);
}

async function main() {
  initI18n();
  const id = webinarOf(location.pathname);
  const me = await loadMe();
  if (!me) return;
  setupHeader(me, fail);
  if (id === "") {
    loading.hidden = true;
    localize(pageError, "error.not_found");
    return;
  }
  /** @type {Webinar} */
  const w = await getJSON(`/api/v1/webinars/${encodeURIComponent(id)}`);
  byId("owner-title", HTMLElement).textContent = w.title;
  localize(byId("doc-title", HTMLTitleElement), "owner.doc_title.named", { title: w.title });
  if (w.recording_allowed) recordingControls(id, me);
  loading.hidden = true;
  lobby.hidden = false;
  enterButton.addEventListener("click", async () => {
    enterButton.disabled = true;
    setPlainText(pageError, "");
    try {
      const answer = await joinRoom(id, me);
      lobby.hidden = true;
      room.hidden = false;
      await room.enter(answer, { title: w.title, renew: () => joinRoom(id, me) });
    } catch (err) {
      enterButton.disabled = false;
      fail(err);
    }
  });
}

main().catch(fail);
