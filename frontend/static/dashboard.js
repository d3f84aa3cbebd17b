// @ts-check
// The organizer's dashboard: who is logged in, the webinars page by page, the form that
// creates one, and per webinar its room, its invitation links and its recordings.

import { ApiError, getJSON, sendJSON } from "./api.js";
import { copyLink } from "./copy-link.js";
import { byId, h, uid } from "./dom.js";
import { initI18n, localize, setPlainText, t, timeZone, translate } from "./i18n.js";
import { openBroadcast } from "./broadcast.js";
import { openRecordings } from "./recordings.js";
import { ListPager } from "./pager.js";
import { errorKey, loadMe, loginIfExpired, setupHeader } from "./session.js";

/** @typedef {import("./api.js").Me} Me */
/** @typedef {import("./api.js").Webinar} Webinar */
/** @typedef {import("./api.js").WebinarInput} WebinarInput */
/** @typedef {import("./api.js").WebinarPage} WebinarPage */
/** @typedef {import("./api.js").Invitation} Invitation */
/** @typedef {import("./api.js").Role} Role */
/** @typedef {import("./api.js").FieldError} FieldError */

/** Webinars per page of the list. */
const PAGE_SIZE = 20;
/** The largest page the API gives, used to find a webinar in the list. */
const MAX_PAGE = 100;
/** The roles an invitation may give, in the order offered. */
const ROLES = /** @type {const} */ (["attendee", "presenter", "moderator", "captioner"]);

/** The organizer, once loaded. @type {Me | null} */
let me = null;
/** The offset of the page shown. */
let offset = 0;

const loading = byId("loading", HTMLElement);
const pageError = byId("page-error", HTMLElement);
const statusLine = byId("status", HTMLElement);
const content = byId("content", HTMLElement);
const listTitle = byId("list-title", HTMLElement);
const list = byId("webinar-list", HTMLUListElement);
const listSummary = byId("list-summary", HTMLElement);
const pager = byId("pager", ListPager);
const form = byId("create-form", HTMLFormElement);
const summary = byId("create-summary", HTMLElement);
const restricted = byId("restricted", HTMLElement);

// ---------------------------------------------------------------------------------------
// Errors and messages

/** @returns {string} the CSRF token of the session */
function csrf() {
  return me ? me.csrf_token : "";
}

/**
 * Says key in the page's status line (announced politely), or in its alert line when it is
 * an error.
 *
 * @param {string} key
 * @param {import("./i18n.js").Vars} [vars]
 * @param {boolean} [isError]
 */
function say(key, vars, isError = false) {
  setPlainText(isError ? statusLine : pageError, "");
  localize(isError ? pageError : statusLine, key, vars);
}

/**
 * Reports a failed request at page level, unless it ends the session.
 *
 * @param {unknown} err
 */
function fail(err) {
  if (loginIfExpired(err)) return;
  if (err instanceof ApiError && err.code === "restricted") showRestricted();
  else say(errorKey(err), {}, true);
}

/** Shows that the account is restricted in place of the webinars, which it may not manage. */
function showRestricted() {
  restricted.hidden = false;
  content.hidden = true;
}

// ---------------------------------------------------------------------------------------
// The organizer

/** @param {Me} who */
function renderMe(who) {
  const name = who.display_name || [who.given_name, who.family_name].filter(Boolean).join(" ") || who.email;
  localize(byId("greeting", HTMLElement), "dash.greeting", { name });
  byId("admin-badge", HTMLElement).hidden = !who.is_admin;
  setupHeader(who, fail);
}

// ---------------------------------------------------------------------------------------
// The list of webinars

/**
 * Loads and shows the page at offset.
 *
 * @param {number} at
 * @returns {Promise<WebinarPage>}
 */
async function loadPage(at) {
  /** @type {WebinarPage} */
  const page = await getJSON(`/api/v1/webinars?limit=${PAGE_SIZE}&offset=${at}`);
  if (page.items.length === 0 && page.total > 0 && at > 0) {
    // The last page emptied (a deletion): show the new last page.
    return loadPage(Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE));
  }
  offset = at;
  renderPage(page);
  return page;
}

/** @param {WebinarPage} page */
function renderPage(page) {
  list.replaceChildren(...page.items.map(renderWebinar));
  localize(listSummary, page.total === 0 ? "list.empty" : "list.total", { count: page.total });
  pager.showOffset(offset, PAGE_SIZE, page.total);
}

