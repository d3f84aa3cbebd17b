// @ts-check
// The meeting room view: <meeting-room> shows every participant in a <media-tile> (video,
// name, what it muted), the list of participants, and the controls (microphone, camera,
// screen share, leave). The connection itself is a RoomClient (rtc.js).

import { h, uid } from "./dom.js";
import { localize, setPlainText, t, translate } from "./i18n.js";
import { RoomClient, peerMedia } from "./rtc.js";

/** @typedef {import("./rtc.js").JoinAnswer} JoinAnswer */
/** @typedef {import("./rtc.js").Label} Label */
/** @typedef {import("./rtc.js").Peer} Peer */

/** Event a tile sends (bubbling) when it shows its first video frame. */
export const FIRST_FRAME_EVENT = "tile-frame";

/**
 * <media-tile>: one participant's video (and sound), its name and what it muted. It shows a
 * placeholder until the first frame, and while the camera is off.
 */
export class MediaTile extends HTMLElement {
  constructor() {
    super();
    this.video = h("video", { autoplay: true, playsinline: true, class: "tile-video" });
    this.placeholder = h("div", { class: "tile-placeholder", "aria-hidden": "true" });
    this.name = h("span", { class: "tile-name" });
    this.states = h("span", { class: "tile-states" });
    this.unmute = h("button", { type: "button", class: "button secondary tile-unmute", hidden: true, "data-i18n": "room.sound" });
    /** @type {MediaStreamTrack[]} */
    this.tracks = [];
    this.shown = false;
    this.unmute.addEventListener("click", () => {
      this.video.muted = false;
      this.unmute.hidden = true;
      this.video.play().catch(() => undefined);
    });
  }

  connectedCallback() {
    if (this.firstChild) return;
    this.classList.add("tile");
    this.append(
      h("figure", { class: "tile-figure" }, this.video, this.placeholder, h("figcaption", {}, this.name, this.states)),
      this.unmute,
    );
    translate(this);
  }

  /**
   * Shows tracks (played together) under a name.
   *
   * @param {object} what
   * @param {string} what.name the name shown
   * @param {MediaStreamTrack[]} what.tracks
   * @param {Partial<Record<Label, boolean>>} what.muted
   * @param {boolean} what.local this participant's own preview: never played aloud
   * @param {boolean} what.screen a screen share
   */
  show({ name, tracks, muted, local, screen }) {
    if (this.name.textContent !== name) this.name.textContent = name;
    this.classList.toggle("tile-screen", screen);
    const same = tracks.length === this.tracks.length && tracks.every((tr, i) => tr === this.tracks[i]);
    if (!same) {
      this.tracks = tracks;
      this.video.muted = local;
      this.video.srcObject = tracks.length > 0 ? new MediaStream(tracks) : null;
      if (tracks.some((tr) => tr.kind === "video")) this.watchFirstFrame();
      if (tracks.length > 0) {
        this.video.play().catch(() => {
          // playing aloud needs a gesture: play muted and offer a button for the sound
          this.video.muted = true;
          this.video.play().catch(() => undefined);
          if (!local) this.unmute.hidden = false;
        });
      }
    }
    const cameraOff = !screen && (muted.camera === true || !tracks.some((tr) => tr.kind === "video"));
    this.classList.toggle("tile-off", cameraOff || !this.shown);
    this.placeholder.textContent = cameraOff ? initials(name) : "";
    /** @type {string[]} */
    const keys = [];
    if (!screen && muted.microphone) keys.push("room.tile.mic_off");
    if (!screen && muted.camera) keys.push("room.tile.camera_off");
    this.states.replaceChildren(...keys.map((k) => h("span", { class: "tile-state", "data-i18n": k })));
    this.dataset.mic = muted.microphone ? "off" : "on";
    this.dataset.camera = muted.camera ? "off" : "on";
    translate(this.states);
  }

  watchFirstFrame() {
    const done = () => {
      if (this.shown) return;
      this.shown = true;
      this.classList.remove("tile-off");
      this.dataset.frame = "shown";
      this.dispatchEvent(new CustomEvent(FIRST_FRAME_EVENT, { bubbles: true }));
    };
    this.video.requestVideoFrameCallback(done);
  }
}

