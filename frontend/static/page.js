// @ts-check
// The script of the simple pages (the landing page): language only.

import { initI18n } from "./i18n.js";

initI18n();
