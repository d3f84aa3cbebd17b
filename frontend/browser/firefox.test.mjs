// The meeting in Firefox ESR, the browser of many administrations: two agents in Firefox,
// then one in Firefox and one in Chromium, enter through an invitation link and each
// receives the other's sound and video, which the server encrypted and sent itself
// (sfu/direct.go), as its metrics count. Firefox is driven over WebDriver BiDi by
// puppeteer-core, Chromium by Playwright. Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Suite, createAttendeeLink, enterAsAgent, launchFirefox, loginOrganizer, mediaFlows, scheduleMeeting, until } from "./harness.mjs";

const suite = new Suite();
/** @type {import("puppeteer-core").Browser} */
let firefox;
/** @type {import("playwright-core").Page} */
let organizer;
/** How many agents entered a room: each has one PeerConnection with the server. */
let entered = 0;

before(async () => {
  firefox = await launchFirefox();
  organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
});

after(async () => {
  await firefox?.close();
});

/**
 * Schedules a meeting from the organizer's dashboard and returns its attendee link.
 *
 * @param {string} title
 * @returns {Promise<string>}
 */
async function meetingLink(title) {
  await organizer.goto("/dashboard");
  await organizer.waitForSelector("#content:not([hidden])");
  const id = await scheduleMeeting(organizer, title);
  return (await createAttendeeLink(organizer, id)).copied;
}

/**
 * An agent: the page it enters with, under its name; close ends its browser context.
 *
 * @typedef {{page: import("./harness.mjs").AnyPage, name: string, close: () => Promise<void>}} Agent
 */

/**
 * An agent in Firefox, in a browser context and a window of its own (a tab behind another
 * is throttled, and shows its video frames seconds late), its requests recorded.
 *
 * @param {string} name
 * @returns {Promise<Agent>}
 */
async function firefoxAgent(name) {
  const context = await firefox.createBrowserContext();
  const page = await context.newPage({ type: "window" });
  page.on("request", (req) => suite.requests.entries.push({ context: `firefox ${name}`, url: req.url() }));
  return { page, name, close: () => context.close() };
}

/**
 * An agent in Chromium, in a browser context of its own, its requests recorded.
 *
 * @param {string} name
 * @returns {Promise<Agent>}
 */
async function chromiumAgent(name) {
  const page = await suite.page(`chromium ${name}`);
  return { page, name, close: () => page.context().close() };
}

/**
 * Waits until page shows a frame of the camera of the participant named name, then until
 * its audio and decoded video grow, and grow again (still flowing, not one burst).
 *
 * @param {import("./harness.mjs").AnyPage} page
 * @param {string} name
 */
async function receivesFrom(page, name) {
  await until(
    () =>
      page.evaluate((name) => {
        for (const tile of document.querySelectorAll("media-tile:not(.tile-self):not(.tile-screen)")) {
          const shown = tile.getAttribute("data-frame") === "shown";
          if (shown && tile.querySelector(".tile-name")?.textContent?.includes(name)) return true;
        }
        return null;
      }, name),
    `a frame of ${name}'s camera`,
  );
  const first = await mediaFlows(page, { audioBytes: 0, framesDecoded: 0 });
  const later = await mediaFlows(page, first);
  assert.ok(later.audioBytes > first.audioBytes && later.framesDecoded > first.framesDecoded);
}

/**
 * Schedules a meeting, enters the two agents through its attendee link one after the
 * other, and checks that each receives the other's audio and video; closes them at the end.
 *
 * @param {string} title
 * @param {Agent} a
 * @param {Agent} b
 */
async function meet(title, a, b) {
  try {
    const link = await meetingLink(title);
    for (const agent of [a, b]) {
      await enterAsAgent(agent.page, link, agent.name);
      entered++;
    }
    await receivesFrom(a.page, b.name);
    await receivesFrom(b.page, a.name);
  } finally {
    await a.close();
    await b.close();
  }
}

test("two agents in Firefox enter through an invitation link and each receives the other's audio and video", async () => {
  await meet("Réunion sous Firefox", await firefoxAgent("Alice Firefox"), await firefoxAgent("Bruno Firefox"));
});

test("an agent in Chromium and one in Firefox each receive the other's audio and video", async () => {
  await meet("Réunion mixte", await chromiumAgent("Carla Chromium"), await firefoxAgent("Denis Firefox"));
});

test("the server sent that media itself, on every connection", async () => {
  assert.ok(entered > 0, "agents entered the rooms");
  if (!suite.env) throw new Error("the server is not started");
  const metrics = await suite.env.server.metrics();
  assert.equal(metrics.get('webinaire_media_send_connections_total{way="direct"}'), entered, "every agent's connection is sent to directly");
  assert.equal(metrics.get('webinaire_media_send_connections_total{way="pion"}'), 0, "no connection is sent to through Pion");
  const packets = metrics.get("webinaire_media_send_direct_packets_total") || 0;
  assert.ok(packets > 0, `packets sent directly: ${packets}`);
});

test("no page asked anything of another origin", () => {
  assert.ok(suite.requests.entries.some((e) => e.context.startsWith("firefox ")), "Firefox's requests were recorded");
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
