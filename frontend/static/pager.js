// @ts-check
// <list-pager data-label="key">: the "previous page / next page" of a long list, with where
// one is, in a nav named by the message key. The element shows itself only when there is
// another page (it starts hidden: a list without JavaScript has no pages), and sends a "page"
// event (detail: {direction: -1 | 1}) when a button is pressed; the list loads the page and
// says where it is with show() or showOffset().

import { h } from "./dom.js";
import { localize, translate } from "./i18n.js";

/** The pager of a long list; see the top of this file. */
export class ListPager extends HTMLElement {
  connectedCallback() {
    if (this.firstChild) return;
    /** @param {"prev" | "next"} name */
    const button = (name) => h("button", { type: "button", class: "button secondary", "data-page": name, "data-i18n": `list.${name}` });
    const prev = button("prev");
    const next = button("next");
    prev.addEventListener("click", () => this.dispatchEvent(new CustomEvent("page", { detail: { direction: -1 } })));
    next.addEventListener("click", () => this.dispatchEvent(new CustomEvent("page", { detail: { direction: 1 } })));
    this.append(h("nav", { class: "pager", "data-i18n-attr": `aria-label:${this.dataset.label || "list.pages"}` }, prev, h("span", { class: "pager-info" }, ""), next));
    translate(this);
  }

  /**
   * @param {"prev" | "next"} name
   * @returns {HTMLButtonElement}
   */
  button(name) {
    const b = this.querySelector(`button[data-page="${name}"]`);
    if (!(b instanceof HTMLButtonElement)) throw new Error(`list-pager without its ${name} button`);
    return b;
  }

  /**
   * Says where one is: whether there is a page before and after, and, when the total is
   * known, "page N of M". Hidden when there is neither a page before nor after.
   *
   * @param {{before: boolean, after: boolean, page?: number, pages?: number}} where
   */
  show({ before, after, page, pages }) {
    this.button("prev").disabled = !before;
    this.button("next").disabled = !after;
    this.hidden = !before && !after;
    const info = this.querySelector(".pager-info");
    if (!(info instanceof HTMLElement)) return;
    if (page !== undefined && pages !== undefined) localize(info, "list.page", { page, pages });
    else info.textContent = "";
  }

  /**
   * Where an offset-paged list is: at offset, size items a page, total in all.
   *
   * @param {number} offset
   * @param {number} size
   * @param {number} total
   */
  showOffset(offset, size, total) {
    this.show({
      before: offset > 0,
      after: offset + size < total,
      page: Math.floor(offset / size) + 1,
      pages: Math.max(1, Math.ceil(total / size)),
    });
  }
}

if (!customElements.get("list-pager")) customElements.define("list-pager", ListPager);
