// Breakout rooms in real browsers: the organizer of a meeting sends three agents to two
// breakout rooms, by hand, for a minute: two when opening them, the third, left in the
// main room, once they are open. Each hears only the others of its room (the tracks
// its PeerConnection receives, from getStats); the moderator visits a room and is heard
// there only; a message to every room reaches both; a call for help tells the moderator
// where; when the time is up everyone is back in the main room, without a lobby or a name to
// type again. Run with: node --test frontend/browser/breakout.test.mjs

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite, axeViolations, createAttendeeLink, enterAsAgent, loginOrganizer, scheduleMeeting, until } from "./harness.mjs";

/** @typedef {import("playwright-core").Page} Page */

const suite = new Suite({ tone: true });

/** The organizer, moderator of the room. @type {Page} */
let camille;
/** The agents, by name. @type {Map<string, Page>} */
const agents = new Map();
const ZOE = "Zoé Martin";
const XAVIER = "Xavier Durand";
const YASMINE = "Yasmine Benali";

/** How long the breakout rooms last, in minutes, and how long a test may wait for their end. */
const MINUTES = 1;
const RETURN_WAIT_MS = 3 * 60_000;

/**
 * The names of the participants whose audio the page's current PeerConnection has received,
 * read from getStats: each inbound audio stream with bytes, matched by its mid to the
 * track the server announced and to its owner.
 *
 * @param {Page} page
 * @returns {Promise<string[]>}
 */
function heard(page) {
  return page.evaluate(async () => {
    const client = /** @type {any} */ (document.querySelector("meeting-room")).client;
    const pc = client && client.pc;
    if (!pc) return [];
    const midOf = new Map(pc.getTransceivers().map((/** @type {RTCRtpTransceiver} */ t) => [t.receiver.track.id, t.mid]));
    /** @type {Set<string>} */
    const names = new Set();
    const stats = await pc.getStats();
    stats.forEach((/** @type {any} */ r) => {
      if (r.type !== "inbound-rtp" || r.kind !== "audio" || !(r.bytesReceived > 0)) return;
      const trackId = client.mids.get(r.mid ?? midOf.get(r.trackIdentifier));
      for (const peer of client.peers.values()) if (peer.tracks.has(trackId)) names.add(peer.name);
    });
    return [...names].sort();
  });
}

/**
 * Waits until page has heard exactly the participants named.
 *
 * @param {Page} page
 * @param {string[]} names
 * @param {string} who for the error
 */
async function hearsExactly(page, names, who) {
  const want = [...names].sort();
  let last = /** @type {string[]} */ ([]);
  try {
    await until(async () => {
      last = await heard(page);
      return JSON.stringify(last) === JSON.stringify(want) ? true : null;
    }, `${who} to hear ${want.join(", ") || "nobody"}`);
  } catch (err) {
    throw new Error(`${/** @type {Error} */ (err).message}; heard ${last.join(", ") || "nobody"}`);
  }
}

/**
 * Waits until page is connected in the main room, or in a breakout room.
 *
 * @param {Page} page
 * @param {"main" | "breakout"} room
 * @param {number} [timeout]
 */
function inRoom(page, room, timeout) {
  return page.waitForSelector(`meeting-room[data-room="${room}"][data-state="connected"]`, { timeout });
}

/** @param {Page} page */
async function openBreakouts(page) {
  const toggle = page.locator('meeting-room button[data-action="breakout"]');
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  await page.locator("breakout-panel").waitFor();
}

test("the organizer and three agents are in the meeting", async () => {
  camille = await suite.page("organizer");
  await loginOrganizer(camille, "dev-camille-martin");
  const id = await scheduleMeeting(camille, "Formation");
  const link = (await createAttendeeLink(camille, id)).copied;
  await camille.goto(`/room/${id}`);
  await camille.click("#enter");
  await inRoom(camille, "main");
  for (const name of [ZOE, XAVIER, YASMINE]) {
    const page = await suite.page(name);
    await enterAsAgent(page, link, name);
    agents.set(name, page);
  }
  for (const page of agents.values()) {
    assert.ok(await page.locator('meeting-room button[data-action="breakout"]').isHidden(), "no breakout rooms' button for an agent while none are open");
  }
  await hearsExactly(camille, [ZOE, XAVIER, YASMINE], "the organizer");
});

