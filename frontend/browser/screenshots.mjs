// Screenshots of the main screens, in French and in English, taken from the real server and
// Chromium with its fake camera and microphone: the landing page, the dashboard with a
// meeting, the invitation page with the camera's preview, the room with two participants
// (on a 1280x800 desktop, on a 390x844 phone upright with its "more" menu open, and on the
// phone sideways), the keyboard shortcuts, the room with the chat open (desktop and phone),
// and the lobby's waiting screen. They go to docs/screenshots/ as PNG files, 1280x800 unless
// their name says "phone" or "landscape". Run with: node frontend/browser/screenshots.mjs

import { mkdirSync } from "node:fs";
import path from "node:path";

import {
  RequestLog,
  createAttendeeLink,
  launchBrowser,
  loginOrganizer,
  root,
  scheduleMeeting,
  startServer,
} from "./harness.mjs";

/** @typedef {import("playwright-core").Page} Page */
/** @typedef {import("playwright-core").Browser} Browser */

const outDir = path.join(root, "docs/screenshots");
const viewport = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };
const landscape = { width: 844, height: 390 };

/** What differs between the languages. */
const LANGS = {
  fr: { locale: "fr-FR", meeting: "Point d’équipe", lobby: "Atelier avec salle d’attente", message: "Bonjour à tous\u00a0!" },
  en: { locale: "en-GB", meeting: "Team meeting", lobby: "Workshop with a lobby", message: "Hello everyone!" },
};

/**
 * A new page in a context of its own, in the language's locale, with the fake devices
 * allowed and every request recorded.
 *
 * @param {Browser} browser
 * @param {string} base
 * @param {RequestLog} log
 * @param {string} locale
 * @param {string} name
 * @returns {Promise<Page>}
 */
async function newPage(browser, base, log, locale, name) {
  const context = await browser.newContext({ baseURL: base, locale, viewport });
  await context.grantPermissions(["camera", "microphone", "clipboard-read", "clipboard-write"], { origin: base });
  log.watch(context, name);
  return context.newPage();
}

/**
 * @param {Page} page
 * @param {string} name the file's name, without the language and the extension
 * @param {string} lang
 */
async function shoot(page, name, lang) {
  // no blinking caret nor half-finished transition in the picture
  await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
  await page.waitForTimeout(300);
  const file = path.join(outDir, `${name}-${lang}.png`);
  await page.screenshot({ path: file, type: "png" });
  process.stdout.write(`${path.relative(root, file)}\n`);
}

/**
 * Opens an invitation link, types a name and enters.
 *
 * @param {Page} page
 * @param {string} url
 * @param {string} name
 */
async function enter(page, url, name) {
  await page.goto(url);
  await page.waitForSelector('device-preview[data-ready="yes"]');
  await page.fill("#display-name", name);
  await page.click("#enter");
}

/**
 * Takes the screenshots of one language.
 *
 * @param {Browser} browser
 * @param {string} base
 * @param {RequestLog} log
 * @param {keyof typeof LANGS} lang
 */
async function shootLanguage(browser, base, log, lang) {
  const { locale, meeting, lobby, message } = LANGS[lang];
  const organizer = await newPage(browser, base, log, locale, `organizer-${lang}`);
  await organizer.goto("/");
  await organizer.waitForSelector("h1");
  await shoot(organizer, "landing", lang);

  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, meeting);
  const { copied: link } = await createAttendeeLink(organizer, id);
  await shoot(organizer, "dashboard", lang);

  const alice = await newPage(browser, base, log, locale, `alice-${lang}`);
  await alice.goto(link);
  await alice.waitForSelector('device-preview[data-ready="yes"] video.preview-video:not([hidden])');
  await alice.fill("#display-name", "Alice Martin");
  await alice.locator("device-preview").scrollIntoViewIfNeeded();
  await shoot(alice, "invitation", lang);

  await alice.click("#enter");
  await alice.waitForSelector('meeting-room[data-state="connected"]');
  const bruno = await newPage(browser, base, log, locale, `bruno-${lang}`);
  await enter(bruno, link, "Bruno Lefèvre");
  await alice.locator('media-tile:not(.tile-self)[data-frame="shown"]').waitFor();
  await alice.locator('.room-status .quality[data-quality]').waitFor();
  await shoot(alice, "room", lang);
  await alice.setViewportSize(phone);
  await shoot(alice, "room-phone", lang);
  await alice.click('meeting-room button[data-action="more"]');
  await shoot(alice, "room-phone-more", lang);
  await alice.click('meeting-room button[data-action="more"]');
  await alice.setViewportSize(landscape);
  await shoot(alice, "room-landscape", lang);
  await alice.setViewportSize(viewport);
  await alice.keyboard.press("?");
  await alice.locator("dialog.shortcuts-dialog[open]").waitFor();
  await shoot(alice, "room-shortcuts", lang);
  await alice.keyboard.press("Escape");

  await bruno.click('meeting-room button[data-action="chat"]');
  await bruno.locator("chat-panel textarea").fill(message);
  await bruno.locator("chat-panel textarea").press("Enter");
  await alice.click('meeting-room button[data-action="chat"]');
  await alice.locator("chat-panel", { hasText: message }).waitFor();
  await shoot(alice, "room-chat", lang);
  await alice.setViewportSize(phone);
  await shoot(alice, "room-chat-phone", lang);
  await alice.click('meeting-room button[data-action="leave"]');
  await bruno.click('meeting-room button[data-action="leave"]');

  await organizer.goto("/dashboard");
  await organizer.waitForSelector("#content:not([hidden])");
  const lobbyId = await scheduleMeeting(organizer, lobby, "meeting", { lobby: true });
  const { copied: lobbyLink } = await createAttendeeLink(organizer, lobbyId);
  const zoe = await newPage(browser, base, log, locale, `zoe-${lang}`);
  await enter(zoe, lobbyLink, "Zoé Bernard");
  await zoe.waitForSelector('meeting-room[data-state="waiting"]');
  await shoot(zoe, "lobby", lang);

  for (const page of [organizer, alice, bruno, zoe]) await page.context().close();
}

mkdirSync(outDir, { recursive: true });
const env = await startServer();
const browser = await launchBrowser();
const log = new RequestLog();
try {
  for (const lang of /** @type {const} */ (["fr", "en"])) await shootLanguage(browser, env.server.base, log, lang);
  const foreign = log.foreign(env.server.base);
  if (foreign.length > 0) throw new Error(`requests to another origin: ${JSON.stringify(foreign)}`);
} finally {
  await browser.close();
  await env.close();
}
