// @ts-check
// Live captions in the room (docs/protocol.md, "Live captions"): <caption-panel> holds the
// short history of captions and, for a captioner or a moderator, the field to type them in
// and the language they are typed in; CaptionLine is the subtitle over the videos, shown
// to those who turned captions on, in a polite live region that screen readers read.

import { typedText } from "./collab.js";
import { h, uid } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */
/** @typedef {import("./rtc.js").CaptionMessage} CaptionMessage */

/** The server's limit on a caption, in bytes of UTF-8. */
const CAPTION_MAX_BYTES = 500;

/** How long a subtitle stays when no other follows, in milliseconds. */
const CAPTION_SHOWN_MS = 8000;

/** The languages a caption may be in. */
const LANGS = /** @type {const} */ (["fr", "en"]);

/** Where the language chosen by a captioner is kept in the browser. */
const LANG_KEY = "webinaire.caption-lang";

/** The file of a recording's captions, next to its replay (docs/api.md, "Live captions"). */
export const CAPTIONS_FILE = "captions.vtt";

/**
 * The captions track of a replay's video, shown at once: a recording keeps its captions
 * only when someone typed them, so that whoever plays it wants them.
 *
 * @param {string} src the WebVTT file's address
 * @returns {HTMLTrackElement}
 */
export function captionTrack(src) {
  return h("track", { kind: "captions", src, label: t("replay.captions"), default: true });
}

/**
 * The subtitle line over the videos: the last caption, in its language, for a while.
 */
export class CaptionLine {
  constructor() {
    this.el = h("div", { class: "caption-line", "aria-live": "polite", "aria-atomic": "true", hidden: true });
    /** Whether captions are turned on. */
    this.on = false;
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  /** @param {boolean} on */
  turn(on) {
    this.on = on;
    if (!on) this.clear();
  }

  /** @param {CaptionMessage} msg */
  show(msg) {
    if (!this.on) return;
    this.el.lang = msg.lang;
    setPlainText(this.el, msg.text);
    this.el.hidden = false;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.clear(), CAPTION_SHOWN_MS);
  }

  clear() {
    window.clearTimeout(this.timer);
    setPlainText(this.el, "");
    this.el.hidden = true;
  }
}

/**
 * <caption-panel>: the last captions, newest last, and the captioner's field.
 */
export class CaptionPanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.log = h("div", { class: "caption-log", role: "log", "data-i18n-attr": "aria-label:room.captions.log" });
    this.empty = h("p", { class: "muted caption-empty", "data-i18n": "room.captions.empty" });
    const textId = uid("caption-text");
    const langId = uid("caption-lang");
    this.text = h("input", { id: textId, class: "caption-text", type: "text", autocomplete: "off", maxlength: CAPTION_MAX_BYTES });
    this.langSelect = h("select", { id: langId, class: "caption-lang" }, ...LANGS.map((l) => h("option", { value: l, "data-i18n": `room.captions.lang.${l}` })));
    try {
      const kept = localStorage.getItem(LANG_KEY);
      if (kept === "fr" || kept === "en") this.langSelect.value = kept;
    } catch {
      // storage refused: French, the first language, until changed
    }
    this.status = h("p", { class: "caption-status", role: "status" });
    this.form = h(
      "form",
      { class: "caption-form", novalidate: true, hidden: true },
      h("label", { for: textId, "data-i18n": "room.captions.type" }),
      this.text,
      h("div", { class: "caption-send" }, h("label", { for: langId, "data-i18n": "room.captions.lang" }), this.langSelect, h("button", { type: "submit", class: "button", "data-i18n": "room.captions.send" })),
      this.status,
    );
  }

  connectedCallback() {
    if (this.firstChild) return;
    const titleId = uid("panel-title");
    this.classList.add("panel");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", titleId);
    this.append(h("h2", { id: titleId, class: "panel-title", "data-i18n": "room.captions.history" }), this.log, this.form);
    translate(this);
    this.log.before(this.empty);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.langSelect.addEventListener("change", () => {
      try {
        localStorage.setItem(LANG_KEY, this.langSelect.value);
      } catch {
        // storage refused: the choice holds for this page only
      }
    });
  }

  /**
   * @param {RoomClient} client
   * @param {(msg: CaptionMessage) => void} onCaption told of each new caption
   */
  attach(client, onCaption) {
    this.client = client;
    const showForm = () => {
      this.form.hidden = !client.mayCaption();
    };
    client.addEventListener("role", showForm);
    client.addEventListener("captions", (event) => {
      const msg = /** @type {CustomEvent<CaptionMessage | undefined>} */ (event).detail;
      if (msg) {
        this.add(msg);
        onCaption(msg);
      } else {
        this.showAll();
        showForm();
      }
    });
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (code === "rate_limited" && !this.form.hidden) localize(this.status, "room.captions.rate_limited");
    });
  }

  submit() {
    const client = this.client;
    if (!client) return;
    const text = typedText(this.text, this.status, CAPTION_MAX_BYTES, "room.captions.too_long");
    if (!text) return;
    client.sendCaption(text, this.langSelect.value === "en" ? "en" : "fr");
    this.text.value = "";
    this.text.focus();
  }

  showAll() {
    this.log.replaceChildren(...(this.client?.captions || []).map((msg) => this.item(msg)));
    this.empty.hidden = this.log.childElementCount > 0;
  }

  /** @param {CaptionMessage} msg */
  add(msg) {
    this.empty.hidden = true;
    this.log.append(this.item(msg));
    while (this.log.childElementCount > (this.client?.captionsKept || 20)) this.log.firstElementChild?.remove();
    this.log.scrollTop = this.log.scrollHeight;
  }

  /**
   * @param {CaptionMessage} msg
   * @returns {HTMLElement}
   */
  item(msg) {
    const time = h("time", { datetime: msg.at, "data-format": "time", "data-value": msg.at });
    const item = h("p", { class: "caption-item", lang: msg.lang, "data-caption-id": msg.id }, time, " ", h("span", { class: "caption-body" }, msg.text));
    if (msg.automatic) item.append(" ", h("span", { class: "tag", "data-i18n": "room.captions.automatic" }));
    translate(item);
    return item;
  }
}

if (!customElements.get("caption-panel")) customElements.define("caption-panel", CaptionPanel);
