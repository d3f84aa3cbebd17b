// @ts-check
// The signalling client of a meeting room (docs/protocol.md): one WebSocket and one
// RTCPeerConnection per participant, the client as the polite peer of perfect negotiation,
// the others' tracks matched to their owners by mid, mute announcements, and reconnection
// with the session credential of the joined message when the connection drops. No DOM
// here: the room view listens to the events of RoomClient.

import { sendJSON } from "./api.js";

/** @typedef {import("./api.js").Role} Role */
/** @typedef {import("./api.js").Kind} Kind */
/** @typedef {"camera" | "microphone" | "screen"} Label */

/**
 * The answer of the join endpoints (docs/api.md, "Joining a room").
 *
 * @typedef {object} JoinAnswer
 * @property {string} token
 * @property {string} ws_url
 * @property {string} [whep_url]
 * @property {string} room_id
 * @property {string} participant_id
 * @property {string} display_name
 * @property {Role} role
 * @property {Kind} kind
 * @property {string} expires_at
 * @property {RTCIceServer[]} ice_servers
 */

/**
 * A track as the server describes it.
 *
 * @typedef {object} TrackInfo
 * @property {string} track_id
 * @property {string} stream_id
 * @property {"audio" | "video"} kind
 * @property {Label} label
 * @property {boolean} muted
 * @property {string} [mid]
 * @property {string} [participant_id]
 */

/** @typedef {{id: string, name: string, role: Role, tracks: TrackInfo[] | null}} ParticipantInfo */

/**
 * A chat message as the server sends it.
 *
 * @typedef {object} ChatMessage
 * @property {number} id
 * @property {string} from participant id
 * @property {string} from_name
 * @property {string} text
 * @property {"moderators"} [to] absent for everyone
 * @property {string} sent_at
 */

/**
 * A poll as the server sends it: results and voters only to those who may see them.
 *
 * @typedef {object} Poll
 * @property {string} poll_id
 * @property {string} question
 * @property {string[]} options
 * @property {boolean} multiple
 * @property {boolean} anonymous
 * @property {"draft" | "open" | "closed"} state
 * @property {boolean} published
 * @property {number[]} [results]
 * @property {Record<string, string[]>} [voters] by option index
 * @property {number[]} [my_vote]
 * @property {number} voted
 */

/**
 * A caption as the server sends it.
 *
 * @typedef {object} CaptionMessage
 * @property {number} id
 * @property {string} text
 * @property {"fr" | "en"} lang
 * @property {string} [from] the captioner's participant id; absent for an automatic caption
 * @property {boolean} [automatic]
 * @property {string} at
 */

/**
 * The slides presented in the room, as the server sends them: no slides_id when none.
 *
 * @typedef {object} SlidesMessage
 * @property {string} slides_id
 * @property {number} [pages]
 * @property {number} [page]
 * @property {string} [presenter]
 */

/** @typedef {{id: string, name: string}} Waiting someone in the lobby */

/**
 * The breakout rooms of the main room as the server last described them (docs/protocol.md,
 * "Breakout rooms"): the members of each room for moderators only.
 *
 * @typedef {object} Breakouts
 * @property {boolean} open
 * @property {string} main_room_id
 * @property {{room_id: string, name: string, count: number, participants?: {id: string, name: string}[]}[]} rooms
 * @property {boolean} [choose] anyone may go into any room
 * @property {string} [ends_at] when everyone is brought back, absent without a time limit
 * @property {string} [assigned] this participant's own breakout room
 */

/** The reactions the server accepts (docs/protocol.md). */
export const REACTIONS = ["👍", "👏", "❤️", "😂", "😮", "🎉"];

/** The simulcast layers of the camera: quarter, half and full resolution. */
const SIMULCAST = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_500_000 },
];

/**
 * What the client knows of another participant: the tracks it publishes, with the
 * MediaStreamTrack received for each once negotiated, and what it said it muted.
 *
 * @typedef {object} Peer
 * @property {string} id
 * @property {string} name
 * @property {Role} role
 * @property {Map<string, TrackInfo>} tracks by track id
 * @property {Map<string, MediaStreamTrack>} media received, by track id
 * @property {Partial<Record<Label, boolean>>} muted
 */

/**
 * The connection's state: "connecting" before the first joined, "waiting" in the lobby,
 * "connected" while joined, "reconnecting" after a drop, "moving" between the main room and
 * a breakout room, "closed" for good (left, removed, refused, replaced).
 *
 * @typedef {"idle" | "connecting" | "waiting" | "connected" | "reconnecting" | "moving" | "closed"} State
 */

/** Close codes after which the client does not come back (docs/protocol.md). */
const FINAL_CLOSES = new Set([1000, 4001, 4003, 4004, 4005, 4006, 4009]);

