// The room's layout in a two-person meeting, at the sizes of a laptop, a large screen and a
// phone held upright and sideways: the room fills the window and never scrolls, the site's
// header is not shown, the toolbar is in view on one row of buttons at least 44 px square
// (on a phone, a "more" menu holds the rest), the other person's video takes at least 40 % of
// the window, the side panels open one at a time, and axe finds nothing serious. With a third
// person: pinning a tile for oneself, speaker view following a screen share, a tile full
// screen.
// With WEBINAIRE_LAYOUT_SHOTS=<folder>, a screenshot of each size goes there.

import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

import {
  Suite,
  axeViolations,
  createAttendeeLink,
  enterAsAgent,
  launchBrowser,
  loadPublishers,
  loginOrganizer,
  newContext,
  scheduleMeeting,
  settled,
  until,
  writeToneWAV,
} from "./harness.mjs";

const suite = new Suite();

/** The sizes tried: width and height. */
const SIZES = [
  { name: "1280x800", width: 1280, height: 800 },
  { name: "1920x1080", width: 1920, height: 1080 },
  { name: "390x844", width: 390, height: 844 },
  { name: "844x390", width: 844, height: 390 },
];

/** The share of the window the other person's tile must take in a two-person meeting. */
const MIN_SHARE = 0.4;

/** @type {import("playwright-core").Page} */
let alice;
/** @type {import("playwright-core").Page} */
let bruno;
/** @type {import("playwright-core").Page} */
let carla;
/** @type {import("playwright-core").Page} */
let camille;
/** The invitation link of the meeting. */
let link = "";
/** The meeting's id. */
let meetingId = "";

/**
 * What page shows of the room: the document's scroll size and the window's, where the
 * toolbar and its microphone button are, and the other person's tile.
 *
 * @param {import("playwright-core").Page} page
 */
function measure(page) {
  return page.evaluate(() => {
    const doc = document.scrollingElement || document.documentElement;
    /** @param {Element | null} el */
    const box = (el) => {
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
    };
    return {
      scrollWidth: doc.scrollWidth,
      scrollHeight: doc.scrollHeight,
      innerWidth: window.innerWidth,
      innerHeight: window.innerHeight,
      toolbar: box(document.querySelector("meeting-room .toolbar")),
      mic: box(document.querySelector('meeting-room button[data-action="mic"]')),
      leave: box(document.querySelector('meeting-room button[data-action="leave"]')),
      status: box(document.querySelector("meeting-room .room-state")),
      other: box(document.querySelector("media-tile:not(.tile-self):not(.tile-screen)")),
      self: box(document.querySelector("media-tile.tile-self")),
      tools: [...document.querySelectorAll("meeting-room .toolbar .tool")].map(box).filter((b) => b && b.width > 0),
    };
  });
}

/**
 * Checks that page shows the whole room in its window, the toolbar in view.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} what for the messages
 */
async function assertFits(page, what) {
  const m = await measure(page);
  assert.equal(m.scrollHeight, m.innerHeight, `${what}: the document is as tall as the window`);
  assert.equal(m.scrollWidth, m.innerWidth, `${what}: the document is as wide as the window`);
  for (const [name, b] of /** @type {const} */ ([["toolbar", m.toolbar], ["microphone button", m.mic], ["leave button", m.leave], ["connection's state", m.status]])) {
    assert.ok(b && b.width > 0 && b.height > 0, `${what}: the ${name} is shown`);
    assert.ok(b.left >= 0 && b.top >= 0 && b.right <= m.innerWidth && b.bottom <= m.innerHeight, `${what}: the ${name} is inside the window: ${JSON.stringify(b)}`);
  }
  assert.ok(m.tools.length >= 5, `${what}: the toolbar shows its buttons`);
  for (const b of m.tools) {
    assert.ok(b && b.width >= 44 && b.height >= 44, `${what}: each button of the toolbar is at least 44 px square: ${JSON.stringify(b)}`);
    assert.ok(b.left >= 0 && b.right <= m.innerWidth, `${what}: each button of the toolbar is inside the window: ${JSON.stringify(b)}`);
  }
  const rows = new Set(m.tools.map((b) => Math.round(((b?.top || 0) + (b?.bottom || 0)) / 2)));
  assert.equal(rows.size, 1, `${what}: the toolbar is one row: ${JSON.stringify(m.tools)}`);
  return m;
}

