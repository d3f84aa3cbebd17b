// @ts-check
// The quality of a connection, from the statistics of its RTCPeerConnection: the round-trip
// time of the selected candidate pair, the packet loss and jitter of what is received, and
// what limits the video sent.

/** @typedef {"good" | "fair" | "poor"} Quality */

/** Packets received and lost so far, to measure the loss between two readings. @typedef {{received: number, lost: number}} Counts */

/** Above these, the connection is fair; above twice as much, poor. */
const LIMITS = {
  rttSeconds: 0.3,
  lossRatio: 0.03,
  jitterSeconds: 0.03,
};

/**
 * The quality shown for a set of statistics (the values of RTCStatsReport), and the counts
 * to pass along with the next ones.
 *
 * @param {any[]} stats
 * @param {Counts | null} before the counts of the reading before, if any
 * @returns {{quality: Quality, counts: Counts}}
 */
export function qualityOf(stats, before) {
  const byId = new Map(stats.map((s) => [s.id, s]));
  /** @type {any} */
  let pair = null;
  for (const s of stats) {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) || pair;
  }
  if (!pair) pair = stats.find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded") || null;
  const rtt = pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime : 0;

  const counts = { received: 0, lost: 0 };
  let jitter = 0;
  let limited = false;
  for (const s of stats) {
    if (s.type === "inbound-rtp") {
      counts.received += s.packetsReceived || 0;
      counts.lost += Math.max(0, s.packetsLost || 0);
      jitter = Math.max(jitter, s.jitter || 0);
    }
    if (s.type === "outbound-rtp" && s.kind === "video" && s.qualityLimitationReason && s.qualityLimitationReason !== "none") {
      limited = true;
    }
  }
  // the loss between two readings: the first one has nothing to compare with
  const received = before ? counts.received - before.received : 0;
  const lost = before ? counts.lost - before.lost : 0;
  const loss = received + lost > 0 ? Math.max(0, lost) / (received + lost) : 0;

  const ratios = [rtt / LIMITS.rttSeconds, loss / LIMITS.lossRatio, jitter / LIMITS.jitterSeconds];
  const worst = Math.max(...ratios);
  /** @type {Quality} */
  let quality = "good";
  if (worst > 2) quality = "poor";
  else if (worst > 1 || limited) quality = "fair";
  return { quality, counts };
}
