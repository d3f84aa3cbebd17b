// In-meeting collaboration in real browsers: a webinar with a lobby, where the organizer
// moderates. Attendees wait until admitted (or are denied), chat in public and privately to
// the moderators, vote in a poll, raise hands and react; an attendee promoted to presenter
// sends his camera to the others, and a moderator mutes him; the active speaker is outlined. No page may ask anything of
// another origin, links in the chat included. Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import {
  RequestLog,
  axeViolations,
  createAttendeeLink,
  launchBrowser,
  loginOrganizer,
  newContext,
  scheduleMeeting,
  startServer,
  until,
  writeToneWAV,
} from "./harness.mjs";

/** @typedef {import("playwright-core").Page} Page */

/** @type {Awaited<ReturnType<typeof startServer>>} */
let env;
/** @type {import("playwright-core").Browser} */
let browser;
const requests = new RequestLog();

/** What the tests hand on to the next. */
const state = { link: "" };
/** @type {Page} the organizer, moderator of the room */
let camille;
/** @type {Page} an attendee */
let zoe;
/** @type {Page} an attendee */
let xavier;

/**
 * @param {string} name
 * @returns {Promise<Page>}
 */
async function pageFor(name) {
  const context = await newContext(browser, env.server.base, requests, name);
  return context.newPage();
}

/**
 * Opens the invitation link, enters under name and waits in the lobby.
 *
 * @param {Page} page
 * @param {string} name
 */
async function enterLobby(page, name) {
  await page.goto(state.link);
  await page.waitForSelector("#invitation:not([hidden])");
  await page.fill("#display-name", name);
  await page.click("#enter");
  await page.waitForSelector('meeting-room[data-state="waiting"]');
}

/**
 * The lobby entry of name on the moderator's page.
 *
 * @param {string} name
 */
function waitingEntry(name) {
  return camille.locator("lobby-panel .lobby-entry", { has: camille.locator(".person-name", { hasText: name }) });
}

/** The element of each side panel of the room. */
const PANELS = { chat: "chat-panel", polls: "poll-panel", people: "meeting-room .people" };

/**
 * Opens a side panel of the room (chat, polls or people) unless it is open; one is open at
 * a time.
 *
 * @param {Page} page
 * @param {"chat" | "polls" | "people"} which
 */
async function openPanel(page, which) {
  const toggle = page.locator(`meeting-room button[data-action="${which}"]`);
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  await page.locator(PANELS[which]).waitFor();
}

/**
 * Sends a chat message from page.
 *
 * @param {Page} page
 * @param {string} text
 * @param {"" | "moderators"} to
 */
async function say(page, text, to = "") {
  await openPanel(page, "chat");
  await page.selectOption("chat-panel select.chat-to", to);
  await page.fill("chat-panel textarea", text);
  await page.click('chat-panel button[type="submit"]');
}

/**
 * The texts of the chat messages page shows.
 *
 * @param {Page} page
 * @returns {Promise<string[]>}
 */
function chatTexts(page) {
  return page.locator("chat-panel .chat-body").allTextContents();
}

/**
 * Opens the moderator's menu on a participant and picks the item whose text contains what.
 *
 * @param {string} name
 * @param {string} what
 */
async function moderate(name, what) {
  await openPanel(camille, "people");
  const person = camille.locator("meeting-room .people-list .person", { has: camille.locator(".person-name", { hasText: name }) });
  await person.locator('button[data-action="person-menu"]').click();
  const item = person.locator('[role="menuitem"]', { hasText: what });
  await item.waitFor();
  assert.equal(await camille.evaluate(() => document.activeElement?.getAttribute("role")), "menuitem", "the menu takes the focus");
  await item.click();
}

/** Where the fake microphones' tone is. */
const soundDir = mkdtempSync(path.join(tmpdir(), "webinaire-sound-"));

before(async () => {
  env = await startServer();
  const audioFile = path.join(soundDir, "tone.wav");
  writeToneWAV(audioFile);
  browser = await launchBrowser({ audioFile });
});

after(async () => {
  await browser?.close();
  await env?.close();
  rmSync(soundDir, { recursive: true, force: true });
});

