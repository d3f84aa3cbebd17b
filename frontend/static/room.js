// @ts-check
// The meeting room view: <meeting-room> shows every participant in a <media-tile>
// (media-tile.js) laid out as a gallery or in speaker view (layout.js), the list of
// participants with the raised hands, the chat and the polls (collab.js), the lobby and the
// moderators' menus (moderation.js), the controls in a <room-toolbar> (toolbar.js:
// microphone, camera, screen share, hand, reactions, the choice of devices, leave; locking,
// muting all and ending the session for moderators), the keyboard shortcuts, what is said to
// screen readers (announcer.js), and the quality of the connection. The connection itself
// is a RoomClient (rtc.js).

import { Announcer } from "./announcer.js";
import { BreakoutPanel, timeLeft } from "./breakout.js";
import { CaptionLine, CaptionPanel } from "./captions.js";
import { ChatPanel, PollPanel } from "./collab.js";
import { deviceField, deviceTrack, fillDevices, listDevices, userMedia } from "./devices.js";
import { h, uid } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";
import { icon } from "./icons.js";
import { gallery, speaker } from "./layout.js";
import { FIRST_FRAME_EVENT, MediaTile, REACTION_MS } from "./media-tile.js";
import { LobbyPanel, popupMenu } from "./moderation.js";
import { PeoplePanel } from "./people.js";
import { qualityOf } from "./quality.js";
import { REACTIONS, RoomClient, peerMedia } from "./rtc.js";
import { SLIDES_MAX_BYTES, SlidesView } from "./slides.js";
import { RoomToolbar, toggleButton, toolButton } from "./toolbar.js";

/** @typedef {import("./rtc.js").JoinAnswer} JoinAnswer */
/** @typedef {import("./rtc.js").Label} Label */
/** @typedef {import("./rtc.js").Peer} Peer */
/** @typedef {import("./devices.js").DeviceChoice} DeviceChoice */
/** @typedef {import("./devices.js").LocalMedia} LocalMedia */
/** @typedef {import("./quality.js").Quality} Quality */


/** How often the connection's quality is measured, in milliseconds. */
const QUALITY_MS = 3000;

/** How long the layout must stay still before the tiles' sizes are sent, in milliseconds. */
const LAYER_DEBOUNCE_MS = 300;

/** The tallest a tile asks for before its first frame, in CSS pixels: a middle layer. */
const FIRST_LAYER_HEIGHT = 360;

/** Where the choice to turn the single-key shortcuts off is kept in the browser. */
const SHORTCUTS_KEY = "webinaire.shortcuts";

/** The single-key shortcuts: the key, the action of the toolbar's button, what it does. */
const SHORTCUTS = /** @type {const} */ ([
  ["m", "mic", "room.shortcuts.mic"],
  ["v", "camera", "room.shortcuts.camera"],
  ["h", "hand", "room.shortcuts.hand"],
  ["c", "chat", "room.shortcuts.chat"],
  ["p", "people", "room.shortcuts.people"],
  ["g", "view", "room.shortcuts.view"],
  ["?", "shortcuts", "room.shortcuts.help"],
]);

/**
 * From this many others on, one's own picture is a tile of the gallery rather than a small
 * picture over it: with two others, a third place would leave half the grid empty.
 */
const SELF_IN_GRID = 3;

/** The gap between tiles, in CSS pixels, as in app.css (.tiles). */
const TILE_GAP = 8;

/** @typedef {import("./icons.js").IconName} IconName */

/**
 * <meeting-room>: the room of one webinar or meeting, once entered with enter().
 */
