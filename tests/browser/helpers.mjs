// Shared by the browser tests: paths, running the attnscope CLI, launching Debian's chromium
// through playwright-core (never a downloaded browser) with a fresh profile.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CLI = process.env.ATTNSCOPE_CLI;
export const BINARY_DIR = process.env.ATTNSCOPE_BINARY_DIR || path.resolve('../../build/browser-tests');
export const ARTIFACTS = path.join(BINARY_DIR, 'artifacts');
fs.mkdirSync(ARTIFACTS, { recursive: true });

export const CHROMIUM = process.env.ATTNSCOPE_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Runs the CLI; returns { status, stdout, stderr } (never throws on a non-zero exit).
export function cli(args, opts = {}) {
  if (!CLI) throw new Error('ATTNSCOPE_CLI is not set (run through ctest)');
  try {
    const stdout = execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...opts });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    return { status: e.status ?? -1, stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? '') };
  }
}

// A persistent context gives each run its own fresh --user-data-dir.
export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'attnscope-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 },
  });
  // The explorer must need no network: any request other than the file itself fails the test.
  const requests = [];
  context.on('request', (r) => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  return {
    context, requests,
    async close() { await context.close(); fs.rmSync(profile, { recursive: true, force: true }); },
  };
}

// Opens an explorer file and waits until it has decoded its data. Records dialogs (alert) and
// page errors so tests can assert that nothing ran that should not.
export async function openExplorer(browser, file, timeout = 120000) {
  const page = await browser.context.newPage();
  const events = { dialogs: [], errors: [] };
  page.on('dialog', (d) => { events.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => events.errors.push(String(e)));
  await page.goto('file://' + file);
  await page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.ready === 'error',
    null, { timeout });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== '1') throw new Error('explorer failed: ' + await page.textContent('#status'));
  return { page, events };
}

// Centre of heatmap cell (q, k) in page coordinates (q is the query row, 0-based).
export async function cellCentre(page, q, k) {
  const box = await page.locator('#overlay').boundingBox();
  const geo = await page.evaluate(() => window.attnscopeExplorer.geo);
  return { x: box.x + geo.left + (k + 0.5) * geo.cell, y: box.y + geo.top + (q + 0.5) * geo.cell };
}
