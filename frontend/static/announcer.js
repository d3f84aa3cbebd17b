// @ts-check
// What the room says to screen readers, through one polite live region that does not flood:
// what happens within a short window is said in one go, and several arrivals, departures or
// raised hands become one sentence ("Alice and Bruno joined", "12 people joined").

import { h } from "./dom.js";
import { lang, t } from "./i18n.js";

/** How long news are gathered before they are said, in milliseconds. */
export const GATHER_MS = 1500;

/** Up to this many names are listed; more are counted. */
const MAX_NAMES = 3;

/** @typedef {"joined" | "left" | "hand"} Kind */

/** Gathers what is to be said and says it in one polite update. */
export class Announcer {
  constructor() {
    /** The live region, to put in the page once. */
    this.region = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    /** @type {Record<Kind, string[]>} names by kind of news */
    this.names = { joined: [], left: [], hand: [] };
    /** @type {string[]} sentences said as they are */
    this.texts = [];
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  /**
   * Says text, with the other news of the moment.
   *
   * @param {string} text
   */
  say(text) {
    this.texts.push(text);
    this.schedule();
  }

  /**
   * Notes that someone joined, left or raised a hand.
   *
   * @param {Kind} kind
   * @param {string} name
   */
  note(kind, name) {
    this.names[kind].push(name);
    this.schedule();
  }

  schedule() {
    if (this.timer === undefined) this.timer = window.setTimeout(() => this.flush(), GATHER_MS);
  }

  /** Says what was gathered, in one update of the region. */
  flush() {
    this.timer = undefined;
    const parts = [];
    for (const kind of /** @type {Kind[]} */ (["joined", "left", "hand"])) {
      const names = this.names[kind];
      if (names.length === 0) continue;
      if (names.length > MAX_NAMES) parts.push(t(`room.news.${kind}.many`, { count: names.length }));
      else parts.push(t(`room.news.${kind}`, { names: new Intl.ListFormat(lang(), { type: "conjunction" }).format(names), count: names.length }));
      this.names[kind] = [];
    }
    parts.push(...this.texts);
    this.texts = [];
    if (parts.length === 0) return;
    const text = parts.join(" ");
    if (this.region.textContent !== text) {
      this.region.textContent = text;
      return;
    }
    // the same words again: the region is emptied first, so that they are said again
    this.region.textContent = "";
    window.setTimeout(() => {
      this.region.textContent = text;
    }, 50);
  }

  /** Drops what was not said yet (the room is left). */
  stop() {
    window.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
