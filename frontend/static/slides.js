// @ts-check
// Presented slides (docs/protocol.md, "Slides"): <slides-view> shows the page of the PDF
// the presenter shows, rendered in the browser by pdf.js, which Webinaire serves itself
// (static/vendor/pdfjs, the pdfjs-dist package pinned in package.json). The presenter of the
// slides, or a moderator, turns the pages with its buttons or the keyboard (arrows, Page Up
// and Page Down, Home and End) and closes them, and points at the page with the mouse or a
// finger: the others see a red dot where it points. The replay page uses the same
// rendering.

import { h } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */

/** Where pdf.js is served from: the same origin, nothing else is asked. */
const PDFJS = "/static/vendor/pdfjs/pdf.min.mjs";
const PDFJS_WORKER = "/static/vendor/pdfjs/pdf.worker.min.mjs";

/** The largest PDF the server takes, in bytes. */
export const SLIDES_MAX_BYTES = 20 << 20;

/**
 * @typedef {object} PDFPage
 * @property {(options: {scale: number}) => {width: number, height: number}} getViewport
 * @property {(options: {canvasContext: CanvasRenderingContext2D, viewport: {width: number, height: number}}) => {promise: Promise<void>}} render
 */

/**
 * @typedef {object} PDFDocument
 * @property {number} numPages
 * @property {(n: number) => Promise<PDFPage>} getPage
 * @property {() => Promise<void>} destroy
 */

/** @type {Promise<any> | null} */
let pdfjs = null;

/**
 * Opens a PDF with pdf.js, loaded once from this server.
 *
 * @param {ArrayBuffer} data
 * @returns {Promise<PDFDocument>}
 */
export async function openPDF(data) {
  if (!pdfjs) {
    const url = PDFJS; // a variable: the module is loaded at run time, not type-checked
    pdfjs = import(url).then((m) => {
      m.GlobalWorkerOptions.workerSrc = PDFJS_WORKER;
      return m;
    });
  }
  const lib = await pdfjs;
  return lib.getDocument({ data, isEvalSupported: false, enableXfa: false }).promise;
}

/**
 * Draws a page of doc on canvas, as large as box allows.
 *
 * @param {PDFDocument} doc
 * @param {number} n the page, from 1
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLElement} box
 */
export async function drawPage(doc, n, canvas, box) {
  const page = await doc.getPage(n);
  const natural = page.getViewport({ scale: 1 });
  const width = Math.max(box.clientWidth, 320);
  const height = Math.max(box.clientHeight, 180);
  const ratio = window.devicePixelRatio || 1;
  const scale = Math.min(width / natural.width, height / natural.height) * ratio;
  const viewport = page.getViewport({ scale });
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
  canvas.style.height = `${Math.floor(viewport.height / ratio)}px`;
  const ctx = canvas.getContext("2d");
  if (ctx) await page.render({ canvasContext: ctx, viewport }).promise;
}

/**
 * <slides-view>: the page presented now, and the presenter's controls.
 */
