// The pager of a long list (<list-pager>, the same element on the dashboard and the
// administrators' page): with one webinar more than a page holds, the dashboard shows
// "page 1 of 2", goes to the second page and back with the focus on the list's heading,
// and a previous page only when there is one.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite, loginOrganizer } from "./harness.mjs";

const suite = new Suite();

/** Webinars per page of the dashboard (PAGE_SIZE in dashboard.js). */
const PAGE_SIZE = 20;

test("the dashboard's list goes page by page", async () => {
  const page = await suite.page("organizer");
  await loginOrganizer(page, "dev-camille-martin");
  // one more webinar than a page holds, through the API the dashboard uses
  await page.evaluate(async (n) => {
    const me = await (await fetch("/api/v1/me")).json();
    for (let i = 0; i < n; i++) {
      const res = await fetch("/api/v1/webinars", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
        body: JSON.stringify({ title: `Réunion ${i + 1}`, kind: "meeting", starts_at: new Date(Date.UTC(2030, 0, 1 + i, 9)).toISOString(), duration_minutes: 60 }),
      });
      if (!res.ok) throw new Error(`create: ${res.status}`);
    }
  }, PAGE_SIZE + 1);
  await page.reload();
  await page.waitForSelector("#content:not([hidden])");
  const pager = page.locator("list-pager#pager");
  await pager.waitFor();
  const prev = pager.locator('button[data-page="prev"]');
  const next = pager.locator('button[data-page="next"]');
  assert.equal(await pager.locator("nav").getAttribute("aria-label"), "Pages de la liste", "the pager is a named navigation");
  assert.equal(await pager.locator(".pager-info").textContent(), "Page 1 sur 2");
  assert.ok(await prev.isDisabled(), "no page before the first");
  assert.equal(await page.locator("#webinar-list > li").count(), PAGE_SIZE);

  await next.click();
  await pager.locator(".pager-info", { hasText: "Page 2 sur 2" }).waitFor();
  assert.equal(await page.locator("#webinar-list > li").count(), 1, "the second page holds the last one");
  assert.ok(await next.isDisabled(), "no page after the last");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "list-title", "the focus goes to the list's heading");

  await prev.click();
  await pager.locator(".pager-info", { hasText: "Page 1 sur 2" }).waitFor();
  assert.equal(await page.locator("#webinar-list > li").count(), PAGE_SIZE);
});