/**
 * Shows another page and puts the focus on the list's heading.
 *
 * @param {number} at
 */
async function goTo(at) {
  try {
    await loadPage(at);
    listTitle.focus();
  } catch (err) {
    fail(err);
  }
}

/**
 * The offset of the page that holds the webinar with this id, or -1.
 *
 * @param {string} id
 * @returns {Promise<number>}
 */
async function locate(id) {
  for (let at = 0; ; at += MAX_PAGE) {
    /** @type {WebinarPage} */
    const page = await getJSON(`/api/v1/webinars?limit=${MAX_PAGE}&offset=${at}`);
    const i = page.items.findIndex((w) => w.id === id);
    if (i >= 0) return Math.floor((at + i) / PAGE_SIZE) * PAGE_SIZE;
    if (at + MAX_PAGE >= page.total) return -1;
  }
}

/**
 * One webinar of the list, with its actions and its (closed) invitations panel.
 *
 * @param {Webinar} w
 * @returns {HTMLLIElement}
 */
function renderWebinar(w) {
  const titleId = uid("webinar-title");
  const panelId = uid("invitations");
  const named = JSON.stringify({ title: w.title });

  const toggle = h("button", {
    type: "button",
    class: "button secondary",
    "aria-expanded": "false",
    "aria-controls": panelId,
    "data-i18n": "webinar.invitations",
    "data-i18n-attr": "aria-label:webinar.invitations.label",
    "data-i18n-vars": named,
  });
  const remove = h("button", {
    type: "button",
    class: "button danger",
    "data-i18n": "webinar.delete",
    "data-i18n-attr": "aria-label:webinar.delete.label",
    "data-i18n-vars": named,
  });
  const ics = h("a", {
    class: "button secondary",
    href: `/api/v1/webinars/${encodeURIComponent(w.id)}/invitation.ics`,
    download: "webinaire.ics",
    "data-i18n": "webinar.ics",
    "data-i18n-attr": "aria-label:webinar.ics.label",
    "data-i18n-vars": named,
  });
  const enter = h("a", {
    class: "button",
    href: `/room/${encodeURIComponent(w.id)}`,
    "data-i18n": "webinar.room",
    "data-i18n-attr": "aria-label:webinar.room.label",
    "data-i18n-vars": named,
  });
  const panel = h("section", {
    id: panelId,
    class: "invitations",
    hidden: true,
    "data-i18n-attr": "aria-label:inv.panel.label",
    "data-i18n-vars": named,
  });
  const [recToggle, recPanel] = panelToggle("recordings", "webinar.recordings", "rec.panel.label", named);
  const [castToggle, castPanel] = panelToggle("broadcast", "webinar.broadcast", "cast.panel.label", named);
  const [slidesToggle, slidesPanel] = panelToggle("slides", "webinar.slides", "webinar.slides.label", named);
  slidesPanel.className = "webinar-slides";

  const li = h(
    "li",
    { class: "webinar", "data-webinar-id": w.id },
    h(
      "article",
      { "aria-labelledby": titleId },
      h("h3", { id: titleId, class: "webinar-title", tabindex: "-1" }, w.title),
      h(
        "p",
        { class: "webinar-when" },
        h("span", { class: `tag tag-${w.kind}`, "data-i18n": `kind.${w.kind}` }),
        " ",
        h("time", { datetime: w.starts_at, "data-format": "datetime", "data-value": w.starts_at }),
        " · ",
        h("span", { "data-format": "duration", "data-value": w.duration_minutes }),
      ),
      w.description ? h("p", { class: "webinar-description" }, w.description) : null,
      h(
        "ul",
        { class: "flags" },
        h("li", { "data-i18n": w.lobby_enabled ? "webinar.lobby.on" : "webinar.lobby.off" }),
        h("li", {
          class: w.recording_allowed ? "flag-recording" : null,
          "data-i18n": w.recording_allowed ? "webinar.recording.on" : "webinar.recording.off",
        }),
      ),
      h("div", { class: "actions" }, enter, toggle, recToggle, castToggle, slidesToggle, ics, remove),
      panel,
      recPanel,
      castPanel,
      slidesPanel,
    ),
  );
  translate(li);

  disclose(toggle, panel, () => openInvitations(w, panel));
  disclose(recToggle, recPanel, () => openRecordings(w, recPanel, csrf));
  disclose(slidesToggle, slidesPanel, () => openSlides(w, slidesPanel));
  disclose(castToggle, castPanel, () => openBroadcast(w, castPanel, csrf));
  remove.addEventListener("click", () => deleteWebinar(w));
  return li;
}

