// @ts-check
// The administrators' page: the retention jobs (policy, overdue objects, what a run would
// delete, the last runs, a run on demand), the deletion ledger, the organizer accounts and
// the restriction of their processing, the connection-log search for legal requests, and
// the nodes of the cluster with their load.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { byId, h } from "./dom.js";
import { clearFieldError, showFieldError } from "./fields.js";
import { LANG_EVENT, initI18n, lang, localize, setPlainText, t, timeZone, translate } from "./i18n.js";
import { ListPager } from "./pager.js";
import { errorKey, loadMe, loginIfExpired, setupHeader } from "./session.js";

/** @typedef {import("./api.js").Me} Me */
/** @typedef {import("./api.js").Retention} Retention */
/** @typedef {import("./api.js").RetentionReport} RetentionReport */
/** @typedef {import("./api.js").RetentionRun} RetentionRun */
/** @typedef {import("./api.js").RegisterCategory} RegisterCategory */
/** @typedef {import("./api.js").LedgerEntry} LedgerEntry */
/** @typedef {import("./api.js").Organizer} Organizer */
/** @typedef {import("./api.js").OrganizerPage} OrganizerPage */
/** @typedef {import("./api.js").Restriction} Restriction */
/** @typedef {import("./api.js").Connection} Connection */
/** @typedef {import("./api.js").ClusterNode} ClusterNode */
/** @typedef {import("./dom.js").Child} Child */
/** @typedef {import("./i18n.js").Vars} Vars */

/** Ledger entries per page. */
const LEDGER_PAGE = 50;
/** Organizer accounts per page. */
const ORG_PAGE = 20;
/** How many characters of a hash are shown; the whole hash is in its title. */
const HASH_SHOWN = 12;

/** The administrator, once loaded. @type {Me | null} */
let me = null;

const loading = byId("loading", HTMLElement);
const pageError = byId("page-error", HTMLElement);
const content = byId("content", HTMLElement);
const forbidden = byId("forbidden", HTMLElement);

// ---------------------------------------------------------------------------------------
// Messages and errors

/**
 * The live lines of one section: a status line, announced politely, and an alert line.
 *
 * @typedef {object} Lines
 * @property {(key: string, vars?: Vars) => void} say
 * @property {(key: string, vars?: Vars) => void} error
 * @property {() => void} clear
 */

/**
 * @param {string} prefix the ids are <prefix>-status and <prefix>-error
 * @returns {Lines}
 */
function lines(prefix) {
  const status = byId(`${prefix}-status`, HTMLElement);
  const alert = byId(`${prefix}-error`, HTMLElement);
  return {
    say(key, vars) {
      setPlainText(alert, "");
      localize(status, key, vars);
    },
    error(key, vars) {
      setPlainText(status, "");
      localize(alert, key, vars);
    },
    clear() {
      setPlainText(status, "");
      setPlainText(alert, "");
    },
  };
}

const retentionLines = lines("retention");
const ledgerLines = lines("ledger");
const orgLines = lines("org");
const logLines = lines("log");
const nodeLines = lines("nodes");

/**
 * Replaces the page by the reason it cannot be used.
 *
 * @param {string} key
 */
function deny(key) {
  content.hidden = true;
  loading.hidden = true;
  localize(byId("forbidden-text", HTMLElement), key);
  forbidden.hidden = false;
  forbidden.focus();
}

/**
 * Reports a failed request in the section's lines, or for the whole page when the session is
 * over or the administrator may no longer use the page.
 *
 * @param {unknown} err
 * @param {Lines} where
 */
function fail(err, where) {
  if (loginIfExpired(err)) return;
  if (err instanceof ApiError && err.code === "forbidden") deny("admin.forbidden.text");
  else if (err instanceof ApiError && err.code === "restricted") deny("admin.forbidden.restricted");
  else where.error(errorKey(err));
}

