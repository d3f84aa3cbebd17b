// The meeting in two browsers: an organizer schedules it and hands out a link, two agents
// join it and see and hear each other, share a screen, mute, leave, and come back after the
// server restarts. Every request of every page is recorded: none may go to another origin,
// and the agents get no cookie. Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  RequestLog,
  axeViolations,
  createAttendeeLink,
  enterAsAgent,
  firstFrameMs,
  inbound,
  launchBrowser,
  loginOrganizer,
  mediaFlows,
  newContext,
  scheduleMeeting,
  startServer,
  until,
} from "./harness.mjs";

/** @type {Awaited<ReturnType<typeof startServer>>} */
let env;
/** @type {import("playwright-core").Browser} */
let browser;
const requests = new RequestLog();
/** @type {Map<string, import("playwright-core").BrowserContext>} */
const contexts = new Map();

/** What the tests hand on to the next. */
const state = { link: "", webinarId: "" };
/** @type {import("playwright-core").Page} */
let alice;
/** @type {import("playwright-core").Page} */
let bruno;

/**
 * @param {string} name
 * @returns {Promise<import("playwright-core").Page>}
 */
async function pageFor(name) {
  const context = await newContext(browser, env.server.base, requests, name);
  contexts.set(name, context);
  return context.newPage();
}

/**
 * The remote tile of the participant named name on page.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
function tileOf(page, name) {
  return page.locator("media-tile:not(.tile-self):not(.tile-screen)", { has: page.locator(".tile-name", { hasText: name }) });
}

/**
 * Opens the list of participants on page unless it is open.
 *
 * @param {import("playwright-core").Page} page
 */
async function openPeople(page) {
  const toggle = page.locator('meeting-room button[data-action="people"]');
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  await page.locator("meeting-room .people").waitFor();
}

before(async () => {
  env = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  const foreign = requests.foreign(env.server.base);
  /** @type {Record<string, string[]>} */
  const cookies = {};
  for (const [name, context] of contexts) {
    cookies[name] = (await context.cookies()).map((c) => c.name);
  }
  await browser?.close();
  await env?.close();
  process.stdout.write(`# requests recorded: ${requests.entries.length}, to another origin: ${foreign.length}\n`);
  process.stdout.write(`# cookies by context: ${JSON.stringify(cookies)}\n`);
  // after() hooks cannot fail a test, so the checks of the whole run are tests of their own below.
});

test("an organizer logs in, schedules a meeting, creates and copies an attendee link", async () => {
  const page = await pageFor("organizer");
  await loginOrganizer(page, "dev-camille-martin");
  state.webinarId = await scheduleMeeting(page, "Point d’équipe");
  const { shown, copied } = await createAttendeeLink(page, state.webinarId);
  assert.match(shown, new RegExp(`^${env.server.base}/join/[a-z2-7]{32}$`));
  assert.equal(copied, shown, "the clipboard holds the link shown");
  state.link = copied;
  const cookies = (await contexts.get("organizer")?.cookies()) || [];
  assert.deepEqual(cookies.map((c) => c.name), ["webinaire_session"], "the organizer has the session cookie, and only it");
});

test("the invitation page, with the camera's preview, has no serious accessibility violation", async () => {
  assert.ok(state.link, "the first test made an invitation link");
  const page = await pageFor("axe");
  await page.goto(state.link);
  await page.waitForSelector("#invitation:not([hidden])");
  await page.waitForSelector('device-preview[data-ready="yes"] video.preview-video:not([hidden])');
  for (const id of ["inv-recording", "display-name-hint"]) assert.ok(await page.locator(`#${id}`).isVisible(), `#${id} is shown before entering`);
  assert.ok(await page.locator('device-preview a[href="/privacy"]').isVisible(), "the preview links to what is processed");
  assert.deepEqual(await axeViolations(page), []);
  await page.close();
});

