// @ts-check
// The recordings of one webinar on the dashboard: each with its state, dates, duration,
// size and expiry, a player, a download link, its deletion, and its share links (create,
// copy, revoke). While one is still written or finalized, the list is asked again.

import { getJSON, sendJSON } from "./api.js";
import { CAPTIONS_FILE, captionTrack } from "./captions.js";
import { copyLink } from "./copy-link.js";
import { SLIDES_TIMELINE, replaySlides } from "./slides.js";
import { h, uid } from "./dom.js";
import { lang, localize, setPlainText, t, translate } from "./i18n.js";
import { errorKey, loginIfExpired } from "./session.js";

/** @typedef {import("./api.js").Webinar} Webinar */

/**
 * A recording, from GET /api/v1/webinars/{id}/recordings.
 *
 * @typedef {object} Recording
 * @property {string} id
 * @property {string} webinar_id
 * @property {"recording" | "finalizing" | "ready" | "failed"} state
 * @property {string} started_at
 * @property {string | null} ended_at
 * @property {number} duration_ms
 * @property {number} size_bytes
 * @property {string} expires_at
 * @property {string} error
 * @property {string} [files_missing_at] when the retention sweep found its files gone
 * @property {string[]} files
 */

/**
 * A share link of a recording.
 *
 * @typedef {object} ShareLink
 * @property {string} id
 * @property {string} url
 * @property {"public" | "invitees"} audience
 * @property {string} created_at
 * @property {string} expires_at
 * @property {string | null} revoked_at
 */

/** How often the list is asked again while a recording is not finished, in milliseconds. */
const POLL_MS = 2000;

/** The days a new share link lasts unless changed. */
const DEFAULT_LINK_DAYS = 7;

/**
 * A duration as a clock, e.g. "1:02:03" or "0:04".
 *
 * @param {number} ms
 * @returns {string}
 */