/** Delays before reconnection attempts, in milliseconds; the last one repeats. */
const RECONNECT_DELAYS = [250, 1000, 2000, 4000, 8000];

/**
 * A meeting-room connection. Events (all plain Events or CustomEvents on this object):
 * "state" when state changes (detail: {state, code}), "peers" when a participant, one of
 * its tracks or its mute state changes, "role" when this participant's role changes,
 * "problem" for an error message of the server that does not close (detail: {code}).
 * The session's collaboration: "chat" for a new message (detail: the ChatMessage), "polls"
 * when a poll changes, "hands" when the queue of raised hands changes, "reaction" (detail:
 * {participant_id, emoji}), "lobby" when the list of those waiting changes (moderators),
 * "slides" when the slides presented or their page change,
 * "captions" for a new caption (detail: the CaptionMessage) or the history at joining (no detail),
 * "room" when the room is locked or unlocked or its spotlight changes, "recording" when a recording of the room starts
 * or stops (also in the lobby), "broadcast" when a live broadcast of the room starts or
 * stops (also in the lobby) or, for moderators, when its target does not take the stream,
 * "speaker" when the active speaker changes,
 * "unmute_requested" when a moderator asks this participant to unmute, and "muted" when a
 * moderator muted this participant (detail: {label}). Breakout rooms: "breakouts" when their
 * state changes, "moved" once in another room (detail: {room_id, room_name, main}),
 * "breakout_message" for a moderator's broadcast (detail: {from_name, text}) and
 * "help_requested" for a call for help, to moderators (detail: {name, room_name}).
 */
export class RoomClient extends EventTarget {
  /**
   * @param {JoinAnswer} join
   * @param {{renew?: () => Promise<JoinAnswer>}} [options] renew gives a new join answer
   *   when the token has expired during a reconnection
   */
  constructor(join, options = {}) {
    super();
    this.join = join;
    this.renew = options.renew;
    /** @type {State} */
    this.state = "idle";
    /** The close code or error code that ended the session, once closed. */
    this.endCode = "";
    /** The code of the last error message of the server, which may come before a close. */
    this.lastError = "";
    /** This participant's id and role, as the server last said. */
    this.id = join.participant_id;
    /** @type {Role} */
    this.role = join.role;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /**
     * The PeerConnection of the current session; a test reads its statistics here.
     *
     * @type {RTCPeerConnection | null}
     */
    this.pc = null;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** Local tracks by label, sent on every (re)connection. @type {Map<Label, {track: MediaStreamTrack, stream: MediaStream}>} */
    this.local = new Map();
    /** What this participant announced as muted, sent again after a reconnection. @type {Partial<Record<Label, boolean>>} */
    this.localMuted = {};
    /** @type {Map<string, string>} mid to track id of the tracks received */
    this.mids = new Map();
    this.attempt = 0;
    /** @type {number | undefined} */
    this.timer = undefined;
    /** Messages are handled one at a time, in order. */
    this.queue = Promise.resolve();
    /** @type {Map<RTCRtpSender, Label>} */
    this.senders = new Map();
    /**
     * The id of the track each sender was made with: the one its m-line names, even after
     * replaceTrack.
     *
     * @type {Map<RTCRtpSender, string>}
     */
    this.senderIds = new Map();
    /** The chat as this participant may see it, oldest first. @type {ChatMessage[]} */
    this.chat = [];
    /** @type {Map<string, Poll>} by poll id, in order of creation */
    this.polls = new Map();
    /** The slides presented now. @type {SlidesMessage} */
    this.slides = { slides_id: "" };
    /** The last captions, oldest first. @type {CaptionMessage[]} */
    this.captions = [];
    /** How many captions are kept, as the server does. */
    this.captionsKept = 20;
    /** Participant ids with a raised hand, in order of raising. @type {string[]} */
    this.hands = [];
    /** Those waiting in the lobby (moderators only). @type {Waiting[]} */
    this.waiting = [];
    this.locked = false;
    /** The participant a moderator shows large to everyone, or "". */
    this.spotlight = "";
    /** Whether the room is being recorded, as the server last said. */
    this.recording = false;
    /** Whether the room is being broadcast live, as the server last said. */
    this.broadcasting = false;
    /** Why the broadcast's target does not take the stream (moderators), or "". */
    this.broadcastError = "";
    /** The same as a code (refused, rejected...), or "". */
    this.broadcastReason = "";
    this.activeSpeaker = "";
    /** The last layer request sent per received track id, as "width x height". @type {Map<string, string>} */
    this.layers = new Map();
    /** @type {Breakouts} */
    this.breakouts = { open: false, main_room_id: join.room_id, rooms: [] };
    /**
     * While in a breakout room: the main room's id and session credential, to go back with
     * when the breakout room ends or refuses this participant.
     *
     * @type {{room_id: string, token: string} | null}
     */
    this.home = null;
    /** The name of the breakout room this participant is in, "" in the main room. */
    this.roomName = "";
  }