/**
 * Up to two initials of a name, for a tile without video.
 *
 * @param {string} name
 * @returns {string}
 */
function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join("");
}

/**
 * Asks for the camera and the microphone; a device refused or missing leaves it out.
 *
 * @returns {Promise<Map<Label, {track: MediaStreamTrack, stream: MediaStream}>>}
 */
async function userMedia() {
  /** @type {Map<Label, {track: MediaStreamTrack, stream: MediaStream}>} */
  const local = new Map();
  if (!navigator.mediaDevices) return local;
  const tries = [
    { audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 } } },
    { audio: true, video: false },
    { audio: false, video: { width: { ideal: 640 }, height: { ideal: 360 } } },
  ];
  for (const constraints of tries) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      const audio = stream.getAudioTracks()[0];
      const video = stream.getVideoTracks()[0];
      if (audio) local.set("microphone", { track: audio, stream });
      if (video) local.set("camera", { track: video, stream });
      return local;
    } catch {
      // refused or no such device: try with less
    }
  }
  return local;
}

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
    this.alert = h("p", { class: "alert room-alert", role: "alert" });
    this.tiles = h("div", { class: "tiles" });
    this.self = /** @type {MediaTile} */ (document.createElement("media-tile"));
    this.self.classList.add("tile-self");
    /** @type {Map<string, MediaTile>} tiles by participant id, and id + "~screen" */
    this.remote = new Map();
    this.peopleTitle = h("h2", { class: "people-title" });
    this.people = h("ul", { class: "people-list" });
    this.mic = this.toggle("mic", "room.mic");
    this.camera = this.toggle("camera", "room.camera");
    this.screen = this.toggle("screen", "room.screen");
    this.leaveButton = h("button", { type: "button", class: "button danger", "data-action": "leave", "data-i18n": "room.leave" });
    this.ended = h("div", { class: "room-ended", hidden: true });
    /** @type {MediaStream | null} */
    this.screenStream = null;
  }

  /**
   * @param {string} action
   * @param {string} key
   * @returns {HTMLButtonElement}
   */
  toggle(action, key) {
    return h("button", { type: "button", class: "button secondary", "aria-pressed": "false", "data-action": action, "data-i18n": key });
  }

  connectedCallback() {
    if (this.firstChild) return;
    const peopleId = uid("people");
    this.peopleTitle.id = peopleId;
    this.append(
      h(
        "section",
        { class: "room", "aria-labelledby": this.titleId },
        h("div", { class: "room-head" }, this.heading, this.stateLine),
        this.alert,
        this.ended,
        h(
          "div",
          { class: "room-body" },
          h("div", { class: "tiles-wrap", role: "region", "data-i18n-attr": "aria-label:room.videos" }, this.tiles),
          h("aside", { class: "people", "aria-labelledby": peopleId }, this.peopleTitle, this.people),
        ),
        h(
          "div",
          { class: "controls", role: "group", "data-i18n-attr": "aria-label:room.controls" },
          this.mic,
          this.camera,
          this.screen,
          this.leaveButton,
        ),
      ),
    );
    this.tiles.append(this.self);
    translate(this);
    this.mic.addEventListener("click", () => this.flip("microphone", this.mic));
    this.camera.addEventListener("click", () => this.flip("camera", this.camera));
    this.screen.addEventListener("click", () => this.toggleScreen());
    this.leaveButton.addEventListener("click", () => this.client?.leave());
  }

  /** The PeerConnection of the session, for tests that read its statistics. */
  get pc() {
    return this.client ? this.client.pc : null;
  }

  /**
   * Enters the room: asks for the camera and microphone when this participant may publish,
   * then connects.
   *
   * @param {JoinAnswer} join
   * @param {{title: string, renew?: () => Promise<JoinAnswer>}} options
   */
  async enter(join, { title, renew }) {
    this.heading.textContent = title;
    const client = new RoomClient(join, { renew });
    this.client = client;
    localize(this.stateLine, "room.state.connecting");
    const local = client.canPublish() ? await userMedia() : new Map();
    if (client.canPublish() && local.size === 0) localize(this.alert, "room.no_media");
    this.showControls(local, client.canPublish());

    client.addEventListener("state", () => this.onState());
    client.addEventListener("peers", () => this.render());
    client.addEventListener("role", () => this.promoted());
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (code === "publish_forbidden") localize(this.alert, "room.error.publish_forbidden");
    });
    client.start(local);
    this.render();
    this.heading.focus();
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
    this.screen.hidden = !canPublish || !navigator.mediaDevices || !("getDisplayMedia" in navigator.mediaDevices);
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

  onState() {
    const client = this.client;
    if (!client) return;
    this.dataset.state = client.state;
    if (client.state !== "closed") {
      localize(this.stateLine, `room.state.${client.state}`);
      this.render();
      return;
    }
    this.screenStream = null;
    const key = endKey(client.endCode);
    localize(this.stateLine, "room.state.closed");
    this.ended.hidden = false;
    const again = h("button", { type: "button", class: "button", "data-i18n": "room.again" });
    again.addEventListener("click", () => location.reload());
    this.ended.replaceChildren(h("p", { "data-i18n": key }), h("p", {}, again));
    translate(this.ended);
    for (const b of [this.mic, this.camera, this.screen, this.leaveButton]) b.hidden = true;
    this.tiles.replaceChildren();
    this.remote.clear();
    this.people.replaceChildren();
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
    if (client.state === "closed") {
      localize(this.peopleTitle, "room.people", { count: 0 });
      return;
    }
    const own = [...client.local.entries()].filter(([label]) => label !== "screen").map(([, l]) => l.track);
    this.self.show({
      name: t("room.you", { name: client.join.display_name }),
      tracks: own.filter((tr) => tr.kind === "video"),
      muted: client.localMuted,
      local: true,
      screen: false,
    });
    this.self.hidden = !client.canPublish();

    /** @type {Set<string>} */
    const wanted = new Set();
    for (const peer of client.peers.values()) {
      const { user, screen } = peerMedia(peer);
      // A webinar's audience is in the list, not in the grid.
      if (client.join.kind === "webinar" && peer.role === "attendee" && peer.tracks.size === 0) continue;
      this.tileFor(peer.id, wanted).show({ name: peer.name, tracks: user, muted: peer.muted, local: false, screen: false });
      if (screen.length > 0) {
        this.tileFor(`${peer.id}~screen`, wanted).show({
          name: t("room.screen_of", { name: peer.name }),
          tracks: screen,
          muted: {},
          local: false,
          screen: true,
        });
      }
    }
    for (const [key, tile] of this.remote) {
      if (!wanted.has(key)) {
        tile.remove();
        this.remote.delete(key);
      }
    }
    this.renderPeople(client);
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
      this.tiles.append(tile);
    }
    return tile;
  }

  /** @param {RoomClient} client */
  renderPeople(client) {
    const items = [
      this.person(client.id, t("room.you", { name: client.join.display_name }), client.role, client.localMuted),
      ...[...client.peers.values()].map((p) => this.person(p.id, p.name, p.role, p.muted)),
    ];
    localize(this.peopleTitle, "room.people", { count: items.length });
    this.people.replaceChildren(...items);
  }

  /**
   * @param {string} id
   * @param {string} name
   * @param {import("./api.js").Role} role
   * @param {Partial<Record<Label, boolean>>} muted
   * @returns {HTMLLIElement}
   */
  person(id, name, role, muted) {
    const li = h(
      "li",
      { class: "person", "data-participant": id },
      h("span", { class: "person-name" }, name),
      " ",
      h("span", { class: "muted", "data-i18n": `role.${role}` }),
    );
    if (muted.microphone) li.append(" ", h("span", { class: "tag", "data-i18n": "room.tile.mic_off" }));
    if (muted.camera) li.append(" ", h("span", { class: "tag", "data-i18n": "room.tile.camera_off" }));
    translate(li);
    return li;
  }
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
    case "replaced":
    case "4009":
      return "room.end.replaced";
    case "room_closed":
    case "4004":
      return "room.end.closed";
    case "token_expired":
    case "token_invalid":
    case "4001":
      return "room.end.token";
    default:
      return "room.end.other";
  }
}

if (!customElements.get("media-tile")) customElements.define("media-tile", MediaTile);
if (!customElements.get("meeting-room")) customElements.define("meeting-room", MeetingRoom);
