// @ts-check
// <room-toolbar>: the meeting room's bottom toolbar. Its buttons (toolButton, toggleButton)
// come in groups; it keeps them on one row: when they do not fit with their names, the
// names are only said, not shown; when they still do not fit, they go, in a given order,
// into a "more" menu whose button shows the sum of their badges.

import { h } from "./dom.js";
import { localize, translate } from "./i18n.js";
import { icon } from "./icons.js";
import { popupMenu } from "./moderation.js";

/** @typedef {import("./icons.js").IconName} IconName */
/** @typedef {import("./moderation.js").MenuItem} MenuItem */

/**
 * A button of the toolbar: an icon, and its name as a label that shows when there is room,
 * and a badge for a count. With offIcon, the button shows that icon instead while pressed.
 *
 * @param {string} action
 * @param {string} key the name's message
 * @param {IconName} iconName
 * @param {IconName} [offIcon]
 * @returns {HTMLButtonElement}
 */
export function toolButton(action, key, iconName, offIcon) {
  return h(
    "button",
    { type: "button", class: "tool", "data-action": action },
    icon(iconName, offIcon ? "icon-on" : ""),
    offIcon ? icon(offIcon, "icon-off") : null,
    h("span", { class: "tool-label", "data-i18n": key }),
    h("span", { class: "tool-badge", "aria-hidden": "true", hidden: true }),
  );
}

/**
 * A toolbar button that is pressed or not.
 *
 * @param {string} action
 * @param {string} key
 * @param {IconName} iconName
 * @param {IconName} [offIcon]
 * @returns {HTMLButtonElement}
 */
export function toggleButton(action, key, iconName, offIcon) {
  const button = toolButton(action, key, iconName, offIcon);
  button.setAttribute("aria-pressed", "false");
  return button;
}

/** The toolbar; see the top of this file. */
export class RoomToolbar extends HTMLElement {
  constructor() {
    super();
    /** Holds the buttons that do not fit in the row. */
    this.moreButton = toolButton("more", "room.more", "more");
    this.moreMenu = popupMenu(this.moreButton, () => this.overflowItems());
    this.moreWrap = h("span", { class: "menu-wrap more-wrap", hidden: true }, this.moreButton, this.moreMenu);
    /**
     * What goes into the "more" menu when the row is too narrow, first to go first: the
     * element taken out of the row, and its button.
     *
     * @type {[HTMLElement, HTMLButtonElement][]}
     */
    this.overflowOrder = [];
    /** The entries a button stands for in the menu, when not just itself. @type {(button: HTMLButtonElement) => MenuItem[] | null} */
    this.entriesOf = () => null;
    this.resizes = new ResizeObserver(() => this.fit());
  }

  /**
   * Lays the buttons out, in groups; the "more" menu ends the group before the last.
   *
   * @param {HTMLElement[][]} groups
   * @param {[HTMLElement, HTMLButtonElement][]} overflowOrder
   * @param {(button: HTMLButtonElement) => MenuItem[] | null} entriesOf
   */
  setTools(groups, overflowOrder, entriesOf) {
    this.replaceChildren(...groups.map((g, i) => h("div", { class: "tool-group" }, ...g, i === groups.length - 2 ? this.moreWrap : null)));
    this.overflowOrder = overflowOrder;
    this.entriesOf = entriesOf;
  }

  connectedCallback() {
    this.classList.add("controls", "toolbar");
    this.setAttribute("role", "group");
    this.setAttribute("data-i18n-attr", "aria-label:room.controls");
    translate(this);
    this.resizes.observe(this);
  }

  /** Keeps the buttons on one row; see the top of this file. */
  fit() {
    for (const [el] of this.overflowOrder) el.classList.remove("tool-overflow");
    this.moreWrap.hidden = true;
    this.classList.remove("toolbar-compact");
    if (this.scrollWidth > this.clientWidth) this.classList.add("toolbar-compact");
    if (this.scrollWidth > this.clientWidth) {
      this.moreWrap.hidden = false;
      for (const [el, button] of this.overflowOrder) {
        if (button.hidden) continue;
        el.classList.add("tool-overflow");
        if (this.scrollWidth <= this.clientWidth) break;
      }
    }
    let count = 0;
    for (const [el, button] of this.overflowOrder) {
      const badge = button.querySelector(".tool-badge");
      if (el.classList.contains("tool-overflow") && badge instanceof HTMLElement && !badge.hidden) count += Number(badge.textContent) || 0;
    }
    const badge = /** @type {HTMLElement} */ (this.moreButton.querySelector(".tool-badge"));
    badge.textContent = String(count);
    badge.hidden = count === 0;
  }

  /**
   * The entries of the "more" menu: the buttons out of the row, each doing what its button
   * does, checked when its button is pressed or its panel open (or the entries entriesOf
   * gives for it).
   *
   * @returns {MenuItem[]}
   */
  overflowItems() {
    /** @type {MenuItem[]} */
    const items = [];
    for (const [el, button] of this.overflowOrder) {
      if (button.hidden || !el.classList.contains("tool-overflow")) continue;
      const own = this.entriesOf(button);
      if (own) {
        items.push(...own);
        continue;
      }
      const label = /** @type {HTMLElement} */ (button.querySelector(".tool-label"));
      const vars = label.dataset.i18nVars ? JSON.parse(label.dataset.i18nVars) : undefined;
      const state = button.getAttribute("aria-pressed") ?? button.getAttribute("aria-expanded");
      items.push({ key: String(label.dataset.i18n), vars, checked: state === null ? undefined : state === "true", run: () => button.click() });
    }
    return items;
  }

  /**
   * Shows a count on a button: in its name and as a badge, none when 0.
   *
   * @param {HTMLButtonElement} button
   * @param {number} count
   * @param {string} key the button's name without a count
   * @param {string} countKey its name with {count}
   */
  badge(button, count, key, countKey) {
    const label = /** @type {HTMLElement} */ (button.querySelector(".tool-label"));
    const badge = /** @type {HTMLElement} */ (button.querySelector(".tool-badge"));
    if (count > 0) localize(label, countKey, { count });
    else localize(label, key);
    if (badge.textContent === String(count) && badge.hidden === (count === 0)) return;
    badge.textContent = String(count);
    badge.hidden = count === 0;
    this.fit();
  }
}

if (!customElements.get("room-toolbar")) customElements.define("room-toolbar", RoomToolbar);
