// @ts-check
// The room's icons: simple line drawings on a 24 × 24 grid, drawn in the current text colour,
// inline so that nothing is fetched. They are decoration: the buttons carry their names.

/** Each icon as the path data of its strokes. */
const PATHS = {
  mic: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z M5 11a7 7 0 0 0 14 0 M12 18v3 M8 21h8",
  micOff: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z M5 11a7 7 0 0 0 14 0 M12 18v3 M8 21h8 M3 3l18 18",
  camera: "M3 7h12v10H3z M15 10l6-3v10l-6-3",
  cameraOff: "M3 7h12v10H3z M15 10l6-3v10l-6-3 M2 3l19 18",
  screen: "M3 4h18v12H3z M8 20h8 M12 16v4 M12 13V7 M9 10l3-3 3 3",
  settings: "M4 6h9 M17 6h3 M15 4v4 M4 12h3 M11 12h9 M9 10v4 M4 18h11 M19 18h1 M17 16v4",
  hand: "M8 13V5.5a1.5 1.5 0 0 1 3 0V11 M11 11V4a1.5 1.5 0 0 1 3 0v7 M14 11V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5a6 6 0 0 1-5-2.7L3 15.5a1.5 1.5 0 0 1 2.5-1.7L8 16",
  react: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z M8 14s1.5 2 4 2 4-2 4-2 M9 9.5h.01 M15 9.5h.01",
  chat: "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z",
  polls: "M5 20v-8 M12 20V4 M19 20v-5 M3 20h18",
  people: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z M2 21v-1a6 6 0 0 1 12 0v1 M16 3.2a4 4 0 0 1 0 7.6 M22 21v-1a6 6 0 0 0-4-5.6",
  leave: "M10 17l-5-5 5-5 M5 12h11 M14 4h5a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-5",
  close: "M6 6l12 12 M18 6L6 18",
  eyeOff: "M3 3l18 18 M10.6 5.1A10 10 0 0 1 12 5c6.5 0 10 7 10 7a17 17 0 0 1-2.9 3.9 M6.6 6.6C3.7 8.4 2 12 2 12s3.5 7 10 7a9.7 9.7 0 0 0 5.4-1.6 M9.9 9.9a3 3 0 0 0 4.2 4.2",
  eye: "M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z",
  pin: "M9 3h6l-1 7 4 3H6l4-3z M12 13v8",
  fullscreen: "M4 9V4h5 M20 9V4h-5 M4 15v5h5 M20 15v5h-5",
  gallery: "M4 4h7v7H4z M13 4h7v7h-7z M4 13h7v7H4z M13 13h7v7h-7z",
  speaker: "M3 4h18v11H3z M3 18h5v2H3z M10 18h4v2h-4z M16 18h5v2h-5z",
  more: "M5 12h.01 M12 12h.01 M19 12h.01",
  rooms: "M3 4h18v16H3z M12 4v6 M12 14v6 M3 12h5 M16 12h5",
  captions: "M3 5h18v14H3z M10.5 10a2 2 0 1 0 0 4 M17.5 10a2 2 0 1 0 0 4",
  slides: "M3 4h18v12H3z M12 16v4 M8 20h8 M7 8h6 M7 11h10",
  transcript: "M4 6h16 M4 10h16 M4 14h10 M4 18h12",
  keyboard: "M2 6h20v12H2z M6 10h.01 M10 10h.01 M14 10h.01 M18 10h.01 M8 14h8",
};

/** @typedef {keyof typeof PATHS} IconName */

const SVG = "http://www.w3.org/2000/svg";

/**
 * An icon, hidden from assistive technologies.
 *
 * @param {IconName} name
 * @param {string} [className] more classes, e.g. to show one of two icons by state
 * @returns {SVGSVGElement}
 */
export function icon(name, className = "") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon ${className}`.trim());
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}