  /** @returns {boolean} whether this participant is a moderator now */
  isModerator() {
    return this.role === "moderator";
  }

  /**
   * Connects with the given local media (camera, microphone; screen comes later).
   *
   * @param {Map<Label, {track: MediaStreamTrack, stream: MediaStream}>} local
   */
  start(local) {
    this.local = local;
    this.connect("connecting");
  }

  /**
   * Starts sending local media got after the start (a participant promoted to presenter).
   *
   * @param {Map<Label, {track: MediaStreamTrack, stream: MediaStream}>} local
   */
  publish(local) {
    for (const [label, media] of local) {
      this.local.set(label, media);
      if (this.pc) this.addLocal(this.pc, label);
    }
  }

  /**
   * Whether this participant may publish: everyone in a meeting; in a webinar, moderators
   * and presenters.
   *
   * @returns {boolean}
   */
  canPublish() {
    if (this.role === "captioner") return false;
    return this.join.kind === "meeting" || this.role !== "attendee";
  }

  /** @returns {boolean} whether this participant may send captions: a captioner or a moderator */
  mayCaption() {
    return this.role === "captioner" || this.role === "moderator";
  }

  /**
   * Sends a caption, typed in lang.
   *
   * @param {string} text
   * @param {"fr" | "en"} lang
   */
  sendCaption(text, lang) {
    this.send({ type: "caption", text, lang });
  }

  /** @returns {boolean} whether this participant may present slides: a presenter or a moderator */
  mayPresent() {
    return this.role === "presenter" || this.role === "moderator";
  }

  /** @returns {boolean} whether this participant turns the pages of the slides presented now */
  turnsPages() {
    return Boolean(this.slides.slides_id) && (this.isModerator() || (this.slides.presenter === this.id && this.mayPresent()));
  }

  /**
   * Presents a PDF in the room (docs/api.md, "Presenting slides"), or with null the one
   * attached to the webinar beforehand.
   *
   * @param {Blob | null} file
   * @returns {Promise<{slides_id: string, pages: number}>} rejects with the problem's code
   */
  async presentSlides(file) {
    const headers = { Authorization: `Bearer ${this.join.token}`, "Content-Type": "application/pdf" };
    const res = file
      ? await fetch("/api/v1/slides", { method: "POST", headers, body: file })
      : await fetch("/api/v1/slides/attached", { method: "POST", headers: { Authorization: headers.Authorization } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(String(body.code || res.status));
    return body;
  }

  /**
   * The file of the slides presented now.
   *
   * @param {string} id
   * @returns {Promise<ArrayBuffer>}
   */
  async slidesFile(id) {
    const res = await fetch(`/api/v1/slides/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${this.join.token}` } });
    if (!res.ok) throw new Error(String(res.status));
    return res.arrayBuffer();
  }

  /**
   * Shows a page of the slides to everyone.
   *
   * @param {number} page
   */
  turnSlide(page) {
    this.send({ type: "slide_page", slides_id: this.slides.slides_id, page });
  }

  /** Stops presenting the slides. */
  closeSlides() {
    this.send({ type: "slides_close", slides_id: this.slides.slides_id });
  }

  /**
   * Shows the others where one points on the page, from 0 to 1 of its width and height;
   * null when the pointer left it.
   *
   * @param {{x: number, y: number} | null} at
   */
  pointSlide(at) {
    this.send(at ? { type: "slide_pointer", slides_id: this.slides.slides_id, x: at.x, y: at.y } : { type: "slide_pointer", slides_id: this.slides.slides_id, hidden: true });
  }

  /**
   * Announces that the tracks with label are muted or not.
   *
   * @param {Label} label
   * @param {boolean} muted
   */
  setMuted(label, muted) {
    this.localMuted[label] = muted;
    const local = this.local.get(label);
    if (local) local.track.enabled = !muted;
    this.send({ type: "mute", label, muted });
  }

  /**
   * Starts sending a screen share as its own track, labelled screen.
   *
   * @param {MediaStream} stream from getDisplayMedia
   */
  shareScreen(stream) {
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    this.stopScreen();
    this.local.set("screen", { track, stream });
    if (this.pc) this.addLocal(this.pc, "screen");
  }