test("the moderator sends two agents to one room and the third to another: each hears only its room", async () => {
  await openBreakouts(camille);
  assert.deepEqual(await axeViolations(camille), [], "the form of the breakout rooms");
  await camille.fill("breakout-panel input.breakout-count", "2");
  await camille.locator("breakout-panel input.breakout-name").nth(1).fill("Atelier B");
  await camille.locator("breakout-panel input.breakout-name").nth(0).fill("Atelier A");
  await camille.selectOption("breakout-panel select.breakout-assign", "manual");
  const choice = (/** @type {string} */ name) => camille.locator("breakout-panel .breakout-manual p", { hasText: name }).locator("select");
  await choice(ZOE).selectOption("1");
  await choice(XAVIER).selectOption("1");
  assert.equal(await choice(YASMINE).inputValue(), "", "one not placed stays in the main room");
  await camille.fill("breakout-panel input.breakout-minutes", String(MINUTES));
  await camille.click('breakout-panel button[data-action="breakout-start"]');

  const zoe = /** @type {Page} */ (agents.get(ZOE));
  const xavier = /** @type {Page} */ (agents.get(XAVIER));
  const yasmine = /** @type {Page} */ (agents.get(YASMINE));
  await inRoom(zoe, "breakout");
  await inRoom(xavier, "breakout");
  // the moderator sends the one left in the main room to room B
  await camille.locator("breakout-panel .breakout-unplaced select.breakout-move", { has: camille.locator("option") }).selectOption({ label: "Atelier B" });
  await inRoom(yasmine, "breakout");
  assert.match(String(await zoe.locator("meeting-room .room-title").textContent()), /Atelier A$/);
  assert.match(String(await yasmine.locator("meeting-room .room-title").textContent()), /Atelier B$/);
  await hearsExactly(zoe, [XAVIER], ZOE);
  await hearsExactly(xavier, [ZOE], XAVIER);
  await hearsExactly(yasmine, [], YASMINE);
  await hearsExactly(camille, [], "the organizer, alone in the main room");
  // the time left shows to everyone, in the rooms and in the main one
  for (const page of [camille, zoe, yasmine]) {
    assert.match(String(await page.locator("meeting-room .breakout-timer").textContent()), /\d:\d\d/);
  }

  // the moderator visits room B, and is heard there only
  const roomB = camille.locator("breakout-panel .breakout-room", { has: camille.locator("h3", { hasText: "Atelier B" }) });
  await until(async () => ((await roomB.textContent())?.includes(YASMINE) ? true : null), "the moderator to see who is in room B");
  await roomB.locator('button[data-action="breakout-join"]').click();
  await inRoom(camille, "breakout");
  await hearsExactly(yasmine, ["Camille Martin"], YASMINE);
  await hearsExactly(camille, [YASMINE], "the organizer, in room B");
  await hearsExactly(zoe, [XAVIER], ZOE);
});

test("a message to every room reaches both, and a call for help tells the moderator where", async () => {
  await openBreakouts(camille);
  await camille.fill("breakout-panel input.breakout-broadcast-text", "Plus que quelques minutes");
  await camille.click('breakout-panel button[data-action="breakout-broadcast"]');
  for (const page of agents.values()) {
    await page.locator("meeting-room .breakout-message", { hasText: "Plus que quelques minutes" }).waitFor();
  }
  assert.deepEqual(await axeViolations(camille), [], "the moderator's view of the open rooms");

  const zoe = /** @type {Page} */ (agents.get(ZOE));
  await openBreakouts(zoe);
  await zoe.click('breakout-panel button[data-action="breakout-help"]');
  await camille.locator("breakout-panel .breakout-help-item", { hasText: ZOE }).filter({ hasText: "Atelier A" }).waitFor();
  assert.deepEqual(await axeViolations(zoe), [], "an agent's view of the breakout rooms");
});

test("when the time is up, everyone is back in the main room and hears everyone", async () => {
  for (const page of [camille, ...agents.values()]) await inRoom(page, "main", RETURN_WAIT_MS);
  const zoe = /** @type {Page} */ (agents.get(ZOE));
  await hearsExactly(zoe, [XAVIER, YASMINE, "Camille Martin"], ZOE);
  await hearsExactly(camille, [ZOE, XAVIER, YASMINE], "the organizer");
  assert.ok(await zoe.locator("meeting-room .breakout-timer").isHidden(), "no time left to show");
  assert.ok(await zoe.locator('meeting-room button[data-action="breakout"]').isHidden(), "the agents' button goes with the rooms");
  assert.equal(await zoe.locator("#invitation:not([hidden])").count(), 0, "no new entry: no name typed again");
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
