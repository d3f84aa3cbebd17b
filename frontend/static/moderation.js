// @ts-check
// What moderators use in a meeting room: <lobby-panel>, the list of those waiting to be let
// in, and the menus of actions on a participant. popupMenu() is the keyboard-friendly menu
// button both these and the reactions use.

import { h, uid } from "./dom.js";
import { t, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */
/**
 * An entry of a menu: its name (a message), what it does, and optionally a label shown in
 * place of the name (which is then its accessible name) and whether it is checked (an
 * entry that turns something on or off).
 *
 * @typedef {{key: string, vars?: Record<string, string>, run: () => void, label?: string, checked?: boolean}} MenuItem
 */

/** The menu open now, closed when another opens. @type {(() => void) | null} */
let closeOpenMenu = null;

/**
 * Makes button open a menu of items by it: arrows move between the items, Escape
 * closes it and gives the focus back to the button, Tab or a click elsewhere close it.
 * items is called at each opening, so the menu shows the state of that moment.
 *
 * @param {HTMLButtonElement} button
 * @param {() => MenuItem[]} items
 * @returns {HTMLElement} the menu's element, to put right after the button
 */
export function popupMenu(button, items) {
  const menu = h("ul", { class: "menu", role: "menu", id: uid("menu"), hidden: true });
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", menu.id);

  /** @param {boolean} refocus */
  const close = (refocus) => {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    if (closeOpenMenu === closeThis) closeOpenMenu = null;
    if (refocus) button.focus();
  };
  const closeThis = () => close(false);
  /** @param {Event} event */
  const outside = (event) => {
    if (event.target instanceof Node && !menu.contains(event.target) && !button.contains(event.target)) close(false);
  };
  const open = () => {
    closeOpenMenu?.();
    menu.replaceChildren(
      ...items().map((item) => {
        const checkable = item.checked !== undefined;
        const b = h(
          "button",
          { type: "button", role: checkable ? "menuitemcheckbox" : "menuitem", "aria-checked": checkable ? String(item.checked) : null, tabindex: "-1", class: "menu-item" },
          item.label ?? t(item.key, item.vars),
        );
        if (item.label !== undefined) b.setAttribute("aria-label", t(item.key, item.vars));
        b.addEventListener("click", () => {
          close(true);
          item.run();
        });
        return h("li", { role: "none" }, b);
      }),
    );
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    closeOpenMenu = closeThis;
    document.addEventListener("pointerdown", outside, true);
    /** @type {HTMLElement | null} */ (menu.querySelector("[role^=menuitem]"))?.focus();
  };
  button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && menu.hidden) {
      event.preventDefault();
      open();
    }
  });
  menu.addEventListener("keydown", (event) => {
    const entries = /** @type {HTMLElement[]} */ ([...menu.querySelectorAll("[role^=menuitem]")]);
    const at = entries.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const moves = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1, Home: 0, End: entries.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      const next = moves[/** @type {keyof typeof moves} */ (event.key)];
      entries[(next + entries.length) % entries.length]?.focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  return menu;
}

/**
 * The moderator's actions on another participant, for its menu.
 *
 * @param {RoomClient} client
 * @param {string} id the participant's id
 * @returns {MenuItem[]}
 */
export function participantActions(client, id) {
  const peer = client.peers.get(id);
  if (!peer) return [];
  const name = peer.name;
  const target = { participant_id: id };
  /** @type {MenuItem[]} */
  const items = [];
  const micOff = peer.muted.microphone === true;
  if (!micOff) items.push({ key: "room.mod.mute", vars: { name }, run: () => client.moderate("mute_participant", target) });
  else items.push({ key: "room.mod.ask_unmute", vars: { name }, run: () => client.moderate("ask_unmute", target) });
  if (peer.role === "attendee") {
    items.push({ key: "room.mod.promote", vars: { name }, run: () => client.moderate("set_role", { ...target, role: "presenter" }) });
  } else if (peer.role === "presenter") {
    items.push({ key: "room.mod.demote", vars: { name }, run: () => client.moderate("set_role", { ...target, role: "attendee" }) });
  }
  if (client.hands.includes(id)) items.push({ key: "room.hands.lower_for", vars: { name }, run: () => client.moderate("lower_hand", target) });
  if (client.spotlight === id) items.push({ key: "room.mod.spotlight_end", vars: { name }, run: () => client.moderate("spotlight") });
  else items.push({ key: "room.mod.spotlight", vars: { name }, run: () => client.moderate("spotlight", target) });
  items.push({ key: "room.mod.remove", vars: { name }, run: () => client.moderate("remove", target) });
  return items;
}

/**
 * <lobby-panel>: for moderators, those waiting to be let in, with Admit and Deny for each
 * and Admit all. Arrivals are announced to screen readers.
 */
export class LobbyPanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.titleId = uid("lobby-title");
    this.count = h("span", { class: "badge lobby-count", "data-i18n-attr": "aria-label:room.lobby.count" });
    this.list = h("ul", { class: "lobby-list" });
    this.admitAll = h("button", { type: "button", class: "button", "data-action": "admit-all", "data-i18n": "room.lobby.admit_all" });
    /** Who was waiting at the last change, to announce only the newcomers. @type {Set<string>} */
    this.known = new Set();
  }

  connectedCallback() {
    if (this.firstChild) return;
    this.classList.add("panel", "lobby-panel");
    this.setAttribute("role", "region");
    this.setAttribute("aria-labelledby", this.titleId);
    this.append(h("h2", { id: this.titleId, class: "panel-title" }, h("span", { "data-i18n": "room.lobby" }), " ", this.count), this.list, h("p", {}, this.admitAll));
    translate(this);
    this.admitAll.addEventListener("click", () => this.client?.moderate("lobby_admit", { all: true }));
  }

  /**
   * @param {RoomClient} client
   * @param {(text: string) => void} announce says something to screen readers
   */
  attach(client, announce) {
    this.client = client;
    const update = () => {
      const waiting = client.isModerator() ? client.waiting : [];
      this.hidden = waiting.length === 0;
      this.count.textContent = String(waiting.length);
      this.count.setAttribute("data-i18n-vars", JSON.stringify({ count: waiting.length }));
      translate(this.count);
      this.admitAll.hidden = waiting.length < 2;
      this.list.replaceChildren(...waiting.map((w) => this.entry(client, w.id, w.name)));
      const arrived = waiting.filter((w) => !this.known.has(w.id));
      this.known = new Set(waiting.map((w) => w.id));
      if (arrived.length === 1) announce(t("room.lobby.arrived", { name: arrived[0].name }));
      else if (arrived.length > 1) announce(t("room.lobby.arrived_many", { count: arrived.length }));
    };
    client.addEventListener("lobby", update);
    client.addEventListener("role", update);
    update();
  }

  /**
   * @param {RoomClient} client
   * @param {string} id
   * @param {string} name
   * @returns {HTMLLIElement}
   */
  entry(client, id, name) {
    const admit = h("button", { type: "button", class: "button", "data-action": "admit", "data-i18n": "room.lobby.admit", "data-i18n-attr": "aria-label:room.lobby.admit_named", "data-i18n-vars": JSON.stringify({ name }) });
    const deny = h("button", { type: "button", class: "button secondary", "data-action": "deny", "data-i18n": "room.lobby.deny", "data-i18n-attr": "aria-label:room.lobby.deny_named", "data-i18n-vars": JSON.stringify({ name }) });
    admit.addEventListener("click", () => client.moderate("lobby_admit", { participant_id: id }));
    deny.addEventListener("click", () => client.moderate("lobby_deny", { participant_id: id }));
    const li = h("li", { class: "lobby-entry", "data-participant": id }, h("span", { class: "person-name" }, name), h("span", { class: "lobby-actions" }, admit, deny));
    translate(li);
    return li;
  }
}

if (!customElements.get("lobby-panel")) customElements.define("lobby-panel", LobbyPanel);