  /**
   * Sends another track in place of the one with label (another camera or microphone),
   * without renegotiation; the new track keeps the old one's mute state, the old one stops.
   *
   * @param {Label} label
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(label, track) {
    const local = this.local.get(label);
    if (!local) {
      track.stop();
      return;
    }
    const old = local.track;
    track.enabled = old.enabled;
    local.stream.removeTrack(old);
    local.stream.addTrack(track);
    local.track = track;
    for (const [sender, l] of this.senders) {
      if (l === label) await sender.replaceTrack(track);
    }
    old.stop();
  }

  /** Stops the screen share, if any. */
  stopScreen() {
    const screen = this.local.get("screen");
    if (!screen) return;
    this.local.delete("screen");
    screen.track.stop();
    for (const [sender, label] of this.senders) {
      if (label !== "screen") continue;
      this.senders.delete(sender);
      this.senderIds.delete(sender);
      try {
        this.pc?.removeTrack(sender);
      } catch {
        // the PeerConnection is closed: nothing to take back
      }
    }
  }

  /** Leaves the room for good. */
  leave() {
    this.send({ type: "leave" });
    this.finish("1000");
  }

  /**
   * Sends a chat message to everyone, or to the moderators only.
   *
   * @param {string} text
   * @param {boolean} toModerators
   */
  sendChat(text, toModerators) {
    this.send(toModerators ? { type: "chat", text, to: "moderators" } : { type: "chat", text });
  }

  /** @param {string} emoji one of REACTIONS */
  react(emoji) {
    this.send({ type: "reaction", emoji });
  }

  /** @param {boolean} raised */
  raiseHand(raised) {
    this.send({ type: "hand", raised });
  }

  /** @returns {boolean} whether this participant's hand is raised */
  handRaised() {
    return this.hands.includes(this.id);
  }

  /**
   * Votes in an open poll; voting again replaces the vote.
   *
   * @param {string} pollId
   * @param {number[]} choices option indexes
   */
  vote(pollId, choices) {
    this.send({ type: "vote", poll_id: pollId, choices });
  }

  /**
   * A moderator's message about the room or a participant (docs/protocol.md, "Moderation"):
   * mute_participant, ask_unmute, remove, set_role, lower_hand, lobby_admit, lobby_deny,
   * lock, spotlight, end_session, poll_create, poll_open, poll_close, poll_publish.
   *
   * @param {string} type
   * @param {Record<string, unknown>} [fields]
   */
  moderate(type, fields = {}) {
    this.send({ ...fields, type });
  }

  /**
   * Opens breakout rooms (moderators): each with a name and the participant ids sent there.
   *
   * @param {{name: string, participants: string[]}[]} rooms
   * @param {{random: boolean, choose: boolean, duration: number}} options duration in seconds, 0 for no limit
   */
  startBreakouts(rooms, { random, choose, duration }) {
    this.send({ type: "breakout_start", rooms, random, choose, duration });
  }

  /**
   * Sends a participant to a breakout room, or back to the main room with "" (moderators).
   *
   * @param {string} participantId
   * @param {string} roomId
   */
  assignBreakout(participantId, roomId) {
    this.send({ type: "breakout_assign", participant_id: participantId, room_id: roomId });
  }

  /**
   * Asks to go into a breakout room, or back to the main room with "".
   *
   * @param {string} roomId
   */
  joinBreakout(roomId) {
    this.send({ type: "breakout_join", room_id: roomId });
  }

  /** @param {string} text a moderator's message to every room */
  broadcast(text) {
    this.send({ type: "breakout_broadcast", text });
  }

  /** Asks the moderators for help, from a breakout room. */
  askHelp() {
    this.send({ type: "breakout_help" });
  }

  /** Brings everyone back to the main room (moderators). */
  endBreakouts() {
    this.send({ type: "breakout_end" });
  }

  /** @returns {boolean} whether this participant is in a breakout room */
  inBreakout() {
    return this.home !== null;
  }

