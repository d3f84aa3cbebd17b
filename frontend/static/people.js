// @ts-check
// <people-panel>: the meeting room's side panel of participants: everyone with their role,
// what they muted and their raised hand, the moderators' menu on each other participant, the
// moderators' controls for the room (mute everyone, lock, end for everyone, and what the page
// adds, such as recording), and the queue of raised hands. It sends "end-request" when a
// moderator asks to end the session for everyone (the room confirms first), and
// "hand-lowered" when a hand was lowered from it, or the button that had the focus went, so
// that the room gives the focus to its hand button.

import { h, uid } from "./dom.js";
import { localize, t, translate } from "./i18n.js";
import { participantActions, popupMenu } from "./moderation.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */
/** @typedef {import("./rtc.js").Label} Label */

/** The panel; see the top of this file. */
export class PeoplePanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.heading = h("h2", { class: "people-title", id: uid("people") });
    this.list = h("ul", { class: "people-list" });
    this.handsBox = h("div", { class: "hands", hidden: true }, h("h3", { "data-i18n": "room.hands" }));
    this.hands = h("ol", { class: "hands-list" });
    this.handsBox.append(this.hands);
    /** The moderators' menu button of each participant, kept across renderings. @type {Map<string, HTMLElement[]>} */
    this.menus = new Map();
    this.muteAll = h("button", { type: "button", class: "button secondary", "data-action": "mute-all", "data-i18n": "room.mod.mute_all" });
    this.lock = h("button", { type: "button", class: "button secondary", "aria-pressed": "false", "data-action": "lock", "data-i18n": "room.mod.lock" });
    this.endAll = h("button", { type: "button", class: "button danger", "data-action": "end", "data-i18n": "room.mod.end" });
    this.moderation = h("div", { class: "moderation", role: "group", "data-i18n-attr": "aria-label:room.mod.controls", hidden: true }, this.muteAll, this.lock, this.endAll);
    this.muteAll.addEventListener("click", () => this.client?.moderate("mute_participant", { all: true }));
    this.lock.addEventListener("click", () => this.client?.moderate("lock", { locked: !this.client.locked }));
    this.endAll.addEventListener("click", () => this.dispatchEvent(new Event("end-request")));
  }

  connectedCallback() {
    if (this.firstChild) return;
    this.classList.add("people", "panel");
    this.setAttribute("role", "complementary");
    this.setAttribute("aria-labelledby", this.heading.id);
    this.append(this.heading, this.moderation, this.list, this.handsBox);
    translate(this);
  }

  /**
   * Adds a control to the moderators' group, such as the organizer's recording button.
   *
   * @param {...HTMLElement} els
   */
  addModeratorControls(...els) {
    this.moderation.append(...els);
    for (const el of els) translate(el);
  }

  /**
   * Shows the participants and the raised hands as the client knows them now.
   *
   * @param {RoomClient} client
   */
  render(client) {
    this.client = client;
    this.lock.setAttribute("aria-pressed", String(client.locked));
    this.moderation.hidden = !client.isModerator() || client.state === "closed";
    if (client.state === "closed") {
      localize(this.heading, "room.people", { count: 0 });
      this.list.replaceChildren();
      this.handsBox.hidden = true;
      return;
    }
    this.renderList(client);
    this.renderHands(client);
  }

  /** @param {RoomClient} client */
  renderList(client) {
    const focused = document.activeElement;
    const items = [
      this.person(client, client.id, t("room.you", { name: client.join.display_name }), client.role, client.localMuted),
      ...[...client.peers.values()].map((p) => this.person(client, p.id, p.name, p.role, p.muted)),
    ];
    localize(this.heading, "room.people", { count: items.length });
    this.list.replaceChildren(...items);
    for (const id of this.menus.keys()) {
      if (!client.peers.has(id)) this.menus.delete(id);
    }
    // a menu button or item that had the focus is back in the list: so is the focus
    if (focused instanceof HTMLElement && focused !== document.activeElement && this.list.contains(focused)) focused.focus();
  }

  /**
   * @param {RoomClient} client
   * @param {string} id
   * @param {string} name
   * @param {import("./api.js").Role} role
   * @param {Partial<Record<Label, boolean>>} muted
   * @returns {HTMLLIElement}
   */
  person(client, id, name, role, muted) {
    const li = h(
      "li",
      { class: "person", "data-participant": id },
      h("span", { class: "person-name" }, name),
      " ",
      h("span", { class: "muted", "data-i18n": `role.${role}` }),
    );
    if (muted.microphone) li.append(" ", h("span", { class: "tag", "data-i18n": "room.tile.mic_off" }));
    if (muted.camera) li.append(" ", h("span", { class: "tag", "data-i18n": "room.tile.camera_off" }));
    const hand = client.hands.indexOf(id);
    if (hand >= 0) li.append(" ", h("span", { class: "tag tag-hand", "data-i18n": "room.hands.position", "data-i18n-vars": JSON.stringify({ n: hand + 1 }) }));
    li.append(h("span", { class: "person-reactions" }));
    translate(li);
    if (client.isModerator() && id !== client.id) li.append(...this.menuOf(client, id, name));
    return li;
  }

  /**
   * The moderator's menu button on a participant, and its menu.
   *
   * @param {RoomClient} client
   * @param {string} id
   * @param {string} name
   * @returns {HTMLElement[]}
   */
  menuOf(client, id, name) {
    let menu = this.menus.get(id);
    if (!menu) {
      const button = h("button", { type: "button", class: "button secondary person-menu", "data-action": "person-menu" }, "⋯");
      menu = [button, popupMenu(button, () => participantActions(client, id))];
      this.menus.set(id, menu);
    }
    menu[0].setAttribute("data-i18n-attr", "aria-label:room.mod.menu");
    menu[0].setAttribute("data-i18n-vars", JSON.stringify({ name }));
    translate(menu[0]);
    return menu;
  }

  /** @param {RoomClient} client */
  renderHands(client) {
    this.handsBox.hidden = client.hands.length === 0;
    const focused = document.activeElement;
    this.hands.replaceChildren(
      ...client.hands.map((id) => {
        const name = id === client.id ? t("room.you", { name: client.join.display_name }) : client.peers.get(id)?.name || "";
        const li = h("li", { "data-participant": id }, h("span", { class: "person-name" }, name));
        if (id === client.id || client.isModerator()) {
          const lower = h("button", { type: "button", class: "button secondary", "data-action": "lower-hand", "data-i18n": "room.hands.lower", "data-i18n-attr": "aria-label:room.hands.lower_for", "data-i18n-vars": JSON.stringify({ name }) });
          lower.addEventListener("click", () => {
            if (id === client.id) client.raiseHand(false);
            else client.moderate("lower_hand", { participant_id: id });
            this.dispatchEvent(new Event("hand-lowered"));
          });
          li.append(" ", lower);
        }
        translate(li);
        return li;
      }),
    );
    if (focused instanceof HTMLElement && !focused.isConnected) this.dispatchEvent(new Event("hand-lowered"));
  }
}

if (!customElements.get("people-panel")) customElements.define("people-panel", PeoplePanel);
