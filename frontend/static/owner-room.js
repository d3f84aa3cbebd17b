// @ts-check
// The organizer's own room, /room/<webinar id>: he enters it as moderator with the owner's
// join endpoint, which needs his session and its CSRF token.

import { getJSON, sendJSON } from "./api.js";
import { byId } from "./dom.js";
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