/**
 * A button that shows and hides a panel of a webinar (see disclose), and the panel.
 *
 * @param {string} name the panel's class and the button's data-action
 * @param {string} key the button's string; key + ".label" its accessible name
 * @param {string} panelKey the panel's accessible name
 * @param {string} named the webinar's title, as data-i18n-vars
 * @returns {[HTMLButtonElement, HTMLElement]}
 */
function panelToggle(name, key, panelKey, named) {
  const panelId = uid(name);
  const toggle = h("button", {
    type: "button",
    class: "button secondary",
    "aria-expanded": "false",
    "aria-controls": panelId,
    "data-action": name,
    "data-i18n": key,
    "data-i18n-attr": `aria-label:${key}.label`,
    "data-i18n-vars": named,
  });
  const panel = h("section", { id: panelId, class: name, hidden: true, "data-i18n-attr": `aria-label:${panelKey}`, "data-i18n-vars": named });
  return [/** @type {HTMLButtonElement} */ (toggle), panel];
}

/**
 * Makes toggle show and hide panel; build fills the panel the first time it opens. A panel
 * opened again is told so with a "panel:open" event.
 *
 * @param {HTMLButtonElement} toggle
 * @param {HTMLElement} panel
 * @param {() => void} build
 */
function disclose(toggle, panel, build) {
  toggle.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (!open) return;
    if (panel.hasChildNodes()) panel.dispatchEvent(new Event("panel:open"));
    else build();
  });
}

/** @param {Webinar} w */
async function deleteWebinar(w) {
  if (!window.confirm(t("webinar.delete.confirm", { title: w.title }))) return;
  try {
    await sendJSON("DELETE", `/api/v1/webinars/${encodeURIComponent(w.id)}`, undefined, csrf());
    await loadPage(offset);
    say("webinar.deleted", { title: w.title });
    listTitle.focus();
  } catch (err) {
    fail(err);
  }
}

// ---------------------------------------------------------------------------------------
// Slides attached to one webinar beforehand

/**
 * Builds the slides panel of w in panel: what is attached, a field to attach a PDF (in
 * place of it), and a button to delete it.
 *
 * @param {Webinar} w
 * @param {HTMLElement} panel
 */