/** @param {unknown} err */
function failPage(err) {
  if (loginIfExpired(err)) return;
  localize(pageError, errorKey(err));
}

// ---------------------------------------------------------------------------------------
// Table cells

/**
 * @param {...Child} children
 * @returns {HTMLTableCellElement}
 */
function td(...children) {
  return h("td", {}, ...children);
}

/**
 * @param {...Child} children
 * @returns {HTMLTableCellElement}
 */
function num(...children) {
  return h("td", { class: "num" }, ...children);
}

/**
 * A row that says the table is empty.
 *
 * @param {number} columns
 * @param {string} key
 * @param {Vars} [vars]
 * @returns {HTMLTableRowElement}
 */
function emptyRow(columns, key, vars) {
  return h("tr", {}, h("td", { colspan: columns, class: "empty", "data-i18n": key, "data-i18n-vars": vars ? JSON.stringify(vars) : null }));
}

/**
 * A moment to the second, following the language.
 *
 * @param {string} iso
 * @param {"instant" | "date"} [format]
 * @returns {HTMLTimeElement}
 */
function time(iso, format = "instant") {
  return h("time", { datetime: iso, title: iso, "data-format": format, "data-value": iso });
}

/**
 * The text of a key if the dictionaries have it, else value as is: for the values the API
 * names with stable words (categories, statuses, actions) but may one day add to.
 *
 * @param {string} key
 * @param {string} value
 * @returns {HTMLSpanElement}
 */
function named(key, value) {
  return t(key) === key ? h("span", {}, value) : h("span", { "data-i18n": key });
}

/**
 * Server text, which is in English.
 *
 * @param {string} text
 * @returns {HTMLSpanElement}
 */
function english(text) {
  return h("span", { lang: "en" }, text);
}

/**
 * The start of a hash, with the whole of it in the title and for screen readers.
 *
 * @param {string} hash
 * @returns {HTMLTableCellElement}
 */
function hashCell(hash) {
  return h(
    "td",
    { class: "hash" },
    h("code", { title: hash, "aria-hidden": "true" }, hash.length > HASH_SHOWN ? `${hash.slice(0, HASH_SHOWN)}…` : hash),
    h("span", { class: "visually-hidden" }, hash),
  );
}

/**
 * Counts by category, as a short list.
 *
 * @param {Record<string, number>} counts
 * @returns {HTMLUListElement}
 */
function countList(counts) {
  return h(
    "ul",
    { class: "counts" },
    ...Object.entries(counts).map(([category, n]) =>
      h("li", {}, named(`admin.category.${category}`, category), " ", h("strong", {}, String(n))),
    ),
  );
}

/**
 * Fills a table body and translates it.
 *
 * @param {HTMLElement} body
 * @param {HTMLTableRowElement[]} rows
 */
function fill(body, rows) {
  body.replaceChildren(...rows);
  translate(body);
}

// ---------------------------------------------------------------------------------------
// Retention

const runButton = byId("run-retention", HTMLButtonElement);

/** The policy shown, kept to show it again in the other language. */
let policy = /** @type {Record<string, string>} */ ({});
/** The processing register's categories, for the periods in French and English. */
let register = /** @type {RegisterCategory[] | null} */ (null);

/** @returns {Promise<RegisterCategory[]>} the register's categories, or none if unreadable */
async function loadRegister() {
  if (register) return register;
  try {
    const res = await getJSON("/api/v1/privacy/register");
    register = res && Array.isArray(res.categories) ? res.categories : [];
  } catch {
    register = []; // the periods then come in English, from the retention view
  }
  return register || [];
}

async function loadRetention() {
  /** @type {[Retention, RegisterCategory[]]} */
  const [ret] = await Promise.all([getJSON("/api/v1/admin/retention"), loadRegister()]);
  policy = ret.policy || {};
  renderPolicy();
  renderOverdue(ret.overdue || {});
  renderNext(ret.next);
  renderRuns(ret.runs || []);
}

