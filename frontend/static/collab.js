// @ts-check
// The collaboration panels of a meeting room: <chat-panel> (messages to everyone or to the
// moderators) and <poll-panel> (moderators make and run polls, everyone votes). What the
// others wrote is only ever shown as text; a link in it is an anchor that nothing fetches.

import { h, uid } from "./dom.js";
import { localize, setPlainText, translate } from "./i18n.js";

/** @typedef {import("./rtc.js").RoomClient} RoomClient */
/** @typedef {import("./rtc.js").ChatMessage} ChatMessage */
/** @typedef {import("./rtc.js").Poll} Poll */

/** The server's limit on a chat message, in bytes of UTF-8. */
const CHAT_MAX_BYTES = 2000;

/** Polls have 2 to 10 options. */
const POLL_MIN_OPTIONS = 2;
const POLL_MAX_OPTIONS = 10;

/** Web addresses in a text, shown as anchors. */
const LINK = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'»]/g;

/**
 * A text as nodes: plain text, and its web addresses as anchors opened in a new tab without
 * referrer. Nothing is fetched until someone follows a link.
 *
 * @param {string} text
 * @returns {(string | HTMLAnchorElement)[]}
 */
export function textWithLinks(text) {
  /** @type {(string | HTMLAnchorElement)[]} */
  const out = [];
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    const at = m.index || 0;
    if (at > last) out.push(text.slice(last, at));
    out.push(h("a", { href: m[0], rel: "noopener noreferrer nofollow", target: "_blank" }, m[0]));
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * The text typed in a field, trimmed, when it is to be sent: an empty field gets the focus,
 * a text over max bytes of UTF-8 is said in status (tooLongKey, with {max}); both give "".
 *
 * @param {HTMLInputElement | HTMLTextAreaElement} field
 * @param {HTMLElement} status
 * @param {number} max
 * @param {string} tooLongKey
 * @returns {string}
 */
export function typedText(field, status, max, tooLongKey) {
  const text = field.value.trim();
  if (text === "") {
    field.focus();
    return "";
  }
  if (new TextEncoder().encode(text).length > max) {
    localize(status, tooLongKey, { max });
    return "";
  }
  setPlainText(status, "");
  return text;
}

/**
 * A panel's frame: a section with a heading, labelled by it.
 *
 * @param {HTMLElement} panel the custom element
 * @param {string} titleKey
 * @param {...HTMLElement} content
 */
export function frame(panel, titleKey, ...content) {
  const titleId = uid("panel-title");
  panel.classList.add("panel");
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-labelledby", titleId);
  panel.append(h("h2", { id: titleId, class: "panel-title", "data-i18n": titleKey }), ...content);
  translate(panel);
}

/**
 * <chat-panel>: the messages of the session and a form to write one.
 */
export class ChatPanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.log = h("div", { class: "chat-log", role: "log", "data-i18n-attr": "aria-label:room.chat.log" });
    this.empty = h("p", { class: "muted chat-empty", "data-i18n": "room.chat.empty" });
    const textId = uid("chat-text");
    const toId = uid("chat-to");
    this.text = h("textarea", { id: textId, class: "chat-text", rows: 2, maxlength: CHAT_MAX_BYTES });
    this.to = h(
      "select",
      { id: toId, class: "chat-to" },
      h("option", { value: "", "data-i18n": "room.chat.to.all" }),
      h("option", { value: "moderators", "data-i18n": "room.chat.to.moderators" }),
    );
    this.status = h("p", { class: "chat-status", role: "status" });
    this.form = h(
      "form",
      { class: "chat-form", novalidate: true },
      h("label", { for: textId, "data-i18n": "room.chat.message" }),
      this.text,
      h(
        "div",
        { class: "chat-send" },
        h("label", { for: toId, "data-i18n": "room.chat.to" }),
        this.to,
        h("button", { type: "submit", class: "button", "data-i18n": "room.chat.send" }),
      ),
      this.status,
    );
    /** The text last sent, given back if the server drops it. */
    this.pending = "";
    /** Messages arrived while the panel was hidden. */
    this.unread = 0;
  }

  connectedCallback() {
    if (this.firstChild) return;
    frame(this, "room.chat", this.log, this.form);
    this.log.append(this.empty);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
  }

  /** @param {RoomClient} client */
  attach(client) {
    this.client = client;
    client.addEventListener("chat", (event) => {
      const msg = /** @type {CustomEvent<ChatMessage | undefined>} */ (event).detail;
      if (msg) this.add(msg);
      else this.showAll();
    });
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (code !== "rate_limited" || !this.pending) return;
      localize(this.status, "room.chat.rate_limited");
      if (this.text.value === "") this.text.value = this.pending;
      this.pending = "";
    });
  }

  submit() {
    const client = this.client;
    if (!client) return;
    const text = typedText(this.text, this.status, CHAT_MAX_BYTES, "room.chat.too_long");
    if (!text) return;
    this.pending = text;
    client.sendChat(text, this.to.value === "moderators");
    this.text.value = "";
    this.text.focus();
  }

  showAll() {
    this.log.replaceChildren();
    for (const msg of this.client?.chat || []) this.log.append(this.item(msg));
    if (!this.log.firstChild) this.log.append(this.empty);
  }

  /** @param {ChatMessage} msg */
  add(msg) {
    this.empty.remove();
    if (msg.from === this.client?.id && msg.text === this.pending) this.pending = "";
    const atEnd = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 8;
    this.log.append(this.item(msg));
    if (atEnd) this.log.scrollTop = this.log.scrollHeight;
    if (this.closest("[hidden]")) {
      this.unread += 1;
      this.dispatchEvent(new Event("unread", { bubbles: true }));
    }
  }

  /**
   * @param {ChatMessage} msg
   * @returns {HTMLElement}
   */
  item(msg) {
    const time = h("time", { datetime: msg.sent_at, "data-format": "time", "data-value": msg.sent_at });
    const meta = h("p", { class: "chat-meta" }, h("span", { class: "chat-from" }, msg.from_name), " ", time);
    if (msg.to === "moderators") meta.append(" ", h("span", { class: "tag chat-private", "data-i18n": "room.chat.private" }));
    const item = h("div", { class: "chat-message", "data-chat-id": msg.id }, meta, h("p", { class: "chat-body" }, ...textWithLinks(msg.text)));
    if (msg.to === "moderators") item.classList.add("chat-message-private");
    translate(item);
    return item;
  }
}

