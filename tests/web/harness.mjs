// What the browser tests share: the real server binary's demo in a fresh data directory on a free
// port (and what it printed: the entry ticket, the signed-in candidate's and the staff's
// passwords; more tickets, as its banner says, by `dossier-server issue-ticket`), Debian's
// Chromium with the flags this machine needs, and a staff member's sign-in to the console.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const shots = join(root, 'docs/screenshots');
export const photos = join(root, 'testdata/photos');
export const fixtures = join(root, 'tests/fixtures');
/** The web tests' own photos: generated ID cards (id-front-other.jpg, id-back.jpg), a diploma (diploma.jpg). */
export const webFixtures = join(here, 'fixtures');
export const serverBin = process.env.DOSSIER_SERVER_BIN || join(root, 'target/debug/dossier-server');
// The flags this machine's Chromium needs (see the README): no sandbox as root, no GPU, and no
// background connections to Google's hosts, which the closed network refuses.
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * `dossier-server demo` in a new data directory, listening on a free port. Resolves once it
 * listens with `base` (its address), `demo` (what it printed: `ticket`, `staff[username]` the
 * staff's passwords, `candidate` the signed-in candidate's `username` and `password`),
 * `issueTicket(username)`, which resolves with a fresh entry ticket for another candidate of the
 * roster (the demo prints one only), and `stop()`, which ends the server and removes the directory.
 */
export function startDemo() {
  const dataDir = mkdtempSync(join(tmpdir(), 'dossier-web-'));
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  const env = { ...process.env, DOSSIER_LISTEN: '127.0.0.1:0', DOSSIER_DATA_DIR: join(dataDir, 'data'), DOSSIER_LOG: 'warn',
    DOSSIER_ANALYSIS__LINE_MODEL: join(root, 'models/ch_PP-OCRv4_rec_infer.onnx') };
  return new Promise((resolveStart, reject) => {
    const server = spawn(serverBin, ['demo'], {
      cwd: dataDir,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let started = false;
    const failed = (why) => {
      if (started) return;
      remove();
      reject(new Error(`${why}: ${out}`));
    };
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const listening = out.match(/Dossier listening on (http:\/\/\S+)/);
      if (!listening || started) return;
      started = true;
      const staff = Object.fromEntries([...out.matchAll(/^\s+(\w+)\s+password (\S+)/gm)].map((m) => [m[1], m[2]]));
      const signedIn = out.match(/Signed-in candidate: username (\S+)\s+password (\S+)/);
      const demo = {
        ticket: out.match(/ticket (\S+)/)[1],
        staff,
        candidate: signedIn ? { username: signedIn[1], password: signedIn[2] } : null,
      };
      resolveStart({
        base: listening[1],
        demo,
        // The same binary on the same data while the demo serves, as its banner says to (the
        // database lets a second process write while the server runs).
        async issueTicket(username) {
          const { stdout } = await promisify(execFile)(serverBin, ['issue-ticket', username], { cwd: dataDir, env });
          return stdout.trim().split('\n').at(-1);
        },
        stop() {
          server.kill('SIGTERM');
          remove();
        },
      });
    });
    server.on('error', (e) => failed(`the server did not start (${e.message})`));
    server.on('exit', (code) => failed(`server exited with ${code}`));
  });
}

/** Debian's Chromium, headless, with the flags above (`CHROMIUM` names another binary). */
export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/**
 * A staff member signs in to the console in a browser context of their own (their own cookie);
 * the page once the queue shows. `options` are added to the context's (a desktop in Chinese).
 */
export async function staffSignIn(browser, base, username, password, options = {}) {
  const context = await browser.newContext({
    locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1440, height: 1000 }, ...options,
  });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  await page.goto(`${base}/staff`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.locator('#queue').waitFor();
  return page;
}
