// Revoking an invitation link from the dashboard: the organizer asks that those who entered
// with it leave the room too; the agent in the room is told so, and the link no longer
// opens the room. No page may ask anything of another origin.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite, axeViolations, createAttendeeLink, enterAsAgent, loginOrganizer, scheduleMeeting } from "./harness.mjs";

const suite = new Suite();

test("revoking a link can remove from the room those who entered with it", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, "Revoked link");
  const { shown } = await createAttendeeLink(organizer, id);

  const agent = await suite.page("agent");
  await enterAsAgent(agent, shown, "Alex Participant");

  const item = organizer.locator(`li.webinar[data-webinar-id="${id}"] li.invitation:not(.revoked)`).first();
  const remove = item.locator("input.remove-invitees");
  assert.equal(await remove.isChecked(), false, "those in the room stay unless the organizer asks");
  await remove.check();
  organizer.once("dialog", (dialog) => {
    assert.match(dialog.message(), /retirer de la salle/i, `the question says it, got ${dialog.message()}`);
    void dialog.accept();
  });
  await item.locator("button.danger").click();
  await organizer.locator(`li.webinar[data-webinar-id="${id}"] li.invitation.revoked`).waitFor();
  const said = (await organizer.locator(`li.webinar[data-webinar-id="${id}"] .panel-message`).textContent()) || "";
  assert.match(said, /: 1\./, `the dashboard says how many left the room, got ${said}`);
  assert.deepEqual(await axeViolations(organizer), []);

  await agent.waitForSelector('meeting-room[data-state="closed"]');
  const ended = (await agent.locator("meeting-room").textContent()) || "";
  assert.match(ended, /modérateur vous a retiré/i, `the agent is told, got ${ended}`);

  // The link opens nothing any more.
  const again = await suite.page("again");
  await again.goto(shown);
  await again.waitForSelector("#invalid:not([hidden])");
  assert.equal(await again.locator("#enter").isVisible(), false, "no way in through a revoked link");
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