export class SlidesView extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    /** @type {PDFDocument | null} */
    this.doc = null;
    /** The id of the slides loaded in doc. */
    this.loaded = "";
    /** Renders one at a time, in order. */
    this.drawing = Promise.resolve();
    this.canvas = h("canvas", { class: "slides-canvas", role: "img" });
    this.pointer = h("span", { class: "slides-pointer", hidden: true, "aria-hidden": "true" });
    this.box = h("div", { class: "slides-box" }, this.canvas, this.pointer);
    /** When the pointer was last sent, for at most ten a second; where it is to go next. */
    this.pointedAt = 0;
    /** @type {{x: number, y: number} | null} */
    this.pointAt = null;
    this.pointTimer = 0;
    this.where = h("p", { class: "slides-page", "aria-live": "polite" });
    this.prev = h("button", { type: "button", class: "button secondary", "data-action": "slide-prev", "data-i18n": "room.slides.prev" });
    this.next = h("button", { type: "button", class: "button secondary", "data-action": "slide-next", "data-i18n": "room.slides.next" });
    this.close = h("button", { type: "button", class: "button secondary", "data-action": "slides-close", "data-i18n": "room.slides.close" });
    this.controls = h("div", { class: "slides-controls", hidden: true }, this.prev, this.next, this.close);
  }

  connectedCallback() {
    if (this.firstChild) return;
    this.classList.add("slides-view");
    this.setAttribute("role", "region");
    this.setAttribute("tabindex", "0");
    this.setAttribute("data-i18n-attr", "aria-label:room.slides");
    this.append(this.box, h("div", { class: "slides-bar" }, this.where, this.controls));
    translate(this);
    this.prev.addEventListener("click", () => this.turn(-1));
    this.next.addEventListener("click", () => this.turn(1));
    this.close.addEventListener("click", () => this.client?.closeSlides());
    this.addEventListener("keydown", (event) => this.onKey(event));
    this.canvas.addEventListener("pointermove", (event) => this.point(event));
    this.canvas.addEventListener("pointerleave", () => {
      if (!this.client?.turnsPages()) return;
      window.clearTimeout(this.pointTimer);
      this.pointTimer = 0;
      this.pointAt = null;
      this.client.pointSlide(null);
    });
    new ResizeObserver(() => this.draw()).observe(this.box);
  }

  /**
   * Sends where the presenter points on the page, at most ten times a second.
   *
   * @param {PointerEvent} event
   */
  point(event) {
    const client = this.client;
    if (!client || !client.turnsPages()) return;
    const r = this.canvas.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return;
    const clamp = (/** @type {number} */ v) => Math.min(1, Math.max(0, v));
    this.pointAt = { x: clamp((event.clientX - r.left) / r.width), y: clamp((event.clientY - r.top) / r.height) };
    if (this.pointTimer) return; // the latest goes with the next send
    const send = () => {
      this.pointTimer = 0;
      if (!this.pointAt) return;
      client.pointSlide(this.pointAt);
      this.pointAt = null;
      this.pointedAt = performance.now();
    };
    const wait = this.pointedAt + 100 - performance.now();
    if (wait <= 0) send();
    else this.pointTimer = window.setTimeout(send, wait);
  }

  /**
   * Shows where the presenter points, over the page drawn.
   *
   * @param {{slides_id: string, x?: number, y?: number, hidden?: boolean}} msg
   */
  showPointer(msg) {
    if (msg.hidden || msg.slides_id !== this.loaded) {
      this.pointer.hidden = true;
      return;
    }
    const canvas = this.canvas.getBoundingClientRect();
    const box = this.box.getBoundingClientRect();
    this.pointer.style.left = `${canvas.left - box.left + (msg.x || 0) * canvas.width}px`;
    this.pointer.style.top = `${canvas.top - box.top + (msg.y || 0) * canvas.height}px`;
    this.pointer.hidden = false;
  }

  /** @param {RoomClient} client */
  attach(client) {
    this.client = client;
    client.addEventListener("slides", () => this.update());
    client.addEventListener("role", () => this.update());
    client.addEventListener("slide-pointer", (event) => this.showPointer(/** @type {CustomEvent} */ (event).detail));
  }

  /**
   * The presenter's keys: previous and next page, first and last.
   *
   * @param {KeyboardEvent} event
   */
  onKey(event) {
    const client = this.client;
    if (!client || !client.turnsPages() || event.ctrlKey || event.metaKey || event.altKey) return;
    const pages = client.slides.pages || 1;
    const moves = { ArrowLeft: -1, ArrowUp: -1, PageUp: -1, ArrowRight: 1, ArrowDown: 1, PageDown: 1, " ": 1, Home: -pages, End: pages };
    const move = /** @type {Record<string, number>} */ (moves)[event.key];
    if (move === undefined) return;
    event.preventDefault();
    this.turn(move);
  }

  /** @param {number} by pages forward, or back when negative */
  turn(by) {
    const client = this.client;
    if (!client || !client.turnsPages()) return;
    const pages = client.slides.pages || 1;
    const page = Math.min(pages, Math.max(1, (client.slides.page || 1) + by));
    if (page !== client.slides.page) client.turnSlide(page);
  }

  /** Shows the slides presented now: loads a new deck, draws the page. */
  async update() {
    const client = this.client;
    if (!client) return;
    const s = client.slides;
    if (this.loaded !== s.slides_id) this.pointer.hidden = true;
    this.hidden = !s.slides_id;
    this.dataset.slides = s.slides_id;
    this.controls.hidden = !client.turnsPages();
    if (!s.slides_id) {
      this.loaded = "";
      await this.doc?.destroy();
      this.doc = null;
      this.dispatchEvent(new Event("slides-shown", { bubbles: true }));
      return;
    }
    localize(this.where, "room.slides.page", { page: s.page || 1, pages: s.pages || 1 });
    this.prev.disabled = (s.page || 1) <= 1;
    this.next.disabled = (s.page || 1) >= (s.pages || 1);
    // a button turned off loses the focus: the slides keep it, for the keys
    if ((this.prev.disabled && document.activeElement === this.prev) || (this.next.disabled && document.activeElement === this.next)) this.focus();
    if (this.loaded !== s.slides_id) {
      this.loaded = s.slides_id;
      try {
        const doc = await openPDF(await client.slidesFile(s.slides_id));
        if (this.loaded !== s.slides_id) {
          await doc.destroy();
          return;
        }
        await this.doc?.destroy();
        this.doc = doc;
      } catch {
        setPlainText(this.where, t("room.slides.unreadable"));
        return;
      }
    }
    this.dispatchEvent(new Event("slides-shown", { bubbles: true }));
    this.draw();
  }

  /** Draws the page shown, once the ones asked before are drawn. */
  draw() {
    const doc = this.doc;
    const page = this.client?.slides.page || 1;
    if (!doc || this.hidden) return;
    this.drawing = this.drawing
      .then(() => drawPage(doc, page, this.canvas, this.box))
      .then(() => {
        this.canvas.setAttribute("aria-label", t("room.slides.page", { page, pages: doc.numPages }));
        this.dataset.page = String(page);
      })
      .catch(() => {});
  }
}

