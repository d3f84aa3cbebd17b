// @ts-check
// Where the tiles of a meeting room go: pure arithmetic on the free area, kept apart from the
// DOM so that it reads (and can be checked) on its own.

/** The widest and the narrowest a camera tile may be (width / height). */
export const WIDEST = 16 / 9;
export const NARROWEST = 3 / 4;

/** A tile narrower than this, in CSS pixels, is too small to be of use: the rest are counted. */
export const MIN_TILE_WIDTH = 160;

/**
 * @typedef {object} Grid
 * @property {number} cols
 * @property {number} rows
 * @property {number} width of each tile, in CSS pixels
 * @property {number} height of each tile
 */

/**
 * The grid of n tiles of equal size that covers most of a width × height area with gap between
 * the tiles: for each number of columns, the cell, brought within WIDEST and NARROWEST.
 *
 * @param {number} n
 * @param {number} width
 * @param {number} height
 * @param {number} gap
 * @returns {Grid}
 */
export function fitGrid(n, width, height, gap) {
  /** @type {Grid} */
  let best = { cols: 1, rows: 1, width: 0, height: 0 };
  if (n <= 0 || width <= 0 || height <= 0) return best;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    let w = (width - (cols - 1) * gap) / cols;
    let h = (height - (rows - 1) * gap) / rows;
    if (w <= 0 || h <= 0) continue;
    if (w / h > WIDEST) w = h * WIDEST;
    if (w / h < NARROWEST) h = w / NARROWEST;
    if (w * h > best.width * best.height) best = { cols, rows, width: Math.floor(w), height: Math.floor(h) };
  }
  return best;
}

/**
 * How many of n tiles the area shows: all when they fit at MIN_TILE_WIDTH, else as many as
 * fit, the last place going to a tile that counts the others.
 *
 * @param {number} n
 * @param {number} width
 * @param {number} height
 * @param {number} gap
 * @returns {{shown: number, others: number, grid: Grid}} shown tiles, others behind the counting tile
 */
export function gallery(n, width, height, gap) {
  let grid = fitGrid(n, width, height, gap);
  if (n <= 1 || grid.width >= MIN_TILE_WIDTH) return { shown: n, others: 0, grid };
  let places = n - 1;
  for (; places > 2; places--) {
    grid = fitGrid(places, width, height, gap);
    if (grid.width >= MIN_TILE_WIDTH) break;
  }
  grid = fitGrid(places, width, height, gap);
  return { shown: places - 1, others: n - places + 1, grid };
}

/**
 * @typedef {object} SpeakerLayout
 * @property {{width: number, height: number}} main the large tile
 * @property {{width: number, height: number}} strip each tile of the filmstrip under it
 * @property {number} shown tiles of the filmstrip
 * @property {number} others tiles behind a last one that counts them (0: none)
 */

/**
 * Speaker view: one large tile, and under it a filmstrip of the rest as they fit in one row.
 * A screen share's tile takes the whole place left (its picture is letterboxed), a camera's
 * stays within WIDEST and NARROWEST.
 *
 * @param {number} rest tiles in the filmstrip
 * @param {number} width
 * @param {number} height
 * @param {number} gap
 * @param {boolean} screen the large tile is a screen share
 * @returns {SpeakerLayout}
 */
export function speaker(rest, width, height, gap, screen) {
  const stripHeight = rest > 0 ? Math.round(Math.min(Math.max(height * 0.18, 64), 144)) : 0;
  const stripWidth = Math.round((stripHeight * 16) / 9);
  const fit = Math.max(1, Math.floor((width + gap) / (stripWidth + gap)));
  const shown = rest <= fit ? rest : fit - 1;
  const others = rest - shown;
  const mainHeight = Math.max(0, height - (rest > 0 ? stripHeight + gap : 0));
  const main = screen ? { width: Math.floor(width), height: Math.floor(mainHeight) } : fitGrid(1, width, mainHeight, 0);
  return { main: { width: main.width, height: main.height }, strip: { width: stripWidth, height: stripHeight }, shown, others };
}
