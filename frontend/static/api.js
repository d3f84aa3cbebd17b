// @ts-check
// A small wrapper around fetch for the JSON API. Errors come back as RFC 9457 problem
// documents and are thrown as ApiError.

/** @typedef {{field: string, detail: string}} FieldError */

/**
 * The organizer logged in, from GET /api/v1/me.
 *
 * @typedef {object} Me
 * @property {string} id
 * @property {string} given_name
 * @property {string} family_name
 * @property {string} email
 * @property {string} display_name the name chosen on the account page; "" for the provider's
 * @property {string | null} restricted_at set while processing is restricted (GDPR art. 18)
 * @property {boolean} is_admin
 * @property {string} last_activity_at
 * @property {string} session_expires
 * @property {string} csrf_token
 */

/**
 * The answer of DELETE /api/v1/me.
 *
 * @typedef {object} Erasure
 * @property {boolean} erased
 * @property {number} connection_log_entries the entries kept
 * @property {string} [connection_log_kept_until] when the last one goes; absent when none
 * @property {string} connection_log_reason in English
 */

/**
 * An organizer account as an administrator sees it, from GET /api/v1/admin/organizers.
 *
 * @typedef {object} Organizer
 * @property {string} id
 * @property {string} given_name
 * @property {string} family_name
 * @property {string} email
 * @property {string} last_activity_at
 * @property {string} created_at
 * @property {string | null} restricted_at
 */

/** @typedef {{items: Organizer[], total: number, limit: number, offset: number}} OrganizerPage */

/**
 * The answer of POST and DELETE /api/v1/admin/organizers/{id}/restriction.
 *
 * @typedef {{id: string, restricted_at: string | null, changed: boolean}} Restriction
 */

/**
 * An entry of the deletion ledger.
 *
 * @typedef {object} LedgerEntry
 * @property {number} seq
 * @property {string} at
 * @property {string} rule in English
 * @property {string} category
 * @property {string} object_hash
 * @property {number} count
 * @property {string[]} stores
 * @property {string} leaf_hash its leaf hash in the ledger's Merkle tree (base64)
 */

/**
 * What a retention run deleted, or a dry run would delete, of one category under one rule.
 *
 * @typedef {{category: string, rule: string, count: number, ids: string[]}} CategoryReport
 */

/** @typedef {{run_id: number, dry_run: boolean, now: string, categories: CategoryReport[]}} RetentionReport */

/**
 * A past retention run.
 *
 * @typedef {object} RetentionRun
 * @property {number} id
 * @property {string} started_at
 * @property {string | null} finished_at
 * @property {boolean} dry_run
 * @property {string} status running, ok, failed or busy
 * @property {Record<string, number>} counts by category
 * @property {string} [error]
 */

/**
 * GET /api/v1/admin/retention.
 *
 * @typedef {object} Retention
 * @property {RetentionRun[]} runs newest first
 * @property {RetentionReport} next what a run would delete now
 * @property {Record<string, number>} overdue by category; anything but 0 is a failure
 * @property {Record<string, string>} policy the periods by category, in English
 */

/**
 * A node of the cluster, from GET /api/v1/admin/nodes.
 *
 * @typedef {object} ClusterNode
 * @property {string} id
 * @property {string} url
 * @property {string} media_address
 * @property {string} roles
 * @property {number} capacity
 * @property {number} rooms
 * @property {number} participants
 * @property {number} packets_per_second
 * @property {number} cpu_percent
 * @property {string} started_at
 * @property {string} heartbeat_at
 * @property {boolean} alive
 */

/**
 * A connection-log entry, from POST /api/v1/admin/connection-log/search.
 *
 * @typedef {object} Connection
 * @property {string} at
 * @property {string} actor_kind
 * @property {string} actor_id
 * @property {string} [display_name]
 * @property {string} ip
 * @property {number} port
 * @property {string} action
 * @property {string} [webinar_id]
 * @property {string} protocol
 */