export function clock(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  return hours > 0 ? `${hours}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * A size in bytes for people, e.g. "1.4 MB".
 *
 * @param {number} bytes
 * @returns {string}
 */
export function size(bytes) {
  const units = /** @type {const} */ (["byte", "kilobyte", "megabyte", "gigabyte"]);
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return new Intl.NumberFormat(lang(), { style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: 1 }).format(n);
}

/**
 * Builds the recordings panel of w in panel and loads them.
 *
 * @param {Webinar} w
 * @param {HTMLElement} panel
 * @param {() => string} csrf the session's CSRF token
 */
export function openRecordings(w, panel, csrf) {
  const message = h("p", { class: "panel-message", role: "status" });
  const items = h("ul", { class: "recording-list" });
  panel.append(h("h4", { "data-i18n": "rec.title" }), h("p", { class: "hint", "data-i18n": "rec.intro" }), message, items);
  translate(panel);

  /** The item shown per recording id, with the state it shows. @type {Map<string, {state: string, li: HTMLLIElement}>} */
  const shown = new Map();
  /** @type {number | undefined} */
  let timer;

  /** @param {unknown} err */
  const panelFail = (err) => {
    if (!loginIfExpired(err)) localize(message, errorKey(err));
  };

  const reload = async () => {
    window.clearTimeout(timer);
    /** @type {{items: Recording[]}} */
    const res = await getJSON(`/api/v1/webinars/${encodeURIComponent(w.id)}/recordings`);
    const ids = new Set(res.items.map((r) => r.id));
    for (const id of shown.keys()) {
      if (!ids.has(id)) shown.delete(id);
    }
    // An item is built again only when its state changed: a playing video goes on.
    const lis = res.items.map((r) => {
      const old = shown.get(r.id);
      if (old && old.state === r.state) return old.li;
      const li = renderRecording(r, { message, csrf, reload: () => reload().catch(panelFail) });
      shown.set(r.id, { state: r.state, li });
      return li;
    });
    items.replaceChildren(...lis);
    if (lis.length === 0) {
      items.append(h("li", { class: "empty", "data-i18n": "rec.empty" }));
      translate(items);
    }
    if (panel.isConnected && !panel.hidden && res.items.some((r) => r.state === "recording" || r.state === "finalizing")) {
      timer = window.setTimeout(() => reload().catch(panelFail), POLL_MS);
    }
  };

  panel.addEventListener("panel:open", () => reload().catch(panelFail));
  localize(message, "common.loading");
  reload().then(
    () => setPlainText(message, ""),
    (err) => panelFail(err),
  );
}

/**
 * @typedef {object} Context
 * @property {HTMLElement} message the panel's status line
 * @property {() => string} csrf
 * @property {() => Promise<void>} reload loads the list again
 */

/**
 * One recording: its facts, and when it is ready its player, download, share links and
 * deletion.
 *
 * @param {Recording} r
 * @param {Context} ctx
 * @returns {HTMLLIElement}
 */
function renderRecording(r, ctx) {
  const titleId = uid("recording-title");
  const started = JSON.stringify({ date: { date: r.started_at } });
  const facts = h(
    "ul",
    { class: "recording-facts" },
    h("li", { "data-i18n": "rec.duration", "data-i18n-vars": JSON.stringify({ duration: clock(r.duration_ms) }) }),
    h("li", { "data-i18n": "rec.size", "data-i18n-vars": JSON.stringify({ size: size(r.size_bytes) }) }),
    h("li", { class: "recording-expiry", "data-i18n": "rec.expires", "data-i18n-vars": JSON.stringify({ date: { datetime: r.expires_at } }) }),
  );
  const li = h(
    "li",
    { class: "recording", "data-recording-id": r.id, "data-state": r.state },
    h(
      "h5",
      { id: titleId, class: "recording-title" },
      h("span", { "data-i18n": "rec.started", "data-i18n-vars": started }),
      " ",
      h("span", { class: `tag${r.state === "failed" ? " tag-error" : ""}`, "data-i18n": `rec.state.${r.state}` }),
    ),
    facts,
    r.error ? h("p", { class: "alert recording-error", "data-i18n": "rec.error", "data-i18n-vars": JSON.stringify({ error: r.error }) }) : null,
    r.files_missing_at ? h("p", { class: "alert recording-missing", "data-i18n": "rec.missing", "data-i18n-vars": JSON.stringify({ date: { datetime: r.files_missing_at } }) }) : null,
  );
  const file = r.files.includes("replay.webm") ? "replay.webm" : r.files[0];
  const finished = r.state === "ready" || r.state === "failed";
  if (finished && file) {
    const src = `/api/v1/recordings/${encodeURIComponent(r.id)}/files/${encodeURIComponent(file)}`;
    const video = h("video", { class: "recording-player", controls: true, preload: "metadata", src, "aria-labelledby": titleId });
    if (r.files.includes(CAPTIONS_FILE)) video.append(captionTrack(`/api/v1/recordings/${encodeURIComponent(r.id)}/files/${CAPTIONS_FILE}`));
    li.append(video);
    if (r.files.includes(SLIDES_TIMELINE)) li.append(replaySlides(video, (f) => `/api/v1/recordings/${encodeURIComponent(r.id)}/files/${encodeURIComponent(f)}`));
    li.append(
      h("div", { class: "actions" }, h("a", { class: "button secondary", href: src, download: file, "data-i18n": "rec.download", "data-i18n-attr": "aria-label:rec.download.label", "data-i18n-vars": started })),
    );
  }
  if (finished) {
    const remove = h("button", { type: "button", class: "button danger", "data-action": "delete-recording", "data-i18n": "rec.delete", "data-i18n-attr": "aria-label:rec.delete.label", "data-i18n-vars": started });
    remove.addEventListener("click", () => deleteRecording(r, ctx));
    if (r.state === "ready") li.append(shareLinks(r, ctx));
    li.append(h("div", { class: "actions" }, remove));
  }
  translate(li);
  return li;
}

/**
 * @param {Recording} r
 * @param {Context} ctx
 */
async function deleteRecording(r, ctx) {
  if (!window.confirm(t("rec.delete.confirm", { date: { date: r.started_at } }))) return;
  try {
    await sendJSON("DELETE", `/api/v1/recordings/${encodeURIComponent(r.id)}`, undefined, ctx.csrf());
    localize(ctx.message, "rec.deleted");
    await ctx.reload();
    ctx.message.closest("section")?.querySelector("h4")?.focus();
  } catch (err) {
    if (!loginIfExpired(err)) localize(ctx.message, errorKey(err));
  }
}

/**
 * The share links of a ready recording: the form that makes one, and the list.
 *
 * @param {Recording} r
 * @param {Context} ctx
 * @returns {HTMLElement}
 */
function shareLinks(r, ctx) {
  const audienceId = uid("audience");
  const daysId = uid("days");
  const audience = h(
    "select",
    { id: audienceId, name: "audience" },
    h("option", { value: "public", "data-i18n": "rec.link.public" }),
    h("option", { value: "invitees", "data-i18n": "rec.link.invitees" }),
  );
  const days = h("input", { id: daysId, name: "expires_in_days", type: "number", min: 1, max: 365, step: 1, value: DEFAULT_LINK_DAYS, inputmode: "numeric", required: true });
  const create = h(
    "form",
    { class: "inline-form share-form" },
    h("div", { class: "field" }, h("label", { for: audienceId, "data-i18n": "rec.link.audience" }), audience),
    h("div", { class: "field" }, h("label", { for: daysId, "data-i18n": "rec.link.days" }), days),
    h("button", { type: "submit", class: "button", "data-i18n": "rec.link.create" }),
  );
  const message = h("p", { class: "panel-message", role: "status" });
  const items = h("ul", { class: "share-list" });
  const base = `/api/v1/recordings/${encodeURIComponent(r.id)}/links`;

  /** @param {unknown} err */
  const linkFail = (err) => {
    if (!loginIfExpired(err)) localize(message, errorKey(err));
  };

  /** @param {string} [focusId] the link whose field gets the focus */
  const reload = async (focusId) => {
    /** @type {{items: ShareLink[]}} */
    const res = await getJSON(base);
    const now = Date.now();
    const live = (/** @type {ShareLink} */ l) => l.revoked_at === null && Date.parse(l.expires_at) > now;
    const sorted = [...res.items].sort((a, b) => Number(live(b)) - Number(live(a)) || b.created_at.localeCompare(a.created_at));
    items.replaceChildren(...sorted.map((l) => renderLink(l, live(l))));
    if (sorted.length === 0) items.append(h("li", { class: "empty", "data-i18n": "rec.link.empty" }));
    translate(items);
    if (focusId) {
      const input = items.querySelector(`[data-link-id="${CSS.escape(focusId)}"] input`);
      if (input instanceof HTMLInputElement) input.focus();
    }
  };

  /**
   * @param {ShareLink} l
   * @param {boolean} live
   * @returns {HTMLLIElement}
   */
  const renderLink = (l, live) => {
    const what = { key: `rec.link.${l.audience}` };
    const vars = JSON.stringify({ audience: what, date: { datetime: l.expires_at } });
    const head = h("p", { class: "invitation-head" }, h("strong", { "data-i18n": what.key }), " ", h("span", { class: "muted", "data-i18n": "rec.link.expires", "data-i18n-vars": vars }));
    if (!live) {
      const key = l.revoked_at !== null ? "rec.link.revoked" : "rec.link.expired";
      head.append(" ", h("span", { class: "tag tag-revoked", "data-i18n": key }));
      return h("li", { class: "invitation revoked", "data-link-id": l.id }, head);
    }
    const revoke = h("button", { type: "button", class: "button danger", "data-action": "revoke-link", "data-i18n": "rec.link.revoke", "data-i18n-attr": "aria-label:rec.link.revoke.label", "data-i18n-vars": vars });
    revoke.addEventListener("click", async () => {
      if (!window.confirm(t("rec.link.revoke.confirm"))) return;
      try {
        await sendJSON("DELETE", `${base}/${encodeURIComponent(l.id)}`, undefined, ctx.csrf());
        localize(message, "rec.link.revoked_done");
        await reload();
        audience.focus();
      } catch (err) {
        linkFail(err);
      }
    });
    return h("li", { class: "invitation", "data-link-id": l.id }, head, copyLink(l.url, "rec.link.label", { audience: what }), h("div", { class: "actions" }, revoke));
  };

  let busy = false;
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const n = Number(days.value);
    if (!Number.isInteger(n) || n < 1 || n > 365) {
      days.setAttribute("aria-invalid", "true");
      localize(message, "rec.link.days.error");
      days.focus();
      return;
    }
    days.removeAttribute("aria-invalid");
    busy = true;
    try {
      /** @type {ShareLink} */
      const link = await sendJSON("POST", base, { audience: audience.value, expires_in_days: n }, ctx.csrf());
      localize(message, "rec.link.created");
      await reload(link.id);
    } catch (err) {
      linkFail(err);
    } finally {
      busy = false;
    }
  });

  reload().catch(linkFail);
  return h("section", { class: "share-links", "data-i18n-attr": "aria-label:rec.link.title" }, h("h6", { "data-i18n": "rec.link.title" }), create, message, items);
}