export class MeetingRoom extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.titleId = uid("room-title");
    this.heading = h("h1", { id: this.titleId, class: "room-title", tabindex: "-1" });
    this.stateLine = h("p", { class: "room-state", role: "status" });
    this.lockedTag = h("span", { class: "tag room-locked", "data-i18n": "room.locked", hidden: true });
    /** Shown while the room is recorded, in the room and in the lobby. */
    this.recordingTag = h(
      "span",
      { class: "tag room-recording", role: "img", "data-i18n-attr": "aria-label:room.recording.label", hidden: true },
      h("span", { class: "recording-dot", "aria-hidden": "true" }, "●"),
      " ",
      h("span", { "aria-hidden": "true", "data-i18n": "room.recording" }),
    );
    /** Shown while the room is broadcast live, in the room and in the lobby. */
    this.broadcastTag = h(
      "span",
      { class: "tag room-broadcast", role: "img", "data-i18n-attr": "aria-label:room.broadcast.label", hidden: true },
      h("span", { class: "broadcast-dot", "aria-hidden": "true" }, "●"),
      " ",
      h("span", { "aria-hidden": "true", "data-i18n": "room.broadcast" }),
    );
    this.alert = h("p", { class: "alert room-alert", role: "alert" });
    /** Says things to screen readers (lobby arrivals, a moderator muting you). */
    this.news = new Announcer();
    this.announcer = this.news.region;
    /** The others present at the last rendering, by id, to tell arrivals and departures; null before the first. @type {Map<string, string> | null} */
    this.knownPeers = null;
    /** The raised hands at the last rendering. @type {string[]} */
    this.knownHands = [];
    this.tiles = h("div", { class: "tiles" });
    /** The tile that counts the participants the gallery has no room for. */
    this.othersTile = h("button", { type: "button", class: "tile tile-others", "data-action": "others", hidden: true });
    this.othersTile.addEventListener("click", () => this.openPanel(this.peoplePanel));
    this.tiles.append(this.othersTile);
    this.stage = h("div", { class: "tiles-wrap stage", role: "region", "data-i18n-attr": "aria-label:room.videos" }, this.tiles);
    /** The layout chosen: "auto" is speaker view while a screen is shared, else the gallery; a pinned tile, or a spotlight, is shown in speaker view whatever the choice. @type {"auto" | "gallery" | "speaker"} */
    this.view = "auto";
    /** The key of the tile pinned for oneself, or "". */
    this.pinned = "";
    /** The participant in the spotlight, as last announced. */
    this.spotlit = "";
    /** The key of the last large tile of speaker view, kept while nobody else speaks. */
    this.lastMain = "";
    /** Speaker view or the gallery, in the toolbar. */
    this.viewToggle = toggleButton("view", "room.view.speaker", "speaker");
    this.viewToggle.addEventListener("click", () => {
      this.view = this.viewToggle.getAttribute("aria-pressed") === "true" ? "gallery" : "speaker";
      // the gallery, chosen, has no large tile: a pin goes
      if (this.view === "gallery") this.pinned = "";
      this.arrange();
      this.scheduleLayers();
    });
    document.addEventListener("fullscreenchange", () => {
      for (const tile of this.remote.values()) {
        tile.querySelector('[data-action="fullscreen"]')?.setAttribute("aria-pressed", String(document.fullscreenElement === tile));
      }
      this.scheduleLayers();
    });
    this.self = /** @type {MediaTile} */ (document.createElement("media-tile"));
    this.self.classList.add("tile-self");
    /** Hides and shows one's own small picture; the others still see it. */
    this.selfToggle = h(
      "button",
      { type: "button", class: "self-toggle", "aria-pressed": "false", "data-action": "self-view", "data-i18n-attr": "aria-label:room.self.hide;title:room.self.hide" },
      icon("eyeOff", "icon-on"),
      icon("eye", "icon-off"),
    );
    this.selfView = h("div", { class: "self-view" }, this.self, this.selfToggle);
    this.selfToggle.addEventListener("click", () => {
      const hide = this.selfToggle.getAttribute("aria-pressed") !== "true";
      this.selfToggle.setAttribute("aria-pressed", String(hide));
      this.selfView.classList.toggle("self-hidden", hide);
      this.arrange();
    });
    /** @type {Map<string, MediaTile>} tiles by participant id, and id + "~screen" */
    this.remote = new Map();
    this.lobbyPanel = /** @type {LobbyPanel} */ (document.createElement("lobby-panel"));
    this.lobbyPanel.hidden = true;
    this.chatPanel = /** @type {ChatPanel} */ (document.createElement("chat-panel"));
    this.chatPanel.id = uid("chat");
    this.chatPanel.hidden = true;
    this.pollPanel = /** @type {PollPanel} */ (document.createElement("poll-panel"));
    this.pollPanel.id = uid("polls");
    this.pollPanel.hidden = true;
    this.captionPanel = /** @type {CaptionPanel} */ (document.createElement("caption-panel"));
    this.captionPanel.id = uid("captions");
    this.captionPanel.hidden = true;
    /** The subtitle over the videos, for those who turn captions on. */
    this.captionLine = new CaptionLine();
    this.subtitles = toggleButton("subtitles", "room.subtitles", "captions");
    this.subtitles.addEventListener("click", () => {
      const on = this.subtitles.getAttribute("aria-pressed") !== "true";
      this.subtitles.setAttribute("aria-pressed", String(on));
      this.captionLine.turn(on);
    });
    this.slidesView = /** @type {SlidesView} */ (document.createElement("slides-view"));
    this.slidesView.hidden = true;
    this.slidesView.addEventListener("slides-shown", () => this.arrange());
    /** Presents a PDF: one chosen now, or the one attached to the webinar beforehand. */
    this.present = toolButton("present", "room.present", "slides");
    this.presentMenu = popupMenu(this.present, () => this.presentItems());
    this.presentWrap = h("span", { class: "menu-wrap", hidden: true }, this.present, this.presentMenu);
    this.slidesFile = h("input", { type: "file", accept: "application/pdf,.pdf", hidden: true, "data-action": "slides-file" });
    this.slidesFile.addEventListener("change", () => this.presentFile());
    this.mic = toggleButton("mic", "room.mic", "mic", "micOff");
    this.camera = toggleButton("camera", "room.camera", "camera", "cameraOff");
    this.screen = toggleButton("screen", "room.screen", "screen");
    this.hand = toggleButton("hand", "room.hand", "hand");
    this.reactButton = toolButton("react", "room.react", "react");
    this.reactMenu = popupMenu(this.reactButton, () =>
      REACTIONS.map((emoji, i) => ({ key: `room.reaction.${i}`, label: emoji, run: () => this.client?.react(emoji) })),
    );
    const cam = deviceField("camera");
    const mic = deviceField("microphone");
    this.cameraSelect = cam.select;
    this.micSelect = mic.select;
    this.settingsProblem = h("p", { class: "alert", role: "status" });
    const settingsTitle = uid("settings-title");
    this.settingsPanel = h(
      "section",
      { class: "panel settings-panel", id: uid("settings"), "aria-labelledby": settingsTitle, hidden: true },
      h("h2", { id: settingsTitle, "data-i18n": "devices.settings" }),
      cam.field,
      mic.field,
      this.settingsProblem,
    );
    this.settingsToggle = this.panelToggle("settings", this.settingsPanel, "settings");
    /** Device changes are made one at a time. */
    this.switching = Promise.resolve();
    /** @type {Quality | ""} */
    this.quality = "";
    /** @type {import("./quality.js").Counts | null} */
    this.qualityCounts = null;
    /** @type {number | undefined} */
    this.qualityTimer = undefined;
    this.qualityMark = h("span", { class: "quality", role: "img", hidden: true }, h("span", { class: "quality-bar" }), h("span", { class: "quality-bar" }), h("span", { class: "quality-bar" }));
    this.chatToggle = this.panelToggle("chat", this.chatPanel, "chat");
    this.pollToggle = this.panelToggle("polls", this.pollPanel, "polls");
    this.captionsToggle = this.panelToggle("captions", this.captionPanel, "transcript");
    this.peoplePanel = /** @type {PeoplePanel} */ (document.createElement("people-panel"));
    this.peoplePanel.id = uid("people-panel");
    this.peoplePanel.hidden = true;
    this.peopleToggle = this.panelToggle("people", this.peoplePanel, "people", "room.people.open");
    this.breakoutPanel = /** @type {BreakoutPanel} */ (document.createElement("breakout-panel"));
    this.breakoutPanel.id = uid("breakout-panel");
    this.breakoutPanel.hidden = true;
    this.breakoutToggle = this.panelToggle("breakout", this.breakoutPanel, "rooms");
    this.breakoutToggle.hidden = true;
    /** The time left in the breakout rooms, for everyone in them and in the main room. */
    this.countdown = h("span", { class: "tag breakout-timer", role: "timer", hidden: true });
    /** @type {number | undefined} */
    this.countdownTimer = undefined;
    /** The last message of a moderator to every room. */
    this.breakoutNotice = h("div", { class: "notice breakout-message", hidden: true });
    /** The webinar's title, before the name of a breakout room. */
    this.title = "";
    this.confirmEnd = this.makeConfirmEnd();
    this.shortcutsButton = toolButton("shortcuts", "room.shortcuts", "keyboard");
    this.shortcutsButton.setAttribute("aria-haspopup", "dialog");
    /** Whether the single-key shortcuts are on: they are, unless turned off in their dialog. */
    this.shortcutsOn = shortcutsOn();
    this.shortcutsDialog = this.makeShortcuts();
    this.shortcutsButton.addEventListener("click", () => this.shortcutsDialog.showModal());
    /** The screen kept awake while in the room, where the browser can. @type {WakeLockSentinel | null} */
    this.wakeLock = null;
    this.leaveButton = toolButton("leave", "room.leave", "leave");
    this.leaveButton.classList.add("tool-leave");
    this.reactWrap = h("span", { class: "menu-wrap" }, this.reactButton, this.reactMenu);
    this.toolbar = /** @type {RoomToolbar} */ (document.createElement("room-toolbar"));
    this.toolbar.setTools(
      [
        [this.mic, this.camera, this.screen, this.presentWrap, this.settingsToggle],
        [this.hand, this.reactWrap, this.viewToggle, this.subtitles, this.chatToggle, this.captionsToggle, this.pollToggle, this.peopleToggle, this.breakoutToggle, this.shortcutsButton],
        [this.leaveButton],
      ],
      // what goes into the "more" menu first when the row is too narrow
      [
        [this.shortcutsButton, this.shortcutsButton],
        [this.captionsToggle, this.captionsToggle],
        [this.viewToggle, this.viewToggle],
        [this.settingsToggle, this.settingsToggle],
        [this.pollToggle, this.pollToggle],
        [this.breakoutToggle, this.breakoutToggle],
        [this.screen, this.screen],
        [this.presentWrap, this.present],
        [this.reactWrap, this.reactButton],
        [this.peopleToggle, this.peopleToggle],
        [this.hand, this.hand],
        [this.subtitles, this.subtitles],
        [this.chatToggle, this.chatToggle],
      ],
      (button) => (button === this.reactButton ? this.reactionItems() : button === this.present ? this.presentItems() : null),
    );
    /** The side panels, one open at a time, with the buttons that open them. @type {Map<HTMLElement, HTMLButtonElement>} */
    this.panels = new Map([
      [this.peoplePanel, this.peopleToggle],
      [this.chatPanel, this.chatToggle],
      [this.pollPanel, this.pollToggle],
      [this.breakoutPanel, this.breakoutToggle],
      [this.captionPanel, this.captionsToggle],
      [this.settingsPanel, this.settingsToggle],
    ]);
    this.closePanelButton = h("button", { type: "button", class: "panel-close", "data-action": "close-panel", "data-i18n-attr": "aria-label:room.panel.close;title:room.panel.close" }, icon("close"));
    this.closePanelButton.addEventListener("click", () => this.openPanel(null));
    this.drawer = h("div", { class: "room-side drawer", hidden: true }, this.closePanelButton, ...this.panels.keys());
    this.unmuteAsk = h("div", { class: "notice unmute-ask", hidden: true });
    this.waiting = h("div", { class: "room-waiting notice", hidden: true });
    this.ended = h("div", { class: "room-ended", hidden: true });
    this.inside = h("div", { class: "room-inside" });
    /** @type {MediaStream | null} */
    this.screenStream = null;
    /** @type {number | undefined} */
    this.layerTimer = undefined;
    this.resizes = new ResizeObserver(() => {
      this.arrange();
      this.scheduleLayers();
    });
  }

  /**
   * A toolbar button that opens a side panel, or closes it when open.
   *
   * @param {string} action
   * @param {HTMLElement} panel
   * @param {IconName} iconName
   * @param {string} [key] the name's message, room.<action> unless told
   * @returns {HTMLButtonElement}
   */
  panelToggle(action, panel, iconName, key = `room.${action}`) {
    const button = toolButton(action, key, iconName);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", panel.id);
    button.addEventListener("click", () => this.openPanel(panel.hidden ? panel : null));
    return button;
  }

  /**
   * Opens one side panel and closes the others; null closes them all and gives the focus back
   * to the button of the panel that was open.
   *
   * @param {HTMLElement | null} open
   */
  openPanel(open) {
    /** @type {HTMLButtonElement | null} */
    let closed = null;
    for (const [panel, button] of this.panels) {
      if (!panel.hidden && panel !== open) closed = button;
      panel.hidden = panel !== open;
      button.setAttribute("aria-expanded", String(panel === open));
    }
    this.drawer.hidden = open === null;
    this.dataset.panel = open ? String(this.panels.get(open)?.dataset.action) : "";
    if (open === this.settingsPanel) this.fillSettings();
    if (open === this.chatPanel) {
      this.chatPanel.unread = 0;
      this.showUnread();
      this.chatPanel.text.focus();
    } else if (open) {
      const title = open.querySelector("h2");
      if (title instanceof HTMLElement) {
        title.tabIndex = -1;
        title.focus();
      }
    }
    // a button in the "more" menu is out of sight: the menu's button takes the focus
    if (open === null && closed) (closed.closest(".tool-overflow") ? this.toolbar.moreButton : closed).focus();
    this.arrange();
  }

  /** @returns {import("./moderation.js").MenuItem[]} the reactions, one entry each, for the "more" menu */
  reactionItems() {
    return REACTIONS.map((emoji, i) => {
      const vars = { what: t(`room.reaction.${i}`) };
      return { key: "room.react.with", vars, label: `${emoji} ${t("room.react.with", vars)}`, run: () => this.client?.react(emoji) };
    });
  }

  /** Shows the chat's unread messages on its button: a count in its name and a badge. */
  showUnread() {
    this.toolbar.badge(this.chatToggle, this.chatPanel.unread, "room.chat", "room.chat.unread");
  }

  /**
   * Shows on the polls' button the open polls one has not answered, and on the people's button,
   * for moderators, those waiting in the lobby.
   */
  showPending() {
    const client = this.client;
    if (!client) return;
    const open = [...client.polls.values()].filter((p) => p.state === "open" && !(p.my_vote && p.my_vote.length > 0)).length;
    this.toolbar.badge(this.pollToggle, open, "room.polls", "room.polls.open");
    this.toolbar.badge(this.peopleToggle, client.isModerator() ? client.waiting.length : 0, "room.people.open", "room.people.waiting");
  }

  /** @returns {HTMLDialogElement} the list of keyboard shortcuts, with the switch that turns them off */
  makeShortcuts() {
    const titleId = uid("shortcuts-title");
    const switchId = uid("shortcuts-on");
    const on = h("input", { type: "checkbox", id: switchId, checked: this.shortcutsOn });
    on.addEventListener("change", () => {
      this.shortcutsOn = on.checked;
      try {
        if (on.checked) localStorage.removeItem(SHORTCUTS_KEY);
        else localStorage.setItem(SHORTCUTS_KEY, "off");
      } catch {
        // storage refused: the choice holds for this page only
      }
    });
    const close = h("button", { type: "button", class: "button secondary", "data-action": "shortcuts-close", "data-i18n": "room.shortcuts.close" });
    const dialog = h(
      "dialog",
      { class: "confirm shortcuts-dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId, "data-i18n": "room.shortcuts" }),
      h("dl", { class: "shortcuts" }, ...SHORTCUTS.flatMap(([key, , what]) => [h("dt", {}, h("kbd", {}, key.toUpperCase())), h("dd", { "data-i18n": what })])),
      h("div", { class: "check" }, on, h("label", { for: switchId, "data-i18n": "room.shortcuts.enabled" })),
      h("p", { class: "actions" }, close),
    );
    close.addEventListener("click", () => dialog.close());
    return dialog;
  }

  /**
   * Acts on a single-key shortcut: the key does what its button of the toolbar does. Keys
   * typed in a field, with a modifier, or while a dialog or a menu is open are not shortcuts.
   *
   * @param {KeyboardEvent} event
   */
  onKey(event) {
    const client = this.client;
    if (!client || client.state === "closed" || this.hidden || this.inside.hidden || !this.shortcutsOn) return;
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable], [role^=menu], dialog")) return;
    if (document.querySelector("dialog[open]")) return;
    const shortcut = SHORTCUTS.find(([key]) => key === event.key.toLowerCase());
    if (!shortcut) return;
    const button = this.toolbar.querySelector(`button[data-action="${shortcut[1]}"]`);
    if (!(button instanceof HTMLButtonElement) || button.hidden) return;
    event.preventDefault();
    button.click();
  }

  /** Keeps the screen awake while in the room, where the browser allows it. */
  async keepAwake() {
    const client = this.client;
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || !client || client.state === "closed") return;
    if (this.wakeLock && !this.wakeLock.released) return;
    try {
      const lock = await navigator.wakeLock.request("screen");
      this.wakeLock = lock;
      this.dataset.wakeLock = "held";
      lock.addEventListener("release", () => {
        if (this.wakeLock === lock) this.dataset.wakeLock = "released";
      });
    } catch {
      this.dataset.wakeLock = "refused";
    }
  }

  /** @returns {HTMLDialogElement} the confirmation asked before ending the session for all */
  makeConfirmEnd() {
    const titleId = uid("end-title");
    const yes = h("button", { type: "button", class: "button danger", "data-action": "end-confirm", "data-i18n": "room.mod.end_confirm" });
    const no = h("button", { type: "button", class: "button secondary", "data-action": "end-cancel", "data-i18n": "common.cancel" });
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": titleId },
      h("h2", { id: titleId, "data-i18n": "room.mod.end_title" }),
      h("p", { "data-i18n": "room.mod.end_text" }),
      h("p", { class: "actions" }, no, yes),
    );
    yes.addEventListener("click", () => {
      dialog.close();
      this.client?.moderate("end_session");
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => this.peoplePanel.endAll.focus());
    return dialog;
  }

  connectedCallback() {
    if (this.firstChild) return;
    const leaveWaiting = h("button", { type: "button", class: "button secondary", "data-action": "leave-lobby", "data-i18n": "room.leave" });
    leaveWaiting.addEventListener("click", () => this.client?.leave());
    this.waiting.append(h("p", { class: "notice-title", "data-i18n": "room.waiting.title" }), h("p", { "data-i18n": "room.waiting.text" }), h("p", {}, leaveWaiting));
    this.stage.append(this.selfView, h("div", { class: "stage-notices" }, this.breakoutNotice, this.lobbyPanel, this.unmuteAsk), this.captionLine.el);
    this.inside.append(
      h("div", { class: "room-body" }, this.slidesView, this.stage, this.drawer),
      this.slidesFile,
      this.toolbar,
      this.confirmEnd,
      this.shortcutsDialog,
    );
    this.append(
      h(
        "section",
        { class: "room", "aria-labelledby": this.titleId },
        h("div", { class: "room-head" }, this.heading, h("div", { class: "room-status" }, this.countdown, this.recordingTag, this.broadcastTag, this.lockedTag, this.stateLine, this.qualityMark)),
        this.alert,
        this.announcer,
        this.waiting,
        this.ended,
        this.inside,
      ),
    );
    translate(this);
    this.mic.addEventListener("click", () => this.flip("microphone", this.mic));
    this.camera.addEventListener("click", () => this.flip("camera", this.camera));
    this.screen.addEventListener("click", () => this.toggleScreen());
    this.hand.addEventListener("click", () => this.client?.raiseHand(!this.client.handRaised()));
    this.leaveButton.addEventListener("click", () => this.client?.leave());
    this.peoplePanel.addEventListener("end-request", () => this.confirmEnd.showModal());
    this.peoplePanel.addEventListener("hand-lowered", () => this.hand.focus());
    this.chatPanel.addEventListener("unread", () => this.showUnread());
    document.addEventListener("keydown", (event) => this.onKey(event));
    // the browser lets the screen go to sleep when the page is hidden: asked again on return
    document.addEventListener("visibilitychange", () => this.keepAwake());
    this.addEventListener(FIRST_FRAME_EVENT, () => this.scheduleLayers());
    this.resizes.observe(this.tiles);
    this.cameraSelect.addEventListener("change", () => this.switchDevice("camera", this.cameraSelect.value));
    this.micSelect.addEventListener("change", () => this.switchDevice("microphone", this.micSelect.value));
  }

  /** @returns {import("./moderation.js").MenuItem[]} what the present button offers */
  presentItems() {
    return [
      { key: "room.present.file", run: () => this.slidesFile.click() },
      { key: "room.present.attached", run: () => this.presentSlides(null) },
    ];
  }

  /** Presents the PDF chosen in the file picker. */
  async presentFile() {
    const file = this.slidesFile.files?.[0];
    this.slidesFile.value = "";
    if (!file) return;
    if (file.size > SLIDES_MAX_BYTES) {
      localize(this.alert, "room.slides.error.body_too_large");
      return;
    }
    await this.presentSlides(file);
  }

  /**
   * Presents a PDF, or with null the one attached to the webinar; says why when the server
   * refuses it.
   *
   * @param {Blob | null} file
   */
  async presentSlides(file) {
    const client = this.client;
    if (!client) return;
    try {
      await client.presentSlides(file);
      setPlainText(this.alert, "");
      this.slidesView.focus();
    } catch (err) {
      const code = err instanceof Error ? err.message : "";
      const known = ["not_pdf", "pdf_too_large", "pdf_pages", "body_too_large", "not_presenter", "slides_busy", "not_found"];
      localize(this.alert, known.includes(code) ? `room.slides.error.${code}` : "room.slides.error");
    }
  }

  /** The PeerConnection of the session, for tests that read its statistics. */
  get pc() {
    return this.client ? this.client.pc : null;
  }

  /**
   * Enters the room: asks for the camera and microphone when this participant may publish,
   * then connects.
   *
   * The devices chosen before (media.choice) are used, and the tracks of a preview
   * (media.local) taken over; a device off at entry starts muted.
   *
   * @param {JoinAnswer} join
   * @param {{title: string, renew?: () => Promise<JoinAnswer>, media?: {local: LocalMedia, choice: DeviceChoice}}} options
   */
  async enter(join, { title, renew, media }) {
    this.title = title;
    this.heading.textContent = title;
    this.dataset.room = "main";
    const client = new RoomClient(join, { renew });
    this.client = client;
    localize(this.stateLine, "room.state.connecting");
    /** @type {LocalMedia} */
    let local = new Map();
    if (client.canPublish()) {
      local = media && media.local.size > 0 ? media.local : await userMedia(media?.choice);
    } else {
      for (const { track } of media?.local.values() || []) track.stop();
    }
    if (client.canPublish() && local.size === 0) localize(this.alert, "room.no_media");
    this.showControls(local, client.canPublish());
    if (media) {
      for (const [label, button] of /** @type {const} */ ([["camera", this.camera], ["microphone", this.mic]])) {
        const l = local.get(label);
        if (!l || media.choice[label]) continue;
        l.track.enabled = false;
        client.localMuted[label] = true;
        button.setAttribute("aria-pressed", "true");
      }
    }

    this.dataset.recording = "false";
    this.dataset.broadcasting = "false";
    client.addEventListener("state", () => this.onState());
    client.addEventListener("peers", () => this.render());
    client.addEventListener("role", () => this.promoted());
    client.addEventListener("hands", () => this.render());
    client.addEventListener("polls", () => this.showPending());
    client.addEventListener("lobby", () => this.showPending());
    client.addEventListener("role", () => this.showPending());
    client.addEventListener("speaker", () => this.render());
    client.addEventListener("room", () => {
      this.announceSpotlight();
      this.render();
    });
    client.addEventListener("recording", () => this.onRecording());
    client.addEventListener("broadcast", () => this.onBroadcast());
    client.addEventListener("reaction", (event) => this.showReaction(/** @type {CustomEvent} */ (event).detail));
    client.addEventListener("muted", () => {
      this.mic.setAttribute("aria-pressed", "true");
      this.announce(t("room.mod.muted_you"));
      this.render();
    });
    client.addEventListener("unmute_requested", () => this.askUnmute());
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (code === "publish_forbidden") localize(this.alert, "room.error.publish_forbidden");
    });
    client.addEventListener("breakouts", () => this.showBreakouts());
    client.addEventListener("role", () => this.showBreakouts());
    client.addEventListener("moved", (event) => this.moved(/** @type {CustomEvent} */ (event).detail));
    client.addEventListener("breakout_message", (event) => this.breakoutMessage(/** @type {CustomEvent} */ (event).detail));
    client.addEventListener("help_requested", (event) => {
      const { name, room_name } = /** @type {CustomEvent} */ (event).detail;
      this.announce(t("room.breakout.help_requested", { name, room: room_name }));
    });
    this.chatPanel.attach(client);
    this.pollPanel.attach(client);
    this.breakoutPanel.attach(client);
    this.captionPanel.attach(client, (msg) => this.captionLine.show(msg));
    this.slidesView.attach(client);
    const showPresent = () => {
      this.presentWrap.hidden = !client.mayPresent();
      this.toolbar.fit();
    };
    client.addEventListener("role", showPresent);
    client.addEventListener("slides", showPresent);
    // a captioner comes to type: its panel opens at the first entry
    let captionerOpened = false;
    client.addEventListener("captions", (event) => {
      if (captionerOpened || /** @type {CustomEvent} */ (event).detail || client.role !== "captioner") return;
      captionerOpened = true;
      this.openPanel(this.captionPanel);
      this.captionPanel.text.focus();
    });
    this.lobbyPanel.attach(client, (text) => this.announce(text));
    this.showBreakouts();
    client.start(local);
    this.render();
    this.heading.focus();
    this.qualityTimer = window.setInterval(() => this.measure(), QUALITY_MS);
    this.keepAwake();
  }

  /**
   * Shows the breakout rooms' button to moderators, and to everyone while rooms are open,
   * and the time left in them.
   */
  showBreakouts() {
    const client = this.client;
    if (!client) return;
    const b = client.breakouts;
    const hide = !client.isModerator() && !b.open && !client.inBreakout();
    if (hide && !this.breakoutPanel.hidden) this.openPanel(null);
    if (this.breakoutToggle.hidden !== hide) {
      this.breakoutToggle.hidden = hide;
      this.toolbar.fit();
    }
    window.clearInterval(this.countdownTimer);
    this.countdown.hidden = !b.open || !b.ends_at;
    if (!b.open || !b.ends_at) return;
    const endsAt = b.ends_at;
    const tick = () => localize(this.countdown, "room.breakout.ends_in", { time: timeLeft(endsAt, Date.now()) });
    tick();
    this.countdownTimer = window.setInterval(tick, 1000);
  }

  /**
   * This participant is in another room now: the title says which, and so it is said.
   *
   * @param {{room_id: string, room_name: string, main: boolean}} move
   */
  moved(move) {
    this.dataset.room = move.main ? "main" : "breakout";
    this.heading.textContent = move.main ? this.title : `${this.title} – ${move.room_name}`;
    this.announce(move.main ? t("room.breakout.moved_main") : t("room.breakout.moved", { room: move.room_name }));
    this.showBreakouts();
  }

  /**
   * A moderator wrote to every room: shown over the videos until the next, and said.
   *
   * @param {{from_name: string, text: string}} msg
   */
  breakoutMessage(msg) {
    const text = t("room.breakout.message", { name: msg.from_name, text: msg.text });
    const close = h("button", { type: "button", class: "panel-close", "data-action": "breakout-message-close", "data-i18n-attr": "aria-label:room.panel.close;title:room.panel.close" }, icon("close"));
    close.addEventListener("click", () => {
      this.breakoutNotice.hidden = true;
    });
    this.breakoutNotice.replaceChildren(h("p", { class: "breakout-message-text" }, text), close);
    translate(this.breakoutNotice);
    this.breakoutNotice.hidden = false;
    this.announce(text);
  }

  /**
   * Shows whether the room is recorded, says it to screen readers, and tells the page
   * (a "recording" event on this element, detail: {active}).
   */
  onRecording() {
    const active = Boolean(this.client?.recording);
    this.recordingTag.hidden = !active;
    this.dataset.recording = String(active);
    this.announce(t(active ? "room.recording.started" : "room.recording.stopped"));
    this.dispatchEvent(new CustomEvent("recording", { detail: { active } }));
  }

  /**
   * Shows whether the room is broadcast live, says it to screen readers when that changes,
   * and tells the page (a "broadcast" event on this element, detail: {active, error, reason}).
   */
  onBroadcast() {
    const active = Boolean(this.client?.broadcasting);
    const error = this.client?.broadcastError || "";
    const reason = this.client?.broadcastReason || "";
    const changed = String(active) !== this.dataset.broadcasting;
    this.broadcastTag.hidden = !active;
    this.dataset.broadcasting = String(active);
    if (changed) this.announce(t(active ? "room.broadcast.started" : "room.broadcast.stopped"));
    this.dispatchEvent(new CustomEvent("broadcast", { detail: { active, error, reason } }));
  }

  /**
   * Adds a control to the moderators' group, such as the organizer's recording button.
   *
   * @param {...HTMLElement} els
   */
  addModeratorControls(...els) {
    this.peoplePanel.addModeratorControls(...els);
  }

  /** Lists the devices in the settings, with the ones in use selected. */
  async fillSettings() {
    const client = this.client;
    if (!client) return;
    const devices = await listDevices();
    /** @type {[HTMLSelectElement, MediaDeviceKind, import("./rtc.js").Label, string][]} */
    const lists = [
      [this.cameraSelect, "videoinput", "camera", "devices.camera"],
      [this.micSelect, "audioinput", "microphone", "devices.microphone"],
    ];
    for (const [select, kind, label, key] of lists) {
      const track = client.local.get(label)?.track;
      fillDevices(select, devices, kind, track?.getSettings().deviceId || "", (n) => `${t(key)} ${n}`);
      if (!track) select.disabled = true;
    }
  }

  /**
   * Sends another camera or microphone in place of the one in use.
   *
   * @param {"camera" | "microphone"} label
   * @param {string} deviceId
   */
  switchDevice(label, deviceId) {
    this.switching = this.switching.then(async () => {
      const client = this.client;
      if (!client || !client.local.has(label)) return;
      try {
        await client.replaceTrack(label, await deviceTrack(label === "camera" ? "video" : "audio", deviceId));
        setPlainText(this.settingsProblem, "");
      } catch {
        localize(this.settingsProblem, "devices.unavailable");
      }
      this.render();
    });
  }

  /** Measures the connection's quality and shows it; says so when it becomes poor. */
  async measure() {
    const client = this.client;
    if (!client || client.state === "closed") {
      window.clearInterval(this.qualityTimer);
      return;
    }
    const pc = client.pc;
    if (!pc || client.state !== "connected") return;
    /** @type {any[]} */
    const stats = [];
    try {
      (await pc.getStats()).forEach((s) => stats.push(s));
    } catch {
      return;
    }
    if (pc !== client.pc) return;
    const { quality, counts } = qualityOf(stats, this.qualityCounts);
    this.qualityCounts = counts;
    if (quality === "poor" && this.quality !== "poor") this.announce(t("room.quality.became_poor"));
    this.quality = quality;
    this.showQuality();
  }

  /** Shows the last quality measured on the mark next to one's own name. */
  showQuality() {
    const mark = this.qualityMark;
    mark.hidden = this.quality === "";
    if (this.quality === "") return;
    mark.dataset.quality = this.quality;
    const text = t(`room.quality.${this.quality}`);
    mark.setAttribute("aria-label", text);
    mark.title = text;
  }

  /** Says who a moderator put in the spotlight, when that changes. */
  announceSpotlight() {
    const client = this.client;
    if (!client || client.spotlight === this.spotlit) return;
    this.spotlit = client.spotlight;
    const name = client.peers.get(client.spotlight)?.name;
    if (client.spotlight === "") this.announce(t("room.spotlight.off"));
    else if (client.spotlight === client.id) this.announce(t("room.spotlight.you"));
    else if (name) this.announce(t("room.spotlight.on", { name }));
  }

  /** @param {string} text said by screen readers, with the other news of the moment */
  announce(text) {
    this.news.say(text);
  }

  /**
   * Notes for screen readers who joined, left or raised a hand since the last rendering.
   *
   * @param {RoomClient} client
   */
  noticePeople(client) {
    if (client.state !== "connected") return;
    const now = new Map([...client.peers.values()].map((p) => [p.id, p.name]));
    const before = this.knownPeers;
    this.knownPeers = now;
    if (before) {
      for (const [id, name] of now) if (!before.has(id)) this.news.note("joined", name);
      for (const [id, name] of before) if (!now.has(id)) this.news.note("left", name);
      for (const id of client.hands) {
        const name = now.get(id);
        if (name && !this.knownHands.includes(id)) this.news.note("hand", name);
      }
    }
    this.knownHands = [...client.hands];
  }

  /**
   * Shows the buttons of the media this participant sends.
   *
   * @param {Map<Label, unknown>} local
   * @param {boolean} canPublish
   */
  showControls(local, canPublish) {
    this.mic.hidden = !local.has("microphone");
    this.camera.hidden = !local.has("camera");
    this.settingsToggle.hidden = !local.has("microphone") && !local.has("camera");
    this.screen.hidden = !canPublish || !navigator.mediaDevices || !("getDisplayMedia" in navigator.mediaDevices);
    this.toolbar.fit();
  }

  /** The role changed: one who may now publish is asked for the camera and microphone. */
  async promoted() {
    const client = this.client;
    if (client && client.canPublish() && client.local.size === 0) {
      const local = await userMedia();
      this.showControls(local, true);
      client.publish(local);
    }
    this.render();
  }

  /** A moderator asks this participant to unmute: one click does it. */
  askUnmute() {
    const client = this.client;
    if (!client || !client.local.has("microphone") || !client.localMuted.microphone) return;
    const yes = h("button", { type: "button", class: "button", "data-action": "unmute-yes", "data-i18n": "room.unmute.yes" });
    const no = h("button", { type: "button", class: "button secondary", "data-action": "unmute-no", "data-i18n": "room.unmute.no" });
    const done = () => {
      this.unmuteAsk.hidden = true;
      this.unmuteAsk.replaceChildren();
      this.mic.focus();
    };
    yes.addEventListener("click", () => {
      client.setMuted("microphone", false);
      this.mic.setAttribute("aria-pressed", "false");
      this.render();
      done();
    });
    no.addEventListener("click", done);
    this.unmuteAsk.replaceChildren(h("p", { role: "alert", "data-i18n": "room.unmute.asked" }), h("p", { class: "actions" }, yes, no));
    translate(this.unmuteAsk);
    this.unmuteAsk.hidden = false;
  }

  onState() {
    const client = this.client;
    if (!client) return;
    this.dataset.state = client.state;
    const waiting = client.state === "waiting";
    this.waiting.hidden = !waiting;
    this.inside.hidden = waiting;
    if (client.state === "connected" && this.dataset.admitted === "waiting") {
      this.dataset.admitted = "yes";
      this.heading.focus();
    }
    if (waiting) this.dataset.admitted = "waiting";
    if (client.state !== "closed") {
      localize(this.stateLine, `room.state.${client.state}`);
      this.render();
      return;
    }
    this.screenStream = null;
    this.recordingTag.hidden = true;
    this.broadcastTag.hidden = true;
    this.news.stop();
    this.wakeLock?.release().catch(() => undefined);
    this.wakeLock = null;
    window.clearTimeout(this.layerTimer);
    window.clearInterval(this.qualityTimer);
    window.clearInterval(this.countdownTimer);
    this.countdown.hidden = true;
    const key = endKey(client.endCode);
    localize(this.stateLine, "room.state.closed");
    this.ended.hidden = false;
    this.waiting.hidden = true;
    this.inside.hidden = true;
    const again = h("button", { type: "button", class: "button", "data-i18n": "room.again" });
    again.addEventListener("click", () => location.reload());
    this.ended.replaceChildren(h("p", { "data-i18n": key }), h("p", {}, again));
    translate(this.ended);
    for (const b of [this.mic, this.camera, this.screen, this.settingsToggle, this.leaveButton]) b.hidden = true;
    this.settingsPanel.hidden = true;
    this.tiles.replaceChildren(this.othersTile);
    this.remote.clear();
    this.render();
    again.focus();
  }

  /**
   * @param {Label} label
   * @param {HTMLButtonElement} button
   */
  flip(label, button) {
    const client = this.client;
    if (!client) return;
    const muted = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(muted));
    client.setMuted(label, muted);
    this.render();
  }

  async toggleScreen() {
    const client = this.client;
    if (!client) return;
    if (this.screenStream) {
      client.stopScreen();
      this.screenStream = null;
      this.render();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      this.screenStream = stream;
      stream.getVideoTracks()[0]?.addEventListener("ended", () => {
        if (this.screenStream !== stream) return;
        client.stopScreen();
        this.screenStream = null;
        this.render();
      });
      client.shareScreen(stream);
      setPlainText(this.alert, "");
    } catch {
      localize(this.alert, "room.screen.refused");
    }
    this.render();
  }

  /** Shows the participants and their tiles as the client knows them now. */
  render() {
    const client = this.client;
    if (!client) return;
    this.screen.setAttribute("aria-pressed", String(this.screenStream !== null));
    this.hand.setAttribute("aria-pressed", String(client.handRaised()));
    this.lockedTag.hidden = !client.locked;
    this.peoplePanel.render(client);
    if (client.state === "closed") return;
    const own = [...client.local.entries()].filter(([label]) => label !== "screen").map(([, l]) => l.track);
    this.self.show({
      name: t("room.you", { name: client.join.display_name }),
      tracks: own.filter((tr) => tr.kind === "video"),
      muted: client.localMuted,
      local: true,
      screen: false,
      hand: client.handRaised(),
    });
    this.self.hidden = !client.canPublish();
    this.selfView.hidden = this.self.hidden;
    this.self.classList.toggle("tile-speaking", client.activeSpeaker === client.id);

    /** @type {Set<string>} */
    const wanted = new Set();
    for (const peer of client.peers.values()) {
      const { user, screen } = peerMedia(peer);
      // A webinar's audience is in the list, not in the grid.
      if (client.join.kind === "webinar" && peer.role === "attendee" && peer.tracks.size === 0) continue;
      const tile = this.tileFor(peer.id, wanted);
      tile.show({ name: peer.name, tracks: user, muted: peer.muted, local: false, screen: false, hand: client.hands.includes(peer.id) });
      tile.videoIds = videoIds(peer, false);
      tile.classList.toggle("tile-speaking", client.activeSpeaker === peer.id);
      nameTools(tile, peer.name);
      if (screen.length > 0) {
        const shared = this.tileFor(`${peer.id}~screen`, wanted);
        shared.show({
          name: t("room.screen_of", { name: peer.name }),
          tracks: screen,
          muted: {},
          local: false,
          screen: true,
        });
        shared.videoIds = videoIds(peer, true);
        nameTools(shared, t("room.screen_of", { name: peer.name }));
      }
    }
    for (const [key, tile] of this.remote) {
      if (!wanted.has(key)) {
        tile.remove();
        this.remote.delete(key);
        if (this.pinned === key) this.pinned = "";
      }
    }
    this.showQuality();
    this.noticePeople(client);
    this.arrange();
    this.scheduleLayers();
  }

  /**
   * Lays the tiles out. Gallery: all of the same size, filling the free area; when they would
   * be too small, the screen shares and the one speaking keep their places and a last tile
   * counts the others. Speaker view: the pinned tile, else a screen share, else the one
   * speaking, large, and the others in a filmstrip.
   */
  arrange() {
    const client = this.client;
    const tiles = [...this.remote.values()];
    const width = this.tiles.clientWidth;
    const height = this.tiles.clientHeight;
    const screens = tiles.filter((tile) => tile.classList.contains("tile-screen"));
    // a moderator's spotlight is over one's own choice of view and pin
    const spotlight = client ? this.remote.get(client.spotlight) : undefined;
    const speakerView = tiles.length > 1 && (spotlight !== undefined || this.pinned !== "" || this.view === "speaker" || (this.view === "auto" && screens.length > 0));
    const selfInGrid = !speakerView && tiles.length >= SELF_IN_GRID && !this.selfView.hidden && !this.selfView.classList.contains("self-hidden");
    if (selfInGrid && this.selfView.parentElement !== this.tiles) this.tiles.insertBefore(this.selfView, this.othersTile);
    if (!selfInGrid && this.selfView.parentElement === this.tiles) this.tiles.after(this.selfView);
    /** @param {MediaTile} tile */
    const rank = (tile) => (tile.classList.contains("tile-screen") ? 0 : tile.classList.contains("tile-speaking") ? 1 : 2);
    /** @type {MediaTile | undefined} */
    let main;
    let shown = tiles.length;
    let others = 0;
    if (speakerView) {
      const active = client ? this.remote.get(client.activeSpeaker) : undefined;
      main = spotlight || this.remote.get(this.pinned) || screens[0] || active || this.remote.get(this.lastMain) || tiles[0];
      this.lastMain = String(main.dataset.participant);
      const layout = speaker(tiles.length - 1, width, height, TILE_GAP, main.classList.contains("tile-screen"));
      shown = layout.shown;
      others = layout.others;
      this.tiles.style.setProperty("--main-w", `${layout.main.width}px`);
      this.tiles.style.setProperty("--main-h", `${layout.main.height}px`);
      this.tiles.style.setProperty("--tile-w", `${layout.strip.width}px`);
      this.tiles.style.setProperty("--tile-h", `${layout.strip.height}px`);
      this.tiles.style.setProperty("--strip-n", String(Math.max(1, shown + (others > 0 ? 1 : 0))));
    } else {
      // one's own picture takes a place of the gallery when there are several others, so that
      // it covers none of them; with fewer, it stays small in a corner
      const layout = gallery(tiles.length + (selfInGrid ? 1 : 0), width, height, TILE_GAP);
      shown = layout.shown - (selfInGrid ? 1 : 0);
      others = layout.others;
      // with no tile the sizes stay as they were: a tile that comes is never drawn at zero
      // size, which would hold back its first frame
      if (layout.grid.width > 0 && layout.grid.height > 0) {
        this.tiles.style.setProperty("--tile-w", `${layout.grid.width}px`);
        this.tiles.style.setProperty("--tile-h", `${layout.grid.height}px`);
      }
    }
    const rest = tiles.filter((tile) => tile !== main).sort((a, b) => rank(a) - rank(b));
    rest.forEach((tile, i) => tile.classList.toggle("tile-overflow", i >= shown));
    for (const tile of tiles) {
      tile.classList.toggle("tile-main", tile === main);
      tile.classList.toggle("tile-spotlight", tile === spotlight);
      tile.classList.toggle("tile-small", speakerView && tile !== main);
      tile.querySelector('[data-action="pin"]')?.setAttribute("aria-pressed", String(tile.dataset.participant === this.pinned));
    }
    this.tiles.classList.toggle("tiles-speaker", speakerView);
    this.viewToggle.setAttribute("aria-pressed", String(speakerView));
    if (this.viewToggle.hidden !== tiles.length < 2) {
      this.viewToggle.hidden = tiles.length < 2;
      this.toolbar.fit();
    }
    this.othersTile.hidden = others === 0;
    if (others > 0) localize(this.othersTile, "room.others", { count: others });
    this.stage.dataset.count = String(tiles.length);
    this.stage.dataset.layout = speakerView ? "speaker" : "gallery";
  }

  /**
   * Pins a tile for oneself, which shows it large in speaker view, or unpins it.
   *
   * @param {string} key
   */
  pin(key) {
    this.pinned = this.pinned === key ? "" : key;
    this.arrange();
    this.scheduleLayers();
  }

  /**
   * Shows a tile full screen, or leaves full screen.
   *
   * @param {MediaTile} tile
   */
  fullscreen(tile) {
    if (document.fullscreenElement === tile) document.exitFullscreen().catch(() => undefined);
    else tile.requestFullscreen().catch(() => undefined);
  }

  /** Sends the tiles' sizes once the layout has been still for a moment. */
  scheduleLayers() {
    window.clearTimeout(this.layerTimer);
    this.layerTimer = window.setTimeout(() => this.sendLayers(), LAYER_DEBOUNCE_MS);
  }

  /**
   * Asks the server for the layer of each received video track that fits its tile. Until a
   * tile has shown its first frame, it asks for no more than a middle layer: a large tile
   * would otherwise wait for a top layer the sender may not send yet.
   */
  sendLayers() {
    const client = this.client;
    if (!client) return;
    for (const tile of this.remote.values()) {
      const box = tile.video.getBoundingClientRect();
      let width = Math.round(box.width);
      let height = Math.round(box.height);
      if (!tile.shown && height > FIRST_LAYER_HEIGHT) {
        width = Math.round((width * FIRST_LAYER_HEIGHT) / height);
        height = FIRST_LAYER_HEIGHT;
      }
      for (const id of tile.videoIds) client.requestLayer(id, width, height);
    }
  }

  /**
   * The tile of key, made when missing.
   *
   * @param {string} key
   * @param {Set<string>} wanted collects the keys still shown
   * @returns {MediaTile}
   */
  tileFor(key, wanted) {
    wanted.add(key);
    let tile = this.remote.get(key);
    if (!tile) {
      tile = /** @type {MediaTile} */ (document.createElement("media-tile"));
      tile.dataset.participant = key;
      this.remote.set(key, tile);
      this.tiles.insertBefore(tile, this.othersTile);
      const made = tile;
      const pin = h("button", { type: "button", class: "tile-tool", "aria-pressed": "false", "data-action": "pin" }, icon("pin"));
      pin.addEventListener("click", () => this.pin(key));
      const full = h("button", { type: "button", class: "tile-tool", "aria-pressed": "false", "data-action": "fullscreen" }, icon("fullscreen"));
      full.addEventListener("click", () => this.fullscreen(made));
      const tools = h("div", { class: "tile-tools" }, pin, full);
      if (!("requestFullscreen" in tile)) full.hidden = true;
      tile.append(tools);
    }
    return tile;
  }

  /**
   * Shows a participant's reaction on its tile, or by its name when it has none.
   *
   * @param {{participant_id: string, emoji: string}} reaction
   */
  showReaction({ participant_id: id, emoji }) {
    const client = this.client;
    const i = REACTIONS.indexOf(emoji);
    if (!client || i < 0) return;
    const name = id === client.id ? client.join.display_name : client.peers.get(id)?.name || "";
    const mark = () => h("span", { class: "reaction", role: "img", "aria-label": t("room.reaction.from", { name, what: t(`room.reaction.${i}`) }) }, emoji);
    const tile = id === client.id ? this.self : this.remote.get(id);
    if (tile && !tile.hidden) tile.react(mark());
    const spot = this.peoplePanel.querySelector(`[data-participant="${CSS.escape(id)}"] .person-reactions`);
    if (spot instanceof HTMLElement) {
      const m = mark();
      spot.append(m);
      window.setTimeout(() => m.remove(), REACTION_MS);
    }
  }
}