/** The periods, in the page's language where the register has it. */
function renderPolicy() {
  const known = register || [];
  const keys = [...known.map((c) => c.key).filter((k) => k in policy), ...Object.keys(policy).filter((k) => !known.some((c) => c.key === k))];
  const rows = keys.map((key) => {
    const entry = known.find((c) => c.key === key);
    const kept = entry ? entry.kept[lang()] || entry.kept.en : "";
    return h("tr", {}, h("th", { scope: "row" }, named(`admin.category.${key}`, key)), td(kept || english(policy[key])));
  });
  fill(byId("policy-rows", HTMLElement), rows.length ? rows : [emptyRow(2, "admin.empty")]);
}

/** @param {Record<string, number>} overdue */
function renderOverdue(overdue) {
  const entries = Object.entries(overdue);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const rows = entries.map(([category, n]) =>
    h(
      "tr",
      { class: n > 0 ? "row-error" : null },
      h("th", { scope: "row" }, named(`admin.category.${category}`, category)),
      num(
        n > 0 ? h("strong", {}, String(n)) : String(n),
        n > 0 ? " " : null,
        n > 0 ? h("span", { class: "tag tag-error", "data-i18n": "admin.overdue.flag" }) : null,
      ),
    ),
  );
  fill(byId("overdue-rows", HTMLElement), rows.length ? rows : [emptyRow(2, "admin.empty")]);
  const summary = byId("overdue-summary", HTMLElement);
  summary.className = total > 0 ? "alert" : "ok";
  localize(summary, total > 0 ? "admin.overdue.some" : "admin.overdue.none", { count: total });
}

/** @param {RetentionReport} next */
function renderNext(next) {
  const rows = next.categories.map((c) => {
    /** @type {Child} */
    let ids = "—";
    if (c.ids.length > 0) {
      ids = h(
        "details",
        {},
        h("summary", { "data-i18n": "admin.next.ids", "data-i18n-vars": JSON.stringify({ count: c.ids.length }) }),
        h("ul", { class: "ids" }, ...c.ids.map((id) => h("li", {}, h("code", {}, id)))),
      );
    }
    return h("tr", {}, td(named(`admin.category.${c.category}`, c.category)), td(english(c.rule)), num(String(c.count)), td(ids));
  });
  fill(byId("next-rows", HTMLElement), rows.length ? rows : [emptyRow(4, "admin.empty")]);
  const total = next.categories.reduce((sum, c) => sum + c.count, 0);
  localize(byId("next-summary", HTMLElement), total > 0 ? "admin.next.summary" : "admin.next.nothing", { count: total, date: { instant: next.now } });
}

/** @param {RetentionRun[]} runs */
function renderRuns(runs) {
  const rows = runs.map((run) =>
    h(
      "tr",
      { class: run.status === "failed" ? "row-error" : null },
      td(time(run.started_at)),
      td(h("span", { "data-i18n": run.dry_run ? "admin.run.dry" : "admin.run.real" })),
      td(named(`admin.run.status.${run.status}`, run.status), run.error ? h("br") : null, run.error ? english(run.error) : null),
      td(Object.keys(run.counts).length ? countList(run.counts) : "—"),
    ),
  );
  fill(byId("run-rows", HTMLElement), rows.length ? rows : [emptyRow(4, "admin.runs.empty")]);
}

let running = false;

