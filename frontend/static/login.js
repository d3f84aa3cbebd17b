// @ts-check
// The login page: language, and the page to come back to after the login.

import { initI18n } from "./i18n.js";
import { isLocalPath } from "./localpath.js";

/**
 * The return_to of this page's address when it is a path on this site, else "/dashboard".
 *
 * @param {string} search location.search
 * @returns {string}
 */
export function returnTo(search) {
  const p = new URLSearchParams(search).get("return_to") || "";
  return isLocalPath(p) ? p : "/dashboard";
}

initI18n();
const link = document.getElementById("login-link");
if (link instanceof HTMLAnchorElement) {
  link.href = `/auth/login?return_to=${encodeURIComponent(returnTo(location.search))}`;
}