test("the organizer schedules a webinar with a lobby and enters as moderator", async () => {
  camille = await pageFor("organizer");
  await loginOrganizer(camille, "dev-camille-martin");
  const id = await scheduleMeeting(camille, "Atelier", "webinar", { lobby: true });
  state.link = (await createAttendeeLink(camille, id)).copied;
  await camille.goto(`/room/${id}`);
  await camille.click("#enter");
  await camille.waitForSelector('meeting-room[data-state="connected"]');
  assert.ok(await camille.locator("lobby-panel").isHidden(), "no lobby panel while nobody waits");
  // the camera goes as simulcast: three encodings, quarter, half and full resolution
  const rids = await camille.evaluate(() => {
    const pc = /** @type {any} */ (document.querySelector("meeting-room")).pc;
    const sender = pc.getSenders().find((/** @type {RTCRtpSender} */ s) => s.track?.kind === "video");
    return sender.getParameters().encodings.map((/** @type {any} */ e) => e.rid);
  });
  assert.deepEqual(rids, ["q", "h", "f"]);
});

test("an attendee waits in the lobby until the moderator admits him", async () => {
  assert.ok(camille, "the organizer is in the room");
  zoe = await pageFor("zoe");
  await enterLobby(zoe, "Zoé Martin");
  await zoe.locator('.room-waiting [data-i18n="room.waiting.title"]').waitFor();
  assert.ok(await zoe.locator('.room-waiting button[data-action="leave-lobby"]').isVisible(), "a waiting attendee may leave");
  assert.ok(await zoe.locator("meeting-room .tiles").isHidden(), "nothing of the room while waiting");

  await waitingEntry("Zoé Martin").waitFor();
  assert.equal(await camille.locator("lobby-panel .lobby-count").textContent(), "1");
  await until(async () => ((await camille.locator("meeting-room .visually-hidden[role=status]").textContent())?.includes("Zoé Martin") ? true : null), "the arrival to be announced");
  await waitingEntry("Zoé Martin").locator('button[data-action="admit"]').click();
  await zoe.waitForSelector('meeting-room[data-state="connected"]');
  await camille.locator("lobby-panel").waitFor({ state: "hidden" });
  await openPanel(camille, "people");
  await camille.locator(".person", { hasText: "Zoé Martin" }).waitFor();
});

test("the room with the lobby, chat, polls and a menu open has no serious accessibility violation; a denied attendee is told", async () => {
  assert.ok(zoe, "Zoé is in the room");
  const yann = await pageFor("yann");
  await enterLobby(yann, "Yann Refusé");
  await waitingEntry("Yann Refusé").waitFor();
  // the side panels open one at a time: each is checked open
  await openPanel(camille, "chat");
  assert.deepEqual(await axeViolations(camille), [], "the chat open");
  await openPanel(camille, "polls");
  assert.deepEqual(await axeViolations(camille), [], "the polls open");
  await openPanel(camille, "people");
  const menu = camille.locator('.person:has-text("Zoé Martin") button[data-action="person-menu"]');
  await menu.click();
  await camille.locator('.person:has-text("Zoé Martin") [role="menu"]:not([hidden])').waitFor();
  assert.deepEqual(await axeViolations(camille), []);
  await camille.keyboard.press("Escape");
  await camille.locator('.person:has-text("Zoé Martin") [role="menu"]').waitFor({ state: "hidden" });
  assert.equal(await menu.evaluate((b) => b === document.activeElement), true, "Escape gives the focus back to the menu button");
  assert.deepEqual(await axeViolations(yann), [], "the lobby's waiting page");

  await waitingEntry("Yann Refusé").locator('button[data-action="deny"]').click();
  await yann.waitForSelector('meeting-room[data-state="closed"]');
  await yann.locator('.room-ended [data-i18n="room.end.denied"]').waitFor();
  await camille.locator("lobby-panel").waitFor({ state: "hidden" });
  await yann.close();
});

