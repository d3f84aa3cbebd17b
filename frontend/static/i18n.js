// @ts-check
// The user's language: picks French or English, translates the page, formats dates and
// durations, and switches language on request.
//
// In the HTML, an element with data-i18n="key" gets the text of that key; one with
// data-i18n-attr="attr:key;attr2:key2" gets attributes; data-i18n-vars holds the JSON
// variables of both. An element with data-format="datetime|date|instant|time|duration" and data-value
// shows that value formatted for the language. translate() applies all of it again after
// every switch, so text built this way follows the language without being rebuilt.

import fr from "./i18n/fr.js";
import en from "./i18n/en.js";

/** @typedef {"fr" | "en"} Lang */

/**
 * A variable of a message: text or a number as is, or a value to translate or format first.
 *
 * @typedef {string | number | {key: string} | {datetime: string} | {date: string} | {instant: string} | {duration: number}} Var
 */

/** @typedef {Record<string, Var>} Vars */

/** The localStorage key of the language chosen with the switch. */
const STORAGE_KEY = "webinaire.lang";

/** Event sent on document after a switch of language; detail is the new language. */
export const LANG_EVENT = "webinaire:langchange";

/** @type {Record<Lang, Record<string, string>>} */
const dictionaries = { fr, en };

/** @type {Lang} */
let current = "fr";

/**
 * @param {unknown} value
 * @returns {value is Lang}
 */
function isLang(value) {
  return value === "fr" || value === "en";
}

/** @returns {Lang} the language in use */
export function lang() {
  return current;
}

/** @returns {Lang | null} the language chosen earlier with the switch, if any */
function storedLanguage() {
  try {
    const v = window.localStorage.getItem(STORAGE_KEY);
    return isLang(v) ? v : null;
  } catch {
    return null; // storage disabled: the choice lasts for this page only
  }
}

/**
 * The language to use: the one chosen with the switch, else the first of the browser's
 * languages that is French or English, else English.
 *
 * @returns {Lang}
 */
export function preferredLanguage() {
  const chosen = storedLanguage();
  if (chosen) return chosen;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const primary = (tag || "").toLowerCase().split("-")[0];
    if (isLang(primary)) return primary;
  }
  return "en";
}

/**
 * The message of key in the current language, with {name} replaced by vars.name. With a
 * numeric vars.count, key.one, key.other... are tried first (plural rules of the language).
 *
 * @param {string} key
 * @param {Vars} [vars]
 * @returns {string}
 */
export function t(key, vars = {}) {
  const dict = dictionaries[current];
  let k = key;
  const count = vars.count;
  if (typeof count === "number") {
    const form = `${key}.${new Intl.PluralRules(current).select(count)}`;
    if (form in dict) k = form;
    else if (`${key}.other` in dict) k = `${key}.other`;
  }
  const template = dict[k] ?? dictionaries.fr[k] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? resolveVar(vars[name]) : whole,
  );
}

/**
 * @param {Var} v
 * @returns {string}
 */
function resolveVar(v) {
  if (typeof v === "number") return new Intl.NumberFormat(current).format(v);
  if (typeof v === "string") return v;
  if ("key" in v) return t(v.key);
  if ("datetime" in v) return formatDateTime(v.datetime);
  if ("date" in v) return formatDate(v.date);
  if ("instant" in v) return formatInstant(v.instant);
  return formatDuration(v.duration);
}

/**
 * A moment in full, in the user's time zone, e.g. "lundi 4 mai 2026 à 14:00 UTC+2".
 *
 * @param {string} iso an RFC 3339 time
 * @returns {string}
 */
export function formatDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current, {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(d);
}

/**
 * A moment in short, e.g. "4 mai 2026, 14:00".
 *
 * @param {string} iso an RFC 3339 time
 * @returns {string}
 */
export function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/**
 * A moment to the second with its time zone, e.g. "04/05/2026 14:00:07 UTC+2", for records
 * (logs, ledger) where the exact time matters.
 *
 * @param {string} iso an RFC 3339 time
 * @returns {string}
 */
export function formatInstant(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  }).format(d);
}

