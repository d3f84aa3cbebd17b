// @ts-check
// <copy-link value="https://..." label-key="i18n.key" label-vars='{"json": "vars"}'>:
// a labelled read-only field with the link and a button that copies it. Where the clipboard
// cannot be used (plain http, permission refused) the link is selected for Ctrl+C instead.

import { h, uid } from "./dom.js";
import { localize, setPlainText, translate } from "./i18n.js";

/** How long the "copied" message stays, in milliseconds. */
const MESSAGE_MS = 6000;

export class CopyLink extends HTMLElement {
  constructor() {
    super();
    /** @type {HTMLInputElement | null} */
    this.input = null;
    /** @type {HTMLElement | null} */
    this.message = null;
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  connectedCallback() {
    if (this.input) return; // moved in the page: already built
    const id = uid("copy");
    const messageId = `${id}-message`;
    const label = h("label", {
      for: id,
      class: "copy-label",
      "data-i18n": this.getAttribute("label-key") || "copy.label",
      "data-i18n-vars": this.getAttribute("label-vars"),
    });
    this.input = h("input", {
      id,
      type: "text",
      class: "copy-input",
      readonly: true,
      spellcheck: "false",
      autocomplete: "off",
      "aria-describedby": messageId,
    });
    this.input.value = this.value;
    this.input.addEventListener("focus", () => this.input?.select());
    const button = h("button", { type: "button", class: "button secondary", "data-i18n": "copy.button" });
    button.addEventListener("click", () => this.copy());
    this.message = h("p", { id: messageId, class: "copy-message", role: "status" });
    this.append(label, h("div", { class: "copy-row" }, this.input, button), this.message);
    translate(this);
  }

  disconnectedCallback() {
    window.clearTimeout(this.timer);
  }

  /** The link shown and copied. */
  get value() {
    return this.getAttribute("value") || "";
  }

  async copy() {
    const input = this.input;
    const message = this.message;
    if (!input || !message) return;
    window.clearTimeout(this.timer);
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
      await navigator.clipboard.writeText(this.value);
      localize(message, "copy.done");
    } catch {
      input.focus();
      input.select();
      localize(message, "copy.manual");
    }
    this.timer = window.setTimeout(() => setPlainText(message, ""), MESSAGE_MS);
  }
}

if (!customElements.get("copy-link")) customElements.define("copy-link", CopyLink);

/**
 * A new <copy-link> for url, labelled with the message key and its variables.
 *
 * @param {string} url
 * @param {string} labelKey
 * @param {import("./i18n.js").Vars} [labelVars]
 * @returns {CopyLink}
 */
export function copyLink(url, labelKey, labelVars) {
  const el = /** @type {CopyLink} */ (document.createElement("copy-link"));
  el.setAttribute("value", url);
  el.setAttribute("label-key", labelKey);
  if (labelVars) el.setAttribute("label-vars", JSON.stringify(labelVars));
  return el;
}