/**
 * A category of the processing register, GET /api/v1/privacy/register (only what is used).
 *
 * @typedef {{key: string, name: {fr: string, en: string}, kept: {fr: string, en: string}}} RegisterCategory
 */

/** @typedef {"meeting" | "webinar"} Kind */
/** @typedef {"attendee" | "presenter" | "moderator" | "captioner"} Role */

/**
 * @typedef {object} Webinar
 * @property {string} id
 * @property {string} title
 * @property {string} description
 * @property {Kind} kind
 * @property {string} starts_at RFC 3339, UTC
 * @property {number} duration_minutes
 * @property {boolean} lobby_enabled
 * @property {boolean} recording_allowed
 * @property {string} room_id
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * The fields of a webinar an organizer sets; all are needed to create one.
 *
 * @typedef {object} WebinarInput
 * @property {string} title
 * @property {string} description
 * @property {Kind} kind
 * @property {string} starts_at RFC 3339 with an offset
 * @property {number} duration_minutes
 * @property {boolean} lobby_enabled
 * @property {boolean} recording_allowed
 */

/** @typedef {{items: Webinar[], total: number, limit: number, offset: number}} WebinarPage */

/**
 * @typedef {object} Invitation
 * @property {string} id
 * @property {Role} role
 * @property {string} url the link to hand out
 * @property {string} ics_url
 * @property {string} created_at
 * @property {string | null} revoked_at
 */

/**
 * What the holder of an invitation link may know, from GET /api/v1/invitations/{token}.
 *
 * @typedef {object} PublicInvitation
 * @property {string} title
 * @property {string} description
 * @property {Kind} kind
 * @property {Role} role
 * @property {string} starts_at
 * @property {number} duration_minutes
 * @property {boolean} lobby_enabled
 * @property {boolean} recording_allowed
 */

/** A failed request: status 0 and code "network" when the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, or 0
   * @param {string} code the problem's stable code, e.g. "validation"
   * @param {string} detail the problem's detail, in English, for people
   * @param {FieldError[]} fieldErrors the invalid fields, if any
   */
  constructor(status, code, detail, fieldErrors) {
    super(detail || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fieldErrors = fieldErrors;
  }
}

/**
 * GETs url and returns its JSON.
 *
 * @param {string} url
 * @returns {Promise<any>}
 */
export function getJSON(url) {
  return request("GET", url, undefined, "");
}

/**
 * Sends body as JSON with the session's CSRF token and returns the JSON answer, or null
 * when there is none (204). Without a body (e.g. DELETE) nothing is sent but the headers.
 *
 * @param {string} method
 * @param {string} url
 * @param {unknown} body
 * @param {string} csrf the csrf_token of /api/v1/me
 * @returns {Promise<any>}
 */
export function sendJSON(method, url, body, csrf) {
  return request(method, url, body, csrf);
}

/**
 * @param {string} method
 * @param {string} url
 * @param {unknown} body
 * @param {string} csrf
 * @returns {Promise<any>}
 */
async function request(method, url, body, csrf) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  /** @type {Response} */
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiError(0, "network", "the server could not be reached", []);
  }
  const data = await readJSON(res);
  if (res.ok) return data;
  const problem = data && typeof data === "object" ? data : {};
  throw new ApiError(
    res.status,
    typeof problem.code === "string" ? problem.code : `http_${res.status}`,
    typeof problem.detail === "string" ? problem.detail : "",
    Array.isArray(problem.errors) ? problem.errors.filter(isFieldError) : [],
  );
}

/**
 * @param {Response} res
 * @returns {Promise<any>} the parsed body, or null when it is empty or not JSON
 */
async function readJSON(res) {
  if (res.status === 204 || !(res.headers.get("Content-Type") || "").includes("json")) return null;
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/**
 * @param {unknown} e
 * @returns {e is FieldError}
 */
function isFieldError(e) {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (/** @type {any} */ (e).field) === "string" &&
    typeof (/** @type {any} */ (e).detail) === "string"
  );
}
