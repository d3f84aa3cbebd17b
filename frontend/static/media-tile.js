// @ts-check
// <media-tile>: one participant's video (and sound) in the meeting room, its name, what it
// muted, its raised hand and its reactions; a placeholder with its initials until the first
// frame and while its camera is off.

import { h } from "./dom.js";
import { translate } from "./i18n.js";

/** @typedef {import("./rtc.js").Label} Label */

/** Event a tile sends (bubbling) when it shows its first video frame. */
export const FIRST_FRAME_EVENT = "tile-frame";

/** How long a reaction stays on a tile, in milliseconds. */
export const REACTION_MS = 5000;

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
    this.reactions = h("span", { class: "tile-reactions" });
    /** @type {MediaStreamTrack[]} */
    this.tracks = [];
    /** The ids of the video tracks shown, for layer requests. @type {string[]} */
    this.videoIds = [];
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
      h("figure", { class: "tile-figure" }, this.video, this.placeholder, this.reactions, h("figcaption", {}, this.name, this.states)),
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
   * @param {boolean} [what.hand] the participant's hand is raised
   */
  show({ name, tracks, muted, local, screen, hand = false }) {
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
    if (!screen && hand) keys.push("room.tile.hand");
    this.states.replaceChildren(...keys.map((k) => h("span", { class: "tile-state", "data-i18n": k })));
    this.dataset.mic = muted.microphone ? "off" : "on";
    this.dataset.camera = muted.camera ? "off" : "on";
    translate(this.states);
  }

  /**
   * Shows a reaction for a while.
   *
   * @param {HTMLElement} reaction
   */
  react(reaction) {
    this.reactions.append(reaction);
    window.setTimeout(() => reaction.remove(), REACTION_MS);
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


if (!customElements.get("media-tile")) customElements.define("media-tile", MediaTile);
