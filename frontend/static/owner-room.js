// @ts-check
// The organizer's own room, /room/<webinar id>: he enters it as moderator with the owner's
// join endpoint, which needs his session and its CSRF token. From the room he starts and
// stops its recording, when the webinar allows it, and its live broadcast.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { troubleText } from "./broadcast.js";
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

/** The API's refusals of a recording request that have their own message, by code. */
const RECORDING_ERRORS = new Map([
  ["room_not_open", "room.rec.error.room_not_open"],
  ["recording_not_allowed", "room.rec.error.recording_not_allowed"],
  ["recording_active", "room.rec.error.recording_active"],
  ["not_recording", "room.rec.error.not_recording"],
]);

/** The API's refusals of a broadcast request that have their own message, by code. */
const BROADCAST_ERRORS = new Map([
  ["room_not_open", "room.cast.error.room_not_open"],
  ["no_broadcast_target", "room.cast.error.no_broadcast_target"],
  ["broadcast_active", "room.cast.error.broadcast_active"],
  ["not_broadcasting", "room.cast.error.not_broadcasting"],
]);

/**
 * A job the API runs on the room (a recording, a broadcast), started and stopped by a
 * button of the moderator controls.
 *
 * @typedef {object} RoomJob
 * @property {string} path the API path, started by POST and stopped by DELETE
 * @property {string} event the room's event that says whether it runs (detail: {active})
 * @property {string} action the button's data-action
 * @property {string} start the button's string while it does not run
 * @property {string} stop the button's string while it runs
 * @property {Map<string, string>} errors the refusals that have their own string, by code
 * @property {(detail: any, message: HTMLElement) => void} [onEvent] more to show at each event
 */

/**
 * Adds the start / stop button of a job to the room's moderator controls. The button
 * follows the room's events of the job; a refusal is said politely beside it.
 *
 * @param {RoomJob} job
 * @param {Me} me
 */
function jobControls(job, me) {
  const button = h("button", { type: "button", class: "button secondary", "data-action": job.action, "data-i18n": job.start });
  const message = h("span", { class: "record-message", role: "status" });
  let active = false;
  /** @param {boolean} on */
  const show = (on) => {
    active = on;
    localize(button, on ? job.stop : job.start);
  };
  room.addEventListener(job.event, (event) => {
    const detail = /** @type {CustomEvent} */ (event).detail;
    show(Boolean(detail.active));
    job.onEvent?.(detail, message);
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    setPlainText(message, "");
    const start = !active;
    try {
      await sendJSON(start ? "POST" : "DELETE", job.path, undefined, me.csrf_token);
      show(start);
    } catch (err) {
      if (loginIfExpired(err)) return;
      const code = err instanceof ApiError ? err.code : "";
      localize(message, job.errors.get(code) || errorKey(err));
    } finally {
      button.disabled = false;
    }
  });
  room.addModeratorControls(button, message);
}

/**
 * Adds the Record / Stop recording button of webinar id.
 *
 * @param {string} id
 * @param {Me} me
 */
function recordingControls(id, me) {
  const path = `/api/v1/webinars/${encodeURIComponent(id)}/recording`;
  jobControls({ path, event: "recording", action: "record", start: "room.rec.start", stop: "room.rec.stop", errors: RECORDING_ERRORS }, me);
}

/**
 * Adds the Go live / Stop broadcast button of webinar id; the moderators are told beside
 * it why the target does not take the stream, as long as it does not.
 *
 * @param {string} id
 * @param {Me} me
 */
function broadcastControls(id, me) {
  const path = `/api/v1/webinars/${encodeURIComponent(id)}/broadcast`;
  /** @type {RoomJob["onEvent"]} */
  const onEvent = (detail, message) => {
    if (detail.error) localize(message, "room.cast.trouble", { error: troubleText(detail.reason, detail.error) });
    else if (message.getAttribute("data-i18n") === "room.cast.trouble") setPlainText(message, "");
  };
  jobControls({ path, event: "broadcast", action: "broadcast", start: "room.cast.start", stop: "room.cast.stop", errors: BROADCAST_ERRORS, onEvent }, me);
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
  broadcastControls(id, me);
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