  /**
   * Goes into another room, the main room or a breakout room, with the token the server
   * handed over: leaves this connection and joins on a new one, with the same local media.
   *
   * @param {{room_id: string, room_name?: string, main: boolean, token: string}} move
   */
  moveTo(move) {
    if (this.state === "closed") return;
    if (move.main) {
      this.home = null;
    } else if (!this.home) {
      this.home = { room_id: this.join.room_id, token: this.join.token };
    }
    this.roomName = move.main ? "" : move.room_name || "";
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "leave" }));
      ws.close(1000);
    }
    this.closePeerConnection();
    window.clearTimeout(this.timer);
    this.join = { ...this.join, room_id: move.room_id, token: move.token };
    this.attempt = 0;
    this.lastError = "";
    this.hands = [];
    this.connect("moving");
    this.dispatchEvent(new CustomEvent("moved", { detail: { room_id: move.room_id, room_name: this.roomName, main: move.main } }));
  }

  /**
   * Asks the server for the layer of a received video track that fits a tile of this size
   * (CSS pixels), unless that was the last request for it; 0 x 0 turns the track off.
   *
   * @param {string} trackId
   * @param {number} width
   * @param {number} height
   */
  requestLayer(trackId, width, height) {
    const size = `${width}x${height}`;
    if (this.layers.get(trackId) === size || this.state !== "connected") return;
    this.layers.set(trackId, size);
    if (width === 0 || height === 0) {
      this.send({ type: "layer", track_id: trackId, quality: "off" });
      return;
    }
    this.send({ type: "layer", track_id: trackId, quality: "high", width: Math.min(width, 16384), height: Math.min(height, 16384) });
  }

  // ---------------------------------------------------------------------------------------
  // Connection

  /** @param {State} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, code: this.endCode } }));
  }

  /**
   * Keeps the session credential of joined or lobby_wait for the reconnections: the join
   * token is good to enter for a few minutes only.
   *
   * @param {unknown} token
   */
  keepSessionToken(token) {
    if (typeof token === "string" && token !== "") this.join = { ...this.join, token };
  }

  /** @param {State} state "connecting" or "reconnecting" */
  connect(state) {
    this.setState(state);
    const ws = new WebSocket(this.join.ws_url);
    this.ws = ws;
    ws.addEventListener("open", () => this.send({ type: "join", token: this.join.token }));
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws || typeof event.data !== "string") return;
      /** @type {any} */
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.queue = this.queue.then(() => this.handle(msg)).catch(() => this.renegotiateAnew(ws));
    });
    ws.addEventListener("close", (event) => {
      if (ws === this.ws) this.dropped(event.code);
    });
  }

  /**
   * The WebSocket closed: come back after a while, unless the close is final.
   *
   * @param {number} code
   */
  async dropped(code) {
    this.ws = null;
    this.closePeerConnection();
    if (this.state === "closed") return;
    const expired = code === 4001 && this.lastError === "token_expired" && this.renew;
    // the breakout room has ended, or is not this participant's: back to the main room
    const ended = code === 4004 && this.lastError === "breakout_ended";
    const refused = code === 4001 && this.lastError === "forbidden";
    if (this.home && (ended || refused)) {
      this.moveTo({ room_id: this.home.room_id, main: true, token: this.home.token });
      return;
    }
    if (FINAL_CLOSES.has(code) && !expired) {
      this.finish(this.lastError || String(code));
      return;
    }
    if (expired && this.renew) {
      try {
        this.join = await this.renew();
        this.id = this.join.participant_id;
      } catch {
        // the API is out of reach too: try again later with the old answer
      }
    } else if (this.lastError === "room_moved" || (code === 1006 && this.attempt > 0)) {
      await this.whereNow();
    }
    this.lastError = "";
    this.setState("reconnecting");
    const delay = RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)];
    this.attempt += 1;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      if (this.state === "reconnecting") this.connect("reconnecting");
    }, delay);
  }

  /**
   * Asks the API which node runs the room now, with the session credential, after the
   * room moved (room_moved) or when its node cannot be reached: the answer is the same
   * participant's, for that node (docs/api.md, "Joining a room").
   */
  async whereNow() {
    try {
      /** @type {JoinAnswer} */
      const answer = await sendJSON("POST", "/api/v1/rejoin", { token: this.join.token }, "");
      this.join = answer;
    } catch {
      // the API is out of reach, or the credential cannot come back: try as before
    }
  }

  /**
   * Ends the session for good.
   *
   * @param {string} code why: a close code or an error code
   */
  finish(code) {
    window.clearTimeout(this.timer);
    this.endCode = code;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    this.closePeerConnection();
    for (const { track } of this.local.values()) track.stop();
    this.setState("closed");
  }

  closePeerConnection() {
    const pc = this.pc;
    this.pc = null;
    pc?.close();
    this.senders.clear();
    this.senderIds.clear();
    this.mids.clear();
    this.peers.clear();
    this.dispatchEvent(new Event("peers"));
  }

  /** @param {Record<string, unknown>} msg */
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  restartICE() {
    this.send({ type: "restart_ice" });
  }

  /**
   * A description could not be applied: the session cannot go on, so it starts again on a
   * new connection (the close below comes back as a drop).
   *
   * @param {WebSocket} ws
   */
  renegotiateAnew(ws) {
    if (ws === this.ws) ws.close(4000, "negotiation failed");
  }

  // ---------------------------------------------------------------------------------------
  // Messages

  /** @param {any} msg */
  async handle(msg) {
    switch (msg.type) {
      case "joined":
        this.onJoined(msg);
        break;
      case "lobby_wait":
        this.keepSessionToken(msg.session_token);
        this.attempt = 0;
        this.setRecording(Boolean(msg.recording));
        this.setBroadcast(Boolean(msg.broadcasting), "", "");
        this.setState("waiting");
        break;
      case "offer":
        await this.onOffer(msg.sdp);
        break;
      case "answer":
        if (this.pc && this.pc.signalingState === "have-local-offer") {
          await this.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
        }
        break;
      case "candidate":
        if (this.pc && msg.candidate && msg.candidate.candidate) {
          try {
            await this.pc.addIceCandidate(msg.candidate);
          } catch {
            // a candidate of a description rolled back: of no use
          }
        }
        break;
      case "tracks":
        this.onTracks(msg.added || [], msg.removed || []);
        break;
      case "participant_joined":
        this.addPeer(msg.participant);
        this.dispatchEvent(new Event("peers"));
        break;
      case "participant_left":
        this.peers.delete(msg.participant_id);
        this.dispatchEvent(new Event("peers"));
        break;
      case "participants":
        for (const p of msg.joined || []) this.addPeer(p);
        for (const id of msg.left || []) this.peers.delete(id);
        this.dispatchEvent(new Event("peers"));
        break;
      case "mute":
        this.onMute(msg);
        break;
      case "mutes":
        for (const m of msg.changes || []) this.onMute(m);
        break;
      case "role":
        this.onRole(msg.participant_id, msg.role);
        break;
      case "chat":
        this.chat.push(msg);
        this.dispatchEvent(new CustomEvent("chat", { detail: msg }));
        break;
      case "slides":
        this.slides = msg;
        this.dispatchEvent(new Event("slides"));
        break;
      case "slide_pointer":
        this.dispatchEvent(new CustomEvent("slide-pointer", { detail: msg }));
        break;
      case "caption":
        this.captions = [...this.captions, msg].slice(-this.captionsKept);
        this.dispatchEvent(new CustomEvent("captions", { detail: msg }));
        break;
      case "poll":
        this.polls.set(msg.poll_id, msg);
        this.dispatchEvent(new Event("polls"));
        break;
      case "hands":
        this.hands = msg.queue || [];
        this.dispatchEvent(new Event("hands"));
        break;
      case "reaction":
        this.dispatchEvent(new CustomEvent("reaction", { detail: { participant_id: msg.participant_id, emoji: msg.emoji } }));
        break;
      case "lobby":
        this.waiting = msg.waiting || [];
        this.dispatchEvent(new Event("lobby"));
        break;
      case "room_state":
        this.locked = Boolean(msg.locked);
        this.spotlight = msg.spotlight || "";
        this.dispatchEvent(new Event("room"));
        break;
      case "recording":
        this.setRecording(Boolean(msg.active));
        break;
      case "broadcast":
        this.setBroadcast(Boolean(msg.active), String(msg.error || ""), String(msg.reason || ""));
        break;
      case "active_speaker":
        this.activeSpeaker = msg.participant_id || "";
        this.dispatchEvent(new Event("speaker"));
        break;
      case "unmute_requested":
        this.dispatchEvent(new CustomEvent("unmute_requested", { detail: { by: msg.by } }));
        break;
      case "breakouts":
        this.breakouts = msg;
        this.dispatchEvent(new Event("breakouts"));
        break;
      case "breakout_move":
        this.moveTo(msg);
        break;
      case "breakout_message":
        this.dispatchEvent(new CustomEvent("breakout_message", { detail: { from_name: msg.from_name, text: msg.text } }));
        break;
      case "breakout_help_requested":
        this.dispatchEvent(new CustomEvent("help_requested", { detail: { name: msg.name, room_name: msg.room_name } }));
        break;
      case "error":
        this.lastError = String(msg.code || "");
        if (this.lastError === "negotiation_failed" && this.pc?.signalingState === "have-local-offer") {
          // the server refused this side's offer and stays as it was: so does this side
          await this.pc.setLocalDescription({ type: "rollback" });
        }
        this.dispatchEvent(new CustomEvent("problem", { detail: { code: this.lastError } }));
        break;
    }
  }

  /**
   * Notes whether the room is being recorded and says so when that changed.
   *
   * @param {boolean} active
   */
  setRecording(active) {
    if (active === this.recording) return;
    this.recording = active;
    this.dispatchEvent(new Event("recording"));
  }

  /**
   * Notes whether the room is broadcast live, and why its target does not take it, and
   * says so when either changed.
   *
   * @param {boolean} active
   * @param {string} error
   * @param {string} reason
   */
  setBroadcast(active, error, reason) {
    if (active === this.broadcasting && error === this.broadcastError) return;
    this.broadcasting = active;
    this.broadcastError = error;
    this.broadcastReason = reason;
    this.dispatchEvent(new Event("broadcast"));
  }

  /**
   * A participant muted or unmuted the tracks with a label, or a moderator did.
   *
   * @param {{participant_id: string, label: string, muted: boolean, by_moderator?: boolean}} msg
   */
  onMute(msg) {
    const peer = this.peers.get(msg.participant_id);
    if (msg.participant_id === this.id && msg.by_moderator && msg.muted) {
      this.mutedByModerator(/** @type {Label} */ (msg.label));
    } else if (peer) {
      peer.muted[/** @type {Label} */ (msg.label)] = Boolean(msg.muted);
      this.dispatchEvent(new Event("peers"));
    }
  }

  /**
   * A moderator muted this participant's tracks with label: they are muted here too.
   *
   * @param {Label} label
   */
  mutedByModerator(label) {
    this.localMuted[label] = true;
    const local = this.local.get(label);
    if (local) local.track.enabled = false;
    this.dispatchEvent(new CustomEvent("muted", { detail: { label } }));
  }

  /**
   * @param {{participant_id: string, role: Role, room_kind?: Kind, participants: ParticipantInfo[] | null,
   *   ice_servers: RTCIceServer[] | null, chat?: ChatMessage[] | null, polls?: Poll[] | null,
   *   hands?: string[] | null, captions?: CaptionMessage[] | null, slides?: SlidesMessage, locked?: boolean, spotlight?: string, recording?: boolean,
   *   broadcasting?: boolean, active_speaker?: string, session_token?: string}} msg
   */
  onJoined(msg) {
    this.keepSessionToken(msg.session_token);
    // a breakout room is a meeting, whatever its main room: the room's kind is the one joined
    const kind = msg.room_kind;
    const kindChanged = kind !== undefined && kind !== this.join.kind;
    if (kindChanged) this.join = { ...this.join, kind };
    this.setRecording(Boolean(msg.recording));
    this.setBroadcast(Boolean(msg.broadcasting), "", "");
    this.attempt = 0;
    this.lastError = "";
    this.id = msg.participant_id;
    this.role = msg.role;
    this.peers.clear();
    for (const p of msg.participants || []) this.addPeer(p);
    this.chat = msg.chat || [];
    this.polls = new Map((msg.polls || []).map((p) => [p.poll_id, p]));
    this.hands = msg.hands || [];
    this.captions = msg.captions || [];
    this.slides = msg.slides || { slides_id: "" };
    this.locked = Boolean(msg.locked);
    this.spotlight = msg.spotlight || "";
    this.activeSpeaker = msg.active_speaker || "";
    this.layers.clear();
    if (!this.isModerator()) this.waiting = [];

    const servers = this.join.ice_servers.length > 0 ? this.join.ice_servers : msg.ice_servers || [];
    const pc = new RTCPeerConnection({ iceServers: servers });
    this.pc = pc;
    pc.addEventListener("negotiationneeded", () => this.offer(pc));
    pc.addEventListener("icecandidate", (event) => {
      if (event.candidate && pc === this.pc) this.send({ type: "candidate", candidate: event.candidate.toJSON() });
    });
    pc.addEventListener("track", () => this.attachMedia());
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc && pc.connectionState === "failed") this.restartICE();
    });

    if (this.canPublish()) {
      for (const label of this.local.keys()) this.addLocal(pc, label);
      for (const [label, muted] of Object.entries(this.localMuted)) {
        if (muted) this.send({ type: "mute", label, muted });
      }
    }
    // The client offers first, and an offer needs at least one m-line: receive-only ones
    // for whatever is not sent.
    const sent = new Set(pc.getSenders().map((s) => s.track?.kind));
    for (const kind of ["audio", "video"]) {
      if (!sent.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
    }
    this.setState("connected");
    for (const type of ["peers", "chat", "polls", "hands", "captions", "slides", "room", "speaker", "lobby"]) this.dispatchEvent(new Event(type));
    if (kindChanged) this.dispatchEvent(new Event("role")); // may publish now, or no longer
  }

  /**
   * @param {RTCPeerConnection} pc
   * @param {Label} label
   */
  addLocal(pc, label) {
    const local = this.local.get(label);
    if (!local || !this.canPublish()) return;
    // Each local track on an m-line of its own: addTrack would take over an m-line the
    // server opened for someone else's track. The camera goes as simulcast where possible.
    /** @type {RTCRtpTransceiverInit} */
    const init = { direction: "sendonly", streams: [local.stream] };
    /** @param {RTCRtpSender} sender */
    const keep = (sender) => {
      this.senders.set(sender, label);
      this.senderIds.set(sender, local.track.id);
    };
    if (label === "camera") {
      try {
        keep(pc.addTransceiver(local.track, { ...init, sendEncodings: SIMULCAST }).sender);
        return;
      } catch {
        // no simulcast in this browser: one encoding
      }
    }
    keep(pc.addTransceiver(local.track, init).sender);
  }

  /**
   * Makes an offer when the browser says negotiation is needed (perfect negotiation: the
   * offer is dropped by the server if it crosses one of its own, and this side answers that
   * one, which rolls this offer back).
   *
   * @param {RTCPeerConnection} pc
   */
  async offer(pc) {
    try {
      await pc.setLocalDescription();
      const desc = pc.localDescription;
      if (pc !== this.pc || !desc || desc.type !== "offer") return;
      /** @type {Record<string, Label>} */
      const labels = {};
      for (const [sender, label] of this.senders) {
        const id = this.senderIds.get(sender);
        if (id && sender.track) labels[id] = label;
      }
      this.send({ type: "offer", sdp: desc.sdp, labels });
    } catch {
      // the PeerConnection closed, or a server offer came first: negotiationneeded fires again
    }
  }

  /**
   * A server offer: the polite peer always takes it, rolling its own offer back if needed.
   *
   * @param {string} sdp
   */
  async onOffer(sdp) {
    const pc = this.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription();
    const desc = pc.localDescription;
    if (desc && pc === this.pc) this.send({ type: "answer", sdp: desc.sdp });
    this.attachMedia();
  }

  /**
   * @param {TrackInfo[]} added
   * @param {{participant_id: string, track_id: string, mid: string}[]} removed
   */
  onTracks(added, removed) {
    for (const r of removed) {
      if (this.mids.get(r.mid) === r.track_id) this.mids.delete(r.mid);
      const peer = this.peers.get(r.participant_id);
      peer?.tracks.delete(r.track_id);
      peer?.media.delete(r.track_id);
    }
    for (const a of added) {
      const peer = this.peers.get(a.participant_id || "");
      if (!peer) continue;
      peer.tracks.set(a.track_id, a);
      if (a.mid) this.mids.set(a.mid, a.track_id);
    }
    this.dispatchEvent(new Event("peers"));
  }

  /** Matches the transceivers' received tracks to the participants' tracks, by mid. */
  attachMedia() {
    const pc = this.pc;
    if (!pc) return;
    let changed = false;
    for (const t of pc.getTransceivers()) {
      const trackId = t.mid === null ? undefined : this.mids.get(t.mid);
      if (!trackId) continue;
      for (const peer of this.peers.values()) {
        if (peer.tracks.has(trackId) && peer.media.get(trackId) !== t.receiver.track) {
          peer.media.set(trackId, t.receiver.track);
          changed = true;
        }
      }
    }
    if (changed) this.dispatchEvent(new Event("peers"));
  }

  /** @param {ParticipantInfo} p */
  addPeer(p) {
    /** @type {Peer} */
    const peer = { id: p.id, name: p.name, role: p.role, tracks: new Map(), media: new Map(), muted: {} };
    const old = this.peers.get(p.id);
    if (old) {
      // a reconnection of that participant: its old tracks go with the next renegotiation
      peer.tracks = old.tracks;
      peer.media = old.media;
    }
    for (const t of p.tracks || []) {
      if (t.muted) peer.muted[t.label] = true;
    }
    this.peers.set(p.id, peer);
  }

  /**
   * @param {string} id
   * @param {Role} role
   */
  onRole(id, role) {
    if (id === this.id) {
      const could = this.canPublish();
      this.role = role;
      this.dispatchEvent(new Event("role"));
      if (!could && this.canPublish() && this.pc) {
        for (const label of this.local.keys()) this.addLocal(this.pc, label);
      }
      return;
    }
    const peer = this.peers.get(id);
    if (peer) {
      peer.role = role;
      this.dispatchEvent(new Event("peers"));
    }
  }
}

/**
 * The streams a peer shows: its camera and microphone together, its screen apart.
 *
 * @param {Peer} peer
 * @returns {{user: MediaStreamTrack[], screen: MediaStreamTrack[]}}
 */
export function peerMedia(peer) {
  /** @type {MediaStreamTrack[]} */
  const user = [];
  /** @type {MediaStreamTrack[]} */
  const screen = [];
  for (const [id, info] of peer.tracks) {
    const track = peer.media.get(id);
    if (!track) continue;
    (info.label === "screen" ? screen : user).push(track);
  }
  return { user, screen };
}
