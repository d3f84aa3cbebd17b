// @ts-check
// The rule a page to come back to after the login must pass: the server's localPath
// (api/auth.go), which a test keeps in step with this one.

/**
 * Whether p is a path on this site: one "/" first (not "//"), printable ASCII only (no
 * white space or control character, which browsers drop before they read a URL, and no
 * "\", which they read as "/"), every "%" starting an escape, and at most 512 bytes (the
 * server refuses a longer return_to).
 *
 * @param {string} p
 * @returns {boolean}
 */
export function isLocalPath(p) {
  return p.length <= 512 && /^\/(?!\/)[!-[\]-~]*$/.test(p) && !/%(?![0-9A-Fa-f]{2})/.test(p);
}