test("chat: public messages reach everyone, private ones only the moderators, and text stays text", async () => {
  assert.ok(zoe, "Zoé is in the room");
  xavier = await pageFor("xavier");
  await enterLobby(xavier, "Xavier Durand");
  await waitingEntry("Xavier Durand").locator('button[data-action="admit"]').click();
  await xavier.waitForSelector('meeting-room[data-state="connected"]');

  await say(camille, "Bienvenue à tous");
  const tricky = '<img src=x onerror="alert(1)"> voir https://example.org/programme?x=1';
  await say(zoe, tricky);
  await say(zoe, "Question privée pour les modérateurs", "moderators");
  await say(zoe, "Fin des messages de Zoé");

  await xavier.locator('meeting-room button[data-action="chat"] [data-i18n="room.chat.unread"]').waitFor();
  for (const page of [camille, zoe, xavier]) {
    await openPanel(page, "chat");
    await page.locator("chat-panel .chat-body", { hasText: "Fin des messages de Zoé" }).waitFor();
  }
  // messages come in order: once Xavier has the last one, he would have had the private one
  assert.deepEqual(await chatTexts(xavier), ["Bienvenue à tous", tricky, "Fin des messages de Zoé"]);
  assert.deepEqual(await chatTexts(camille), ["Bienvenue à tous", tricky, "Question privée pour les modérateurs", "Fin des messages de Zoé"]);
  assert.deepEqual(await chatTexts(zoe), await chatTexts(camille), "the sender sees her private message");
  assert.equal(await camille.locator("chat-panel .chat-message-private .chat-from").textContent(), "Zoé Martin");

  const message = xavier.locator("chat-panel .chat-message", { hasText: "example.org" });
  assert.equal(await message.locator("img").count(), 0, "markup is shown as text");
  const link = message.locator("a");
  assert.equal(await link.getAttribute("href"), "https://example.org/programme?x=1");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer nofollow");
  assert.match((await message.locator("time").textContent()) || "", /^\d{1,2}:\d{2}$/, "the time it was sent");
});

test("a poll: the moderator makes and opens it, an attendee votes and changes his vote, everyone sees the published results", async () => {
  assert.ok(zoe && xavier, "Zoé and Xavier are in the room");
  await openPanel(camille, "polls");
  const creator = camille.locator("poll-panel form.poll-create");
  await creator.locator('input[name="question"]').fill("Quel créneau ?");
  await creator.locator("button", { hasText: "Ajouter une réponse" }).click();
  const options = creator.locator('input[name="option"]');
  await options.nth(0).fill("Matin");
  await options.nth(1).fill("Midi");
  await options.nth(2).fill("Soir");
  await creator.locator('input[name="anonymous"]').uncheck();
  await creator.locator('button[type="submit"]').click();
  const poll = camille.locator('poll-panel article.poll[data-state="draft"]', { hasText: "Quel créneau ?" });
  await poll.locator('button[data-poll-action="poll_open"]').click();
  await camille.locator('poll-panel article.poll[data-state="open"]').waitFor();

  await openPanel(zoe, "polls");
  const ballot = zoe.locator('poll-panel article.poll[data-state="open"]');
  await ballot.getByLabel("Soir").check();
  await ballot.locator('button[type="submit"]').click();
  const results = camille.locator("poll-panel .poll-result");
  await results.and(camille.locator('[data-option="2"][data-votes="1"]')).waitFor();
  assert.equal(await results.nth(2).locator(".poll-voters").textContent(), "Zoé Martin", "a named poll shows the voters to moderators");
  assert.equal(await zoe.locator("poll-panel .poll-result").count(), 0, "no results for attendees before they are published");

  await ballot.locator('[data-i18n="room.poll.recorded"]').waitFor();
  await ballot.getByLabel("Matin").check();
  await ballot.locator('button[type="submit"]').click();
  await results.and(camille.locator('[data-option="0"][data-votes="1"]')).waitFor();
  assert.equal(await results.nth(2).getAttribute("data-votes"), "0", "the new vote replaces the old one");

  await camille.click('poll-panel button[data-poll-action="poll_close"]');
  await camille.click('poll-panel button[data-poll-action="poll_publish"]');
  for (const page of [zoe, xavier]) {
    await openPanel(page, "polls");
    await page.locator('poll-panel .poll-result[data-option="0"][data-votes="1"]').waitFor();
    assert.equal(await page.locator("poll-panel .poll-voters").count(), 0, "voters' names never reach attendees");
  }
});