/**
 * The time of day of a moment, e.g. "14:05", for the messages of a session.
 *
 * @param {string} iso an RFC 3339 time
 * @returns {string}
 */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current, { timeStyle: "short" }).format(d);
}

/**
 * A duration in hours and minutes, e.g. "1 h 30 min".
 *
 * @param {number} minutes
 * @returns {string}
 */
export function formatDuration(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  /** @param {"hour" | "minute"} unit @param {number} n */
  const part = (unit, n) =>
    new Intl.NumberFormat(current, { style: "unit", unit, unitDisplay: "short" }).format(n);
  if (hours === 0) return part("minute", rest);
  if (rest === 0) return part("hour", hours);
  return `${part("hour", hours)} ${part("minute", rest)}`;
}

/**
 * The time zone of the browser, e.g. "Europe/Paris", or "" when unknown.
 *
 * @returns {string}
 */
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/**
 * @param {Element} el
 * @returns {Vars}
 */
function varsOf(el) {
  const raw = el.getAttribute("data-i18n-vars");
  if (!raw) return {};
  try {
    const v = JSON.parse(raw);
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

/**
 * root itself when it matches, then its descendants that match.
 *
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {Element[]}
 */
function matching(root, selector) {
  const found = [...root.querySelectorAll(selector)];
  if (root instanceof Element && root.matches(selector)) found.unshift(root);
  return found;
}

/**
 * Applies the current language to root and everything in it.
 *
 * @param {ParentNode} [root]
 */
export function translate(root = document) {
  for (const el of matching(root, "[data-i18n]")) {
    el.textContent = t(el.getAttribute("data-i18n") || "", varsOf(el));
  }
  for (const el of matching(root, "[data-i18n-attr]")) {
    const vars = varsOf(el);
    for (const pair of (el.getAttribute("data-i18n-attr") || "").split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key, vars));
    }
  }
  for (const el of matching(root, "[data-format]")) {
    const value = el.getAttribute("data-value") || "";
    switch (el.getAttribute("data-format")) {
      case "datetime":
        el.textContent = formatDateTime(value);
        break;
      case "date":
        el.textContent = formatDate(value);
        break;
      case "instant":
        el.textContent = formatInstant(value);
        break;
      case "time":
        el.textContent = formatTime(value);
        break;
      case "duration":
        el.textContent = formatDuration(Number(value));
        break;
    }
  }
}

/**
 * Gives el the text of key, and keeps it translated on later switches.
 *
 * @param {Element} el
 * @param {string} key
 * @param {Vars} [vars]
 */
export function localize(el, key, vars) {
  el.setAttribute("data-i18n", key);
  if (vars && Object.keys(vars).length > 0) el.setAttribute("data-i18n-vars", JSON.stringify(vars));
  else el.removeAttribute("data-i18n-vars");
  el.textContent = t(key, vars);
}

/**
 * Gives el a text that is not translated (e.g. a server message), or none.
 *
 * @param {Element} el
 * @param {string} text
 */
export function setPlainText(el, text) {
  el.removeAttribute("data-i18n");
  el.removeAttribute("data-i18n-vars");
  el.textContent = text;
}

/**
 * Switches to lang, remembers the choice, and translates the page again.
 *
 * @param {Lang} next
 */
export function setLanguage(next) {
  current = next;
  try {
    window.localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  applyLanguage();
  document.dispatchEvent(new CustomEvent(LANG_EVENT, { detail: next }));
}

function applyLanguage() {
  document.documentElement.lang = current;
  translate(document);
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    // The switch offers the other language, written in that language.
    button.setAttribute("lang", current === "fr" ? "en" : "fr");
  }
}

/**
 * Picks the language, translates the page and wires the language switch buttons
 * (elements with data-lang-switch, hidden until then since they need JavaScript).
 */
export function initI18n() {
  current = preferredLanguage();
  applyLanguage();
  for (const button of document.querySelectorAll("[data-lang-switch]")) {
    if (!(button instanceof HTMLButtonElement)) continue;
    button.hidden = false;
    button.addEventListener("click", () => setLanguage(current === "fr" ? "en" : "fr"));
  }
}
