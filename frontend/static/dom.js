// @ts-check
// Small DOM helpers. Text always goes in as text nodes, never as markup.

/** @typedef {string | number | boolean | null | undefined} AttrValue */
/** @typedef {Node | string | null | undefined | false} Child */

/**
 * Builds an element. An attribute set to true is present and empty; false, null and undefined
 * leave it out. Strings among the children become text nodes.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * The element with this id, which must be of the given type.
 *
 * @template {Element} T
 * @param {string} id
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`page is missing #${id}`);
  return el;
}

let lastId = 0;

/**
 * A fresh id for elements built at run time (labels, aria-controls...).
 *
 * @param {string} prefix
 * @returns {string}
 */
export function uid(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}
