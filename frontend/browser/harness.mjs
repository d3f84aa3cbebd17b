// What the browser tests and the first-frame measurement share: the real webinaire binary,
// built and started on a free loopback port with its own data folder, and headless Chromium
// (or Firefox ESR) with a fake camera and microphone, driving the real pages.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

/** The repository's root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Where Chromium is: WEBINAIRE_TEST_CHROMIUM, else Debian's. */
const chromiumPath = process.env.WEBINAIRE_TEST_CHROMIUM || "/usr/bin/chromium";

/**
 * Chromium's flags: no sandbox (tests may run as root), nothing of its own on the network,
 * fake media devices that need no permission prompt, and loopback candidates for ICE.
 */
const chromiumArgs = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
];

/** Where Firefox is: WEBINAIRE_TEST_FIREFOX, else Debian's Firefox ESR. */
const firefoxPath = process.env.WEBINAIRE_TEST_FIREFOX || "/usr/bin/firefox-esr";

/**
 * Firefox's preferences: fake media devices that need no permission prompt, and loopback
 * candidates for ICE, given by their addresses rather than by mDNS names.
 */
const firefoxPrefs = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
};

/**
 * Builds the webinaire binary into a fresh folder and returns its path.
 *
 * @returns {{bin: string, dir: string}}
 */