function openSlides(w, panel) {
  const url = `/api/v1/webinars/${encodeURIComponent(w.id)}/slides`;
  const fileId = uid("slides-file");
  const info = h("p", { class: "slides-info" });
  const message = h("p", { class: "panel-message", role: "status" });
  const file = h("input", { id: fileId, type: "file", accept: "application/pdf,.pdf", "data-action": "attach-slides" });
  const remove = h("button", { type: "button", class: "button danger", "data-action": "delete-slides", "data-i18n": "slides.delete", hidden: true });
  panel.append(
    h("h4", { "data-i18n": "webinar.slides" }),
    h("p", { class: "muted", "data-i18n": "slides.help" }),
    info,
    h("div", { class: "field" }, h("label", { for: fileId, "data-i18n": "slides.file" }), file),
    h("p", { class: "actions" }, remove),
    message,
  );
  translate(panel);
  const show = async () => {
    const res = await fetch(`${url}?info`);
    if (res.status === 404) {
      localize(info, "slides.none");
      remove.hidden = true;
      return;
    }
    if (!res.ok) throw new Error(String(res.status));
    const s = await res.json();
    localize(info, "slides.attached", { pages: s.pages, date: { date: s.attached_at }, expires: { date: s.expires_at } });
    remove.hidden = false;
  };
  file.addEventListener("change", async () => {
    const pdf = file.files?.[0];
    file.value = "";
    if (!pdf) return;
    const res = await fetch(url, { method: "PUT", headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/pdf" }, body: pdf });
    if (res.ok) {
      localize(message, "slides.saved");
    } else {
      const code = String((await res.json().catch(() => ({}))).code || "");
      const known = ["not_pdf", "pdf_too_large", "pdf_pages", "body_too_large", "slides_busy"];
      localize(message, known.includes(code) ? `room.slides.error.${code}` : "room.slides.error");
    }
    await show().catch(fail);
  });
  remove.addEventListener("click", async () => {
    if (!window.confirm(t("slides.delete.confirm", { title: w.title }))) return;
    try {
      await sendJSON("DELETE", url, undefined, csrf());
      localize(message, "slides.deleted");
      await show();
      file.focus();
    } catch (err) {
      fail(err);
    }
  });
  show().catch(fail);
}

// ---------------------------------------------------------------------------------------
// Invitations of one webinar

/**
 * Builds the invitations panel of w in panel and loads its links.
 *
 * @param {Webinar} w
 * @param {HTMLElement} panel
 */
function openInvitations(w, panel) {
  const selectId = uid("role");
  const select = h(
    "select",
    { id: selectId, name: "role" },
    ...ROLES.map((r) => h("option", { value: r, "data-i18n": `role.${r}` })),
  );
  const create = h(
    "form",
    { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: selectId, "data-i18n": "inv.role" }), select),
    h("button", { type: "submit", class: "button", "data-i18n": "inv.create" }),
  );
  const message = h("p", { class: "panel-message", role: "status" });
  const items = h("ul", { class: "invitation-list" });
  panel.append(
    h("h4", { "data-i18n": "inv.title" }),
    h("p", { class: "hint", "data-i18n": "inv.intro" }),
    create,
    message,
    items,
  );
  translate(panel);

  /**
   * Loads the links again; focuses the link with focusId, if given.
   *
   * @param {string} [focusId]
   */
  const reload = async (focusId) => {
    /** @type {{items: Invitation[]}} */
    const res = await getJSON(`/api/v1/webinars/${encodeURIComponent(w.id)}/invitations`);
    // Active links first, newest first; revoked ones after them.
    const sorted = [...res.items].sort(
      (a, b) => Number(a.revoked_at !== null) - Number(b.revoked_at !== null) || b.created_at.localeCompare(a.created_at),
    );
    items.replaceChildren(...sorted.map((inv) => renderInvitation(w, inv, message, reload)));
    if (sorted.length === 0) items.append(h("li", { class: "empty", "data-i18n": "inv.empty" }));
    translate(items);
    if (focusId) {
      const input = items.querySelector(`[data-invitation-id="${CSS.escape(focusId)}"] input`);
      if (input instanceof HTMLInputElement) input.focus();
    }
  };

  /** @param {unknown} err */
  const panelFail = (err) => {
    if (!loginIfExpired(err)) localize(message, errorKey(err));
  };

  let busy = false;
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const role = /** @type {Role} */ (select.value);
    try {
      /** @type {Invitation} */
      const inv = await sendJSON("POST", `/api/v1/webinars/${encodeURIComponent(w.id)}/invitations`, { role }, csrf());
      localize(message, "inv.created", { role: { key: `role.${role}` } });
      await reload(inv.id);
    } catch (err) {
      panelFail(err);
    } finally {
      busy = false;
    }
  });

  localize(message, "common.loading");
  reload().then(
    () => setPlainText(message, ""),
    (err) => panelFail(err),
  );
}

/**
 * One invitation link: its role, its dates, the link to copy, its calendar entry, and revoke.
 *
 * @param {Webinar} w
 * @param {Invitation} inv
 * @param {HTMLElement} message the panel's status line
 * @param {(focusId?: string) => Promise<void>} reload
 * @returns {HTMLLIElement}
 */
