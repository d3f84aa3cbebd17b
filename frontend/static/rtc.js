// @ts-check
// The signalling client of a meeting room (docs/protocol.md): one WebSocket and one
// RTCPeerConnection per participant, the client as the polite peer of perfect negotiation,
// the others' tracks matched to their owners by mid, mute announcements, and reconnection
// with the same join token when the connection drops. No DOM here: the room view listens to
// the events of RoomClient.

/** @typedef {import("./api.js").Role} Role */
/** @typedef {import("./api.js").Kind} Kind */
/** @typedef {"camera" | "microphone" | "screen"} Label */

/**
 * The answer of the join endpoints (docs/api.md, "Joining a room").
 *
 * @typedef {object} JoinAnswer
 * @property {string} token
 * @property {string} ws_url
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
 * The connection's state: "connecting" before the first joined, "connected" while joined,
 * "reconnecting" after a drop, "closed" for good (left, removed, refused, replaced).
 *
 * @typedef {"idle" | "connecting" | "connected" | "reconnecting" | "closed"} State
 */

/** Close codes after which the client does not come back (docs/protocol.md). */
const FINAL_CLOSES = new Set([1000, 4001, 4003, 4004, 4009]);

/** Delays before reconnection attempts, in milliseconds; the last one repeats. */
const RECONNECT_DELAYS = [250, 1000, 2000, 4000, 8000];

/**
 * A meeting-room connection. Events (all plain Events or CustomEvents on this object):
 * "state" when state changes (detail: {state, code}), "peers" when a participant, one of
 * its tracks or its mute state changes, "role" when this participant's role changes,
 * "problem" for an error message of the server that does not close (detail: {code}).
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
    return this.join.kind === "meeting" || this.role !== "attendee";
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

  /** Stops the screen share, if any. */
  stopScreen() {
    const screen = this.local.get("screen");
    if (!screen) return;
    this.local.delete("screen");
    screen.track.stop();
    for (const [sender, label] of this.senders) {
      if (label !== "screen") continue;
      this.senders.delete(sender);
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

  // ---------------------------------------------------------------------------------------
  // Connection

  /** @param {State} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, code: this.endCode } }));
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
      case "mute": {
        const peer = this.peers.get(msg.participant_id);
        if (peer) {
          peer.muted[/** @type {Label} */ (msg.label)] = Boolean(msg.muted);
          this.dispatchEvent(new Event("peers"));
        }
        break;
      }
      case "role":
        this.onRole(msg.participant_id, msg.role);
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

  /** @param {{participant_id: string, role: Role, participants: ParticipantInfo[] | null, ice_servers: RTCIceServer[] | null}} msg */
  onJoined(msg) {
    this.attempt = 0;
    this.lastError = "";
    this.id = msg.participant_id;
    this.role = msg.role;
    this.peers.clear();
    for (const p of msg.participants || []) this.addPeer(p);

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
    this.dispatchEvent(new Event("peers"));
  }

  /**
   * @param {RTCPeerConnection} pc
   * @param {Label} label
   */
  addLocal(pc, label) {
    const local = this.local.get(label);
    if (!local || !this.canPublish()) return;
    this.senders.set(pc.addTrack(local.track, local.stream), label);
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
        if (sender.track) labels[sender.track.id] = label;
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
