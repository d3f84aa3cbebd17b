// A recording shared by its organizer, watched in the browser: the organizer opens his
// room, records a few seconds through the API, checks the replay with ffprobe, makes a
// public share link, and someone
// without any account opens it and plays the replay. No page may ask anything of another
// origin; the watcher gets no cookie.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { Suite, axeViolations, callAPI as call, loginOrganizer, playVideo, readyRecording, scheduleMeeting } from "./harness.mjs";

const suite = new Suite();

test("a shared recording plays for someone without an account", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  await organizer.setChecked("#f-recording", true);
  const id = await scheduleMeeting(organizer, "Recorded meeting");
  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');

  const started = await call(organizer, "POST", `/api/v1/webinars/${id}/recording`);
  assert.equal(started.status, 201, JSON.stringify(started.json));
  await organizer.waitForTimeout(4000); // a few seconds of the fake camera, recorded
  const stopped = await call(organizer, "DELETE", `/api/v1/webinars/${id}/recording`);
  assert.equal(stopped.status, 202);
  const rec = await readyRecording(organizer, id);
  assert.deepEqual(rec.files, ["replay.webm"]);

  // ffprobe reads what Chromium's camera and microphone became: a VP8 video and an Opus
  // audio of about the time recorded.
  const bytes = await organizer.evaluate(async (url) => {
    const res = await fetch(url);
    return Array.from(new Uint8Array(await res.arrayBuffer()));
  }, `/api/v1/recordings/${rec.id}/files/replay.webm`);
  const dir = mkdtempSync(path.join(tmpdir(), "replay-"));
  try {
    const file = path.join(dir, "replay.webm");
    writeFileSync(file, Buffer.from(bytes));
    const probe = JSON.parse(
      execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "json", file], { encoding: "utf8" }),
    );
    assert.deepEqual(probe.streams.map((/** @type {{codec_name: string}} */ s) => s.codec_name).sort(), ["opus", "vp8"]);
    const seconds = Number(probe.format.duration);
    assert.ok(seconds > 2 && seconds < 30, `the replay lasts about the recorded time, got ${seconds} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const link = await call(organizer, "POST", `/api/v1/recordings/${rec.id}/links`, { audience: "public", expires_in_days: 7 });
  assert.equal(link.status, 201);

  const watcher = await suite.page("watcher");
  await watcher.goto(link.json.url);
  await watcher.waitForSelector("#replay:not([hidden])");
  assert.equal(await watcher.textContent("#replay-title"), "Recorded meeting");
  const duration = await playVideo(watcher, "#player");
  assert.ok(Number(duration) > 2, `the replay lasts about as long as the recording, got ${duration}`);
  assert.deepEqual(await axeViolations(watcher), []);
  assert.deepEqual(await watcher.context().cookies(), [], "the watcher gets no cookie");

  // Revoked: the page says the link has ended.
  const revoked = await call(organizer, "DELETE", `/api/v1/recordings/${rec.id}/links/${link.json.id}`);
  assert.equal(revoked.status, 200);
  await watcher.reload();
  await watcher.waitForSelector("#invitation-form:not([hidden]), #ended:not([hidden])");
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