test("two agents enter a meeting", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, "Mise en page");
  meetingId = id;
  const { copied } = await createAttendeeLink(organizer, id);
  link = copied;
  await organizer.close();
  alice = await suite.page("alice");
  bruno = await suite.page("bruno");
  await enterAsAgent(alice, copied, "Alice Agent");
  await enterAsAgent(bruno, copied, "Bruno Agent");
  for (const page of [alice, bruno]) await page.locator('media-tile:not(.tile-self)[data-frame="shown"]').waitFor();
});

/**
 * The area of each remote tile page shows, by name, and the layout of its stage.
 *
 * @param {import("playwright-core").Page} page
 * @returns {Promise<{layout: string, tiles: Record<string, {area: number, main: boolean}>}>}
 */
function tiles(page) {
  return page.evaluate(() => {
    /** @type {Record<string, {area: number, main: boolean}>} */
    const out = {};
    for (const tile of document.querySelectorAll("media-tile:not(.tile-self)")) {
      const r = tile.getBoundingClientRect();
      out[tile.querySelector(".tile-name")?.textContent || ""] = { area: Math.round(r.width * r.height), main: tile.classList.contains("tile-main") };
    }
    return { layout: String(/** @type {HTMLElement} */ (document.querySelector("meeting-room .stage")).dataset.layout), tiles: out };
  });
}

test("with a third person, a pinned tile is large for the one who pinned it only", async (t) => {
  assert.ok(alice && bruno && link, "both agents are in the room");
  await alice.setViewportSize({ width: 1280, height: 800 });
  carla = await suite.page("carla");
  await enterAsAgent(carla, link, "Carla Agent");
  await alice.locator('media-tile:not(.tile-self)[data-frame="shown"]', { hasText: "Carla Agent" }).waitFor();
  let seen = await tiles(alice);
  assert.equal(seen.layout, "gallery");
  const [b, c] = [seen.tiles["Bruno Agent"], seen.tiles["Carla Agent"]];
  assert.ok(b && c && b.area === c.area, `the gallery's tiles are of one size: ${JSON.stringify(seen)}`);
  t.diagnostic(`gallery of two at 1280x800: each tile ${((b.area / (1280 * 800)) * 100).toFixed(1)} % of the window`);

  await alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="pin"]').click();
  seen = await tiles(alice);
  assert.equal(seen.layout, "speaker");
  assert.ok(seen.tiles["Bruno Agent"].main, "the pinned tile is the large one");
  assert.ok(seen.tiles["Bruno Agent"].area > 4 * seen.tiles["Carla Agent"].area, `the pinned tile is much larger: ${JSON.stringify(seen)}`);
  t.diagnostic(`pinned at 1280x800: ${((seen.tiles["Bruno Agent"].area / (1280 * 800)) * 100).toFixed(1)} % of the window`);
  assert.equal(await alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="pin"]').getAttribute("aria-pressed"), "true");
  assert.equal((await tiles(carla)).layout, "gallery", "pinning is for oneself");
  await assertFits(alice, "pinned");
  if (process.env.WEBINAIRE_LAYOUT_SHOTS) await alice.screenshot({ path: path.join(process.env.WEBINAIRE_LAYOUT_SHOTS, "room-pinned-1280x800.png") });
  assert.deepEqual(await axeViolations(alice), [], "pinned: axe");

  await alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="pin"]').click();
  assert.equal((await tiles(alice)).layout, "gallery", "unpinning brings the gallery back");
});

test("speaker view follows a screen share and goes when it stops; the choice of view is one's own", async () => {
  assert.ok(alice && bruno && carla, "the three agents are in the room");
  await bruno.click('meeting-room button[data-action="screen"]');
  const screen = alice.locator('media-tile.tile-screen[data-frame="shown"]');
  await screen.waitFor();
  await alice.locator("media-tile.tile-screen.tile-main").waitFor();
  assert.equal(await alice.getAttribute('meeting-room button[data-action="view"]', "aria-pressed"), "true", "the view's button says speaker view");
  const seen = await tiles(alice);
  const shared = Object.entries(seen.tiles).find(([name]) => name.includes("Bruno Agent") && name !== "Bruno Agent");
  assert.ok(shared && shared[1].main, `the screen is the large tile: ${JSON.stringify(seen)}`);
  await assertFits(alice, "screen shared");
  if (process.env.WEBINAIRE_LAYOUT_SHOTS) await alice.screenshot({ path: path.join(process.env.WEBINAIRE_LAYOUT_SHOTS, "room-screen-1280x800.png") });

  // the gallery, by choice, while the screen is still shared
  await alice.click('meeting-room button[data-action="view"]');
  assert.equal((await tiles(alice)).layout, "gallery");
  await alice.click('meeting-room button[data-action="view"]');
  assert.equal((await tiles(alice)).layout, "speaker");

  await bruno.click('meeting-room button[data-action="screen"]');
  await screen.waitFor({ state: "detached" });
  await carla.click('meeting-room button[data-action="leave"]');
  await alice.locator("media-tile", { hasText: "Carla Agent" }).waitFor({ state: "detached" });
  assert.equal((await tiles(alice)).layout, "gallery", "one other person: the gallery");
});