async function runRetention() {
  if (running || !me) return;
  running = true;
  runButton.disabled = true;
  runButton.setAttribute("aria-busy", "true");
  retentionLines.say("admin.retention.running");
  try {
    /** @type {RetentionReport} */
    const report = await sendJSON("POST", "/api/v1/admin/retention/run", undefined, me.csrf_token);
    const total = report.categories.reduce((sum, c) => sum + c.count, 0);
    await Promise.all([loadRetention(), loadLedger(ledgerAfter)]);
    retentionLines.say(total > 0 ? "admin.retention.done" : "admin.retention.done.nothing", { count: total });
  } catch (err) {
    if (err instanceof ApiError && err.code === "retention_busy") retentionLines.error("admin.retention.busy");
    else fail(err, retentionLines);
  } finally {
    running = false;
    runButton.disabled = false;
    runButton.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------------------------------
// Deletion ledger, read forward from a sequence number

/** The sequence number the page shown starts after. */
let ledgerAfter = 0;
/** The starts of the pages before it, to go back. @type {number[]} */
const ledgerBack = [];
/** The last sequence number of the page shown. */
let ledgerLast = 0;

const ledgerPager = byId("ledger-pager", ListPager);

/**
 * Shows the entries after the sequence number after.
 *
 * @param {number} after
 */
async function loadLedger(after) {
  // One more than shown tells whether there is a next page.
  /** @type {{items: LedgerEntry[]}} */
  const res = await getJSON(`/api/v1/admin/ledger?after=${after}&limit=${LEDGER_PAGE + 1}`);
  const items = res.items.slice(0, LEDGER_PAGE);
  ledgerAfter = after;
  ledgerLast = items.length ? items[items.length - 1].seq : after;
  const rows = items.map((e) =>
    h(
      "tr",
      {},
      num(String(e.seq)),
      td(time(e.at)),
      td(english(e.rule)),
      td(named(`admin.category.${e.category}`, e.category)),
      num(String(e.count)),
      td(...e.stores.flatMap((s, i) => [i > 0 ? ", " : null, named(`admin.store.${s}`, s)])),
      hashCell(e.leaf_hash),
    ),
  );
  fill(byId("ledger-rows", HTMLElement), rows.length ? rows : [emptyRow(7, after === 0 ? "admin.ledger.empty" : "admin.ledger.end")]);
  const caption = byId("ledger-caption", HTMLElement);
  if (items.length) localize(caption, "admin.ledger.caption", { first: items[0].seq, last: ledgerLast });
  else localize(caption, "admin.ledger.title");
  ledgerPager.show({ before: ledgerBack.length > 0, after: res.items.length > LEDGER_PAGE });
}

/**
 * Goes to another page of the ledger and puts the focus on its heading.
 *
 * @param {1 | -1} direction
 */
async function ledgerGo(direction) {
  const before = [...ledgerBack];
  const after = direction > 0 ? ledgerLast : ledgerBack.pop() ?? 0;
  if (direction > 0) ledgerBack.push(ledgerAfter);
  try {
    await loadLedger(after);
    ledgerLines.clear();
    byId("ledger-title", HTMLElement).focus();
  } catch (err) {
    ledgerBack.splice(0, ledgerBack.length, ...before);
    fail(err, ledgerLines);
  }
}

// ---------------------------------------------------------------------------------------
// Organizer accounts and the restriction of their processing

/** The offset of the page shown, when listing. */
let orgOffset = 0;
/** The email searched, or "" when listing every account. */
let orgEmail = "";

const orgInput = byId("f-org-email", HTMLInputElement);
const orgPager = byId("org-pager", ListPager);
const orgRows = byId("org-rows", HTMLElement);

/** @param {Organizer} o */
function nameOf(o) {
  return [o.given_name, o.family_name].filter(Boolean).join(" ") || o.email;
}

/**
 * Shows the accounts with the email searched, or the page of every account at offset.
 *
 * @param {number} at
 */
async function loadOrganizers(at) {
  const url = orgEmail
    ? `/api/v1/admin/organizers?email=${encodeURIComponent(orgEmail)}`
    : `/api/v1/admin/organizers?limit=${ORG_PAGE}&offset=${at}`;
  /** @type {OrganizerPage} */
  const page = await getJSON(url);
  if (!orgEmail && page.items.length === 0 && page.total > 0 && at > 0) {
    return loadOrganizers(Math.floor((page.total - 1) / ORG_PAGE) * ORG_PAGE);
  }
  orgOffset = orgEmail ? 0 : at;
  fill(orgRows, page.items.length ? page.items.map(renderOrganizer) : [emptyRow(5, orgEmail ? "admin.org.none" : "admin.empty", { email: orgEmail })]);
  const caption = byId("org-caption", HTMLElement);
  if (orgEmail) localize(caption, page.total > 0 ? "admin.org.found" : "admin.org.none", { count: page.total, email: orgEmail });
  else localize(caption, "admin.org.total", { count: page.total });
  // a search shows all it finds, on one page
  if (orgEmail) orgPager.show({ before: false, after: false });
  else orgPager.showOffset(orgOffset, ORG_PAGE, page.total);
  return undefined;
}

/**
 * @param {Organizer} o
 * @returns {HTMLTableRowElement}
 */
function renderOrganizer(o) {
  const name = nameOf(o);
  const restricted = o.restricted_at !== null;
  const vars = JSON.stringify({ name });
  const button = h("button", {
    type: "button",
    class: restricted ? "button secondary" : "button danger",
    "data-i18n": restricted ? "admin.org.lift" : "admin.org.restrict",
    "data-i18n-attr": restricted ? "aria-label:admin.org.lift.label" : "aria-label:admin.org.restrict.label",
    "data-i18n-vars": vars,
  });
  button.addEventListener("click", () => setRestriction(o, !restricted));
  return h(
    "tr",
    { "data-organizer-id": o.id },
    h(
      "th",
      { scope: "row" },
      name,
      me && o.id === me.id ? " " : null,
      me && o.id === me.id ? h("span", { class: "tag", "data-i18n": "admin.org.you" }) : null,
    ),
    td(o.email),
    td(time(o.last_activity_at, "date")),
    td(
      restricted
        ? h("span", {
            class: "tag tag-warning",
            "data-i18n": "admin.org.restricted_since",
            "data-i18n-vars": JSON.stringify({ date: { date: /** @type {string} */ (o.restricted_at) } }),
          })
        : h("span", { "data-i18n": "admin.org.normal" }),
    ),
    td(button),
  );
}

/**
 * Restricts the processing of an account, or lifts the restriction.
 *
 * @param {Organizer} o
 * @param {boolean} restrict
 */
async function setRestriction(o, restrict) {
  if (!me) return;
  const name = nameOf(o);
  if (restrict && o.id === me.id && !window.confirm(t("admin.org.restrict.self"))) return;
  try {
    /** @type {Restriction} */
    const res = await sendJSON(restrict ? "POST" : "DELETE", `/api/v1/admin/organizers/${encodeURIComponent(o.id)}/restriction`, undefined, me.csrf_token);
    const key = restrict ? "admin.org.restricted" : "admin.org.lifted";
    orgLines.say(res.changed ? key : `${key}.already`, { name });
    await loadOrganizers(orgOffset);
    const again = orgRows.querySelector(`[data-organizer-id="${CSS.escape(o.id)}"] button`);
    if (again instanceof HTMLButtonElement) again.focus();
    if (res.changed) loadLedger(ledgerAfter).catch((err) => fail(err, ledgerLines));
  } catch (err) {
    fail(err, orgLines);
  }
}

/**
 * Lists the accounts with email, or every account when it is "".
 *
 * @param {string} email
 */
async function searchOrganizers(email) {
  orgEmail = email;
  try {
    await loadOrganizers(0);
    orgLines.clear();
  } catch (err) {
    fail(err, orgLines);
  }
}

/**
 * Goes to the page of accounts at offset and puts the focus on the section's heading.
 *
 * @param {number} at
 */
async function orgGo(at) {
  try {
    await loadOrganizers(at);
    orgLines.clear();
    byId("organizers-title", HTMLElement).focus();
  } catch (err) {
    fail(err, orgLines);
  }
}

// ---------------------------------------------------------------------------------------
// Connection log, for legal requests

const logForm = byId("log-form", HTMLFormElement);
const logFields = {
  ip: byId("f-log-ip", HTMLInputElement),
  actor_id: byId("f-log-actor", HTMLInputElement),
  from: byId("f-log-from", HTMLInputElement),
  to: byId("f-log-to", HTMLInputElement),
};

/**
 * The value of a datetime-local input for d, to the minute, local time.
 *
 * @param {Date} d
 * @returns {string}
 */
export function localInput(d) {
  /** @param {number} n */
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/**
 * The RFC 3339 time (UTC) of a datetime-local value, read as local time, or "" when it is
 * not a date.
 *
 * @param {string} value
 * @returns {string}
 */
export function rfc3339(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The last hour, to the minute: the range offered at first. */
function defaultRange() {
  const end = new Date();
  end.setSeconds(0, 0);
  end.setMinutes(end.getMinutes() + 1);
  logFields.to.value = localInput(end);
  logFields.from.value = localInput(new Date(end.getTime() - 60 * 60 * 1000));
}

/**
 * The error key for a field the server refused.
 *
 * @param {string} field
 * @returns {string}
 */
function serverFieldKey(field) {
  switch (field) {
    case "ip":
      return logFields.ip.value.trim() === "" ? "admin.log.need_who" : "admin.log.ip.error";
    case "actor_id":
      return "admin.log.actor_id.error";
    case "from":
      return "admin.log.from.error";
    default:
      return "admin.log.to.error";
  }
}

let searching = false;

/** @param {SubmitEvent} event */
async function searchLog(event) {
  event.preventDefault();
  if (searching || !me) return;
  logLines.clear();
  for (const input of Object.values(logFields)) clearFieldError(input);
  const ip = logFields.ip.value.trim();
  const actor = logFields.actor_id.value.trim();
  const from = rfc3339(logFields.from.value);
  const to = rfc3339(logFields.to.value);

  /** @type {[HTMLInputElement, string][]} */
  const errors = [];
  if (ip === "" && actor === "") errors.push([logFields.ip, "admin.log.need_who"]);
  if (from === "") errors.push([logFields.from, "admin.log.from.error"]);
  if (to === "") errors.push([logFields.to, "admin.log.to.error"]);
  else if (from !== "" && Date.parse(to) <= Date.parse(from)) errors.push([logFields.to, "admin.log.to.order"]);
  if (errors.length > 0) {
    for (const [input, key] of errors) showFieldError(input, key);
    errors[0][0].focus();
    return;
  }

  /** @type {Record<string, string>} */
  const search = { from, to };
  if (ip) search.ip = ip;
  if (actor) search.actor_id = actor;
  searching = true;
  logForm.setAttribute("aria-busy", "true");
  try {
    /** @type {{items: Connection[], truncated: boolean}} */
    // A POST with the CSRF token: the search is written to the audit trail.
    const res = await sendJSON("POST", "/api/v1/admin/connection-log/search", search, me.csrf_token);
    renderLog(res.items, res.truncated, from, to);
    logLines.say(res.truncated ? "admin.log.found.truncated" : "admin.log.found", { count: res.items.length });
  } catch (err) {
    if (err instanceof ApiError && err.code === "validation" && err.fieldErrors.length > 0) {
      /** @type {HTMLInputElement | null} */
      let first = null;
      for (const e of err.fieldErrors) {
        const input = e.field in logFields ? logFields[/** @type {keyof typeof logFields} */ (e.field)] : null;
        if (!input) continue;
        showFieldError(input, serverFieldKey(e.field));
        first = first || input;
      }
      if (first) first.focus();
      else logLines.error("error.generic");
    } else {
      fail(err, logLines);
    }
  } finally {
    searching = false;
    logForm.removeAttribute("aria-busy");
  }
}

/**
 * @param {Connection[]} items
 * @param {boolean} truncated
 * @param {string} from
 * @param {string} to
 */
function renderLog(items, truncated, from, to) {
  const rows = items.map((e) =>
    h(
      "tr",
      {},
      td(time(e.at)),
      td(named(`admin.actor.${e.actor_kind}`, e.actor_kind), h("br"), h("code", {}, e.actor_id)),
      td(e.display_name || "—"),
      td(h("code", {}, e.ip)),
      num(String(e.port)),
      td(named(`admin.action.${e.action}`, e.action)),
      td(e.webinar_id ? h("code", {}, e.webinar_id) : "—"),
      td(e.protocol),
    ),
  );
  fill(byId("log-rows", HTMLElement), rows.length ? rows : [emptyRow(8, "admin.log.none")]);
  localize(byId("log-caption", HTMLElement), "admin.log.caption", { count: items.length, from: { instant: from }, to: { instant: to } });
  byId("log-truncated", HTMLElement).hidden = !truncated;
  byId("log-results", HTMLElement).hidden = false;
}

// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Nodes

/** The nodes of the cluster, by id, with the load of their last heartbeat. */
async function loadNodes() {
  /** @type {{nodes: ClusterNode[]}} */
  const res = await getJSON("/api/v1/admin/nodes");
  const rows = res.nodes.map((n) =>
    h(
      "tr",
      { class: n.alive ? null : "row-error" },
      h("th", { scope: "row" }, h("code", {}, n.id), n.alive ? null : " ", n.alive ? null : h("span", { class: "tag tag-error", "data-i18n": "admin.nodes.gone" })),
      td(english(n.url)),
      num(String(n.rooms)),
      num(`${n.participants} / ${n.capacity}`),
      num(String(n.packets_per_second)),
      num(`${n.cpu_percent}\u202f%`),
      td(time(n.heartbeat_at)),
    ),
  );
  fill(byId("node-rows", HTMLElement), rows.length ? rows : [emptyRow(7, "admin.empty")]);
}

/**
 * Loads a section, reporting its failure in its own lines.
 *
 * @param {() => Promise<unknown>} load
 * @param {Lines} where
 */
async function section(load, where) {
  try {
    await load();
  } catch (err) {
    fail(err, where);
  }
}

async function main() {
  initI18n();
  try {
    me = await loadMe();
  } catch (err) {
    loading.hidden = true;
    failPage(err);
    return;
  }
  if (!me) return;
  setupHeader(me, failPage);
  if (!me.is_admin) {
    deny("admin.forbidden.text");
    return;
  }
  if (me.restricted_at !== null) {
    deny("admin.forbidden.restricted");
    return;
  }

  runButton.addEventListener("click", runRetention);
  ledgerPager.addEventListener("page", (event) => ledgerGo(/** @type {CustomEvent} */ (event).detail.direction));
  byId("org-search", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    searchOrganizers(orgInput.value.trim());
  });
  byId("org-all", HTMLButtonElement).addEventListener("click", () => {
    orgInput.value = "";
    searchOrganizers("");
  });
  orgPager.addEventListener("page", (event) => orgGo(Math.max(0, orgOffset + /** @type {CustomEvent} */ (event).detail.direction * ORG_PAGE)));
  const zone = timeZone();
  if (zone) localize(byId("f-log-range-hint", HTMLElement), "admin.log.range.hint.zone", { zone });
  defaultRange();
  logForm.addEventListener("submit", searchLog);
  document.addEventListener(LANG_EVENT, renderPolicy);

  await Promise.all([
    section(loadRetention, retentionLines),
    section(() => loadLedger(0), ledgerLines),
    section(() => loadOrganizers(0), orgLines),
    section(loadNodes, nodeLines),
  ]);
  loading.hidden = true;
  if (forbidden.hidden) content.hidden = false;
}

main();
