// @ts-check
// The camera and the microphone: asking for them (the ones chosen, when chosen), listing
// them, the level of a microphone, and <device-preview>, where an agent sees his camera,
// hears his microphone move a meter and picks both before entering the room.

import { h, uid } from "./dom.js";
import { localize, setPlainText, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").Label} Label */
/** @typedef {Map<Label, {track: MediaStreamTrack, stream: MediaStream}>} LocalMedia */

/**
 * The devices chosen: ids ("" for the browser's default) and whether each is on at entry.
 *
 * @typedef {object} DeviceChoice
 * @property {string} cameraId
 * @property {string} microphoneId
 * @property {boolean} camera
 * @property {boolean} microphone
 */

/** What the camera is asked for. */
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 } };

/**
 * The constraints of one kind of device, the given one or the default.
 *
 * @param {"audio" | "video"} kind
 * @param {string} deviceId "" for the default
 * @returns {MediaTrackConstraints}
 */
export function constraintsFor(kind, deviceId) {
  /** @type {MediaTrackConstraints} */
  const base = kind === "video" ? { ...VIDEO } : {};
  if (deviceId) base.deviceId = { exact: deviceId };
  return base;
}

/**
 * Asks for the camera and the microphone (the ones of ids, else the defaults); a device
 * refused or missing leaves it out.
 *
 * @param {{cameraId?: string, microphoneId?: string}} [ids]
 * @returns {Promise<LocalMedia>}
 */
export async function userMedia(ids = {}) {
  /** @type {LocalMedia} */
  const local = new Map();
  if (!navigator.mediaDevices) return local;
  const audio = constraintsFor("audio", ids.microphoneId || "");
  const video = constraintsFor("video", ids.cameraId || "");
  const tries = [
    { audio, video },
    { audio, video: false },
    { audio: false, video },
  ];
  for (const constraints of tries) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      const mic = stream.getAudioTracks()[0];
      const cam = stream.getVideoTracks()[0];
      if (mic) local.set("microphone", { track: mic, stream });
      if (cam) local.set("camera", { track: cam, stream });
      return local;
    } catch {
      // refused or no such device: try with less
    }
  }
  return local;
}

/**
 * One new track of the given device.
 *
 * @param {"audio" | "video"} kind
 * @param {string} deviceId
 * @returns {Promise<MediaStreamTrack>}
 */
export async function deviceTrack(kind, deviceId) {
  const c = constraintsFor(kind, deviceId);
  const stream = await navigator.mediaDevices.getUserMedia(kind === "video" ? { video: c } : { audio: c });
  const track = stream.getTracks()[0];
  if (!track) throw new Error(`no ${kind} track`);
  return track;
}

/**
 * Fills a select with the devices of one kind, keeping the one in use selected. Labels are
 * empty until the page was given a device once; then they are numbered.
 *
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices all devices
 * @param {MediaDeviceKind} kind
 * @param {string} current the id of the device in use
 * @param {(n: number) => string} unnamed the label of a device without one
 */