for (const size of SIZES) {
  test(`at ${size.name} the room fills the window without scrolling, the toolbar in view`, async (t) => {
    assert.ok(alice && bruno, "both agents are in the room");
    await alice.setViewportSize({ width: size.width, height: size.height });
    await alice.waitForTimeout(300); // the tiles follow the window's size
    const m = await assertFits(alice, size.name);
    assert.ok(m.other && m.self, "both tiles are there");
    const share = (m.other.width * m.other.height) / (m.innerWidth * m.innerHeight);
    const selfShare = (m.self.width * m.self.height) / (m.innerWidth * m.innerHeight);
    t.diagnostic(`${size.name}: the other's tile ${Math.round(m.other.width)}x${Math.round(m.other.height)}, ${(share * 100).toFixed(1)} % of the window; own picture ${(selfShare * 100).toFixed(1)} %; document ${m.scrollWidth}x${m.scrollHeight}`);
    assert.ok(share >= MIN_SHARE, `the other's tile takes ${(share * 100).toFixed(1)} % of the window, want at least ${MIN_SHARE * 100} %`);
    assert.deepEqual(
      await alice.evaluate(() => [...document.querySelectorAll(".site-header, .site-footer, .site-header nav")].filter((el) => el.getClientRects().length > 0).length),
      0,
      "the site's header, navigation and footer are not shown in the room",
    );
    assert.ok(selfShare < share, "one's own picture is smaller than the other's");
    assert.equal(
      await alice.evaluate(() => getComputedStyle(/** @type {Element} */ (document.querySelector("media-tile.tile-self video"))).transform),
      "matrix(-1, 0, 0, 1, 0, 0)",
      "one's own picture is mirrored",
    );
    if (process.env.WEBINAIRE_LAYOUT_SHOTS) await alice.screenshot({ path: path.join(process.env.WEBINAIRE_LAYOUT_SHOTS, `room-${size.name}.png`) });

    // the side panels: one at a time, the room still without scrolling
    await alice.click('meeting-room button[data-action="people"]');
    await alice.locator("meeting-room .people").waitFor();
    await alice.click('meeting-room button[data-action="chat"]');
    await alice.locator("chat-panel").waitFor();
    assert.ok(await alice.locator("meeting-room .people").isHidden(), "opening the chat closes the people's list");
    assert.equal(await alice.locator('meeting-room button[data-action="people"]').getAttribute("aria-expanded"), "false");
    await assertFits(alice, `${size.name} with the chat open`);
    if (process.env.WEBINAIRE_LAYOUT_SHOTS) await alice.screenshot({ path: path.join(process.env.WEBINAIRE_LAYOUT_SHOTS, `room-chat-${size.name}.png`) });
    assert.deepEqual(await axeViolations(alice), [], `${size.name}, chat open: axe`);
    await alice.click('meeting-room button[data-action="close-panel"]');
    await alice.locator("chat-panel").waitFor({ state: "hidden" });
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute("data-action")), "chat", "closing gives the focus back to the chat's button");
    assert.deepEqual(await axeViolations(alice), [], `${size.name}: axe`);
  });
}

