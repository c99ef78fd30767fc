/**
 * Headless Chromium for the dashboard's browser tests (Debian `chromium` driven by
 * playwright-core), and what the tests read from a page the way a person would: the rows of a
 * table, a text, and every console error, page error or dialog (a CSP violation, a failed
 * request, a script that ran).
 */
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

/** Console errors, page errors and dialogs, per page. */
const problems = new WeakMap<Page, string[]>();

export function problemsOf(page: Page): string[] {
  return problems.get(page) ?? [];
}

/** A new page at `<url>#/<route>`, its problems recorded (see problemsOf). */
export async function openPage(browser: Browser, url: string, route: string): Promise<Page> {
  const page = await browser.newPage();
  const found: string[] = [];
  problems.set(page, found);
  page.on('console', (message) => {
    if (message.type() === 'error') found.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => found.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    found.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(`${url}#/${route}`);
  return page;
}

/** The text of each body row of a table, cells joined by " | " (an empty first cell: "| …"). */
export async function rows(table: Locator): Promise<string[]> {
  const texts: string[] = [];
  for (const row of await table.locator('tbody tr').all()) {
    texts.push(
      (await row.locator('th, td').allInnerTexts())
        .map((s) => s.trim())
        .join(' | ')
        .trim(),
    );
  }
  return texts;
}

/** The text a locator holds, trimmed. */
export async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').trim();
}

/** Polls `condition` until it holds (what a person would wait for), failing after `ms`. */
export async function waitUntil(condition: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
