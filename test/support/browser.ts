/// <reference lib="dom" />
// Debian's Chromium for the page tests (driven by playwright-core; never a downloaded browser),
// and the waits they share.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { REPO_ROOT } from "../../src/node/fleet-dir.js";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"];
export const haveChromium = () => existsSync(CHROMIUM);
/** The UI's production build exists (`npm run build:web`). */
export const webBuilt = () => existsSync(join(REPO_ROOT, "web/dist/index.html"));

/** Waits until the element at `selector` shows text matching `re`; fails with what it showed. */
export async function shows(page: Page, selector: string, re: RegExp, timeout = 15_000): Promise<string> {
  try {
    await page.waitForFunction(
      ([sel, src, flags]) => {
        const el = document.querySelector(sel!);
        return !!el && new RegExp(src!, flags).test((el as HTMLElement).innerText ?? el.textContent ?? "");
      },
      [selector, re.source, re.flags] as const,
      { timeout },
    );
  } catch {
    const now = await page.evaluate((sel) => (document.querySelector(sel) as HTMLElement | null)?.innerText ?? "(absent)", selector);
    assert.fail(`${selector} should show ${re}, shows: ${now}`);
  }
  return page.evaluate((sel) => (document.querySelector(sel) as HTMLElement).innerText, selector);
}