function renderInvitation(w, inv, message, reload) {
  const role = { key: `role.${inv.role}` };
  const vars = JSON.stringify({ role, date: { date: inv.created_at } });
  const head = h(
    "p",
    { class: "invitation-head" },
    h("strong", { "data-i18n": role.key }),
    " ",
    h("span", { class: "muted", "data-i18n": "inv.created_at", "data-i18n-vars": JSON.stringify({ date: { date: inv.created_at } }) }),
  );
  if (inv.revoked_at !== null) {
    head.append(
      " ",
      h("span", {
        class: "tag tag-revoked",
        "data-i18n": "inv.revoked_at",
        "data-i18n-vars": JSON.stringify({ date: { date: inv.revoked_at } }),
      }),
    );
    return h("li", { class: "invitation revoked", "data-invitation-id": inv.id }, head);
  }

  const link = copyLink(inv.url, "inv.link", { role });
  const ics = h("a", {
    class: "button secondary",
    href: `/api/v1/webinars/${encodeURIComponent(w.id)}/invitation.ics?invitation=${encodeURIComponent(inv.id)}`,
    download: "webinaire.ics",
    "data-i18n": "inv.ics",
    "data-i18n-attr": "aria-label:inv.ics.label",
    "data-i18n-vars": vars,
  });
  const revoke = h("button", {
    type: "button",
    class: "button danger",
    "data-i18n": "inv.revoke",
    "data-i18n-attr": "aria-label:inv.revoke.label",
    "data-i18n-vars": vars,
  });
  const removeBox = h("input", { type: "checkbox", class: "remove-invitees" });
  const remove = h("label", { class: "check" }, removeBox, " ", h("span", { "data-i18n": "inv.revoke.remove" }));
  revoke.addEventListener("click", async () => {
    const removing = /** @type {HTMLInputElement} */ (removeBox).checked;
    if (!window.confirm(t(removing ? "inv.revoke.confirm.remove" : "inv.revoke.confirm", { role }))) return;
    try {
      const query = removing ? "?remove_participants=true" : "";
      /** @type {{participants_removed?: number}} */
      const out = await sendJSON(
        "DELETE",
        `/api/v1/webinars/${encodeURIComponent(w.id)}/invitations/${encodeURIComponent(inv.id)}${query}`,
        undefined,
        csrf(),
      );
      if (removing) localize(message, "inv.revoked.removed", { role, count: out.participants_removed ?? 0 });
      else localize(message, "inv.revoked", { role });
      await reload();
      message.closest("section")?.querySelector("select")?.focus();
    } catch (err) {
      if (!loginIfExpired(err)) localize(message, errorKey(err));
    }
  });
  return h(
    "li",
    { class: "invitation", "data-invitation-id": inv.id },
    head,
    link,
    h("div", { class: "actions" }, ics, revoke, remove),
  );
}

// ---------------------------------------------------------------------------------------
// The form that creates a webinar

/** The form's fields by the API's field names. */
const fields = {
  title: byId("f-title", HTMLInputElement),
  description: byId("f-description", HTMLTextAreaElement),
  kind: byId("f-kind", HTMLSelectElement),
  starts_at: byId("f-starts", HTMLInputElement),
  duration_minutes: byId("f-duration", HTMLInputElement),
  lobby_enabled: byId("f-lobby", HTMLInputElement),
  recording_allowed: byId("f-recording", HTMLInputElement),
};

/** @typedef {keyof typeof fields} FieldName */

/**
 * @param {string} name
 * @returns {name is FieldName}
 */
function isFieldName(name) {
  return Object.prototype.hasOwnProperty.call(fields, name);
}

/**
 * The value for a datetime-local input: the next full hour, local time.
 *
 * @param {Date} now
 * @returns {string}
 */