test("the devices chosen on the invitation page are those of the room; they change in the room's settings", async () => {
  assert.ok(state.link, "the first test made an invitation link");
  const page = await pageFor("carla");
  await page.goto(state.link);
  await page.waitForSelector('device-preview[data-ready="yes"]');
  const mics = page.locator('device-preview select[data-device="microphone"]');
  const options = await mics.locator("option").evaluateAll((os) => os.map((o) => /** @type {HTMLOptionElement} */ (o).value));
  assert.ok(options.length >= 2, `the fake microphones are listed: ${options}`);
  const chosen = options[options.length - 1];
  await mics.selectOption(chosen);
  await page.setChecked('device-preview input[data-device="camera"]', false);
  await page.fill("#display-name", "Carla Agent");
  await page.click("#enter");
  await page.waitForSelector('meeting-room[data-state="connected"]');
  /** @returns {Promise<{local: string, sent: string[]}>} the microphone's device in use and the devices of the tracks sent */
  const inUse = () =>
    page.evaluate(() => {
      const client = /** @type {any} */ (document.querySelector("meeting-room")).client;
      const senders = client.pc ? client.pc.getSenders() : [];
      return {
        local: client.local.get("microphone").track.getSettings().deviceId,
        sent: senders.filter((/** @type {RTCRtpSender} */ s) => s.track && s.track.kind === "audio").map((/** @type {RTCRtpSender} */ s) => s.track?.getSettings().deviceId || ""),
      };
    });
  assert.equal((await inUse()).local, chosen, "the room uses the microphone chosen");
  assert.equal(await page.getAttribute('meeting-room button[data-action="camera"]', "aria-pressed"), "true", "the camera starts off");

  const mark = page.locator(".room-status .quality[data-quality]");
  await mark.waitFor();
  assert.match(String(await mark.getAttribute("data-quality")), /^(good|fair|poor)$/);
  assert.match(String(await mark.getAttribute("aria-label")), /^Connexion/);

  await page.click('meeting-room button[data-action="settings"]');
  const roomMics = page.locator('meeting-room select[data-device="microphone"]');
  await until(async () => ((await roomMics.locator("option").count()) >= 2 ? true : null), "the room to list the microphones");
  assert.equal(await roomMics.inputValue(), chosen, "the settings show the microphone in use");
  const other = options[0];
  await roomMics.selectOption(other);
  await until(async () => {
    const now = await inUse();
    return now.local === other && now.sent.includes(other) ? true : null;
  }, "the other microphone to be sent");
  await page.click('meeting-room button[data-action="leave"]');
  await page.waitForSelector('meeting-room[data-state="closed"]');
  await page.close();
});

test("two agents join and each receives the other's audio and video", async (t) => {
  assert.ok(state.link, "the first test made an invitation link");
  alice = await pageFor("alice");
  bruno = await pageFor("bruno");
  await enterAsAgent(alice, state.link, "Alice Agent");
  await enterAsAgent(bruno, state.link, "Bruno Agent");

  await tileOf(alice, "Bruno Agent").and(alice.locator('[data-frame="shown"]')).waitFor();
  await tileOf(bruno, "Alice Agent").and(bruno.locator('[data-frame="shown"]')).waitFor();
  for (const page of [alice, bruno]) {
    const first = await mediaFlows(page, { audioBytes: 0, framesDecoded: 0 });
    const later = await mediaFlows(page, first); // still flowing, not one burst
    assert.ok(later.audioBytes > first.audioBytes && later.framesDecoded > first.framesDecoded);
  }
  const took = await firstFrameMs(bruno);
  t.diagnostic(`Bruno, enter to joined ${Math.round(took.joined)} ms, to first remote frame ${Math.round(took.frame)} ms (not asserted)`);

  for (const [page, other] of [[alice, "Bruno Agent"], [bruno, "Alice Agent"]]) {
    const names = await /** @type {import("playwright-core").Page} */ (page).locator(".person-name").allTextContents();
    assert.equal(names.length, 2);
    assert.ok(names.includes(/** @type {string} */ (other)), `${names} lists ${other}`);
  }
});

test("the room page has no serious accessibility violation", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  assert.deepEqual(await axeViolations(alice), []);
});

test("a screen share appears on the other side, and goes when it stops", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  await alice.click('meeting-room button[data-action="screen"]');
  await alice.waitForSelector('meeting-room button[data-action="screen"][aria-pressed="true"]');
  await bruno.locator('media-tile.tile-screen[data-frame="shown"]').waitFor();
  await bruno.locator("media-tile.tile-screen .tile-name", { hasText: "Alice Agent" }).waitFor();
  // two video tracks now decode on Bruno's side: Alice's camera and her screen
  await until(async () => ((await inbound(bruno)).videoTracks >= 2 ? true : null), "two video tracks decoding");
  await alice.click('meeting-room button[data-action="screen"]');
  await bruno.locator("media-tile.tile-screen").waitFor({ state: "detached" });
});

test("mute and camera off show on the other side", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  const aliceOnBruno = tileOf(bruno, "Alice Agent");
  assert.equal(await aliceOnBruno.getAttribute("data-mic"), "on");
  await alice.click('meeting-room button[data-action="mic"]');
  await aliceOnBruno.and(bruno.locator('[data-mic="off"]')).waitFor();
  await openPeople(bruno);
  await bruno.locator(".person", { hasText: "Alice Agent" }).locator(".tag").first().waitFor();

  await alice.click('meeting-room button[data-action="camera"]');
  await aliceOnBruno.and(bruno.locator('[data-camera="off"]')).waitFor();

  await alice.click('meeting-room button[data-action="mic"]');
  await aliceOnBruno.and(bruno.locator('[data-mic="on"]')).waitFor();
  await alice.click('meeting-room button[data-action="camera"]');
  await aliceOnBruno.and(bruno.locator('[data-camera="on"]')).waitFor();
});

