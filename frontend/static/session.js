// @ts-check
// What the organizer's pages share: who is logged in, the header's links and logout, and
// what a failed request means for people.

import { ApiError, getJSON, sendJSON } from "./api.js";

/** @typedef {import("./api.js").Me} Me */

/**
 * The login page, coming back to path afterwards.
 *
 * @param {string} path a path on this site
 * @returns {string}
 */
export function loginURL(path) {
  return `/login?return_to=${encodeURIComponent(path)}`;
}

/**
 * The organizer logged in, or null after sending the browser to the login page when there is
 * no session. Other failures are thrown.
 *
 * @returns {Promise<Me | null>}
 */
export async function loadMe() {
  try {
    return await getJSON("/api/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      location.replace(loginURL(location.pathname));
      return null;
    }
    throw err;
  }
}

/**
 * The message key for a failed request that is not about a form field.
 *
 * @param {unknown} err
 * @returns {string}
 */
export function errorKey(err) {
  if (!(err instanceof ApiError)) return "error.generic";
  switch (err.code) {
    case "network":
      return "error.network";
    case "not_ready":
    case "database_unavailable":
      return "error.unavailable";
    case "csrf":
      return "error.csrf";
    case "not_found":
      return "error.not_found";
    case "forbidden":
      return "error.forbidden";
    case "restricted":
      return "error.restricted";
    default:
      return "error.generic";
  }
}

/**
 * Sends the browser to the login page when the session is over; true when it did.
 *
 * @param {unknown} err
 * @returns {boolean}
 */
export function loginIfExpired(err) {
  if (err instanceof ApiError && err.status === 401) {
    location.assign(loginURL(location.pathname));
    return true;
  }
  return false;
}

/**
 * Shows the header's administration link to administrators and wires the logout button.
 *
 * @param {Me} me
 * @param {(err: unknown) => void} fail reports a failed logout
 */
export function setupHeader(me, fail) {
  const admin = document.getElementById("admin-link");
  if (admin) admin.hidden = !me.is_admin;
  const logout = document.getElementById("logout");
  if (!(logout instanceof HTMLButtonElement)) return;
  logout.hidden = false;
  logout.addEventListener("click", async () => {
    try {
      const res = await sendJSON("POST", "/auth/logout", undefined, me.csrf_token);
      const dest = res && typeof res.redirect === "string" ? new URL(res.redirect, location.href) : null;
      location.assign(dest && (dest.protocol === "https:" || dest.protocol === "http:") ? dest.href : "/");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) location.assign("/");
      else fail(err);
    }
  });
}

/**
 * Hides the header's links and logout: after the account is erased there is no session.
 */
export function clearHeader() {
  for (const el of document.querySelectorAll(".header-nav, #logout")) {
    if (el instanceof HTMLElement) el.hidden = true;
  }
}
