// Recording from the pages: the organizer schedules a meeting that allows recording, opens
// his room and clicks Record; a participant in another browser sees the indicator. After
// Stop, the dashboard lists the recording with its expiry date, plays it, shares it with a
// public link that plays for someone else, revokes the link and deletes the recording.
// No page may ask anything of another origin.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite, axeViolations, createAttendeeLink, enterAsAgent, loginOrganizer, playVideo, scheduleMeeting } from "./harness.mjs";

const suite = new Suite();

test("the organizer records from his room and manages the recording on the dashboard", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  await organizer.setChecked("#f-recording", true);
  const id = await scheduleMeeting(organizer, "Recorded from the room");
  const { shown } = await createAttendeeLink(organizer, id);

  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');
  const participant = await suite.page("participant");
  await enterAsAgent(participant, shown, "Alex Participant");
  assert.equal(await participant.locator(".room-recording").isVisible(), false, "no indicator before the recording");

  // the moderators' controls are at the top of the list of participants
  await organizer.click('meeting-room button[data-action="people"]');
  const record = organizer.locator('button[data-action="record"]');
  assert.equal((await record.textContent())?.trim(), "Enregistrer");
  await record.click();
  await participant.waitForSelector('meeting-room[data-recording="true"] .room-recording:not([hidden])');
  assert.equal(await participant.locator(".room-recording").getAttribute("aria-label"), "Cette session est en cours d’enregistrement");
  await participant.waitForFunction(() =>
    [...document.querySelectorAll("meeting-room .visually-hidden[role=status]")].some((el) => /enregistrement a commencé/i.test(el.textContent || "")),
  );
  await organizer.locator('button[data-action="record"]', { hasText: "Arrêter l’enregistrement" }).waitFor();
  await organizer.waitForTimeout(4000); // a few seconds of the fake camera, recorded
  await record.click();
  await participant.waitForSelector('meeting-room[data-recording="false"]');
  assert.equal(await participant.locator(".room-recording").isVisible(), false);
  await participant.close();

  await organizer.goto("/dashboard");
  await organizer.waitForSelector("#content:not([hidden])");
  const item = organizer.locator(`li.webinar[data-webinar-id="${id}"]`);
  await item.locator('button[data-action="recordings"]').click();
  const rec = item.locator('li.recording[data-state="ready"]');
  await rec.waitFor();
  const expiry = (await rec.locator(".recording-expiry").textContent()) || "";
  assert.match(expiry, /2031/, `the expiry date is shown, got ${expiry}`);
  const duration = await playVideo(organizer, `li.webinar[data-webinar-id="${id}"] video.recording-player`);
  assert.ok(duration > 2, `the recording lasts about as long as it was recorded, got ${duration}`);
  assert.deepEqual(await axeViolations(organizer), []);

  // A public share link, played by someone without an account.
  await rec.locator("select[name=audience]").selectOption("public");
  await rec.locator("input[name=expires_in_days]").fill("3");
  await rec.locator(".share-form button[type=submit]").click();
  const linkInput = rec.locator(".share-list copy-link input");
  await linkInput.waitFor();
  const url = await linkInput.inputValue();
  assert.match(url, /\/replay\/[a-z2-7]{32}$/);
  const watcher = await suite.page("watcher");
  await watcher.goto(url);
  await watcher.waitForSelector("#replay:not([hidden])");
  assert.ok((await playVideo(watcher, "#player")) > 2);

  // Revoked, the link no longer plays.
  organizer.once("dialog", (d) => d.accept());
  await rec.locator('button[data-action="revoke-link"]').click();
  await rec.locator(".share-list li.revoked").waitFor();
  await watcher.reload();
  await watcher.waitForSelector("#invitation-form:not([hidden]), #ended:not([hidden])");

  // Deleted, the list is empty.
  organizer.once("dialog", (d) => d.accept());
  await rec.locator('button[data-action="delete-recording"]').click();
  await item.locator(".recording-list li.empty").waitFor();
  assert.equal(await item.locator("li.recording").count(), 0);
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