if (!customElements.get("slides-view")) customElements.define("slides-view", SlidesView);

/** The timeline of a replay's slides, next to its video (docs/api.md, "Presenting slides"). */
export const SLIDES_TIMELINE = "slides.json";

/**
 * @typedef {object} TimelineEntry
 * @property {number} t the second of the replay from which it shows
 * @property {string} [file] the PDF; absent once the slides closed
 * @property {number} [page]
 */

/**
 * The slides of a replay, shown in step with its video: the page the presenter showed at
 * the video's time. Nothing is shown before the first page or after the slides closed.
 *
 * @param {HTMLVideoElement} video
 * @param {(file: string) => string} url the address of a file of the recording
 * @returns {HTMLElement} the element to put next to the video
 */
export function replaySlides(video, url) {
  const canvas = h("canvas", { class: "slides-canvas", role: "img" });
  const box = h("div", { class: "slides-box" }, canvas);
  const view = h("figure", { class: "slides-view replay-slides", hidden: true }, box);
  /** @type {TimelineEntry[]} */
  let pages = [];
  /** @type {Map<string, Promise<PDFDocument>>} */
  const docs = new Map();
  let shown = "";
  let drawing = Promise.resolve();
  const follow = () => {
    const at = video.currentTime;
    let entry = /** @type {TimelineEntry | null} */ (null);
    for (const e of pages) if (e.t <= at) entry = e;
    const file = entry?.file || "";
    const page = entry?.page || 0;
    const key = file ? `${file}#${page}` : "";
    if (key === shown) return;
    shown = key;
    view.hidden = !file;
    if (!file) return;
    let doc = docs.get(file);
    if (!doc) {
      doc = fetch(url(file))
        .then((res) => (res.ok ? res.arrayBuffer() : Promise.reject(new Error(String(res.status)))))
        .then(openPDF);
      docs.set(file, doc);
    }
    const d = doc;
    drawing = drawing
      .then(async () => {
        await drawPage(await d, page, canvas, box);
        canvas.setAttribute("aria-label", t("room.slides.page", { page, pages: (await d).numPages }));
        view.dataset.page = String(page);
        view.dataset.file = file;
      })
      .catch(() => {});
  };
  fetch(url(SLIDES_TIMELINE))
    .then((res) => (res.ok ? res.json() : { pages: [] }))
    .then((timeline) => {
      pages = Array.isArray(timeline.pages) ? timeline.pages : [];
      follow();
    })
    .catch(() => {});
  for (const type of ["timeupdate", "seeked", "loadedmetadata"]) video.addEventListener(type, follow);
  return view;
}
