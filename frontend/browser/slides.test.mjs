// Presenting a PDF in real browsers: the organizer (a moderator) presents a three-page PDF
// from his room; an attendee sees the first page rendered by pdf.js, served by Webinaire,
// and follows the presenter's page turns, by keyboard and by button, and its pointer. A file that is not a
// PDF gets a clear error; the attendee has no button to present. No page may ask anything
// of another origin. Recorded, the replay shows the pages as the presenter showed them, in
// step with the video.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite, axeViolations, callAPI, createAttendeeLink, enterAsAgent, loginOrganizer, readyRecording, scheduleMeeting } from "./harness.mjs";

const suite = new Suite();

/**
 * A valid PDF of n pages, each saying its number.
 *
 * @param {number} n
 * @returns {Buffer}
 */
export function pdfOfPages(n) {
  /** @type {string[]} */
  const objects = [];
  const kids = Array.from({ length: n }, (_, i) => `${3 + 2 * i} 0 R`).join(" ");
  objects.push("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${n} >>`);
  for (let i = 0; i < n; i++) {
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Contents ${4 + 2 * i} 0 R /Resources << /Font << /F1 ${3 + 2 * n} 0 R >> >> >>`);
    const text = `BT /F1 48 Tf 100 130 Td (Page ${i + 1}) Tj ET`;
    objects.push(`<< /Length ${text.length} >>\nstream\n${text}\nendstream`);
  }
  objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  let out = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const at of offsets) out += `${String(at).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

test("a presenter's page turns reach the others", async () => {
  const organizer = await suite.page("organizer");
  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, "Slides", "webinar");
  const { shown } = await createAttendeeLink(organizer, id);
  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');
  const attendee = await suite.page("attendee");
  await enterAsAgent(attendee, shown, "Alex Participant");
  assert.equal(await attendee.locator('button[data-action="present"]').isHidden(), true, "an attendee has no button to present");

  // not a PDF: refused, said
  const input = organizer.locator('input[data-action="slides-file"]');
  await input.setInputFiles({ name: "notes.pdf", mimeType: "application/pdf", buffer: Buffer.from("GIF89a not a PDF") });
  await organizer.locator(".room-alert", { hasText: "n’est pas un PDF" }).waitFor();

  await input.setInputFiles({ name: "deck.pdf", mimeType: "application/pdf", buffer: pdfOfPages(3) });
  const seen = attendee.locator("slides-view:not([hidden])");
  await attendee.locator('slides-view[data-page="1"]').waitFor();
  assert.equal(await seen.locator(".slides-page").textContent(), "Page 1 sur 3");
  assert.equal(await attendee.locator("slides-view .slides-controls").isHidden(), true, "only the presenter turns the pages");
  // the page is drawn: the canvas has ink
  const inked = await attendee.evaluate(() => {
    const canvas = /** @type {HTMLCanvasElement} */ (document.querySelector("slides-view canvas"));
    const data = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data || [];
    let dark = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 128) dark++;
    return dark;
  });
  assert.ok(inked > 50, `the page's text is drawn, got ${inked} dark pixels`);

  // by keyboard, then by button
  await organizer.locator('slides-view[data-page="1"]').waitFor();
  await organizer.focus("slides-view");
  await organizer.keyboard.press("ArrowRight");
  await attendee.locator('slides-view[data-page="2"]').waitFor();
  await organizer.click('slides-view button[data-action="slide-next"]');
  await attendee.locator('slides-view[data-page="3"]').waitFor();
  assert.equal(await seen.locator(".slides-page").textContent(), "Page 3 sur 3");
  await organizer.keyboard.press("Home");
  await attendee.locator('slides-view[data-page="1"]').waitFor();
  assert.deepEqual(await axeViolations(attendee), []);

  // the presenter points at the page: the attendee sees the dot there, then no more
  const mine = await organizer.locator("slides-view canvas.slides-canvas").boundingBox();
  assert.ok(mine);
  await organizer.mouse.move(mine.x + mine.width * 0.25, mine.y + mine.height * 0.75, { steps: 4 });
  // the dot comes to rest where the presenter points (it may pass where the mouse came from)
  await attendee.waitForFunction(
    ([x, y]) => {
      const view = document.querySelector("slides-view");
      const dot = view?.querySelector(".slides-pointer");
      const canvas = view?.querySelector("canvas");
      if (!dot || !canvas || dot.hidden) return false;
      const d = dot.getBoundingClientRect();
      const c = canvas.getBoundingClientRect();
      const fx = (d.x + d.width / 2 - c.x) / c.width;
      const fy = (d.y + d.height / 2 - c.y) / c.height;
      return Math.abs(fx - x) < 0.05 && Math.abs(fy - y) < 0.05;
    },
    [0.25, 0.75],
  );
  await organizer.mouse.move(mine.x - 20, mine.y - 20);
  await attendee.locator("slides-view .slides-pointer[hidden]").waitFor({ state: "attached" });

  // closed: gone for everyone
  await organizer.click('slides-view button[data-action="slides-close"]');
  await attendee.locator("slides-view[hidden]").waitFor({ state: "attached" });
});

test("slides attached beforehand on the dashboard are presented from the room", async () => {
  const organizer = await suite.page("organizer-attach");
  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, "Attached slides", "webinar");
  const { shown } = await createAttendeeLink(organizer, id);
  const item = organizer.locator(`li.webinar[data-webinar-id="${id}"]`);
  await item.locator('button[data-action="slides"]').click();
  const panel = item.locator("section.webinar-slides");
  await panel.locator(".slides-info", { hasText: "Aucune diapositive" }).waitFor();
  await panel.locator('input[data-action="attach-slides"]').setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a PDF") });
  await panel.locator(".panel-message", { hasText: "n’est pas un PDF" }).waitFor();
  await panel.locator('input[data-action="attach-slides"]').setInputFiles({ name: "deck.pdf", mimeType: "application/pdf", buffer: pdfOfPages(2) });
  await panel.locator(".slides-info", { hasText: "2\u00a0pages" }).waitFor();
  assert.deepEqual(await axeViolations(organizer), []);

  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');
  const attendee = await suite.page("attendee-attach");
  await enterAsAgent(attendee, shown, "Alex Participant");
  const present = organizer.locator('button[data-action="present"]');
  if (await present.isVisible()) {
    await present.click();
  } else {
    await organizer.click('button[data-action="more"]'); // the toolbar had no room for it
  }
  await organizer.getByRole("menuitem", { name: "Les diapositives du webinaire" }).click();
  await attendee.locator('slides-view[data-page="1"]').waitFor();
  assert.equal(await attendee.locator("slides-view .slides-page").textContent(), "Page 1 sur 2");

  // deleted from the dashboard: the room has nothing to present any more
  await organizer.click('slides-view button[data-action="slides-close"]');
  const dashboard = await suite.page("organizer-attach-dashboard");
  await loginOrganizer(dashboard, "dev-camille-martin");
  const again = dashboard.locator(`li.webinar[data-webinar-id="${id}"]`);
  await again.locator('button[data-action="slides"]').click();
  dashboard.once("dialog", (d) => d.accept());
  await again.locator('button[data-action="delete-slides"]').click();
  await again.locator(".slides-info", { hasText: "Aucune diapositive" }).waitFor();
});

test("the replay shows the slides in step with the video", async () => {
  const organizer = await suite.page("organizer-rec");
  await loginOrganizer(organizer, "dev-camille-martin");
  await organizer.setChecked("#f-recording", true);
  const id = await scheduleMeeting(organizer, "Recorded slides");
  await organizer.goto(`/room/${id}`);
  await organizer.click("#enter");
  await organizer.waitForSelector('meeting-room[data-state="connected"]');
  const started = await callAPI(organizer, "POST", `/api/v1/webinars/${id}/recording`);
  assert.equal(started.status, 201, JSON.stringify(started.json));
  await organizer.waitForTimeout(1500);
  await organizer.locator('input[data-action="slides-file"]').setInputFiles({ name: "deck.pdf", mimeType: "application/pdf", buffer: pdfOfPages(3) });
  await organizer.locator('slides-view[data-page="1"]').waitFor();
  await organizer.waitForTimeout(2000);
  await organizer.click('slides-view button[data-action="slide-next"]');
  await organizer.locator('slides-view[data-page="2"]').waitFor();
  await organizer.waitForTimeout(2000);
  await organizer.click('slides-view button[data-action="slide-next"]');
  await organizer.locator('slides-view[data-page="3"]').waitFor();
  await organizer.waitForTimeout(2000);
  const stopped = await callAPI(organizer, "DELETE", `/api/v1/webinars/${id}/recording`);
  assert.equal(stopped.status, 202);
  const rec = await readyRecording(organizer, id);
  assert.deepEqual(rec.files, ["replay.webm", "slides.json", "slides-01.pdf"]);
  const timeline = (await callAPI(organizer, "GET", `/api/v1/recordings/${rec.id}/files/slides.json`)).json;
  assert.deepEqual(timeline.pages.map((/** @type {{page: number}} */ p) => p.page), [1, 2, 3]);

  const link = await callAPI(organizer, "POST", `/api/v1/recordings/${rec.id}/links`, { audience: "public", expires_in_days: 7 });
  assert.equal(link.status, 201);
  const watcher = await suite.page("watcher");
  await watcher.goto(link.json.url);
  await watcher.waitForSelector("#replay:not([hidden])");
  await watcher.waitForFunction(() => /** @type {HTMLVideoElement} */ (document.querySelector("#player")).readyState >= 1);
  /** @param {number} t */
  const seek = (t) => watcher.evaluate((at) => {
    /** @type {HTMLVideoElement} */ (document.querySelector("#player")).currentTime = at;
  }, t);
  for (const entry of [...timeline.pages].reverse()) {
    await seek(entry.t + 0.5);
    await watcher.locator(`.replay-slides:not([hidden])[data-page="${entry.page}"]`).waitFor();
  }
  await seek(Math.max(0, timeline.pages[0].t - 0.5));
  await watcher.locator(".replay-slides[hidden]").waitFor({ state: "attached" });
  assert.deepEqual(await axeViolations(watcher), []);
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