test("on a phone, the buttons that do not fit are in a \"more\" menu used with the keyboard", async () => {
  assert.ok(alice, "Alice is in the room");
  await alice.setViewportSize({ width: 390, height: 844 });
  const more = alice.locator('meeting-room button[data-action="more"]');
  await more.waitFor();
  await assertFits(alice, "390x844 with the more menu");
  assert.ok(await alice.locator('meeting-room .toolbar button[data-action="polls"]').isHidden(), "the polls' button is in the menu");
  assert.equal(await more.getAttribute("aria-haspopup"), "menu");
  assert.equal(await more.getAttribute("aria-expanded"), "false");
  await more.focus();
  await alice.keyboard.press("Enter");
  assert.equal(await more.getAttribute("aria-expanded"), "true");
  const menu = alice.locator("meeting-room .more-wrap [role=menu]");
  const items = menu.locator("[role^=menuitem]");
  assert.ok((await items.count()) >= 2, "the menu holds the buttons out of the row");
  assert.match(String(await alice.evaluate(() => document.activeElement?.getAttribute("role"))), /^menuitem/, "the focus goes to the first entry");
  for (const b of await items.all()) {
    const box = await b.boundingBox();
    assert.ok(box && box.height >= 44 && box.y >= 0 && box.x >= 0 && box.x + box.width <= 390, `the entries are at least 44 px tall, in the window: ${JSON.stringify(box)}`);
  }
  assert.deepEqual(await axeViolations(alice), [], "the more menu open: axe");
  const first = await alice.evaluate(() => document.activeElement?.textContent);
  await alice.keyboard.press("ArrowDown");
  assert.notEqual(await alice.evaluate(() => document.activeElement?.textContent), first, "the arrows move between the entries");
  await alice.keyboard.press("Escape");
  assert.ok(await menu.isHidden(), "Escape closes the menu");
  assert.equal(await more.getAttribute("aria-expanded"), "false");
  assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute("data-action")), "more", "the focus is back on the menu's button");
  await more.click();
  await menu.getByRole("menuitemcheckbox", { name: "Sondages" }).click();
  await alice.locator("poll-panel").waitFor();
  await assertFits(alice, "390x844, polls open from the more menu");
  await alice.click('meeting-room button[data-action="close-panel"]');
  await alice.locator("poll-panel").waitFor({ state: "hidden" });
  assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute("data-action")), "more", "closing the panel gives the focus to the menu's button");
  await alice.setViewportSize({ width: 1280, height: 800 });
  await more.waitFor({ state: "hidden" });
});

test("unread messages show on the chat's button until the chat is opened", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  await bruno.click('meeting-room button[data-action="chat"]');
  await bruno.fill("chat-panel textarea", "Bonjour Alice");
  await bruno.click('chat-panel button[type="submit"]');
  const badge = alice.locator('meeting-room button[data-action="chat"] .tool-badge');
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  assert.match(String(await alice.locator('meeting-room button[data-action="chat"]').textContent()), /1 nouveau/, "the button's name says it");
  await alice.click('meeting-room button[data-action="chat"]');
  await badge.waitFor({ state: "hidden" });
});

test("one's own picture can be hidden and shown again", async () => {
  assert.ok(alice, "Alice is in the room");
  const toggle = alice.locator('meeting-room button[data-action="self-view"]');
  await toggle.click();
  assert.equal(await toggle.getAttribute("aria-pressed"), "true");
  await alice.locator("media-tile.tile-self").waitFor({ state: "hidden" });
  await toggle.click();
  await alice.locator("media-tile.tile-self").waitFor();
});
test("a tile goes full screen and back", async () => {
  assert.ok(alice && bruno, "both agents are in the room");
  const button = alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="fullscreen"]');
  await button.click();
  await alice.waitForFunction(() => document.fullscreenElement?.tagName === "MEDIA-TILE");
  // the button follows the fullscreenchange event, which comes after the change
  await alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="fullscreen"][aria-pressed="true"]').waitFor();
  await button.click();
  await alice.waitForFunction(() => document.fullscreenElement === null);
  await alice.locator("media-tile", { hasText: "Bruno Agent" }).locator('button[data-action="fullscreen"][aria-pressed="false"]').waitFor();
});

/**
 * The remote tiles page shows (the counting tile aside), how many tiles (one's own too) lie
 * outside the stage, whether one's own is one of the gallery's tiles, the number the counting tile says (0 when hidden), and how far the document scrolls.
 *
 * @param {import("playwright-core").Page} page
 */
function gallerySeen(page) {
  return page.evaluate(() => {
    const stage = /** @type {Element} */ (document.querySelector("meeting-room .tiles")).getBoundingClientRect();
    /** @param {string} selector */
    const boxes = (selector) => [...document.querySelectorAll(selector)].map((el) => el.getBoundingClientRect()).filter((r) => r.width > 0);
    const shown = boxes("meeting-room .tiles > media-tile");
    const outside = boxes("meeting-room .tiles > *").filter((r) => r.left < stage.left - 0.5 || r.top < stage.top - 0.5 || r.right > stage.right + 0.5 || r.bottom > stage.bottom + 0.5).length;
    const others = /** @type {HTMLElement} */ (document.querySelector("meeting-room .tile-others"));
    const doc = document.scrollingElement || document.documentElement;
    return {
      shown: shown.length,
      outside,
      others: others.hidden ? 0 : Number(/\d+/.exec(others.textContent || "")?.[0] || NaN),
      minWidth: Math.round(Math.min(...shown.map((r) => r.width))),
      scroll: Math.max(doc.scrollHeight - window.innerHeight, doc.scrollWidth - window.innerWidth),
      stage: `${Math.round(stage.width)}x${Math.round(stage.height)}`,
      selfInGrid: document.querySelector("meeting-room .tiles > .self-view media-tile") !== null,
    };
  });
}