/** @returns {boolean} whether the single-key shortcuts are on: they are unless turned off */
function shortcutsOn() {
  try {
    return localStorage.getItem(SHORTCUTS_KEY) !== "off";
  } catch {
    return true;
  }
}

/**
 * Names a tile's pin and full-screen buttons after what it shows.
 *
 * @param {MediaTile} tile
 * @param {string} name
 */
function nameTools(tile, name) {
  const vars = JSON.stringify({ name });
  for (const [action, key] of [["pin", "room.pin"], ["fullscreen", "room.fullscreen"]]) {
    const b = tile.querySelector(`[data-action="${action}"]`);
    if (!(b instanceof HTMLElement) || b.getAttribute("data-i18n-vars") === vars) continue;
    b.setAttribute("data-i18n-attr", `aria-label:${key};title:${key}`);
    b.setAttribute("data-i18n-vars", vars);
    translate(b);
  }
}

/**
 * The ids of a peer's video tracks received, its screen's or its camera's.
 *
 * @param {Peer} peer
 * @param {boolean} screen
 * @returns {string[]}
 */
function videoIds(peer, screen) {
  return [...peer.tracks.values()]
    .filter((i) => i.kind === "video" && (i.label === "screen") === screen && peer.media.has(i.track_id))
    .map((i) => i.track_id);
}

/**
 * The message key that says why the session ended.
 *
 * @param {string} code a close code or an error code of docs/protocol.md
 * @returns {string}
 */
function endKey(code) {
  switch (code) {
    case "1000":
      return "room.end.left";
    case "removed":
    case "4003":
    case "token_revoked":
      return "room.end.removed";
    case "lobby_denied":
      return "room.end.denied";
    case "room_locked":
    case "4005":
      return "room.end.locked";
    case "room_full":
    case "lobby_full":
    case "4006":
      return "room.end.full";
    case "replaced":
    case "4009":
      return "room.end.replaced";
    case "room_closed":
    case "breakout_ended":
    case "4004":
      return "room.end.closed";
    case "invitation_revoked":
      return "room.end.revoked";
    case "room_gone":
      return "room.end.gone";
    case "token_expired":
    case "token_invalid":
    case "4001":
      return "room.end.token";
    default:
      return "room.end.other";
  }
}

if (!customElements.get("meeting-room")) customElements.define("meeting-room", MeetingRoom);
