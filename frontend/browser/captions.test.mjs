// Live captions in real browsers: the organizer records a meeting, a captioner enters with
// a link of its own and types a line in French and one in English; an attendee who turned
// subtitles on sees them over the videos, in a polite live region, and in the history
// panel. The replay holds them as a WebVTT track that ffprobe sees, and as captions.vtt,
// which the dashboard's player shows with <track>. No page may ask anything of another
// origin.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { Suite, axeViolations, callAPI, createAttendeeLink, enterAsAgent, loginOrganizer, readyRecording, scheduleMeeting, until } from "./harness.mjs";

const suite = new Suite();

/**
 * Types a caption in the captioner's panel, in lang, and sends it with Enter.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} text
 * @param {"fr" | "en"} lang
 */
async function typeCaption(page, text, lang) {
  await page.selectOption("caption-panel select.caption-lang", lang);
  await page.fill("caption-panel input.caption-text", text);
  await page.press("caption-panel input.caption-text", "Enter");
}

test("a captioner's lines reach an attendee and the replay's WebVTT track", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  await organizer.setChecked("#f-recording", true);
  const id = await scheduleMeeting(organizer, "Captioned meeting");
  const attendeeLink = (await createAttendeeLink(organizer, id)).shown;
  const captionerLink = (await createAttendeeLink(organizer, id, "captioner")).shown;
  assert.notEqual(attendeeLink, captionerLink);

  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');
  const started = await callAPI(organizer, "POST", `/api/v1/webinars/${id}/recording`);
  assert.equal(started.status, 201, JSON.stringify(started.json));

  const attendee = await suite.page("attendee");
  await enterAsAgent(attendee, attendeeLink, "Alex Participant");
  // subtitles are off until turned on; the button may be in the "more" menu
  assert.equal(await attendee.locator(".caption-line").isVisible(), false);
  await attendee.evaluate(() => /** @type {HTMLButtonElement} */ (document.querySelector('button[data-action="subtitles"]')).click());
  assert.equal(await attendee.getAttribute('button[data-action="subtitles"]', "aria-pressed"), "true");

  const captioner = await suite.page("captioner");
  await enterAsAgent(captioner, captionerLink, "Claire Sous-titreuse");
  // a captioner publishes nothing, and its panel opens to type in
  await captioner.waitForSelector("caption-panel:not([hidden]) form.caption-form:not([hidden])");
  assert.equal(await captioner.evaluate(() => /** @type {any} */ (document.querySelector("meeting-room")).client.local.size), 0);
  assert.equal(await attendee.locator("caption-panel form.caption-form").isVisible(), false, "an attendee has no field to type captions");

  await typeCaption(captioner, "Bonjour à tous, la séance commence", "fr");
  const line = attendee.locator('.caption-line[aria-live="polite"]');
  await line.filter({ hasText: "Bonjour à tous, la séance commence" }).waitFor();
  assert.equal(await line.getAttribute("lang"), "fr");
  await organizer.waitForTimeout(1500); // the next line comes a little later, as speech does
  await typeCaption(captioner, "Welcome to our guests", "en");
  await line.filter({ hasText: "Welcome to our guests" }).waitFor();
  assert.equal(await line.getAttribute("lang"), "en");

  // the history panel has both, each in its language
  await attendee.evaluate(() => /** @type {HTMLButtonElement} */ (document.querySelector('button[data-action="captions"]')).click());
  const items = attendee.locator("caption-panel .caption-item");
  await until(async () => (await items.count()) === 2, "the history holds both lines");
  assert.equal(await items.nth(0).getAttribute("lang"), "fr");
  assert.equal(await items.nth(1).getAttribute("lang"), "en");
  assert.deepEqual(await axeViolations(attendee), []);

  await organizer.waitForTimeout(1500);
  const stopped = await callAPI(organizer, "DELETE", `/api/v1/webinars/${id}/recording`);
  assert.equal(stopped.status, 202);
  const rec = await readyRecording(organizer, id);
  assert.deepEqual(rec.files, ["replay.webm", "captions.vtt"]);

  /** @param {string} file */
  const fetchFile = (file) =>
    organizer.evaluate(async (url) => {
      const res = await fetch(url);
      return { type: res.headers.get("Content-Type"), bytes: Array.from(new Uint8Array(await res.arrayBuffer())) };
    }, `/api/v1/recordings/${rec.id}/files/${file}`);
  const replay = await fetchFile("replay.webm");
  const vtt = await fetchFile("captions.vtt");
  assert.equal(vtt.type, "text/vtt; charset=utf-8");
  const vttText = Buffer.from(vtt.bytes).toString("utf8");
  assert.match(vttText, /^WEBVTT\n/);
  assert.match(vttText, /<lang fr>Bonjour à tous, la séance commence<\/lang>/);
  assert.match(vttText, /<lang en>Welcome to our guests<\/lang>/);
  const dir = mkdtempSync(path.join(tmpdir(), "captions-"));
  try {
    const file = path.join(dir, "replay.webm");
    writeFileSync(file, Buffer.from(replay.bytes));
    const probe = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", file], { encoding: "utf8" }));
    const streams = probe.streams.map((/** @type {{codec_type: string, codec_name: string}} */ s) => `${s.codec_type}:${s.codec_name}`).sort();
    assert.ok(streams.includes("subtitle:webvtt"), `ffprobe sees the captions track, got ${streams}`);
    const track = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-map", "0:s", "-c:s", "copy", "-f", "webvtt", "-"], { encoding: "utf8" });
    assert.match(track, /Bonjour à tous, la séance commence/);
    assert.match(track, /Welcome to our guests/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // the dashboard's player shows them
  await organizer.goto("/dashboard");
  await organizer.waitForSelector("#content:not([hidden])");
  const item = organizer.locator(`li.webinar[data-webinar-id="${id}"]`);
  await item.locator('button[data-action="recordings"]').click();
  const trackEl = item.locator('li.recording[data-state="ready"] video.recording-player track[kind="captions"]');
  await trackEl.waitFor({ state: "attached" });
  assert.match((await trackEl.getAttribute("src")) || "", /\/files\/captions\.vtt$/);
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