test("raised hands make a queue a moderator can lower; reactions show by the sender's name", async () => {
  assert.ok(zoe && xavier, "Zoé and Xavier are in the room");
  await xavier.click('meeting-room button[data-action="hand"]');
  await zoe.click('meeting-room button[data-action="hand"]');
  await openPanel(camille, "people");
  const queue = camille.locator("meeting-room .hands-list li .person-name");
  await until(async () => ((await queue.allTextContents()).length === 2 ? true : null), "two raised hands");
  assert.deepEqual(await queue.allTextContents(), ["Xavier Durand", "Zoé Martin"], "in order of raising");
  await camille.locator('.hands-list li[data-participant] button[data-action="lower-hand"]').first().click();
  await xavier.waitForSelector('meeting-room button[data-action="hand"][aria-pressed="false"]');
  await zoe.click('meeting-room button[data-action="hand"]');
  await camille.locator("meeting-room .hands").waitFor({ state: "hidden" });

  await xavier.click('meeting-room button[data-action="react"]');
  await xavier.keyboard.press("ArrowDown");
  await xavier.keyboard.press("Enter"); // the second reaction: applause
  await camille.locator('.person:has-text("Xavier Durand") .reaction[aria-label="Xavier Durand : Applaudissements"]').waitFor();
});

test("in a webinar, an attendee promoted to presenter reaches the others; a moderator mutes him and asks him to unmute", async () => {
  assert.ok(zoe && xavier, "Zoé and Xavier are in the room");
  const tile = (/** @type {Page} */ page) => page.locator("media-tile:not(.tile-self)", { has: page.locator(".tile-name", { hasText: "Zoé Martin" }) });
  assert.equal(await tile(xavier).count(), 0, "no tile for an attendee");
  await moderate("Zoé Martin", "présentateur");
  await zoe.waitForSelector('meeting-room button[data-action="camera"]:not([hidden])');
  await tile(xavier).and(xavier.locator('[data-frame="shown"]')).waitFor();
  await tile(camille).and(camille.locator('[data-frame="shown"]')).waitFor();
  await camille.locator('.person:has-text("Zoé Martin") [data-i18n="role.presenter"]').waitFor();
  // the fake microphones play a steady tone: the server names one of the publishers as
  // active speaker
  await xavier.locator("media-tile.tile-speaking").waitFor();

  // the moderator's page asks for a layer that fits the tile of Zoé's camera
  const asked = await until(
    () => camille.evaluate(() => {
      const layers = /** @type {any} */ (document.querySelector("meeting-room")).client.layers;
      return layers.size > 0 ? [...layers.values()] : null;
    }),
    "a layer request",
  );
  assert.match(asked[0], /^[1-9]\d*x[1-9]\d*$/);

  await moderate("Zoé Martin", "Couper le micro");
  await zoe.waitForSelector('meeting-room button[data-action="mic"][aria-pressed="true"]');
  assert.equal(await zoe.evaluate(() => /** @type {any} */ (document.querySelector("meeting-room")).client.local.get("microphone").track.enabled), false, "the microphone track is really off");
  await tile(xavier).and(xavier.locator('[data-mic="off"]')).waitFor();
  await tile(camille).and(camille.locator('[data-mic="off"]')).waitFor();

  await moderate("Zoé Martin", "rallumer");
  await zoe.click('meeting-room button[data-action="unmute-yes"]');
  await zoe.waitForSelector('meeting-room button[data-action="mic"][aria-pressed="false"]');
  await tile(xavier).and(xavier.locator('[data-mic="on"]')).waitFor();
});

test("the moderator mutes everyone, locks the room, then ends the session for everyone after confirming", async () => {
  assert.ok(zoe && xavier, "Zoé and Xavier are in the room");
  await openPanel(camille, "people");
  await camille.click('meeting-room button[data-action="mute-all"]');
  await zoe.waitForSelector('meeting-room button[data-action="mic"][aria-pressed="true"]');
  assert.equal(await camille.locator('meeting-room button[data-action="mic"]').getAttribute("aria-pressed"), "false", "not the moderator's own microphone");
  await camille.click('meeting-room button[data-action="lock"]');
  await zoe.locator("meeting-room .room-locked:not([hidden])").waitFor();
  await camille.click('meeting-room button[data-action="end"]');
  await camille.click('dialog button[data-action="end-cancel"]');
  assert.equal(await camille.locator('meeting-room[data-state="connected"]').count(), 1, "cancelling ends nothing");
  await camille.click('meeting-room button[data-action="end"]');
  await camille.click('dialog button[data-action="end-confirm"]');
  for (const page of [camille, zoe, xavier]) {
    await page.waitForSelector('meeting-room[data-state="closed"]');
    await page.locator('.room-ended [data-i18n="room.end.closed"]').waitFor();
  }
});

test("no page asked anything of another origin", () => {
  assert.ok(requests.entries.some((e) => e.url.startsWith("ws://")), "the WebSockets were recorded");
  assert.deepEqual(requests.foreign(env.server.base), []);
});