test("a meeting of 12 with media: the gallery fits the window at every size, or counts the others", async (t) => {
  assert.ok(alice && bruno && link, "both agents are in the room");
  // what the live region says, update by update
  await alice.evaluate(() => {
    const region = /** @type {Element} */ (document.querySelector("meeting-room .room > [role=status][aria-live=polite]"));
    const said = /** @type {string[]} */ ([]);
    /** @type {any} */ (window).__said = said;
    new MutationObserver(() => {
      if (region.textContent) said.push(region.textContent);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  });
  // ten more participants: Pion publishers of the load generator
  const load = await loadPublishers(suite.base, link, 10);
  try {
    await until(async () => ((await alice.locator("meeting-room .tiles > media-tile").count()) === 11 ? true : null), "the 11 others' tiles").catch((err) => {
      throw new Error(`${err.message}\n${load.log()}`);
    });
    // their arrivals are said in a few updates of the live region, not one each
    const said = await until(async () => {
      const said = /** @type {string[]} */ (await alice.evaluate(() => /** @type {any} */ (window).__said));
      const joined = said.filter((s) => s.includes("rejoint la réunion"));
      const count = joined.reduce((n, s) => n + Number(/(\d+) personnes ont rejoint/.exec(s)?.[1] || (s.match(/load-pub-/g) || []).length), 0);
      return count >= 10 ? joined : null;
    }, "the ten arrivals to be said");
    t.diagnostic(`the arrivals said in ${said.length} updates: ${JSON.stringify(said)}`);
    assert.ok(said.length <= 3, `ten arrivals are said in at most three updates: ${JSON.stringify(said)}`);
    // no side panel open, and back to the gallery if speaker view was chosen before
    const close = alice.locator('meeting-room button[data-action="close-panel"]');
    if (await close.isVisible()) await close.click();
    const view = alice.locator('meeting-room button[data-action="view"]');
    if ((await view.getAttribute("aria-pressed")) === "true") await view.click();
    for (const size of SIZES) {
      await alice.setViewportSize({ width: size.width, height: size.height });
      await settled(alice);
      const got = await gallerySeen(alice);
      const what = `${size.name}, 12 in the meeting`;
      t.diagnostic(`${what}: stage ${got.stage}, ${got.shown} tiles shown, at least ${got.minWidth} px wide${got.others ? `, and "${got.others} others"` : ""}`);
      assert.equal((await tiles(alice)).layout, "gallery", `${what}: the gallery`);
      assert.equal(got.outside, 0, `${what}: no tile outside the stage`);
      assert.equal(got.scroll, 0, `${what}: the room does not scroll`);
      assert.equal(got.shown + got.others, 11, `${what}: each other participant has a tile or is counted: ${JSON.stringify(got)}`);
      assert.ok(got.minWidth >= 160, `${what}: no tile narrower than 160 px`);
      assert.ok(got.selfInGrid, `${what}: one's own picture is a tile of the gallery, over none of the others`);
      await assertFits(alice, what);
      if (got.others > 0) {
        await alice.click("meeting-room .tile-others");
        await alice.locator("meeting-room .people").waitFor();
        assert.equal(await alice.locator("meeting-room .people .person").count(), 12, `${what}: the counting tile opens the list of everyone`);
        await alice.click('meeting-room button[data-action="close-panel"]');
      }
      if (process.env.WEBINAIRE_LAYOUT_SHOTS) await alice.screenshot({ path: path.join(process.env.WEBINAIRE_LAYOUT_SHOTS, `room-12-${size.name}.png`) });
    }
  } finally {
    await load.stop();
  }
  await alice.locator("meeting-room .tiles > media-tile").nth(1).waitFor({ state: "detached" });
  await alice.setViewportSize({ width: 1280, height: 800 });
});

/**
 * Turns page's microphone on or off with its button.
 *
 * @param {import("playwright-core").Page} page
 * @param {boolean} on
 */
async function microphone(page, on) {
  const button = page.locator('meeting-room button[data-action="mic"]');
  if ((await button.getAttribute("aria-pressed")) === String(on)) await button.click();
  await page.locator(`meeting-room button[data-action="mic"][aria-pressed="${!on}"]`).waitFor();
}

/**
 * Waits until the large tile of page's speaker view is the one of name.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
async function mainIs(page, name) {
  await page.locator("media-tile.tile-main", { has: page.locator(".tile-name", { hasText: new RegExp(`^${name}$`) }) }).waitFor();
}

test("speaker view follows the active speaker", async () => {
  assert.ok(alice && bruno && link, "both agents are in the room");
  // two who speak: their fake microphones play a steady tone; the others' are off
  const soundDir = mkdtempSync(path.join(tmpdir(), "webinaire-sound-"));
  const audioFile = path.join(soundDir, "tone.wav");
  writeToneWAV(audioFile);
  const speaking = await launchBrowser({ audioFile });
  try {
    const dora = await (await newContext(speaking, suite.base, suite.requests, "dora")).newPage();
    const elie = await (await newContext(speaking, suite.base, suite.requests, "elie")).newPage();
    await microphone(alice, false);
    await microphone(bruno, false);
    await enterAsAgent(dora, link, "Dora Agent");
    await microphone(dora, false);
    await enterAsAgent(elie, link, "Elie Agent");
    await alice.locator("media-tile", { hasText: "Elie Agent" }).waitFor();
    const view = alice.locator('meeting-room button[data-action="view"]');
    if ((await view.getAttribute("aria-pressed")) !== "true") await view.click();

    await mainIs(alice, "Elie Agent");
    assert.ok(await alice.locator("media-tile.tile-main.tile-speaking").isVisible(), "the large tile is the one speaking");
    await microphone(elie, false);
    await microphone(dora, true);
    await mainIs(alice, "Dora Agent");
    // silence keeps the last speaker large
    await microphone(dora, false);
    assert.equal((await tiles(alice)).layout, "speaker");
    await mainIs(alice, "Dora Agent");
    await microphone(elie, true);
    await mainIs(alice, "Elie Agent");
    await assertFits(alice, "speaker view of four");

    for (const page of [dora, elie]) {
      await page.click('meeting-room button[data-action="leave"]');
      await page.close();
    }
    await alice.locator("media-tile", { hasText: "Dora Agent" }).waitFor({ state: "detached" });
    await alice.locator("media-tile", { hasText: "Elie Agent" }).waitFor({ state: "detached" });
    await microphone(alice, true);
    await microphone(bruno, true);
  } finally {
    await speaking.close();
    rmSync(soundDir, { recursive: true, force: true });
  }
});

/**
 * Puts page in the gallery, if speaker view was chosen.
 *
 * @param {import("playwright-core").Page} page
 */
async function chooseGallery(page) {
  const view = page.locator('meeting-room button[data-action="view"]');
  if ((await view.getAttribute("aria-pressed")) === "true") await view.click();
}

test("a moderator's spotlight shows one participant large on everyone's screen", async () => {
  assert.ok(alice && bruno && meetingId, "both agents are in the room");
  camille = await suite.page("camille");
  await loginOrganizer(camille, "dev-camille-martin");
  await camille.goto(`/room/${meetingId}`);
  await camille.click("#enter");
  await camille.waitForSelector('meeting-room[data-state="connected"]');
  for (const page of [alice, bruno, camille]) await page.locator("meeting-room .tiles > media-tile").nth(1).waitFor();
  await chooseGallery(alice);
  await chooseGallery(bruno);
  assert.equal((await tiles(alice)).layout, "gallery");

  const spotlight = async (/** @type {string} */ what) => {
    await camille.click('meeting-room button[data-action="people"]');
    const person = camille.locator("meeting-room .people-list .person", { has: camille.locator(".person-name", { hasText: "Bruno Agent" }) });
    await person.locator('button[data-action="person-menu"]').click();
    await person.getByRole("menuitem", { name: what }).click();
    await camille.click('meeting-room button[data-action="close-panel"]');
  };
  await spotlight("Mettre Bruno Agent en avant pour tous");
  await mainIs(alice, "Bruno Agent");
  assert.equal((await tiles(alice)).layout, "speaker", "Alice sees Bruno large");
  await mainIs(camille, "Bruno Agent");
  await alice.locator("meeting-room .room > .visually-hidden[role=status]", { hasText: "Bruno Agent est mis en avant pour tous." }).waitFor();
  await bruno.locator("meeting-room .room > .visually-hidden[role=status]", { hasText: "Un modérateur vous met en avant pour tous." }).waitFor();
  assert.equal((await tiles(bruno)).layout, "gallery", "Bruno's own screen shows the others");
  // the spotlight is over one's own pin
  await alice.locator("media-tile", { hasText: "Camille" }).locator('button[data-action="pin"]').click();
  await mainIs(alice, "Bruno Agent");
  await alice.locator("media-tile", { hasText: "Camille" }).locator('button[data-action="pin"]').click();
  await assertFits(alice, "spotlight");

  await spotlight("Ne plus mettre Bruno Agent en avant");
  await alice.locator("meeting-room .room > .visually-hidden[role=status]", { hasText: "La mise en avant est terminée." }).waitFor();
  assert.equal((await tiles(alice)).layout, "gallery", "the end of the spotlight brings Alice's gallery back");
  assert.deepEqual(await axeViolations(camille), [], "the moderator's room: axe");
});

test("an open poll shows on the polls' button until one answers it", async () => {
  assert.ok(alice && camille, "Alice and the moderator are in the room");
  await camille.click('meeting-room button[data-action="polls"]');
  const creator = camille.locator("poll-panel form.poll-create");
  await creator.locator('input[name="question"]').fill("Quelle mise en page ?");
  const options = creator.locator('input[name="option"]');
  await options.nth(0).fill("Mosaïque");
  await options.nth(1).fill("Intervenant");
  await creator.locator('button[type="submit"]').click();
  await camille.locator('poll-panel article.poll[data-state="draft"] button[data-poll-action="poll_open"]').click();
  const button = alice.locator('meeting-room button[data-action="polls"]');
  const badge = button.locator(".tool-badge");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  assert.match(String(await button.textContent()), /1 en attente de votre réponse/, "the button's name says it");
  await button.click();
  const ballot = alice.locator('poll-panel article.poll[data-state="open"]');
  await ballot.getByLabel("Mosaïque").check();
  await ballot.locator('button[type="submit"]').click();
  await badge.waitFor({ state: "hidden" });
  await alice.click('meeting-room button[data-action="close-panel"]');
  await camille.click('meeting-room button[data-action="close-panel"]');
  await camille.click('meeting-room button[data-action="leave"]');
  await camille.close();
  await alice.locator("meeting-room .tiles > media-tile").nth(1).waitFor({ state: "detached" });
});

test("keyboard shortcuts, listed in a dialog opened with ?, can be turned off", async () => {
  assert.ok(alice, "Alice is in the room");
  const mic = alice.locator('meeting-room button[data-action="mic"]');
  const before = await mic.getAttribute("aria-pressed");
  await alice.locator("meeting-room .room-title").focus();
  await alice.keyboard.press("m");
  assert.notEqual(await mic.getAttribute("aria-pressed"), before, "M turns the microphone off or on");
  await alice.keyboard.press("m");
  assert.equal(await mic.getAttribute("aria-pressed"), before);
  await alice.keyboard.press("c");
  await alice.locator("chat-panel").waitFor();
  await alice.keyboard.type("mhc");
  assert.equal(await alice.locator("chat-panel textarea").inputValue(), "mhc", "keys typed in a field are text, not shortcuts");
  assert.equal(await mic.getAttribute("aria-pressed"), before);
  await alice.locator("chat-panel textarea").fill("");
  await alice.click('meeting-room button[data-action="close-panel"]');

  await alice.keyboard.press("?");
  const dialog = alice.getByRole("dialog", { name: "Raccourcis clavier" });
  await dialog.waitFor();
  for (const what of ["Couper ou rétablir le micro", "Lever ou baisser la main", "Ouvrir ou fermer la discussion", "Afficher cette liste"]) {
    assert.ok(await dialog.getByText(what).isVisible(), `the dialog lists "${what}"`);
  }
  assert.deepEqual(await axeViolations(alice), [], "the shortcuts' dialog: axe");
  await dialog.getByLabel("Raccourcis d’une seule touche").uncheck();
  await alice.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await alice.locator("meeting-room .room-title").focus();
  await alice.keyboard.press("m");
  assert.equal(await mic.getAttribute("aria-pressed"), before, "turned off, M does nothing");
  await alice.locator('meeting-room button[data-action="shortcuts"]').click();
  await dialog.getByLabel("Raccourcis d’une seule touche").check();
  await dialog.getByRole("button", { name: "Fermer" }).click();
  await dialog.waitFor({ state: "hidden" });
});

test("at 200 % zoom the room still fits, and axe finds nothing serious in any layout", async () => {
  assert.ok(alice && bruno && link, "both agents are in the room");
  // 200 % of a 1280x800 window: the page lays out in 640x400 CSS pixels
  await alice.setViewportSize({ width: 640, height: 400 });
  await settled(alice);
  await assertFits(alice, "200 %, two in the meeting");
  assert.deepEqual(await axeViolations(alice), [], "200 %, two: axe");
  carla = await suite.page("carla");
  await enterAsAgent(carla, link, "Carla Agent");
  await alice.locator("media-tile", { hasText: "Carla Agent" }).waitFor();
  await chooseGallery(alice);
  await settled(alice);
  await assertFits(alice, "200 %, gallery of three");
  assert.deepEqual(await axeViolations(alice), [], "200 %, gallery: axe");
  await alice.locator("media-tile", { hasText: "Carla Agent" }).locator('button[data-action="pin"]').click();
  assert.equal((await tiles(alice)).layout, "speaker");
  await assertFits(alice, "200 %, speaker view");
  assert.deepEqual(await axeViolations(alice), [], "200 %, speaker view: axe");
  await alice.locator("media-tile", { hasText: "Carla Agent" }).locator('button[data-action="pin"]').click();
  for (const panel of ["chat", "people"]) {
    await alice.keyboard.press(panel[0]);
    await assertFits(alice, `200 %, ${panel} open`);
    assert.deepEqual(await axeViolations(alice), [], `200 %, ${panel} open: axe`);
    await alice.click('meeting-room button[data-action="close-panel"]');
  }
  await carla.click('meeting-room button[data-action="leave"]');
  await alice.locator("media-tile", { hasText: "Carla Agent" }).waitFor({ state: "detached" });
  await alice.setViewportSize({ width: 1280, height: 800 });
});

test("the room keeps the screen awake where the browser allows it", async (t) => {
  assert.ok(alice, "Alice is in the room");
  const got = await alice.evaluate(() => ({ api: "wakeLock" in navigator, state: /** @type {HTMLElement} */ (document.querySelector("meeting-room")).dataset.wakeLock }));
  t.diagnostic(`Wake Lock: ${got.api ? `asked, ${got.state}` : "not in this browser"}`);
  if (got.api) assert.match(String(got.state), /^(held|refused)$/, "the room asked for the screen to stay awake");
});

test("12 tiles, and 60, stay within the stage at every size, in the gallery and in speaker view", async (t) => {
  assert.ok(alice, "Alice is in the room");
  for (const size of SIZES) {
    await alice.setViewportSize({ width: size.width, height: size.height });
    await alice.waitForTimeout(200);
    for (const [count, view] of /** @type {const} */ ([[12, "gallery"], [60, "gallery"], [12, "speaker"], [60, "speaker"]])) {
      // tiles without media, made and measured in one go, before the room renders again
      const got = await alice.evaluate(([count, view]) => {
        const room = /** @type {any} */ (document.querySelector("meeting-room"));
        room.view = view;
        const made = [];
        for (let i = room.remote.size; i < count; i++) {
          const tile = room.tileFor(`layout-test-${i}`, new Set());
          tile.show({ name: `Personne ${i}`, tracks: [], muted: {}, local: false, screen: false });
          made.push(`layout-test-${i}`);
        }
        room.arrange();
        const stage = room.stage.getBoundingClientRect();
        const shown = [...room.tiles.children].filter((el) => el !== room.selfView && el.getBoundingClientRect().width > 0);
        const outside = shown.filter((el) => {
          const r = el.getBoundingClientRect();
          return r.left < stage.left - 0.5 || r.top < stage.top - 0.5 || r.right > stage.right + 0.5 || r.bottom > stage.bottom + 0.5;
        }).length;
        const others = room.othersTile.hidden ? "" : room.othersTile.textContent;
        const width = Math.min(...shown.map((el) => el.getBoundingClientRect().width));
        for (const key of made) {
          room.remote.get(key).remove();
          room.remote.delete(key);
        }
        room.arrange();
        const doc = document.scrollingElement || document.documentElement;
        return { shown: shown.length, outside, others, width: Math.round(width), scroll: doc.scrollHeight - window.innerHeight };
      }, [count, view]);
      const what = `${size.name}, ${count} tiles, ${view}`;
      t.diagnostic(`${what}: ${got.shown} shown, ${got.width} px wide at least${got.others ? `, then "${got.others}"` : ""}`);
      assert.equal(got.outside, 0, `${what}: no tile outside the stage`);
      assert.equal(got.scroll, 0, `${what}: no scrolling`);
      if (got.others === "") assert.equal(got.shown, count, `${what}: all shown, or the others counted`);
      else assert.match(got.others, /^\d+ autres$/);
    }
  }
});
