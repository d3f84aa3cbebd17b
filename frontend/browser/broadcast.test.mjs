// Live broadcast from the pages: the organizer gives the webinar an RTMP target on the
// dashboard (the key is not shown again), goes live from his room, a participant sees the
// indicator, and an RTMP server on loopback (ffmpeg) receives H.264 and AAC until he
// stops; once nothing listens there, going live says why. No page may ask anything of
// another origin.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { Suite, axeViolations, createAttendeeLink, enterAsAgent, loginOrganizer, scheduleMeeting, until } from "./harness.mjs";

const suite = new Suite();

/** @returns {Promise<number>} a loopback port nobody listens on now */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

test("the organizer broadcasts his room to an RTMP server", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "webinaire-rtmp-"));
  const out = path.join(dir, "received.flv");
  const port = await freePort();
  const key = "peertube-live-key-3f5c";
  const rtmp = spawn("ffmpeg", ["-v", "error", "-y", "-listen", "1", "-i", `rtmp://127.0.0.1:${port}/live/${key}`, "-c", "copy", out], { stdio: "ignore" });
  const ended = new Promise((resolve) => rtmp.once("exit", resolve));
  try {
    const organizer = await suite.page("organizer");
    await loginOrganizer(organizer, "dev-camille-martin");
    const id = await scheduleMeeting(organizer, "Broadcast from the room");
    const { shown } = await createAttendeeLink(organizer, id);

    // The target, on the dashboard.
    const item = organizer.locator(`li.webinar[data-webinar-id="${id}"]`);
    await item.locator('button[data-action="broadcast"]').click();
    const panel = item.locator("section.broadcast");
    await panel.locator(".cast-state", { hasText: "Pas encore de destination" }).waitFor();
    await panel.locator("input[name=url]").fill("http://wrong.example/live");
    await panel.locator("input[name=key]").fill(key);
    await panel.locator(".cast-form button[type=submit]").click();
    await panel.locator(".panel-message", { hasText: "rtmp://" }).waitFor();
    await panel.locator("input[name=url]").fill(`rtmp://127.0.0.1:${port}/live`);
    await panel.locator(".cast-form button[type=submit]").click();
    await panel.locator(".panel-message", { hasText: "ne sera plus affichée" }).waitFor();
    assert.equal(await panel.locator("input[name=key]").inputValue(), "", "the key is not shown again");
    assert.match((await panel.locator(".cast-state").textContent()) || "", /rtmp:\/\/127\.0\.0\.1/);
    assert.doesNotMatch(await organizer.content(), new RegExp(key), "nor anywhere in the page");
    assert.deepEqual(await axeViolations(organizer), []);

    // Live from the room.
    await organizer.goto(`/room/${id}`);
    await organizer.click("#enter");
    await organizer.waitForSelector('meeting-room[data-state="connected"]');
    const participant = await suite.page("participant");
    await enterAsAgent(participant, shown, "Alex Participant");
    assert.equal(await participant.locator(".room-broadcast").isVisible(), false, "no indicator before the broadcast");
    await organizer.click('meeting-room button[data-action="people"]');
    const live = organizer.locator('button[data-action="broadcast"]');
    assert.equal((await live.textContent())?.trim(), "Diffuser en direct");
    await live.click();
    await participant.waitForSelector('meeting-room[data-broadcasting="true"] .room-broadcast:not([hidden])');
    assert.equal(await participant.locator(".room-broadcast").getAttribute("aria-label"), "Cette session est diffusée en direct");
    await organizer.locator('button[data-action="broadcast"]', { hasText: "Arrêter la diffusion" }).waitFor();
    // The server receives the stream: a few seconds of it.
    await until(async () => {
      try {
        return statSync(out).size > 200_000 ? true : null;
      } catch {
        return null;
      }
    }, "the RTMP server to receive the broadcast");
    await live.click();
    await participant.waitForSelector('meeting-room[data-broadcasting="false"]');
    assert.equal(await participant.locator(".room-broadcast").isVisible(), false);
    await ended;

    // Nothing listens any more: the organizer is told why, in his language; the meeting
    // goes on, and he stops.
    await live.click();
    await organizer.locator(".record-message", { hasText: "rien n’écoute à cette adresse" }).waitFor();
    assert.equal(await participant.locator('meeting-room[data-state="connected"]').count(), 1);
    await live.click();
    await participant.waitForSelector('meeting-room[data-broadcasting="false"]');

    const probe = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", out], { encoding: "utf8" }));
    const codecs = probe.streams.map((/** @type {{codec_name: string}} */ s) => s.codec_name).sort();
    assert.deepEqual(codecs, ["aac", "h264"]);
    const video = probe.streams.find((/** @type {{codec_name: string}} */ s) => s.codec_name === "h264");
    assert.deepEqual([video.width, video.height], [1280, 720]);
  } finally {
    rtmp.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