export function fillDevices(select, devices, kind, current, unnamed) {
  const mine = devices.filter((d) => d.kind === kind && d.deviceId !== "");
  select.replaceChildren(...mine.map((d, i) => h("option", { value: d.deviceId }, d.label || unnamed(i + 1))));
  if (mine.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = mine.length === 0;
}

/** @returns {Promise<MediaDeviceInfo[]>} the devices, none when the browser cannot say */
export async function listDevices() {
  try {
    return navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
  } catch {
    return [];
  }
}

/** How often the level meter is updated, in milliseconds. */
const LEVEL_MS = 100;

/** The sound level of a microphone track, shown on a <meter> from 0 to 1. */
export class LevelMeter {
  /** @param {HTMLMeterElement} meter */
  constructor(meter) {
    this.meter = meter;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {MediaStreamTrack | null} the track followed */
    this.track = null;
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  /** @param {MediaStreamTrack | null} track the track to follow, or none */
  follow(track) {
    this.stop();
    if (!track || typeof AudioContext === "undefined") return;
    this.track = track;
    const ctx = new AudioContext();
    this.ctx = ctx;
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = window.setInterval(() => {
      if (ctx.state === "suspended") ctx.resume().catch(() => undefined);
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // the root mean square, scaled so that speech fills most of the meter
      this.meter.value = track.enabled ? Math.min(1, Math.sqrt(sum / samples.length) * 4) : 0;
    }, LEVEL_MS);
  }

  stop() {
    window.clearInterval(this.timer);
    this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.track = null;
    this.meter.value = 0;
  }
}

/**
 * A labelled select in a field.
 *
 * @param {"camera" | "microphone"} device
 * @returns {{field: HTMLElement, select: HTMLSelectElement}}
 */
export function deviceField(device) {
  const id = uid("device");
  const key = `devices.${device}`;
  const select = h("select", { id, disabled: true, "data-device": device });
  return { field: h("div", { class: "field" }, h("label", { for: id, "data-i18n": key }), select), select };
}

/**
 * <device-preview>: the preview of the camera, the choice of camera and microphone, the
 * microphone's level, and whether each is on at entry. It asks for the devices when the
 * agent clicks its button, or with startIfAllowed() at once when the browser already allows
 * them; take() hands the tracks over to the room.
 */
export class DevicePreview extends HTMLElement {
  constructor() {
    super();
    this.titleId = uid("preview-title");
    this.video = h("video", { class: "preview-video", autoplay: true, playsinline: true, hidden: true });
    this.video.muted = true;
    this.off = h("p", { class: "preview-off", "data-i18n": "devices.camera_off" });
    this.startButton = h("button", { type: "button", class: "button secondary", "data-action": "preview", "data-i18n": "devices.start" });
    const cam = deviceField("camera");
    const mic = deviceField("microphone");
    this.cameraSelect = cam.select;
    this.micSelect = mic.select;
    this.cameraField = cam.field;
    this.micField = mic.field;
    const meterId = uid("level");
    this.meter = h("meter", { id: meterId, class: "level", min: "0", max: "1", low: "0.25", high: "0.8", optimum: "0.5", value: "0" });
    this.level = new LevelMeter(this.meter);
    this.levelField = h("div", { class: "field level-field" }, h("label", { for: meterId, "data-i18n": "devices.level" }), this.meter);
    this.cameraOn = h("input", { type: "checkbox", checked: true, "data-device": "camera" });
    this.micOn = h("input", { type: "checkbox", checked: true, "data-device": "microphone" });
    this.problem = h("p", { class: "alert", role: "status" });
    /** @type {MediaStream | null} */
    this.stream = null;
    /** Device changes are made one at a time. */
    this.queue = Promise.resolve();
    /** The room took the tracks over. */
    this.taken = false;
  }

  connectedCallback() {
    if (this.firstChild) return;
    this.classList.add("device-preview");
    this.append(
      h(
        "section",
        { "aria-labelledby": this.titleId },
        h("h3", { id: this.titleId, "data-i18n": "devices.title" }),
        h("div", { class: "preview-frame" }, this.video, this.off),
        h("p", { class: "hint" }, h("span", { "data-i18n": "devices.notice" }), " ", h("a", { href: "/privacy", "data-i18n": "devices.privacy" })),
        h("p", {}, this.startButton),
        h("div", { class: "device-fields" }, this.cameraField, this.micField, this.levelField),
        h(
          "fieldset",
          { class: "device-on" },
          h("legend", { "data-i18n": "devices.on_entry" }),
          h("label", { class: "check" }, this.cameraOn, " ", h("span", { "data-i18n": "devices.camera_on" })),
          h("label", { class: "check" }, this.micOn, " ", h("span", { "data-i18n": "devices.microphone_on" })),
        ),
        this.problem,
      ),
    );
    translate(this);
    this.startButton.addEventListener("click", () => this.start());
    this.cameraSelect.addEventListener("change", () => this.change("video", this.cameraSelect.value));
    this.micSelect.addEventListener("change", () => this.change("audio", this.micSelect.value));
    this.cameraOn.addEventListener("change", () => this.showState());
    this.micOn.addEventListener("change", () => this.showState());
  }

  /** Starts at once when the browser already allows the camera and the microphone. */
  async startIfAllowed() {
    try {
      const names = /** @type {PermissionName[]} */ (["camera", "microphone"]);
      const states = await Promise.all(names.map((name) => navigator.permissions.query({ name })));
      if (states.every((s) => s.state === "granted")) await this.start();
    } catch {
      // the browser cannot say: the button stays
    }
  }

  /** Asks for the default devices, then lists them (their labels show only after that). */
  async start() {
    if (this.stream || this.startButton.disabled || this.taken) return;
    this.startButton.disabled = true;
    const local = await userMedia();
    if (this.taken) {
      // entered meanwhile: the room asked for its own
      for (const { track } of local.values()) track.stop();
      return;
    }
    if (local.size === 0) {
      localize(this.problem, "devices.refused");
      this.startButton.disabled = false;
      return;
    }
    const stream = new MediaStream([...local.values()].map((l) => l.track));
    this.stream = stream;
    this.startButton.hidden = true;
    setPlainText(this.problem, "");
    this.video.srcObject = stream;
    this.video.play().catch(() => undefined);
    await this.fill();
    this.showState();
    this.dataset.ready = "yes";
  }

  /** Lists the devices, with the ones in use selected. */
  async fill() {
    const devices = await listDevices();
    const cam = this.stream?.getVideoTracks()[0];
    const mic = this.stream?.getAudioTracks()[0];
    fillDevices(this.cameraSelect, devices, "videoinput", cam?.getSettings().deviceId || "", (n) => `${this.cameraField.textContent} ${n}`);
    fillDevices(this.micSelect, devices, "audioinput", mic?.getSettings().deviceId || "", (n) => `${this.micField.textContent} ${n}`);
    if (!cam) this.cameraSelect.disabled = true;
    if (!mic) this.micSelect.disabled = true;
  }

  /**
   * Uses another device of a kind.
   *
   * @param {"audio" | "video"} kind
   * @param {string} deviceId
   */
  change(kind, deviceId) {
    this.queue = this.queue.then(async () => {
      const stream = this.stream;
      if (!stream) return;
      try {
        const track = await deviceTrack(kind, deviceId);
        for (const old of kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks()) {
          stream.removeTrack(old);
          old.stop();
        }
        stream.addTrack(track);
        setPlainText(this.problem, "");
      } catch {
        localize(this.problem, "devices.unavailable");
      }
      this.showState();
    });
  }

  /** Shows the preview and the level as the checkboxes say. */
  showState() {
    const stream = this.stream;
    const cam = stream?.getVideoTracks()[0];
    const mic = stream?.getAudioTracks()[0];
    if (cam) cam.enabled = this.cameraOn.checked;
    if (mic) mic.enabled = this.micOn.checked;
    const showVideo = Boolean(cam) && this.cameraOn.checked;
    this.video.hidden = !showVideo;
    this.off.hidden = showVideo || !stream;
    if (mic && this.micOn.checked) {
      if (this.level.track !== mic) this.level.follow(mic);
    } else {
      this.level.stop();
    }
  }

  /** @returns {DeviceChoice} the devices chosen, and whether each is on at entry */
  choice() {
    return {
      cameraId: this.cameraSelect.value,
      microphoneId: this.micSelect.value,
      camera: this.cameraOn.checked,
      microphone: this.micOn.checked,
    };
  }

  /**
   * Hands the tracks of the preview over (none when it did not start): the preview lets go
   * of them and of its meter.
   *
   * @returns {LocalMedia}
   */
  take() {
    /** @type {LocalMedia} */
    const local = new Map();
    const stream = this.stream;
    this.stream = null;
    this.taken = true;
    this.level.stop();
    this.video.srcObject = null;
    if (!stream) return local;
    const cam = stream.getVideoTracks()[0];
    const mic = stream.getAudioTracks()[0];
    if (mic) local.set("microphone", { track: mic, stream });
    if (cam) local.set("camera", { track: cam, stream });
    return local;
  }
}

if (!customElements.get("device-preview")) customElements.define("device-preview", DevicePreview);