export function buildServer() {
  const dir = mkdtempSync(path.join(tmpdir(), "webinaire-browser-"));
  const bin = path.join(dir, "webinaire");
  execFileSync("go", ["build", "-o", bin, "./cmd/webinaire"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  return { bin, dir };
}

/**
 * The environment of the server: this process's, less any WEBINAIRE_ setting (the server
 * refuses unknown ones and must not pick up a developer's), plus the test's.
 *
 * @param {Record<string, string>} extra
 * @returns {NodeJS.ProcessEnv}
 */
function serverEnv(extra) {
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("WEBINAIRE_")) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A running webinaire: embedded development mode, SQLite in its own folder. */
export class Server {
  /**
   * @param {string} bin
   * @param {string} dataDir the working folder: data/ goes under it
   */
  constructor(bin, dataDir) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.base = "";
    /** @type {import("node:child_process").ChildProcess | null} */
    this.proc = null;
    this.log = "";
    /** The bearer token of the server's /metrics, which it serves on its own address. */
    this.metricsToken = randomBytes(16).toString("hex");
  }

  /**
   * Starts the server and waits until it is ready. listen is "127.0.0.1:0" the first time;
   * a restart passes the port it had, so that the pages' addresses still hold.
   *
   * @param {string} [listen]
   */
  async start(listen = "127.0.0.1:0") {
    const proc = spawn(this.bin, ["serve", "--listen", listen], {
      cwd: this.dataDir,
      env: serverEnv({
        WEBINAIRE_MEDIA_UDP_PORT: "0",
        WEBINAIRE_MEDIA_INCLUDE_LOOPBACK: "true",
        // join tokens outlive a restart of the server, as with several replicas
        WEBINAIRE_MEDIA_TOKEN_KEY_FILE: "data/token.key",
        WEBINAIRE_MEDIA_EMPTY_ROOM_GRACE: "1m",
        WEBINAIRE_METRICS_TOKEN: this.metricsToken,
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    proc.stderr?.on("data", (d) => {
      this.log += d;
    });
    this.base = await new Promise((resolve, reject) => {
      let out = "";
      proc.stdout?.on("data", (d) => {
        out += d;
        const m = /Webinaire is running: open (http:\/\/[^\s/]+)\//.exec(out);
        if (m) resolve(m[1]);
      });
      proc.on("exit", (code) => reject(new Error(`webinaire exited with ${code}:\n${out}\n${this.log}`)));
    });
    await until(async () => {
      const res = await fetch(`${this.base}/readyz`).catch(() => null);
      return res && res.status === 200 ? true : null;
    }, "the server to be ready");
  }

  /** The host:port the server listens on. */
  get hostPort() {
    return new URL(this.base).host;
  }

  /**
   * The server's metrics now, by series: the name with its labels as /metrics writes them,
   * e.g. webinaire_media_send_connections_total{way="direct"}.
   *
   * @returns {Promise<Map<string, number>>}
   */
  async metrics() {
    const res = await fetch(`${this.base}/metrics`, { headers: { Authorization: `Bearer ${this.metricsToken}` } });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    /** @type {Map<string, number>} */
    const series = new Map();
    for (const line of (await res.text()).split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const space = line.lastIndexOf(" ");
      series.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return series;
  }

  /** Stops the server (SIGTERM, as systemd or Kubernetes do) and waits for it to exit. */
  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    await exited;
  }
}

/**
 * Builds and starts a server in a fresh data folder; close() stops it and removes it all.
 *
 * @returns {Promise<{server: Server, close: () => Promise<void>}>}
 */
export async function startServer() {
  const { bin, dir } = buildServer();
  const server = new Server(bin, dir);
  await server.start();
  return {
    server,
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A server and a browser for the tests of one file: started before them, stopped after
 * them, with the log of every request the pages make.
 */
export class Suite {
  /**
   * @param {{tone?: boolean}} [options] tone: the fake microphones play a steady tone (see
   *   writeToneWAV), as someone speaking all the time
   */
  constructor(options = {}) {
    this.requests = new RequestLog();
    /** @type {Awaited<ReturnType<typeof startServer>> | null} */
    this.env = null;
    /** @type {import("playwright-core").Browser | null} */
    this.browser = null;
    const soundDir = options.tone ? mkdtempSync(path.join(tmpdir(), "webinaire-sound-")) : "";
    before(async () => {
      this.env = await startServer();
      let audioFile;
      if (soundDir) {
        audioFile = path.join(soundDir, "tone.wav");
        writeToneWAV(audioFile);
      }
      this.browser = await launchBrowser({ audioFile });
    });
    after(async () => {
      await this.browser?.close();
      await this.env?.close();
      if (soundDir) rmSync(soundDir, { recursive: true, force: true });
    });
  }

  /** The server's address, e.g. http://127.0.0.1:41234. */
  get base() {
    if (!this.env) throw new Error("the server is not started");
    return this.env.server.base;
  }

  /**
   * A page in a new context of its own (see newContext), watched under name.
   *
   * @param {string} name
   * @returns {Promise<import("playwright-core").Page>}
   */
  async page(name) {
    if (!this.browser) throw new Error("the browser is not launched");
    return (await newContext(this.browser, this.base, this.requests, name)).newPage();
  }
}

/**
 * @param {{audioFile?: string}} [options] audioFile: a WAV file the fake microphone plays in
 *   a loop, instead of Chromium's short beeps
 * @returns {Promise<import("playwright-core").Browser>}
 */
export function launchBrowser(options = {}) {
  const args = options.audioFile ? [...chromiumArgs, `--use-file-for-fake-audio-capture=${options.audioFile}`] : chromiumArgs;
  return chromium.launch({ executablePath: chromiumPath, args });
}

/**
 * Headless Firefox, driven over WebDriver BiDi by puppeteer-core: Playwright drives only a
 * patched Firefox of its own, not the ESR that users have.
 *
 * @returns {Promise<import("puppeteer-core").Browser>}
 */
export function launchFirefox() {
  return puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: firefoxPath,
    headless: true,
    extraPrefsFirefox: firefoxPrefs,
  });
}

/**
 * Writes a WAV file of a steady tone (16-bit mono PCM at 48 kHz, 440 Hz, half of full
 * scale), which a fake microphone plays as someone speaking all the time.
 *
 * @param {string} file
 */
export function writeToneWAV(file) {
  const rate = 48000;
  const samples = rate; // one second, played in a loop
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write("WAVEfmt ", 8);
  buf.writeUInt32LE(16, 16); // size of the fmt chunk
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); // bytes per second
  buf.writeUInt16LE(2, 32); // bytes per frame
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write("data", 36);
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(16384 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  }
  writeFileSync(file, buf);
}

/**
 * Records every request and WebSocket of the pages of a browser context, and every cookie
 * the answers set.
 */
export class RequestLog {
  constructor() {
    /** @type {{context: string, url: string}[]} */
    this.entries = [];
    /** @type {Promise<{context: string, url: string, cookie: string}[]>[]} */
    this.setCookies = [];
  }

  /**
   * @param {import("playwright-core").BrowserContext} context
   * @param {string} name who uses the context, for the report
   */
  watch(context, name) {
    context.on("request", (req) => this.entries.push({ context: name, url: req.url() }));
    context.on("page", (page) => page.on("websocket", (ws) => this.entries.push({ context: name, url: ws.url() })));
    context.on("response", (res) => {
      this.setCookies.push(
        res.headersArray().then(
          (headers) =>
            headers
              .filter((h) => h.name.toLowerCase() === "set-cookie")
              .map((h) => ({ context: name, url: res.url(), cookie: h.value.split(";")[0].split("=")[0] })),
          () => [],
        ),
      );
    });
  }

  /**
   * The cookies set by the answers so far: by whom, where, and the cookie's name.
   *
   * @returns {Promise<{context: string, url: string, cookie: string}[]>}
   */
  async cookies() {
    return (await Promise.all(this.setCookies)).flat();
  }

  /**
   * The requests to anything but origin (data: and blob: are of the page itself).
   *
   * @param {string} origin
   * @returns {{context: string, url: string}[]}
   */
  foreign(origin) {
    const wsOrigin = origin.replace(/^http/, "ws");
    return this.entries.filter(({ url }) => {
      if (url.startsWith("data:") || url.startsWith("blob:")) return false;
      const u = new URL(url);
      return `${u.protocol}//${u.host}` !== origin && `${u.protocol}//${u.host}` !== wsOrigin;
    });
  }
}

/**
 * A new browser context with the fake devices allowed and the clipboard usable, watched.
 *
 * @param {import("playwright-core").Browser} browser
 * @param {string} base
 * @param {RequestLog} log
 * @param {string} name
 */
export async function newContext(browser, base, log, name) {
  const context = await browser.newContext({ baseURL: base, locale: "fr-FR", viewport: { width: 1200, height: 800 } });
  await context.grantPermissions(["camera", "microphone", "clipboard-read", "clipboard-write"], { origin: base });
  log.watch(context, name);
  return context;
}

/**
 * Logs an organizer in through the development identity provider, with the pages.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} userID a demo user of the development provider
 */
export async function loginOrganizer(page, userID) {
  await page.goto("/login");
  await page.click("#login-link");
  await page.waitForURL(/\/dev-idp\//);
  await page.click(`button[name="userID"][value="${userID}"]`);
  await page.waitForURL(/\/dashboard$/);
  await page.waitForSelector("#content:not([hidden])");
}

/**
 * Schedules a meeting (or a webinar) from the dashboard's form and returns its id.
 *
 * @param {import("playwright-core").Page} page on the dashboard
 * @param {string} title
 * @param {"meeting" | "webinar"} [kind]
 * @param {{lobby?: boolean}} [options] lobby: attendees wait until a moderator admits them
 * @returns {Promise<string>}
 */
export async function scheduleMeeting(page, title, kind = "meeting", options = {}) {
  await page.fill("#f-title", title);
  await page.selectOption("#f-kind", kind);
  await page.setChecked("#f-lobby", Boolean(options.lobby));
  await page.fill("#f-starts", "2030-05-06T10:00");
  await page.click("#create-form button[type=submit]");
  const item = page.locator("li.webinar", { has: page.locator("h3", { hasText: title }) });
  await item.waitFor();
  await item.locator('button[aria-expanded="true"]').waitFor();
  const id = await item.getAttribute("data-webinar-id");
  if (!id) throw new Error("the new webinar has no id in the list");
  return id;
}

/**
 * Creates an attendee link (or one of another role) of the webinar from the dashboard, copies it with the copy
 * button and returns what the clipboard holds.
 *
 * @param {import("playwright-core").Page} page on the dashboard
 * @param {string} id the webinar's id
 * @param {"attendee" | "presenter" | "moderator" | "captioner"} [role] the link's role, attendee unless told
 * @returns {Promise<{shown: string, copied: string}>}
 */
export async function createAttendeeLink(page, id, role = "attendee") {
  const item = page.locator(`li.webinar[data-webinar-id="${id}"]`);
  const toggle = item.locator('button[aria-controls^="invitations-"]');
  // the dashboard opens the panel of a webinar it just created
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  const panel = item.locator("section.invitations");
  await panel.locator("select[name=role]").selectOption(role);
  await panel.locator("form.inline-form button[type=submit]").click();
  // the new link's entry: the only one of its role in a webinar that had none
  const entry = panel.locator("li.invitation", { has: page.locator(`strong[data-i18n="role.${role}"]`) });
  const link = entry.locator("copy-link").first();
  await link.locator("input").waitFor();
  const shown = await link.locator("input").inputValue();
  await link.locator("button").click();
  await link.locator(".copy-message:not(:empty)").waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  return { shown, copied };
}

/**
 * Calls the API from an organizer's page, with the session's CSRF token.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 * @returns {Promise<{status: number, json: any}>}
 */
export function callAPI(page, method, url, body) {
  return page.evaluate(
    async ({ method, url, body }) => {
      const me = await (await fetch("/api/v1/me")).json();
      const res = await fetch(url, {
        method,
        headers: { "X-CSRF-Token": me.csrf_token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
    { method, url, body },
  );
}

/**
 * Waits until the latest recording of the webinar is finalized, and returns it as the API
 * describes it.
 *
 * @param {import("playwright-core").Page} page an organizer's page
 * @param {string} id the webinar's id
 * @returns {Promise<any>}
 */
export async function readyRecording(page, id) {
  /** @type {any} */
  let rec;
  await until(async () => {
    rec = (await callAPI(page, "GET", `/api/v1/webinars/${id}/recordings`)).json.items[0];
    return rec.state === "ready" ? rec : null;
  }, "the recording is finalized");
  return rec;
}

/**
 * A page of Chromium, driven by Playwright, or of Firefox, driven by Puppeteer. The helpers
 * that take either use only what both have the same: goto, waitForSelector, click,
 * locator(...).fill and evaluate.
 *
 * @typedef {import("playwright-core").Page | import("puppeteer-core").Page} AnyPage
 */

/**
 * Opens an invitation link, types a name and enters the room; resolves once connected.
 * The page notes, in its own clock, when "enter" was clicked and when the first remote
 * frame was shown (window.__firstFrameMs, the difference).
 *
 * @param {AnyPage} page
 * @param {string} url the invitation link
 * @param {string} name
 */
export async function enterAsAgent(page, url, name) {
  await page.goto(url);
  await page.waitForSelector("#invitation:not([hidden])");
  await watchFirstFrame(page);
  await page.locator("#display-name").fill(name);
  await page.click("#enter");
  await page.waitForSelector('meeting-room[data-state="connected"]');
}

/**
 * Notes in the page the time from the click on #enter to the room's joined state and to the
 * first remote video frame.
 *
 * @param {AnyPage} page
 */
export async function watchFirstFrame(page) {
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    document.addEventListener("click", (e) => {
      if (e.target instanceof Element && e.target.id === "enter") w.__enterAt = performance.now();
    }, true);
    const room = document.querySelector("meeting-room");
    if (room) {
      new MutationObserver(() => {
        if (room.getAttribute("data-state") === "connected" && w.__joinedMs === undefined) {
          w.__joinedMs = performance.now() - w.__enterAt;
        }
      }).observe(room, { attributes: true, attributeFilter: ["data-state"] });
    }
    document.addEventListener("tile-frame", (e) => {
      const tile = /** @type {HTMLElement} */ (e.target);
      if (!tile.classList.contains("tile-self") && w.__firstFrameMs === undefined) {
        w.__firstFrameMs = performance.now() - w.__enterAt;
      }
    });
  });
}

/**
 * The milliseconds from the click on "enter" to the first remote frame, once there is one,
 * and to the joined message (the room's state "connected") on the way.
 *
 * @param {import("playwright-core").Page} page
 * @returns {Promise<{frame: number, joined: number}>}
 */
export async function firstFrameMs(page) {
  await page.waitForFunction(() => /** @type {any} */ (window).__firstFrameMs);
  return page.evaluate(() => {
    const w = /** @type {any} */ (window);
    return { frame: Number(w.__firstFrameMs), joined: Number(w.__joinedMs) };
  });
}

/**
 * Inbound RTP totals of the room's PeerConnection, by kind.
 *
 * @param {AnyPage} page
 * @returns {Promise<{audioBytes: number, videoBytes: number, framesDecoded: number, videoTracks: number}>}
 */
export function inbound(page) {
  return page.evaluate(inboundInPage);
}

/**
 * Runs in the page.
 *
 * @returns {Promise<{audioBytes: number, videoBytes: number, framesDecoded: number, videoTracks: number}>}
 */
async function inboundInPage() {
  const room = /** @type {any} */ (document.querySelector("meeting-room"));
  const out = { audioBytes: 0, videoBytes: 0, framesDecoded: 0, videoTracks: 0 };
  const pc = room && room.pc;
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach((/** @type {any} */ r) => {
    if (r.type !== "inbound-rtp") return;
    if (r.kind === "audio") out.audioBytes += r.bytesReceived || 0;
    if (r.kind === "video") {
      out.videoBytes += r.bytesReceived || 0;
      out.framesDecoded += r.framesDecoded || 0;
      if ((r.framesDecoded || 0) > 0) out.videoTracks += 1;
    }
  });
  return out;
}

/**
 * Waits until the page has received more audio and decoded more video frames than before,
 * and returns the totals then.
 *
 * @param {AnyPage} page
 * @param {{audioBytes: number, framesDecoded: number}} before
 */
export function mediaFlows(page, before) {
  return until(
    async () => {
      const now = await inbound(page);
      return now.audioBytes > before.audioBytes && now.framesDecoded > before.framesDecoded ? now : null;
    },
    "audio and video to flow in",
  );
}

/**
 * Plays the video matched by selector, muted, until its currentTime passes half a second,
 * and returns its duration; fails on a media error.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} selector
 * @returns {Promise<number>}
 */
export async function playVideo(page, selector) {
  const duration = await page.evaluate(
    (selector) =>
      new Promise((resolve, reject) => {
        const video = document.querySelector(selector);
        if (!(video instanceof HTMLVideoElement)) throw new Error(`no video ${selector}`);
        video.muted = true;
        video.addEventListener("error", () => reject(new Error(`video error ${video.error?.code}`)));
        video.addEventListener("timeupdate", function onTime() {
          if (video.currentTime > 0.5) {
            video.removeEventListener("timeupdate", onTime);
            resolve(video.duration);
          }
        });
        video.play().catch(reject);
      }),
    selector,
  );
  return Number(duration);
}

/** How long until() waits before it gives up, as Playwright's own waits do. */
const WAIT_LIMIT_MS = 30_000;

/**
 * Asks check every 250 ms until it gives something else than null, and returns that; fails
 * after WAIT_LIMIT_MS, so that a run never hangs (a bound, not a measure of speed).
 *
 * @template T
 * @param {() => Promise<T | null>} check
 * @param {string} what what is waited for, for the error
 * @returns {Promise<T>}
 */
export async function until(check, what) {
  const limit = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const got = await check();
    if (got !== null) return got;
    if (Date.now() > limit) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The source of axe-core, injected into pages with evaluate (which the page's CSP allows). */
const axeSource = readFileSync(path.join(root, "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * The serious and critical accessibility violations axe-core finds in the page.
 *
 * @param {import("playwright-core").Page} page
 * @returns {Promise<{id: string, impact: string, help: string, nodes: string[]}[]>}
 */
export async function axeViolations(page) {
  await page.evaluate(`${axeSource}\n;0`);
  const result = await page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((/** @type {any} */ n) => n.target.join(" ")),
    }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * Participants that are not browsers: n publishers of the load generator (cmd/webinaire-load,
 * Pion clients sending synthetic VP8 and Opus that a browser does not decode), named
 * load-pub-1..n, entered with an invitation link. They stay until stop().
 *
 * @param {string} base the server's address
 * @param {string} link the invitation link
 * @param {number} n
 * @returns {Promise<{stop: () => Promise<void>, log: () => string}>} once the generator runs (the
 *   pages tell when its participants are in); log: what it wrote, for a failure's message
 */
export async function loadPublishers(base, link, n) {
  const dir = mkdtempSync(path.join(tmpdir(), "webinaire-load-"));
  const bin = path.join(dir, "webinaire-load");
  execFileSync("go", ["build", "-o", bin, "./cmd/webinaire-load"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  const proc = spawn(
    bin,
    ["-server", base, "-invitation", link, "-publishers", String(n), "-subscribers", "0",
      // little media, kept up until stopped
      "-video-bitrate", "100000", "-fps", "10", "-warmup", "1h", "-duration", "1m"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  proc.stderr?.on("data", (d) => {
    log += d;
  });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  return {
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => log,
  };
}

/**
 * Waits until the page has laid out and painted what it just changed (two animation frames),
 * e.g. after a change of the window's size.
 *
 * @param {import("playwright-core").Page} page
 */
export function settled(page) {
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)))));
}