test("both come back by themselves when the server restarts", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  const port = env.server.hostPort;
  await env.server.stop();
  await alice.waitForSelector('meeting-room[data-state="reconnecting"]');
  await bruno.waitForSelector('meeting-room[data-state="reconnecting"]');
  await env.server.start(port);
  await alice.waitForSelector('meeting-room[data-state="connected"]');
  await bruno.waitForSelector('meeting-room[data-state="connected"]');
  // a new PeerConnection: its counters start again from zero
  await mediaFlows(alice, { audioBytes: 0, framesDecoded: 0 });
  await mediaFlows(bruno, { audioBytes: 0, framesDecoded: 0 });
});

test("the owner opens his own room as moderator", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  const page = contexts.get("organizer")?.pages()[0];
  assert.ok(page);
  await page.goto(`/room/${state.webinarId}`);
  await page.waitForSelector("#lobby:not([hidden])");
  assert.deepEqual(await axeViolations(page), []);
  await page.click("#enter");
  await page.waitForSelector('meeting-room[data-state="connected"]');
  await tileOf(page, "Alice Agent").and(page.locator('[data-frame="shown"]')).waitFor();
  await openPeople(alice);
  await alice.locator(".person", { hasText: "Camille Martin" }).locator('[data-i18n="role.moderator"]').waitFor();
  await page.click('meeting-room button[data-action="leave"]');
  await page.waitForSelector('meeting-room[data-state="closed"]');
  await alice.locator(".person", { hasText: "Camille Martin" }).waitFor({ state: "detached" });
});

test("leaving updates the others' list", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  await bruno.click('meeting-room button[data-action="leave"]');
  await bruno.waitForSelector('meeting-room[data-state="closed"]');
  await bruno.locator('.room-ended [data-i18n="room.end.left"]').waitFor();
  await alice.locator(".person", { hasText: "Bruno Agent" }).waitFor({ state: "detached" });
  await tileOf(alice, "Bruno Agent").waitFor({ state: "detached" });
  assert.deepEqual(await alice.locator(".person-name").allTextContents(), ["Alice Agent (vous)"]);
});

test("in a webinar an attendee, entering with the keyboard, only receives; the audience is listed, not shown", async () => {
  assert.ok(alice, "the organizer and alice are there");
  await alice.close();
  const organizer = contexts.get("organizer")?.pages()[0];
  assert.ok(organizer);
  await organizer.goto("/dashboard");
  await organizer.waitForSelector("#content:not([hidden])");
  const id = await scheduleMeeting(organizer, "Conférence", "webinar");
  const { copied } = await createAttendeeLink(organizer, id);
  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');

  const zoe = await pageFor("zoe");
  await zoe.goto(copied);
  await zoe.waitForSelector("#invitation:not([hidden])");
  for (let i = 0; i < 10 && (await zoe.evaluate(() => document.activeElement?.id)) !== "display-name"; i++) {
    await zoe.keyboard.press("Tab");
  }
  assert.equal(await zoe.evaluate(() => document.activeElement?.id), "display-name", "the name field is reached with Tab");
  await zoe.keyboard.type("Zoé Martin");
  await zoe.keyboard.press("Enter");
  await zoe.waitForSelector('meeting-room[data-state="connected"]');
  assert.equal(await zoe.evaluate(() => document.activeElement?.classList.contains("room-title")), true, "the focus goes to the room's title");

  for (const action of ["mic", "camera", "screen"]) {
    assert.ok(await zoe.locator(`meeting-room button[data-action="${action}"]`).isHidden(), `no ${action} button for an attendee`);
  }
  await tileOf(zoe, "Camille Martin").and(zoe.locator('[data-frame="shown"]')).waitFor();
  await mediaFlows(zoe, { audioBytes: 0, framesDecoded: 0 });

  await openPeople(organizer);
  await organizer.locator(".person", { hasText: "Zoé Martin" }).waitFor();
  assert.equal(await tileOf(organizer, "Zoé Martin").count(), 0, "no tile for the audience");
  await zoe.click('meeting-room button[data-action="leave"]');
  await organizer.locator(".person", { hasText: "Zoé Martin" }).waitFor({ state: "detached" });
  await organizer.click('meeting-room button[data-action="leave"]');
});

test("no page asked anything of another origin", () => {
  assert.ok(requests.entries.length > 0, "requests were recorded");
  assert.ok(requests.entries.some((e) => e.url.startsWith("ws://")), "the WebSockets were recorded");
  assert.deepEqual(requests.foreign(env.server.base), []);
});

test("agents get no cookie; the organizer gets the login round trip's and the session's", async (t) => {
  const set = await requests.cookies();
  for (const c of set) t.diagnostic(`cookie set: ${c.cookie} for ${c.context} by ${new URL(c.url).pathname}`);
  const agents = ["alice", "bruno", "axe", "carla", "zoe"];
  assert.deepEqual(set.filter((c) => agents.includes(c.context)), [], "no answer to an agent sets a cookie");
  assert.deepEqual(
    [...new Set(set.filter((c) => c.context === "organizer").map((c) => c.cookie))].sort(),
    ["webinaire_login", "webinaire_session"],
  );
  for (const name of agents) {
    const context = contexts.get(name);
    assert.ok(context);
    assert.deepEqual(await context.cookies(), [], `${name} has no cookie`);
  }
});
