// @ts-check
// <breakout-panel>: the breakout rooms of a meeting room (docs/protocol.md, "Breakout
// rooms"). Moderators open named rooms, place the participants at random or by hand, may let
// them choose, set a time limit, visit any room, move someone, write to every room and
// close them; the others see their room, go into one when they may choose, go back to the
// main room and ask the moderators for help. Moving between rooms is the RoomClient's.

import { frame } from "./collab.js";
import { h, uid } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */
/** @typedef {import("./rtc.js").Breakouts} Breakouts */

/** The server's limits (docs/protocol.md). */
const MAX_ROOMS = 50;
const MAX_NAME_BYTES = 64;
const MAX_MINUTES = 8 * 60;
const MAX_BROADCAST_BYTES = 500;

/** The select value that stands for the main room. */
const MAIN = "";

/**
 * The time left until iso, as m:ss (or h:mm:ss), never below zero.
 *
 * @param {string} iso
 * @param {number} now milliseconds since the epoch
 * @returns {string}
 */
export function timeLeft(iso, now) {
  const s = Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000));
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours > 0 ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

/**
 * <breakout-panel>: the state of the breakout rooms, and what this participant may do with
 * them.
 */
export class BreakoutPanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.status = h("p", { class: "breakout-status", role: "status" });
    this.where = h("p", { class: "breakout-where" });
    this.back = h("button", { type: "button", class: "button secondary", "data-action": "breakout-back", "data-i18n": "room.breakout.back", hidden: true });
    this.help = h("button", { type: "button", class: "button secondary", "data-action": "breakout-help", "data-i18n": "room.breakout.help", hidden: true });
    this.rooms = h("ul", { class: "breakout-rooms" });
    this.count = h("input", { type: "number", id: uid("breakout-count"), class: "breakout-count", min: 1, max: MAX_ROOMS, value: 2, required: true });
    this.minutes = h("input", { type: "number", id: uid("breakout-minutes"), class: "breakout-minutes", min: 0, max: MAX_MINUTES, value: 15 });
    this.assign = h(
      "select",
      { id: uid("breakout-assign"), class: "breakout-assign" },
      h("option", { value: "random", "data-i18n": "room.breakout.assign.random" }),
      h("option", { value: "manual", "data-i18n": "room.breakout.assign.manual" }),
    );
    this.choose = h("input", { type: "checkbox", id: uid("breakout-choose"), class: "breakout-choose" });
    /** One name field per room. */
    this.names = h("div", { class: "breakout-names" });
    /** One choice of room per participant, when placed by hand. */
    this.manual = h("div", { class: "breakout-manual", hidden: true });
    /** The participants and rooms the choices by hand were made for. */
    this.manualShape = "";
    /** The state the list of open rooms shows. */
    this.roomsShape = "";
    this.creatorStatus = h("p", { class: "breakout-problem", role: "status" });
    this.creator = this.makeCreator();
    this.broadcastText = h("input", { type: "text", id: uid("breakout-broadcast"), class: "breakout-broadcast-text", maxlength: MAX_BROADCAST_BYTES });
    this.broadcastForm = h(
      "form",
      { class: "breakout-broadcast", novalidate: true },
      h("label", { for: this.broadcastText.id, "data-i18n": "room.breakout.broadcast" }),
      this.broadcastText,
      h("button", { type: "submit", class: "button", "data-action": "breakout-broadcast", "data-i18n": "room.breakout.broadcast_send" }),
    );
    this.end = h("button", { type: "button", class: "button danger", "data-action": "breakout-end", "data-i18n": "room.breakout.end" });
    this.running = h("div", { class: "breakout-running" }, this.rooms, this.broadcastForm, this.end);
    /** The calls for help, newest first, for moderators. */
    this.helpList = h("ul", { class: "breakout-help-list", "data-i18n-attr": "aria-label:room.breakout.help_list" });
  }

  connectedCallback() {
    if (this.firstChild) return;
    frame(this, "room.breakout", this.status, this.where, h("p", { class: "breakout-actions" }, this.back, this.help), this.helpList, this.creator, this.running);
    this.back.addEventListener("click", () => this.client?.joinBreakout(MAIN));
    this.help.addEventListener("click", () => {
      this.client?.askHelp();
      localize(this.status, "room.breakout.help_sent");
    });
    this.end.addEventListener("click", () => this.client?.endBreakouts());
    this.broadcastForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.broadcastText.value.trim();
      if (text === "" || new TextEncoder().encode(text).length > MAX_BROADCAST_BYTES) {
        localize(this.status, "room.breakout.broadcast_invalid", { max: MAX_BROADCAST_BYTES });
        this.broadcastText.focus();
        return;
      }
      this.client?.broadcast(text);
      this.broadcastText.value = "";
      localize(this.status, "room.breakout.broadcast_sent");
    });
    this.render();
  }

  /** @param {RoomClient} client */
  attach(client) {
    this.client = client;
    for (const type of ["breakouts", "peers", "role", "moved", "state"]) client.addEventListener(type, () => this.render());
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (["breakout_state", "unknown_room"].includes(code)) localize(this.status, "room.breakout.refused");
    });
    client.addEventListener("help_requested", (event) => {
      const { name, room_name } = /** @type {CustomEvent} */ (event).detail;
      const item = h("li", { class: "breakout-help-item" });
      localize(item, "room.breakout.help_requested", { name, room: room_name });
      this.helpList.prepend(item);
      while (this.helpList.children.length > 10) this.helpList.lastElementChild?.remove();
      this.render();
    });
    this.render();
  }

  /** @returns {HTMLFormElement} the moderators' form that opens the rooms */
  makeCreator() {
    const form = h(
      "form",
      { class: "breakout-creator", novalidate: true },
      h("p", { class: "field" }, h("label", { for: this.count.id, "data-i18n": "room.breakout.count" }), this.count),
      this.names,
      h("p", { class: "field" }, h("label", { for: this.assign.id, "data-i18n": "room.breakout.assign" }), this.assign),
      this.manual,
      h("div", { class: "check" }, this.choose, h("label", { for: this.choose.id, "data-i18n": "room.breakout.choose" })),
      h("p", { class: "field" }, h("label", { for: this.minutes.id, "data-i18n": "room.breakout.minutes" }), this.minutes),
      this.creatorStatus,
      h("button", { type: "submit", class: "button", "data-action": "breakout-start", "data-i18n": "room.breakout.start" }),
    );
    this.count.addEventListener("input", () => this.renderCreator());
    this.names.addEventListener("change", () => this.renderCreator());
    this.assign.addEventListener("change", () => this.renderCreator());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    return form;
  }

  /** @returns {number} the number of rooms asked for, within bounds */
  roomCount() {
    return Math.min(MAX_ROOMS, Math.max(1, Math.floor(Number(this.count.value)) || 1));
  }

  /** Keeps one name field per room, and one choice of room per participant when placed by hand. */
  renderCreator() {
    const n = this.roomCount();
    while (this.names.children.length < n) {
      const i = this.names.children.length + 1;
      const id = uid("breakout-name");
      const input = h("input", { type: "text", id, class: "breakout-name", maxlength: MAX_NAME_BYTES, value: t("room.breakout.default_name", { n: i }) });
      this.names.append(h("p", { class: "field" }, h("label", { for: id, "data-i18n": "room.breakout.name", "data-i18n-vars": JSON.stringify({ n: i }) }), input));
    }
    while (this.names.children.length > n) this.names.lastElementChild?.remove();
    translate(this.names);
    const manual = this.assign.value === "manual";
    this.manual.hidden = !manual;
    if (!manual || !this.client) return;
    const others = [...this.client.peers.values()].filter((p) => p.role !== "moderator");
    const rooms = Array.from({ length: n }, (_, i) => this.nameOf(i + 1));
    const shape = JSON.stringify([rooms, others.map((p) => [p.id, p.name])]);
    if (shape === this.manualShape) return; // as it is: a choice being made stays in hand
    this.manualShape = shape;
    /** @type {Map<string, string>} what was chosen, kept across renderings */
    const chosen = new Map([...this.manual.querySelectorAll("select")].map((s) => [s.dataset.participant || "", s.value]));
    this.manual.replaceChildren();
    for (const peer of others) {
      const id = uid("breakout-for");
      const select = h("select", { id, class: "breakout-for", "data-participant": peer.id }, h("option", { value: MAIN, "data-i18n": "room.breakout.main" }));
      rooms.forEach((name, i) => select.append(h("option", { value: String(i + 1) }, name)));
      select.value = chosen.get(peer.id) || MAIN;
      if (select.selectedIndex < 0) select.value = MAIN;
      this.manual.append(h("p", { class: "field" }, h("label", { for: id, "data-i18n": "room.breakout.room_of", "data-i18n-vars": JSON.stringify({ name: peer.name }) }), select));
    }
    translate(this.manual);
  }

  /**
   * @param {number} i from 1
   * @returns {string} the name typed for room i
   */
  nameOf(i) {
    const input = this.names.querySelectorAll("input")[i - 1];
    return input instanceof HTMLInputElement ? input.value.trim() : "";
  }

  /** Checks the form and opens the rooms. */
  start() {
    const client = this.client;
    if (!client) return;
    const n = this.roomCount();
    /** @type {{name: string, participants: string[]}[]} */
    const rooms = [];
    for (let i = 1; i <= n; i++) {
      const name = this.nameOf(i);
      if (name === "" || new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
        localize(this.creatorStatus, "room.breakout.name_invalid", { n: i, max: MAX_NAME_BYTES });
        return;
      }
      rooms.push({ name, participants: [] });
    }
    const manual = this.assign.value === "manual";
    if (manual) {
      for (const select of this.manual.querySelectorAll("select")) {
        const room = rooms[Number(select.value) - 1];
        if (room && select.dataset.participant) room.participants.push(select.dataset.participant);
      }
    }
    const minutes = Math.min(MAX_MINUTES, Math.max(0, Number(this.minutes.value) || 0));
    setPlainText(this.creatorStatus, "");
    client.startBreakouts(rooms, { random: !manual, choose: this.choose.checked, duration: Math.round(minutes * 60) });
  }

  /** Shows the state of the breakout rooms as this participant may act on it. */
  render() {
    const client = this.client;
    if (!client || !this.firstChild) return;
    const b = client.breakouts;
    const mod = client.isModerator();
    const inside = client.inBreakout();
    this.creator.hidden = !mod || b.open;
    this.running.hidden = !b.open;
    this.end.hidden = !mod;
    this.broadcastForm.hidden = !mod;
    this.helpList.hidden = !mod || this.helpList.children.length === 0;
    this.back.hidden = !inside;
    this.help.hidden = !inside || mod;
    if (inside) localize(this.where, "room.breakout.in", { room: client.roomName });
    else if (b.open) localize(this.where, "room.breakout.in_main");
    else localize(this.where, mod ? "room.breakout.none_mod" : "room.breakout.none");
    if (mod && !b.open) this.renderCreator();
    const here = client.join.room_id;
    // a moderator in the main room sees there those who are in no breakout room, to send them
    const placed = new Set(b.rooms.flatMap((room) => (room.participants || []).map((p) => p.id)));
    const unplaced =
      mod && b.open && here === b.main_room_id
        ? [...client.peers.values()].filter((p) => p.role !== "moderator" && !placed.has(p.id)).map((p) => ({ id: p.id, name: p.name }))
        : [];
    // rebuilt only when it changed: a choice being made in it stays in hand
    const shape = JSON.stringify([b, here, mod, unplaced]);
    if (shape === this.roomsShape) return;
    this.roomsShape = shape;
    this.rooms.replaceChildren();
    if (!b.open) return;
    for (const room of b.rooms) {
      const mine = room.room_id === b.assigned;
      const item = h("li", { class: "breakout-room", "data-room": room.room_id }, h("h3", { class: "breakout-room-name" }, room.name));
      if (mine) item.append(" ", h("span", { class: "tag", "data-i18n": "room.breakout.yours" }));
      item.append(h("p", { class: "muted breakout-room-count", "data-i18n": "room.breakout.members", "data-i18n-vars": JSON.stringify({ count: room.count }) }));
      if (mod) item.append(this.members(room, b));
      if (room.room_id !== here && (mod || mine || b.choose)) {
        item.append(
          h("button", {
            type: "button",
            class: "button secondary",
            "data-action": "breakout-join",
            "data-i18n": "room.breakout.join",
            "data-i18n-attr": "aria-label:room.breakout.join_room",
            "data-i18n-vars": JSON.stringify({ room: room.name }),
          }),
        );
        item.lastElementChild?.addEventListener("click", () => client.joinBreakout(room.room_id));
      }
      this.rooms.append(item);
    }
    if (unplaced.length > 0) {
      const main = { room_id: MAIN, name: "", count: unplaced.length, participants: unplaced };
      this.rooms.append(h("li", { class: "breakout-room breakout-unplaced" }, h("h3", { class: "breakout-room-name", "data-i18n": "room.breakout.unplaced" }), this.members(main, b)));
    }
    translate(this.rooms);
  }

  /**
   * The members of a room, each with the choice of another room (moderators).
   *
   * @param {Breakouts["rooms"][number]} room
   * @param {Breakouts} b
   * @returns {HTMLElement}
   */
  members(room, b) {
    const list = h("ul", { class: "breakout-members" });
    for (const p of room.participants || []) {
      const id = uid("breakout-move");
      const select = h("select", { id, class: "breakout-move", "data-participant": p.id }, h("option", { value: MAIN, "data-i18n": "room.breakout.main" }));
      for (const other of b.rooms) select.append(h("option", { value: other.room_id }, other.name));
      select.value = room.room_id;
      select.addEventListener("change", () => this.client?.assignBreakout(p.id, select.value));
      list.append(
        h(
          "li",
          { class: "breakout-member" },
          h("span", { class: "person-name" }, p.name),
          h("label", { for: id, class: "visually-hidden", "data-i18n": "room.breakout.move", "data-i18n-vars": JSON.stringify({ name: p.name }) }),
          select,
        ),
      );
    }
    return list;
  }
}

if (!customElements.get("breakout-panel")) customElements.define("breakout-panel", BreakoutPanel);