export function nextHour(now) {
  const d = new Date(now.getTime());
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  /** @param {number} n */
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

function resetForm() {
  form.reset();
  fields.starts_at.value = nextHour(new Date());
  clearErrors();
}

/** Removes every error shown on the form. */
function clearErrors() {
  setPlainText(summary, "");
  summary.hidden = true;
  for (const input of Object.values(fields)) {
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", input.getAttribute("data-describedby") || "");
    const error = document.getElementById(`${input.id}-error`);
    if (error) {
      setPlainText(error, "");
      error.hidden = true;
    }
  }
}

/**
 * Shows the errors next to their fields and, with links to them, at the top of the form,
 * which gets the focus.
 *
 * @param {FieldError[]} errors
 */
function showErrors(errors) {
  clearErrors();
  /** @type {HTMLElement[]} */
  const entries = [];
  for (const e of errors) {
    const input = isFieldName(e.field) ? fields[e.field] : null;
    const error = input ? document.getElementById(`${input.id}-error`) : null;
    const key = `field.${e.field}.error`;
    const known = t(key) !== key;
    if (input && error) {
      if (known) localize(error, key);
      else setPlainText(error, e.detail);
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", [input.getAttribute("data-describedby"), error.id].filter(Boolean).join(" "));
      const a = h("a", { href: `#${input.id}` });
      if (known) localize(a, key);
      else setPlainText(a, e.detail);
      a.addEventListener("click", (event) => {
        event.preventDefault();
        input.focus();
      });
      entries.push(h("li", {}, a));
    } else {
      entries.push(h("li", {}, known ? t(key) : `${e.field}: ${e.detail}`));
    }
  }
  const heading = h("p", { class: "form-summary-title", "data-i18n": "form.errors", "data-i18n-vars": JSON.stringify({ count: errors.length }) });
  summary.replaceChildren(heading, h("ul", {}, ...entries));
  translate(heading);
  summary.hidden = false;
  summary.focus();
}

/**
 * Checks the form in the browser with the server's rules, so that most mistakes are shown
 * without a round trip; returns the body to send, or the errors.
 *
 * @returns {{body: WebinarInput, errors: FieldError[]}}
 */
function readForm() {
  /** @type {FieldError[]} */
  const errors = [];
  /** @param {string} field */
  const bad = (field) => errors.push({ field, detail: "" });

  const title = fields.title.value.trim();
  if (title === "" || [...title].length > 200) bad("title");
  const description = fields.description.value.trim();
  if ([...description].length > 4000) bad("description");
  const kind = fields.kind.value === "meeting" ? "meeting" : "webinar";
  const start = fields.starts_at.value ? new Date(fields.starts_at.value) : null;
  const year = start ? start.getFullYear() : NaN;
  if (!start || Number.isNaN(year) || year < 2000 || year > 2999) bad("starts_at");
  const duration = Number(fields.duration_minutes.value);
  if (!Number.isInteger(duration) || duration < 1 || duration > 1440) bad("duration_minutes");

  return {
    body: {
      title,
      description,
      kind,
      starts_at: start && !Number.isNaN(year) ? start.toISOString() : "",
      duration_minutes: duration,
      lobby_enabled: fields.lobby_enabled.checked,
      recording_allowed: fields.recording_allowed.checked,
    },
    errors,
  };
}

let creating = false;

/** @param {SubmitEvent} event */
async function submitCreate(event) {
  event.preventDefault();
  if (creating) return;
  const { body, errors } = readForm();
  if (errors.length > 0) {
    showErrors(errors);
    return;
  }
  creating = true;
  form.setAttribute("aria-busy", "true");
  try {
    /** @type {Webinar} */
    const w = await sendJSON("POST", "/api/v1/webinars", body, csrf());
    resetForm();
    say("create.done", { title: w.title });
    const at = await locate(w.id);
    await loadPage(at >= 0 ? at : offset);
    const item = list.querySelector(`[data-webinar-id="${CSS.escape(w.id)}"]`);
    if (item) {
      item.querySelector("h3")?.focus();
      const toggle = item.querySelector("button[aria-expanded]");
      if (toggle instanceof HTMLButtonElement) toggle.click();
    }
  } catch (err) {
    if (err instanceof ApiError && err.code === "validation" && err.fieldErrors.length > 0) {
      showErrors(err.fieldErrors);
    } else {
      fail(err);
    }
  } finally {
    creating = false;
    form.removeAttribute("aria-busy");
  }
}

function setupForm() {
  for (const input of Object.values(fields)) {
    input.setAttribute("data-describedby", input.getAttribute("aria-describedby") || "");
  }
  const zone = timeZone();
  const hint = byId("f-starts-hint", HTMLElement);
  if (zone) localize(hint, "create.starts.hint.zone", { zone });
  resetForm();
  form.addEventListener("submit", submitCreate);
  byId("new-webinar", HTMLAnchorElement).addEventListener("click", (event) => {
    event.preventDefault();
    fields.title.focus();
  });
}

// ---------------------------------------------------------------------------------------

async function main() {
  initI18n();
  try {
    me = await loadMe();
  } catch (err) {
    loading.hidden = true;
    say(errorKey(err), {}, true);
    return;
  }
  if (!me) return;
  renderMe(me);
  if (me.restricted_at !== null) {
    loading.hidden = true;
    showRestricted();
    return;
  }
  setupForm();
  pager.addEventListener("page", (event) => goTo(Math.max(0, offset + /** @type {CustomEvent} */ (event).detail.direction * PAGE_SIZE)));
  try {
    await loadPage(0);
  } catch (err) {
    fail(err);
  }
  loading.hidden = true;
  content.hidden = !restricted.hidden; // a restriction found on the way hides the webinars
}

main();