/**
 * <poll-panel>: the polls of the session. Moderators make them, open, close and publish
 * them and see the results as they come; everyone votes while a poll is open and sees the
 * results once published.
 */
export class PollPanel extends HTMLElement {
  constructor() {
    super();
    /** @type {RoomClient | null} */
    this.client = null;
    this.list = h("div", { class: "poll-list" });
    this.empty = h("p", { class: "muted", "data-i18n": "room.poll.empty" });
    this.creator = this.makeCreator();
    this.status = h("p", { class: "poll-status", role: "status" });
    /** @type {Map<string, {article: HTMLElement, shape: string}>} */
    this.shown = new Map();
  }

  connectedCallback() {
    if (this.firstChild) return;
    frame(this, "room.poll", this.status, this.list, this.creator);
  }

  /** @param {RoomClient} client */
  attach(client) {
    this.client = client;
    client.addEventListener("polls", () => this.render());
    client.addEventListener("role", () => this.render());
    client.addEventListener("problem", (event) => {
      const code = /** @type {CustomEvent} */ (event).detail.code;
      if (["poll_state", "unknown_poll", "limit_reached", "forbidden"].includes(code)) localize(this.status, `room.poll.error.${code}`);
    });
    this.render();
  }

  /** @returns {HTMLFormElement} the moderators' form for a new poll */
  makeCreator() {
    const questionId = uid("poll-question");
    const question = h("input", { id: questionId, name: "question", type: "text", maxlength: 300, required: true });
    const options = h("ol", { class: "poll-options-edit" });
    const add = h("button", { type: "button", class: "button secondary", "data-i18n": "room.poll.add_option" });
    const multipleId = uid("poll-multiple");
    const anonymousId = uid("poll-anonymous");
    const error = h("p", { class: "field-error", role: "alert" });
    const form = h(
      "form",
      { class: "poll-create form", novalidate: true },
      h("h3", { "data-i18n": "room.poll.new" }),
      h("div", { class: "field" }, h("label", { for: questionId, "data-i18n": "room.poll.question" }), question),
      h("fieldset", { class: "options" }, h("legend", { "data-i18n": "room.poll.options" }), options, h("p", {}, add)),
      h("div", { class: "check" }, h("input", { id: multipleId, name: "multiple", type: "checkbox" }), h("label", { for: multipleId, "data-i18n": "room.poll.multiple" })),
      h("div", { class: "check" }, h("input", { id: anonymousId, name: "anonymous", type: "checkbox", checked: true }), h("label", { for: anonymousId, "data-i18n": "room.poll.anonymous" })),
      error,
      h("p", {}, h("button", { type: "submit", class: "button", "data-i18n": "room.poll.create" })),
    );
    const addOption = () => {
      const n = options.children.length + 1;
      const id = uid("poll-option");
      const remove = h("button", { type: "button", class: "button secondary", "data-i18n-attr": "aria-label:room.poll.remove_option", "data-i18n-vars": JSON.stringify({ n }) }, "×");
      const li = h("li", { class: "poll-option-edit" }, h("label", { for: id, class: "visually-hidden", "data-i18n": "room.poll.option", "data-i18n-vars": JSON.stringify({ n }) }), h("input", { id, name: "option", type: "text", maxlength: 200 }), remove);
      remove.addEventListener("click", () => {
        if (options.children.length <= POLL_MIN_OPTIONS) return;
        li.remove();
        add.disabled = false;
        /** @type {HTMLElement | null} */ (options.querySelector("input"))?.focus();
      });
      options.append(li);
      translate(li);
      add.disabled = options.children.length >= POLL_MAX_OPTIONS;
      return li;
    };
    for (let i = 0; i < POLL_MIN_OPTIONS; i++) addOption();
    add.addEventListener("click", () => addOption().querySelector("input")?.focus());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const q = question.value.trim();
      const texts = [...options.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
      setPlainText(error, "");
      if (q === "" || texts.length < POLL_MIN_OPTIONS) {
        localize(error, "room.poll.incomplete");
        (q === "" ? question : /** @type {HTMLElement} */ (options.querySelector("input"))).focus();
        return;
      }
      const flags = /** @type {HTMLInputElement[]} */ ([form.elements.namedItem("multiple"), form.elements.namedItem("anonymous")]);
      this.client?.moderate("poll_create", { question: q, options: texts, multiple: flags[0].checked, anonymous: flags[1].checked });
      form.reset();
      while (options.children.length > POLL_MIN_OPTIONS) options.lastElementChild?.remove();
      add.disabled = false;
      localize(this.status, "room.poll.created");
    });
    translate(form);
    return form;
  }

  render() {
    const client = this.client;
    if (!client) return;
    this.creator.hidden = !client.isModerator();
    /** @type {Set<string>} */
    const seen = new Set();
    for (const poll of client.polls.values()) {
      seen.add(poll.poll_id);
      // the voting form is made anew only when the poll's shape changes, so that a choice
      // being made is not lost when someone else votes
      const shape = JSON.stringify([poll.state, poll.options, poll.multiple, client.isModerator()]);
      let entry = this.shown.get(poll.poll_id);
      if (!entry || entry.shape !== shape) {
        const article = this.article(poll, client);
        if (entry) entry.article.replaceWith(article);
        else this.list.append(article);
        entry = { article, shape };
        this.shown.set(poll.poll_id, entry);
      }
      this.fill(entry.article, poll, client);
    }
    for (const [id, entry] of this.shown) {
      if (!seen.has(id)) {
        entry.article.remove();
        this.shown.delete(id);
      }
    }
    if (this.shown.size === 0) this.list.replaceChildren(this.empty);
    else this.empty.remove();
  }

  /**
   * The frame of one poll: its question, state, voting form and moderators' actions.
   *
   * @param {Poll} poll
   * @param {RoomClient} client
   * @returns {HTMLElement}
   */
  article(poll, client) {
    const titleId = uid("poll");
    const article = h(
      "article",
      { class: "poll", "data-poll-id": poll.poll_id, "data-state": poll.state, "aria-labelledby": titleId },
      h("h3", { id: titleId, class: "poll-question" }, poll.question),
      h("p", { class: "poll-facts" }, h("span", { class: "tag", "data-i18n": `room.poll.state.${poll.state}` }), " ", h("span", { class: "muted", "data-i18n": poll.anonymous ? "room.poll.is_anonymous" : "room.poll.is_named" })),
    );
    if (poll.state === "open") article.append(this.ballot(poll, client));
    article.append(h("div", { class: "poll-results" }));
    if (client.isModerator()) {
      const actions = h("p", { class: "poll-actions" });
      /** @param {string} type @param {string} key */
      const action = (type, key) => {
        const b = h("button", { type: "button", class: "button secondary", "data-poll-action": type, "data-i18n": key });
        b.addEventListener("click", () => client.moderate(type, { poll_id: poll.poll_id }));
        actions.append(b);
      };
      if (poll.state === "draft") action("poll_open", "room.poll.open");
      if (poll.state === "open") action("poll_close", "room.poll.close");
      if (poll.state === "closed") action("poll_publish", "room.poll.publish");
      article.append(actions);
    }
    translate(article);
    return article;
  }

  /**
   * The voting form of an open poll, with the participant's vote checked.
   *
   * @param {Poll} poll
   * @param {RoomClient} client
   * @returns {HTMLFormElement}
   */
  ballot(poll, client) {
    const name = uid("vote");
    const fieldset = h("fieldset", { class: "options" }, h("legend", { "data-i18n": poll.multiple ? "room.poll.choose_many" : "room.poll.choose_one" }));
    poll.options.forEach((text, i) => {
      const id = `${name}-${i}`;
      fieldset.append(
        h(
          "div",
          { class: "check" },
          h("input", { id, name, type: poll.multiple ? "checkbox" : "radio", value: i, checked: (poll.my_vote || []).includes(i) }),
          h("label", { for: id }, text),
        ),
      );
    });
    const voted = h("p", { class: "poll-voted", role: "status" });
    const submit = h("button", { type: "submit", class: "button", "data-i18n": "room.poll.vote" });
    const form = h("form", { class: "poll-ballot", novalidate: true }, fieldset, h("p", {}, submit), voted);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const choices = [...form.querySelectorAll("input:checked")].map((i) => Number(/** @type {HTMLInputElement} */ (i).value));
      if (choices.length === 0) {
        localize(voted, "room.poll.choose");
        return;
      }
      client.vote(poll.poll_id, choices);
    });
    return form;
  }

  /**
   * Shows what changes with each vote: the participant's vote, the results and the voters.
   *
   * @param {HTMLElement} article
   * @param {Poll} poll
   * @param {RoomClient} client
   */
  fill(article, poll, client) {
    const voted = article.querySelector(".poll-voted");
    const submit = article.querySelector(".poll-ballot button[type=submit]");
    if (poll.my_vote && poll.my_vote.length > 0) {
      if (voted && voted.getAttribute("data-i18n") !== "room.poll.recorded") localize(voted, "room.poll.recorded");
      if (submit) localize(submit, "room.poll.change");
    }
    const results = /** @type {HTMLElement} */ (article.querySelector(".poll-results"));
    if (!poll.results) {
      results.replaceChildren();
      return;
    }
    const total = poll.voted;
    const list = h("ul", { class: "poll-result-list" });
    poll.options.forEach((text, i) => {
      const n = poll.results?.[i] || 0;
      const share = total > 0 ? Math.round((100 * n) / total) : 0;
      const item = h(
        "li",
        { class: "poll-result", "data-option": i, "data-votes": n },
        h("span", { class: "poll-result-option" }, text),
        " ",
        h("span", { class: "poll-result-count", "data-i18n": "room.poll.votes", "data-i18n-vars": JSON.stringify({ count: n, share }) }),
        h("progress", { max: 100, value: share, "aria-hidden": "true" }),
      );
      const names = poll.voters?.[String(i)];
      if (names && names.length > 0) item.append(h("span", { class: "poll-voters muted" }, names.join(", ")));
      list.append(item);
    });
    const heading = h("p", { class: "poll-result-head", "data-i18n": client.isModerator() && !poll.published ? "room.poll.results_live" : "room.poll.results", "data-i18n-vars": JSON.stringify({ count: total }) });
    results.replaceChildren(heading, list);
    translate(results);
  }
}

if (!customElements.get("chat-panel")) customElements.define("chat-panel", ChatPanel);
if (!customElements.get("poll-panel")) customElements.define("poll-panel", PollPanel);
