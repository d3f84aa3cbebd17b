// @ts-check
// The page of a share link of a recording, /replay/<token>: the replay, to watch or
// download. For a link for invitees, the watcher pastes his invitation link first. No
// login, no cookie.

import { ApiError, getJSON } from "./api.js";
import { CAPTIONS_FILE, captionTrack } from "./captions.js";
import { SLIDES_TIMELINE, replaySlides } from "./slides.js";
import { byId } from "./dom.js";
import { formatDateTime, initI18n, localize, setPlainText } from "./i18n.js";

/**
 * The last segment of a /replay/<token> or /join/<token> path or URL, or "".
 *
 * @param {string} text
 * @param {string} prefix "replay" or "join"
 * @returns {string}
 */
export function tokenIn(text, prefix) {
  const m = new RegExp(`/${prefix}/([a-z2-7]{32})/?(?:[?#].*)?$`).exec(text.trim());
  return m ? m[1] : "";
}

initI18n();
const loading = byId("loading", HTMLElement);
const ended = byId("ended", HTMLElement);
const form = byId("invitation-form", HTMLFormElement);
const input = byId("invitation", HTMLInputElement);
const view = byId("replay", HTMLElement);
const player = byId("player", HTMLVideoElement);
const download = byId("download", HTMLAnchorElement);

/** @param {HTMLElement} shown */
function show(shown) {
  for (const el of [loading, ended, form, view]) el.hidden = el !== shown;
  const heading = shown.querySelector("h1");
  if (heading instanceof HTMLElement) heading.focus();
}

const token = tokenIn(location.pathname, "replay");

/** @param {string} invitation */
async function open(invitation) {
  const query = invitation ? `?invitation=${encodeURIComponent(invitation)}` : "";
  try {
    const r = await getJSON(`/api/v1/shared/${token}${query}`);
    setPlainText(byId("replay-title", HTMLElement), r.title);
    localize(byId("replay-facts", HTMLElement), "replay.facts", { date: formatDateTime(r.started_at), expires: formatDateTime(r.expires_at) });
    const src = `/api/v1/shared/${token}/files/${encodeURIComponent(r.files[0])}${query}`;
    player.src = src;
    /** @param {string} file */
    const fileURL = (file) => `/api/v1/shared/${token}/files/${encodeURIComponent(file)}${query}`;
    if (r.files.includes(CAPTIONS_FILE)) player.append(captionTrack(fileURL(CAPTIONS_FILE)));
    if (r.files.includes(SLIDES_TIMELINE)) player.after(replaySlides(player, fileURL));
    download.href = src;
    show(view);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && !invitation) {
      // Ended, or for invitees: the form says which to someone who has an invitation.
      show(form);
      return;
    }
    show(ended);
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const invitation = tokenIn(input.value, "join");
  if (!invitation) {
    input.setCustomValidity(" ");
    input.reportValidity();
    show(ended);
    return;
  }
  void open(invitation);
});

if (token) void open("");
else show(ended);
