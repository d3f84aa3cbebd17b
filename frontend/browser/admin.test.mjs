// The administrator's page, from the login page: the login comes back to the page asked
// for only when it is a path on this site, and a search of the connection log is a POST
// with the session's CSRF token (it is written to the audit trail), whose results show.
// Run with: node --test frontend/browser/

import assert from "node:assert/strict";
import { test } from "node:test";

import { Suite } from "./harness.mjs";

const suite = new Suite();

test("the login page keeps return_to on this site", async () => {
  const page = await suite.page("visitor");
  for (const [returnTo, want] of [
    ["/admin", "/admin"],
    ["/\t/evil.example", "/dashboard"],
    ["/\\evil.example", "/dashboard"],
    ["//evil.example", "/dashboard"],
    ["https://evil.example/", "/dashboard"],
    [`/${"a".repeat(512)}`, "/dashboard"],
  ]) {
    await page.goto(`/login?return_to=${encodeURIComponent(returnTo)}`);
    const href = await page.getAttribute("#login-link", "href");
    assert.equal(href, `/auth/login?return_to=${encodeURIComponent(want)}`, `return_to ${JSON.stringify(returnTo)}`);
  }
});

/**
 * Logs the demo administrator in from the login page, which brings him back to his page.
 *
 * @param {import("playwright-core").Page} page
 */
async function loginToAdmin(page) {
  await page.goto(`/login?return_to=${encodeURIComponent("/admin")}`);
  await page.click("#login-link");
  await page.waitForURL(/\/dev-idp\//);
  await page.click('button[name="userID"][value="dev-alex-admin"]');
  await page.waitForURL(/\/admin$/);
  await page.waitForSelector("#content:not([hidden])");
}

test("an administrator searches the connection log from the page", async () => {
  const page = await suite.page("administrator");
  await loginToAdmin(page);

  // The range, in the page's local time: an hour either side of now.
  const [from, to] = await page.evaluate(() => {
    /** @param {number} ms */
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    return [local(Date.now() - 3600000), local(Date.now() + 3600000)];
  });
  await page.fill("#f-log-ip", "127.0.0.1");
  await page.fill("#f-log-from", from);
  await page.fill("#f-log-to", to);
  const [request] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).pathname.startsWith("/api/v1/admin/connection-log")),
    page.click("#log-form button[type=submit]"),
  ]);
  assert.equal(request.method(), "POST");
  assert.equal(new URL(request.url()).pathname, "/api/v1/admin/connection-log/search");
  assert.equal(new URL(request.url()).search, "", "nothing of the search in the address");
  const me = await page.evaluate(async () => (await fetch("/api/v1/me")).json());
  assert.equal(request.headers()["x-csrf-token"], me.csrf_token);
  assert.equal(request.postDataJSON().ip, "127.0.0.1");

  // The administrator's own login is in the results.
  await page.waitForSelector("#log-rows tr:has(code:text-is('127.0.0.1'))");
  const rows = await page.locator("#log-rows tr").allTextContents();
  assert.ok(
    rows.some((r) => r.includes(me.id)),
    `a row of the administrator's login, got ${JSON.stringify(rows)}`,
  );
});

test("the administrator's page lists the cluster's nodes", async () => {
  const page = await suite.page("administrator");
  await loginToAdmin(page);
  const list = await page.evaluate(async () => (await fetch("/api/v1/admin/nodes")).json());
  assert.ok(list.nodes.length > 0, "the server is a node of its own cluster");
  const node = list.nodes[0];
  const row = page.locator("#node-rows tr").filter({ has: page.locator(`code:text-is(${JSON.stringify(node.id)})`) });
  await row.waitFor();
  const cells = await row.locator("th, td").allTextContents();
  assert.equal(cells.length, 7, `id, URL, rooms, participants, packets/s, CPU, heartbeat: ${JSON.stringify(cells)}`);
  assert.equal(cells[1], node.url);
  assert.equal(cells[2], String(node.rooms));
  assert.ok(cells[6].length > 0, "the last heartbeat is shown");
});

test("no page asked anything of another origin", () => {
  assert.deepEqual(suite.requests.foreign(suite.base), []);
});
