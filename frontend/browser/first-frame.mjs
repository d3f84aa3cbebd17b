// Measures, in headless Chromium on loopback, the time from the click on "Entrer" on the
// invitation page to the first decoded frame of another participant's camera: the join
// API call, getUserMedia, the WebSocket, the join, the offer and answer, ICE and DTLS, the
// server's offer of the other's tracks, and the first keyframe. Each run: one agent is in
// the room already, a second one enters and is timed; both leave. Not a test: it prints
// figures. Run with: node frontend/browser/first-frame.mjs [runs]

import {
  RequestLog,
  createAttendeeLink,
  enterAsAgent,
  firstFrameMs,
  launchBrowser,
  loginOrganizer,
  newContext,
  scheduleMeeting,
  startServer,
} from "./harness.mjs";

/**
 * @param {number[]} values milliseconds
 * @returns {string}
 */
function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `median ${median.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`;
}

const runs = Number(process.argv[2] || 5);
const env = await startServer();
const browser = await launchBrowser();
const log = new RequestLog();
try {
  const organizer = await (await newContext(browser, env.server.base, log, "organizer")).newPage();
  await loginOrganizer(organizer, "dev-camille-martin");
  const id = await scheduleMeeting(organizer, "Mesure");
  const { copied: link } = await createAttendeeLink(organizer, id);

  /** @type {number[]} */
  const times = [];
  /** @type {number[]} */
  const joins = [];
  for (let i = 0; i < runs; i++) {
    const first = await (await newContext(browser, env.server.base, log, "first")).newPage();
    const second = await (await newContext(browser, env.server.base, log, "second")).newPage();
    await enterAsAgent(first, link, `Premier ${i}`);
    await enterAsAgent(second, link, `Second ${i}`);
    const { frame, joined } = await firstFrameMs(second);
    times.push(frame);
    joins.push(joined);
    process.stdout.write(`run ${i + 1}: joined after ${joined.toFixed(0)} ms, first remote frame after ${frame.toFixed(0)} ms\n`);
    await first.context().close();
    await second.context().close();
  }
  process.stdout.write(`over ${runs} runs, enter to joined: ${summary(joins)}\n`);
  process.stdout.write(`over ${runs} runs, enter to first remote frame: ${summary(times)}\n`);
  const foreign = log.foreign(env.server.base);
  if (foreign.length > 0) throw new Error(`requests to another origin: ${JSON.stringify(foreign)}`);
} finally {
  await browser.close();
  await env.close();
}
