// @ts-check
// The live broadcast of one webinar on the dashboard: where it goes (the RTMP URL and the
// stream key its server gave; the key is sent once and never shown again), and whether it
// runs now. It is started and stopped from the room.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { h, uid } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";
import { errorKey, loginIfExpired } from "./session.js";

/** @typedef {import("./api.js").Webinar} Webinar */

/**
 * A webinar's broadcast, from GET /api/v1/webinars/{id}/broadcast.
 *
 * @typedef {object} Broadcast
 * @property {string | null} target_url
 * @property {"off" | "connecting" | "live" | "retrying" | "stopping"} state
 * @property {string} [reason] why the target does not take the stream, as a code
 * @property {string} [error] the same in English words
 * @property {number} attempts
 */

/**
 * Why a broadcast's target does not take the stream, for the page: its code's words in
 * the page's language when it has some, else the server's English words.
 *
 * @param {string} reason
 * @param {string} error
 * @returns {import("./i18n.js").Var}
 */
export function troubleText(reason, error) {
  return TROUBLE_REASONS.has(reason) ? { key: `cast.why.${reason}` } : String(error);
}

/** The codes of a broadcast's trouble that have their own words (server_error says the server's). */
const TROUBLE_REASONS = new Set(["refused", "unresolved", "unreachable", "rejected", "tls", "dropped", "stalled", "encoder"]);

/** How often the state is asked again while a broadcast runs, in milliseconds. */
const POLL_MS = 3000;

/**
 * Builds the broadcast panel of w in panel and loads its state.
 *
 * @param {Webinar} w
 * @param {HTMLElement} panel
 * @param {() => string} csrf the session's CSRF token
 */
export function openBroadcast(w, panel, csrf) {
  const base = `/api/v1/webinars/${encodeURIComponent(w.id)}/broadcast`;
  const urlId = uid("cast-url");
  const keyId = uid("cast-key");
  const url = h("input", { id: urlId, name: "url", type: "text", inputmode: "url", required: true, maxlength: "512", spellcheck: "false", autocomplete: "off", placeholder: "rtmp://peertube.example.org:1935/live" });
  const key = h("input", { id: keyId, name: "key", type: "password", required: true, maxlength: "256", autocomplete: "off" });
  const save = h("button", { type: "submit", class: "button", "data-i18n": "cast.save" });
  const form = h(
    "form",
    { class: "inline-form cast-form" },
    h("div", { class: "field" }, h("label", { for: urlId, "data-i18n": "cast.url" }), url),
    h("div", { class: "field" }, h("label", { for: keyId, "data-i18n": "cast.key" }), key),
    save,
  );
  const status = h("p", { class: "cast-state", role: "status" });
  const message = h("p", { class: "panel-message", role: "status" });
  const remove = h("button", { type: "button", class: "button danger", "data-action": "remove-target", "data-i18n": "cast.remove", hidden: true });
  panel.append(h("h4", { "data-i18n": "cast.title" }), h("p", { class: "hint", "data-i18n": "cast.intro" }), status, form, h("div", { class: "actions" }, remove), message);
  translate(panel);

  /** @type {number | undefined} */
  let timer;

  /** @param {unknown} err */
  const panelFail = (err) => {
    if (loginIfExpired(err)) return;
    if (err instanceof ApiError && err.code === "validation") {
      const fields = (err.fieldErrors || []).map((e) => e.field);
      localize(message, fields.includes("url") ? "cast.url.error" : "cast.key.error");
      (fields.includes("url") ? url : key).focus();
      return;
    }
    localize(message, errorKey(err));
  };

  /** @param {Broadcast} b */
  const show = (b) => {
    if (b.target_url) {
      localize(status, `cast.state.${b.state}`, { url: b.target_url, error: troubleText(b.reason || "", b.error || "") });
      if (!url.value) url.value = b.target_url;
    } else {
      localize(status, "cast.none");
    }
    remove.hidden = !b.target_url;
    window.clearTimeout(timer);
    if (panel.isConnected && !panel.hidden && b.state !== "off") {
      timer = window.setTimeout(() => reload().catch(panelFail), POLL_MS);
    }
  };

  const reload = async () => {
    /** @type {Broadcast} */
    const b = await getJSON(base);
    show(b);
  };

  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    setPlainText(message, "");
    try {
      /** @type {Broadcast} */
      const b = await sendJSON("PUT", `${base}/target`, { url: url.value.trim(), key: key.value.trim() }, csrf());
      key.value = "";
      show(b);
      localize(message, "cast.saved");
    } catch (err) {
      panelFail(err);
    } finally {
      busy = false;
    }
  });
  remove.addEventListener("click", async () => {
    if (!window.confirm(t("cast.remove.confirm"))) return;
    try {
      await sendJSON("DELETE", `${base}/target`, undefined, csrf());
      url.value = "";
      localize(message, "cast.removed");
      await reload();
      url.focus();
    } catch (err) {
      panelFail(err);
    }
  });

  panel.addEventListener("panel:open", () => reload().catch(panelFail));
  reload().catch(panelFail);
}
