// The reviewers' console in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against the real server binary's demo. The demo's signed-in candidate (东城区考点) uploads
// drawn documents through the API, as the phone app would (the ID card's two sides, the diploma,
// the probation and work proofs), and submits; the exam site's reviewer then works on the dossier
// by keyboard and pointer. What is checked is what a reviewer would notice: J stops at the last
// material, A never silently turns a return into an approval, R chooses no reason and S will not
// send a return without one, S shows what will be sent and sends only on a second S or Enter, Esc
// leaves the message box and the keys work again, each image has its own zoom and turn, every
// corner of a zoomed image can be reached, the full-size view is the image's own size. Then the
// queue as it is used all day: the search box and the exam-site filter list what the API answers
// for the same query, a second account signed in in the same tab starts afresh, and no English
// word or internal code reaches a page in Chinese. And beside an ID card the server read as
// another person's (a second candidate, 西城区考点, entered by the demo's ticket), the console
// marks what differs, with what was read beside the registration, as advice. Last, in a demo of
// its own, two candidates of one exam site store the same diploma: the site's reviewer sees the
// mark beside it with a link to the other dossier and follows it; another site's sees neither.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, staffSignIn, startDemo, webFixtures } from './harness.mjs';

let base;
let demo;
let stopServer;
let browser;
let token; // the candidate's access token (app mode)
let page; // the reviewer's console
let candidateId;
let order; // the ids of the materials with images, as the console lists them
let names; // material id -> the category's name
let retake; // the candidate's new photo of the material returned
const MESSAGE = '请在光线均匀处重新拍摄完整的毕业证书。';

/**
 * A candidate's side of the API of the server at `origin` as the phone app calls it: with
 * `bearer`, their access token, if any.
 */
async function apiAt(origin, bearer, method, path, { body, headers = {} } = {}) {
  const auth = bearer ? { authorization: `Bearer ${bearer}` } : {};
  const response = await fetch(`${origin}${path}`, { method, headers: { ...auth, ...headers }, body });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A candidate's side of the API of the demo the tests below share. */
const apiWith = (bearer, method, path, options) => apiAt(base, bearer, method, path, options);

/** The demo's signed-in candidate's side of the API. */
const candidateApi = (method, path, options) => apiWith(token, method, path, options);

const upload = (category, jpeg, query = '') => candidateApi('POST', `/api/v1/dossier/materials/${category}/images${query}`, {
  body: jpeg, headers: { 'content-type': 'image/jpeg', 'idempotency-key': randomUUID() },
});

/**
 * Documents drawn in the browser (`within`) and encoded as JPEG (no EXIF, well under 200 KB): a
 * tinted page with a grid, its name, and a red mark in its top-left corner.
 */
async function drawnDocuments(specs, within = browser) {
  const context = await within.newContext();
  const blank = await context.newPage();
  const encoded = await blank.evaluate(async (list) => {
    const out = [];
    for (const { width, height, label, hue } of list) {
      const canvas = new OffscreenCanvas(width, height);
      const g = canvas.getContext('2d');
      g.fillStyle = `hsl(${hue} 45% 93%)`;
      g.fillRect(0, 0, width, height);
      g.strokeStyle = `hsl(${hue} 30% 65%)`;
      g.lineWidth = 2;
      for (let x = 0; x <= width; x += 60) { g.beginPath(); g.moveTo(x, 0); g.lineTo(x, height); g.stroke(); }
      for (let y = 0; y <= height; y += 60) { g.beginPath(); g.moveTo(0, y); g.lineTo(width, y); g.stroke(); }
      g.fillStyle = '#b3261e';
      g.fillRect(0, 0, width / 10, height / 10);
      g.fillStyle = '#1d2733';
      g.font = `${Math.round(width / 12)}px sans-serif`;
      g.fillText(label, width / 8, height / 3);
      const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.push(btoa(binary));
    }
    return out;
  }, specs);
  await context.close();
  return encoded.map((b64) => Buffer.from(b64, 'base64'));
}

/** The dossier as the reviewer's API gives it (same cookie as the console). */
const reviewed = () => page.evaluate((id) => fetch(`/api/v1/review/dossiers/${id}`).then((r) => r.json()), candidateId);

/** The material the keys act on. */
const currentId = () => page.locator('.material.current').getAttribute('id');

/** Where an element is on the screen (with its transform). */
const rectOf = (locator) => locator.evaluate((el) => {
  const r = el.getBoundingClientRect();
  return { x: r.left, y: r.top, w: r.width, h: r.height, right: r.right, bottom: r.bottom };
});

/** The dossier opened afresh (a new page load: nothing decided), every image shown. */
async function openDossier() {
  await page.goto('about:blank');
  await page.goto(`${base}/staff#/dossier/${candidateId}`);
  await page.locator('#decision').waitFor();
  await page.locator('.material.current').waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.viewer')].every((f) => f.classList.contains('ready')));
}

describe('the reviewers\' console, by keyboard and pointer, in Chromium', { concurrency: false }, () => {
  before(async () => {
    ({ base, demo, stop: stopServer } = await startDemo());
    browser = await launchChromium();
    let front, back, diploma, probation, work;
    [front, back, diploma, probation, work, retake] = await drawnDocuments([
      { width: 1200, height: 760, label: 'ID front', hue: 210 },
      { width: 1200, height: 760, label: 'ID back', hue: 30 },
      { width: 850, height: 1200, label: 'Diploma', hue: 120 },
      { width: 850, height: 1200, label: 'Probation', hue: 270 },
      { width: 850, height: 1200, label: 'Work', hue: 0 },
      { width: 850, height: 1200, label: 'Diploma 2', hue: 150 },
    ]);
    // The candidate, through the API: sign in, upload every required material, submit.
    const { username, password } = demo.candidate;
    const signedIn = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
    });
    const grant = await signedIn.text();
    assert.equal(signedIn.status, 200, grant);
    token = JSON.parse(grant).access_token;
    await upload('id_card', front, '?slot=0');
    await upload('id_card', back, '?slot=1');
    await upload('diploma', diploma);
    await upload('probation', probation);
    await upload('work_proof', work);
    const missing = (await candidateApi('GET', '/api/v1/dossier')).missing;
    assert.deepEqual(missing, [], 'every required material uploaded');
    await candidateApi('POST', '/api/v1/dossier/submit');

    page = await staffSignIn(browser, base, 'dongcheng', demo.staff.dongcheng);
    const row = page.locator('table.queue tbody tr').filter({ hasText: '张明' });
    candidateId = await row.getAttribute('data-id');
    await row.click();
    await page.locator('#decision').waitFor();
    order = await page.locator('article.material.review[tabindex="-1"]').evaluateAll((els) => els.map((e) => e.id));
    assert.equal(order.length, 4, `the materials with images: ${order}`);
    names = Object.fromEntries((await reviewed()).materials.map((m) => [`material-${m.category.code}`, m.category.name]));
  });

  after(async () => {
    await browser?.close();
    stopServer?.();
  });

  // First, while the demo's ticket (10 minutes) is still valid.
  it('beside an ID card read as another person\'s: ✗ and what differs, what was read beside the registration, as advice', async () => {
    // 李华 (西城区考点) enters by the ticket and activates, as the app would; uploads the front of
    // another person's card into 正面 and a back into 反面 (each prepared by the server, as the
    // page and the app do), the other required materials drawn, and submits.
    const json = (value) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
    const entry = await apiWith(null, 'POST', '/api/v1/auth/ticket', json({ ticket: demo.ticket, mode: 'app' }));
    assert.ok(entry.activation, `a first entry: ${JSON.stringify(entry)}`);
    const grant = await apiWith(null, 'POST', '/api/v1/auth/activate', json({
      activation_token: entry.activation.activation_token, password: 'lihua2027', password_confirm: 'lihua2027',
      security_question: '我的小学名称？', security_answer: '实验小学', pledge_truthfulness: true, pledge_discipline: true,
      mode: 'app',
    }));
    const lihua = grant.access_token;
    const store = (category, jpeg, n) => apiWith(lihua, 'POST', `/api/v1/dossier/materials/${category}/images?slot=${n}`, {
      body: jpeg, headers: { 'content-type': 'image/jpeg', 'idempotency-key': randomUUID() },
    });
    const prepared = async (name) => {
      const response = await fetch(`${base}/api/v1/photos/prepare?document=id_card`, {
        method: 'POST', headers: { authorization: `Bearer ${lihua}`, 'content-type': 'application/octet-stream' },
        body: readFileSync(join(webFixtures, name)),
      });
      assert.ok(response.ok, `prepare ${name}: ${response.status} ${response.ok ? '' : await response.text()}`);
      return Buffer.from(await response.arrayBuffer());
    };
    const front = await store('id_card', await prepared('id-front-other.jpg'), 0);
    await store('id_card', await prepared('id-back.jpg'), 1);
    const { missing } = await apiWith(lihua, 'GET', '/api/v1/dossier');
    const drawn = await drawnDocuments(missing.map((code, i) => ({ width: 850, height: 1200, label: code, hue: 60 * i })));
    for (const [i, code] of missing.entries()) await store(code, drawn[i], 0);
    await apiWith(lihua, 'POST', '/api/v1/dossier/submit');

    // The server reads the card in the background: its reading, as the API gives it, first.
    let findings;
    for (const until = Date.now() + 60000; Date.now() < until;) {
      const mine = await apiWith(lihua, 'GET', '/api/v1/dossier');
      findings = mine.materials.find((m) => m.category.code === 'id_card').images.find((i) => i.id === front.id)?.findings;
      if (findings && findings.state !== 'pending') break;
      await new Promise((resolve) => { setTimeout(resolve, 500); });
    }
    assert.equal(findings?.state, 'done', `the front's reading: ${JSON.stringify(findings)}`);
    assert.equal(findings.roster_match, 'mismatch', JSON.stringify(findings));
    assert.ok(findings.mismatched?.includes('number'), JSON.stringify(findings));

    // The exam site's reviewer opens the dossier.
    const p = await staffSignIn(browser, base, 'xicheng', demo.staff.xicheng);
    await p.locator('table.queue tbody tr').filter({ hasText: '李华' }).click();
    await p.locator('#decision').waitFor();
    const viewer = p.locator(`#material-id_card .viewer[data-id="${front.id}"]`);
    const read = viewer.locator('.findings');
    const mark = read.locator('.finding.bad').filter({ hasText: '身份证号与报名信息不一致' });
    await mark.waitFor();
    assert.match(await mark.textContent(), /^✗\s*身份证号与报名信息不一致$/);
    assert.ok(await mark.isVisible(), 'the ✗ mark is on the screen');
    // Beside it what was read and what the registration says (masked as the reviewer sees it).
    const detail = await read.locator('.finding-detail').textContent();
    assert.match(detail, /识别：/);
    assert.ok(detail.includes(`报名：李华 ${await p.locator('#id-number').textContent()}`), detail);
    assert.match(await read.textContent(), /自动识别，仅供参考/);
    assert.equal(await read.locator('a, button, input, select, textarea, [tabindex]').count(), 0, 'the marks are no controls');
    // The same at full size, where the keys take the reviewer.
    await viewer.locator('.frame').click();
    await p.keyboard.press('f');
    await p.locator('#fullsize .findings .finding.bad').filter({ hasText: '身份证号与报名信息不一致' }).waitFor();
    await p.keyboard.press('Escape');
    await p.locator('#fullsize').waitFor({ state: 'detached' });
    // And in English.
    await p.getByRole('button', { name: 'English', exact: true }).click();
    await viewer.locator('.finding.bad').filter({ hasText: 'The ID number differs from the registration' }).waitFor();
    await viewer.getByText('Read automatically; advice only').waitFor();
    await p.context().close();
  });

  it('J stops at the last material and K at the first; nothing wraps round, and the candidate stays in view', async () => {
    await openDossier();
    assert.equal(await currentId(), order[0]);
    for (let i = 0; i < order.length + 2; i += 1) await page.keyboard.press('j');
    assert.equal(await currentId(), order.at(-1));
    await page.locator('#review-status').filter({ hasText: '已是最后一项材料' }).waitFor();
    // The split view: the candidate's data is still on the screen, the image fills its pane.
    const idNumber = await rectOf(page.locator('#id-number'));
    assert.ok(idNumber.y >= 0 && idNumber.bottom <= 1000, `the ID number is off the screen: ${JSON.stringify(idNumber)}`);
    const frame = await rectOf(page.locator('.material.current .viewer .frame').first());
    assert.ok(frame.h >= 600, `the current image's frame is ${frame.h}px high`);
    // A on the last material approves it and stays there.
    await page.keyboard.press('a');
    assert.equal(await currentId(), order.at(-1));
    assert.ok(await page.locator(`#${order.at(-1)} input[value="approve"]`).isChecked());
    assert.equal(await page.locator(`#${order[0]} input[type=radio]:checked`).count(), 0, 'the first material is still undecided');
    for (let i = 0; i < order.length + 2; i += 1) await page.keyboard.press('k');
    assert.equal(await currentId(), order[0]);
    await page.locator('#review-status').filter({ hasText: '已是第一项材料' }).waitFor();
  });

  it('A on a material marked "return" asks first; Enter or Esc keeps the return, with its reason and message', async () => {
    await openDossier();
    await page.keyboard.press('j');
    const returned = order[1];
    assert.equal(await currentId(), returned);
    await page.keyboard.press('r');
    await page.keyboard.type(MESSAGE);
    await page.keyboard.press('Escape');
    await page.locator(`#${returned} select[name="reason"]`).selectOption('incomplete');
    await page.locator(`#${returned} header`).click(); // back on the material itself

    const question = page.locator('#verdict-change');
    const stillReturned = async () => {
      assert.ok(await page.locator(`#${returned} input[value="return"]`).isChecked(), 'still returned');
      assert.equal(await page.locator(`#${returned} select[name="reason"]`).inputValue(), 'incomplete');
      assert.equal(await page.locator(`#${returned} textarea[name="message"]`).inputValue(), MESSAGE);
      assert.equal(await currentId(), returned, 'A did not move on');
    };
    await page.keyboard.press('a');
    await question.waitFor();
    assert.match(await question.textContent(), new RegExp(`${names[returned]}.*退回.*通过`));
    await page.keyboard.press('Enter');
    await question.waitFor({ state: 'detached' });
    await stillReturned();
    await page.keyboard.press('a');
    await question.waitFor();
    await page.keyboard.press('a'); // one A too many changes nothing either
    await page.keyboard.press('Escape');
    await question.waitFor({ state: 'detached' });
    await stillReturned();
    // The keys work again after the question; a change asked for is made.
    await page.keyboard.press('a');
    await question.getByRole('button', { name: /^改为/ }).click();
    await question.waitFor({ state: 'detached' });
    assert.ok(await page.locator(`#${returned} input[value="approve"]`).isChecked());
    assert.equal(await currentId(), order[2], 'approved, on to the next');
  });

  it('R chooses no reason, and S will not send a return without one: it says which material lacks it', async () => {
    await openDossier();
    await page.keyboard.press('a'); // the first approved, on to the second
    const returned = order[1];
    await page.keyboard.press('r');
    const reason = page.locator(`#${returned} select[name="reason"]`);
    assert.equal(await reason.inputValue(), '', 'no reason chosen for the reviewer');
    await page.keyboard.type(MESSAGE);
    await page.keyboard.press('Escape');
    await page.keyboard.press('s');
    const status = page.locator('#review-status');
    await status.filter({ hasText: '未选择退回原因' }).waitFor();
    assert.match(await status.textContent(), new RegExp(`未提交.*${names[returned]}`));
    assert.equal(await page.locator('dialog').count(), 0, 'no summary, nothing to send');
    assert.equal(await reason.getAttribute('aria-invalid'), 'true');
    assert.ok(await reason.evaluate((el) => el === document.activeElement), 'the reason has the focus');
    const state = await reviewed();
    assert.equal(state.state, 'waiting');
    assert.equal(state.decisions.length, 0);
    // With a reason, S goes on to the summary.
    await reason.selectOption('blurry');
    assert.equal(await reason.getAttribute('aria-invalid'), null);
    await page.keyboard.press('s');
    await page.locator('#summary').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#summary').waitFor({ state: 'detached' });
  });

  it('Esc in the message box gives the keys back; a button or a radio with the focus never holds them', async () => {
    await openDossier();
    await page.keyboard.press('r');
    const message = page.locator(`#${order[0]} textarea[name="message"]`);
    assert.ok(await message.evaluate((el) => el === document.activeElement), 'R puts the focus in the message box');
    await page.keyboard.type('jk'); // letters typed there are the message's
    assert.equal(await message.inputValue(), 'jk');
    assert.equal(await currentId(), order[0]);
    await page.keyboard.press('Escape');
    assert.ok(await message.evaluate((el) => el !== document.activeElement), 'Esc left the message box');
    await page.keyboard.press('j');
    assert.equal(await currentId(), order[1]);
    // Tab from the material onto its first control (a viewer's button): J still works.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'BUTTON');
    await page.keyboard.press('j');
    assert.equal(await currentId(), order[2]);
    // A radio clicked keeps the arrows from changing the verdict, and J still works.
    const approve = page.locator(`#${order[2]} input[value="approve"]`);
    await approve.check();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    assert.ok(await approve.isChecked(), 'the arrows did not turn the approval into a return');
    await page.keyboard.press('j');
    assert.equal(await currentId(), order[3]);
  });

  it('zoom and rotate act on one image; the others stay as they were', async () => {
    await openDossier();
    const sides = page.locator(`#${order[0]} .images.now .viewer`);
    assert.equal(await sides.count(), 2, 'the ID card has two images');
    const front = sides.nth(0);
    const back = sides.nth(1);
    const [front0, back0] = [await rectOf(front.locator('img')), await rectOf(back.locator('img'))];
    await page.keyboard.press('z');
    assert.equal(await front.getAttribute('data-zoom'), '1.25');
    const front1 = await rectOf(front.locator('img'));
    assert.ok(Math.abs(front1.w / front0.w - 1.25) < 0.01, `the front is ${front1.w / front0.w} times as wide`);
    assert.deepEqual(await rectOf(back.locator('img')), back0, 'the back is as it was');
    const views = await page.locator('.viewer').evaluateAll((fs) => fs.map((f) => `${f.dataset.zoom}/${f.dataset.rotate}`));
    assert.equal(views.filter((v) => v !== '1/0').length, 1, `one image zoomed: ${views}`);
    // L: the back; O turns it alone.
    await page.keyboard.press('l');
    await page.keyboard.press('o');
    assert.equal(await back.getAttribute('data-rotate'), '90');
    const back1 = await rectOf(back.locator('img'));
    assert.ok(back0.w > back0.h && back1.h > back1.w, `the back turned: ${JSON.stringify([back0, back1])}`);
    assert.equal(await front.getAttribute('data-rotate'), '0');
    const front2 = await rectOf(front.locator('img'));
    assert.ok(front2.w > front2.h, 'the front is not turned');
    // Its own buttons act on it alone too.
    await back.locator('.tool-reset').click();
    assert.equal(await back.getAttribute('data-rotate'), '0');
    assert.equal(await front.getAttribute('data-zoom'), '1.25');
  });

  it('the wheel zooms towards the pointer; the arrows and a drag reach every corner of the zoomed image', async () => {
    await openDossier();
    const viewer = page.locator(`#${order[0]} .images.now .viewer`).nth(1);
    const img = viewer.locator('img');
    const frame = viewer.locator('.frame');
    const r0 = await rectOf(img);
    const at = { x: r0.x + r0.w * 0.6, y: r0.y + r0.h * 0.55 };
    await page.mouse.move(at.x, at.y);
    await page.mouse.wheel(0, -2000);
    await page.waitForFunction((el) => el.dataset.zoom === '8', await viewer.elementHandle());
    const r1 = await rectOf(img);
    assert.ok(Math.abs((at.x - r1.x) / r1.w - 0.6) < 0.01 && Math.abs((at.y - r1.y) / r1.h - 0.55) < 0.01,
      `the point under the pointer moved to ${(at.x - r1.x) / r1.w},${(at.y - r1.y) / r1.h}`);
    assert.equal(await page.locator(`#${order[0]} .images.now .viewer`).nth(0).getAttribute('data-zoom'), '1');
    // The arrows: all the way to the top-left corner (the image's corner in the frame's).
    for (let i = 0; i < 40; i += 1) await page.keyboard.press('ArrowLeft');
    for (let i = 0; i < 40; i += 1) await page.keyboard.press('ArrowUp');
    const f = await rectOf(frame);
    let r = await rectOf(img);
    assert.ok(Math.abs(r.x - f.x) < 1 && Math.abs(r.y - f.y) < 1, `top-left: image at ${r.x},${r.y}, frame at ${f.x},${f.y}`);
    // Dragging: all the way to the bottom-right corner, and never past it.
    for (let i = 0; i < 20; i += 1) {
      const cx = f.x + f.w / 2;
      const cy = f.y + f.h / 2;
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      await page.mouse.move(cx - 400, cy - 300, { steps: 4 });
      await page.mouse.up();
    }
    r = await rectOf(img);
    assert.ok(Math.abs(r.right - f.right) < 1 && Math.abs(r.bottom - f.bottom) < 1,
      `bottom-right: image to ${r.right},${r.bottom}, frame to ${f.right},${f.bottom}`);
  });

  it('F shows the image at its own size, with a link that opens it in a new tab', async () => {
    await openDossier();
    await page.keyboard.press('f');
    const full = page.locator('#fullsize img.full-image');
    await full.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('#fullsize img.full-image');
      return img?.complete && img.naturalWidth > 0;
    });
    const [w, h, naturalW, naturalH] = await full.evaluate((img) => {
      const r = img.getBoundingClientRect();
      return [r.width, r.height, img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual([naturalW, naturalH], [1200, 760], 'the front of the ID card as uploaded');
    assert.deepEqual([w, h], [naturalW, naturalH], 'one image pixel to a screen pixel');
    const link = page.locator('#fullsize-tab');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('href'), await full.getAttribute('src'));
    const [tab] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    assert.deepEqual(await tab.evaluate(() => {
      const img = document.querySelector('img');
      return img ? [img.naturalWidth, img.naturalHeight] : null;
    }), [1200, 760]);
    await tab.close();
    await page.keyboard.press('Escape');
    await page.locator('#fullsize').waitFor({ state: 'detached' });
  });

  it('S shows what will be sent; nothing is sent until a second S, and Esc cancels', async () => {
    await openDossier();
    const returned = order[1];
    await page.keyboard.press('a'); // the first approved, on to the second
    await page.keyboard.press('r');
    await page.keyboard.type(MESSAGE);
    await page.keyboard.press('Escape');
    await page.locator(`#${returned} select[name="reason"]`).selectOption('wrong_document');
    await page.locator(`#${returned} header`).click();
    await page.keyboard.press('j');
    await page.keyboard.press('a');
    await page.keyboard.press('a'); // the last: approved, and still the current one
    assert.equal(await currentId(), order.at(-1));

    await page.keyboard.press('s');
    const summary = page.locator('#summary');
    await summary.waitFor();
    assert.equal(await page.locator('#summary-outcome').textContent(), '退回考生修改');
    const lines = summary.locator('.summary-returned li');
    assert.equal(await lines.count(), 1);
    assert.match(await lines.textContent(), new RegExp(`${names[returned]}.*材料类别错误.*${MESSAGE}`));
    const approved = await summary.locator('.summary-approved').textContent();
    for (const id of [order[0], order[2], order[3]]) assert.match(approved, new RegExp(names[id]));
    let state = await reviewed();
    assert.equal(state.state, 'waiting', 'nothing sent on the first S');
    assert.equal(state.decisions.length, 0);

    await page.keyboard.press('Escape');
    await summary.waitFor({ state: 'detached' });
    await page.locator('#review-status').filter({ hasText: '未提交' }).waitFor();
    state = await reviewed();
    assert.equal(state.state, 'waiting', 'nothing sent after Esc');

    await page.keyboard.press('s');
    await summary.waitFor();
    await page.keyboard.press('s');
    await page.locator('.notice.ok').filter({ hasText: '已退回' }).waitFor();
    state = await reviewed();
    assert.equal(state.state, 'returned');
    const code = returned.replace(/^material-/, '');
    const decision = state.decisions.find((x) => x.category === code);
    assert.equal(decision?.reason, '材料类别错误');
    assert.equal(decision?.message, MESSAGE);
  });

  it('after the candidate replaces it and resubmits, A approves each material in turn and Enter sends the summary', async () => {
    const code = order[1].replace(/^material-/, '');
    const mine = await candidateApi('GET', '/api/v1/dossier');
    const old = mine.materials.find((m) => m.category.code === code).images[0];
    const replacement = await upload(code, retake, `?replaces=${old.id}`);
    await candidateApi('POST', '/api/v1/dossier/submit');

    await openDossier();
    await page.locator(`#${order[1]} .versions .images.before .viewer`).first().waitFor();
    // The earlier version sits beside the image that replaced it, in the same row (its slot's).
    const rows = await page.locator(`#${order[1]} .versions`).evaluate((grid) => [...grid.querySelectorAll(':scope > .now')]
      .map((now) => {
        const before = now.nextElementSibling;
        const ids = (el) => [...el.querySelectorAll('.viewer')].map((v) => v.dataset.id);
        return { now: ids(now), before: ids(before), level: now.getBoundingClientRect().top === before.getBoundingClientRect().top };
      }));
    const row = rows.find((r) => r.now.includes(replacement.id));
    assert.deepEqual(row?.before, [old.id], `the replaced image beside its replacement: ${JSON.stringify(rows)}`);
    assert.ok(row.level, 'on one level');
    for (let i = 0; i < order.length; i += 1) await page.keyboard.press('a');
    assert.equal(await currentId(), order.at(-1));
    for (const id of order) assert.ok(await page.locator(`#${id} input[value="approve"]`).isChecked(), `${id} approved`);
    await page.locator('#review-status').filter({ hasText: '所有材料均已审核' }).waitFor();
    await page.keyboard.press('s');
    await page.locator('#summary').waitFor();
    assert.equal(await page.locator('#summary-outcome').textContent(), '通过，提交考区审核');
    assert.equal((await reviewed()).stage, 'site', 'nothing sent on the first S');
    await page.keyboard.press('Enter');
    // Passed to the district (the server's receipt, said), and gone from the site's queue.
    await page.locator('.notice.ok').filter({ hasText: '考区审核' }).waitFor();
    await page.locator('#queue').getByText('队列中没有考生').waitFor();
  });

  // Finding a candidate, the exam-site filter, a second account in the same tab, the words on the
  // pages. These tests read the queue from the API with the console's own cookie and compare,
  // so they hold whatever the tests above left in it.

  /** A GET of the API with the page's cookie: what the console itself is answered. */
  const apiOf = (p, path) => p.evaluate((url) => fetch(url).then((r) => r.json()), path);

  /** Runs `action`; resolves with the queue request it made whose query `wanted` accepts. */
  async function queueAfter(p, wanted, action) {
    const [request] = await Promise.all([
      p.waitForRequest((r) => {
        const url = new URL(r.url());
        return url.pathname === '/api/v1/review/queue' && wanted(url.searchParams);
      }),
      action(),
    ]);
    return request;
  }

  /**
   * In the page: what the console's queue shows (its rows' candidates in order, the tabs' counts),
   * or with `expected`, whether that is what it shows.
   */
  const queueShown = (expected) => {
    const queue = document.getElementById('queue');
    const shown = {
      ids: [...(queue?.querySelectorAll('table.queue tbody tr') ?? [])].map((tr) => tr.dataset.id),
      counts: [...(queue?.querySelectorAll('[role=tab] .count') ?? [])].map((c) => c.textContent),
    };
    return expected === undefined ? shown : JSON.stringify(shown) === JSON.stringify(expected);
  };

  /**
   * The console lists what the API answers to the request it made (same address, same cookie):
   * the same candidates in the same order, the same counts on the tabs. Waited for, then asserted.
   * Resolves with the API's answer.
   */
  async function queueAgrees(p, request) {
    const answer = await apiOf(p, request.url());
    const { counts } = answer;
    const want = {
      ids: answer.entries.map((e) => e.candidate_id),
      counts: [counts.waiting, counts.resubmitted, counts.pending, counts.returned].map(String),
    };
    await p.waitForFunction(queueShown, want).catch(() => { /* the difference is said below */ });
    assert.deepEqual(await p.evaluate(queueShown), want, `the console shows what the API answers to ${request.url()}`);
    return answer;
  }

  /** The administrator's queue of `stage`, every state (the tab 全部). The API's answer. */
  async function everyState(p, stage) {
    const stageName = { site: '考点审核', district: '考区审核' }[stage];
    await queueAfter(p, (u) => u.get('stage') === stage,
      () => p.locator('#queue .stages button', { hasText: stageName }).click());
    const request = await queueAfter(p, (u) => u.get('stage') === stage && !u.has('state'),
      () => p.getByRole('tab', { name: '全部', exact: true }).click());
    // The queue drawn anew with that tab (what follows acts on it, not on the one it replaced).
    await p.getByRole('tab', { name: '全部', exact: true, selected: true }).waitFor();
    return queueAgrees(p, request);
  }

  it('the search box finds a candidate by part of the name or the last digits of the ID number, as the API does', async () => {
    const admin = await staffSignIn(browser, base, 'admin', demo.staff.admin);
    // Where the demo's candidate is now (the tests above moved them on), their ID number unmasked.
    const seen = await apiOf(admin, `/api/v1/review/dossiers/${candidateId}`);
    assert.ok(['site', 'district'].includes(seen.stage), `the candidate is at the ${seen.stage} stage`);
    const everyone = await everyState(admin, seen.stage);
    assert.ok(everyone.entries.some((e) => e.candidate_id === candidateId), 'the candidate is in the list');
    const id = (answer) => answer.entries.map((e) => e.candidate_id);
    const search = admin.getByLabel('搜索');
    assert.equal(await search.getAttribute('placeholder'), '报名号、姓名或身份证号');
    const all = admin.getByRole('tab', { name: '全部', exact: true });

    // Part of the name, sent once the typing pauses; the last four digits of the ID number, on Enter.
    const { name, id_number: idNumber } = seen.candidate;
    for (const [typed, enter] of [[name.slice(1), false], [idNumber.slice(-4), true]]) {
      const request = await queueAfter(admin, (u) => u.get('q') === typed, async () => {
        await search.fill(typed);
        if (enter) await search.press('Enter');
      });
      const sent = new URL(request.url()).searchParams;
      assert.equal(sent.get('stage'), seen.stage, 'the stage is kept');
      assert.ok(!sent.has('state'), 'the tab is kept');
      const found = await queueAgrees(admin, request);
      assert.deepEqual(id(found), [candidateId], `"${typed}" finds the candidate alone`);
      assert.equal(await all.getAttribute('aria-selected'), 'true', 'the tab is still 全部');
    }

    // Nobody: said so.
    const nobody = '无此考生';
    const none = await queueAfter(admin, (u) => u.get('q') === nobody, () => search.fill(nobody));
    assert.equal((await queueAgrees(admin, none)).total, 0);
    await admin.locator('#queue').getByText('没有找到符合条件的考生').waitFor();

    // 清除: the whole list again.
    const cleared = await queueAfter(admin, (u) => !u.has('q'),
      () => admin.getByRole('button', { name: '清除', exact: true }).click());
    assert.deepEqual(id(await queueAgrees(admin, cleared)), id(everyone), 'clearing restores the list');
    assert.equal(await search.inputValue(), '');

    // The keys: Esc leaves the search box, '/' goes back to it, and a letter typed there is the search's.
    const focused = () => search.evaluate((el) => el === document.activeElement);
    assert.ok(await focused(), '清除 leaves the focus in the search box');
    await admin.keyboard.press('Escape');
    assert.ok(!(await focused()), 'Esc left the search box');
    await admin.keyboard.press('/');
    assert.ok(await focused(), '/ goes to the search box');
    assert.equal(await search.inputValue(), '', 'the / is not typed into it');
    await admin.keyboard.press('j');
    await admin.keyboard.press('Enter');
    assert.equal(await search.inputValue(), 'j', 'J typed into the search box is a letter of the search');
    assert.equal(new URL(admin.url()).hash, '#/queue', 'Enter in the search box opened nobody');
    await admin.context().close();
  });

  it('district staff narrow the queue to an exam site; a site reviewer, whose scope is one site, has no such choice', async () => {
    const district = await staffSignIn(browser, base, 'district', demo.staff.district);
    const { sites } = await apiOf(district, '/api/v1/review/exam-sites');
    assert.ok(sites.length >= 2, `the roster's sites: ${sites}`);
    const select = district.locator('#queue-site');
    assert.deepEqual(await select.locator('option').allTextContents(), ['全部考点', ...sites]);
    assert.equal(await select.inputValue(), '', '全部考点 at first');
    for (const site of sites) {
      const request = await queueAfter(district, (u) => u.get('exam_site') === site, () => select.selectOption(site));
      assert.equal(new URL(request.url()).searchParams.get('stage'), 'district');
      const answer = await queueAgrees(district, request);
      for (const e of answer.entries) assert.equal(e.exam_site, site);
    }
    const all = await queueAfter(district, (u) => !u.has('exam_site'), () => select.selectOption({ label: '全部考点' }));
    await queueAgrees(district, all);
    await district.context().close();

    const site = await staffSignIn(browser, base, 'dongcheng', demo.staff.dongcheng);
    assert.equal(await site.getByLabel('搜索').count(), 1, 'a site reviewer searches too');
    assert.equal(await site.locator('#queue-site').count(), 0, 'but chooses no exam site');
    await site.context().close();
  });

  it('signing out and in as another account in the same tab starts afresh: that account\'s stage, no tab, search or filter kept', async () => {
    const p = await staffSignIn(browser, base, 'dongcheng', demo.staff.dongcheng);
    // The site reviewer leaves another tab and a search behind.
    const returned = await queueAfter(p, (u) => u.get('state') === 'returned',
      () => p.getByRole('tab', { name: /^已退回/ }).click());
    await p.getByRole('tab', { name: /^已退回/, selected: true }).waitFor();
    await queueAgrees(p, returned);
    const searched = await queueAfter(p, (u) => u.get('q') === '张', () => p.getByLabel('搜索').fill('张'));
    await queueAgrees(p, searched);

    await p.getByRole('button', { name: '退出', exact: true }).click();
    await p.locator('#login').waitFor();
    await p.getByLabel('用户名').fill('district');
    await p.getByLabel('密码').fill(demo.staff.district);
    const first = await queueAfter(p, () => true, () => p.getByRole('button', { name: '登录', exact: true }).click());
    const sent = Object.fromEntries(new URL(first.url()).searchParams);
    assert.deepEqual({ stage: sent.stage, state: sent.state }, { stage: 'district', state: 'waiting' }, first.url());
    for (const kept of ['q', 'exam_site', 'resubmitted']) assert.ok(!(kept in sent), `${kept} carried over: ${first.url()}`);
    await p.locator('#queue').waitFor();
    await queueAgrees(p, first);

    // What the same account sees in a fresh browser.
    const fresh = await staffSignIn(browser, base, 'district', demo.staff.district);
    const look = (q) => q.locator('#queue').evaluate((queue) => ({
      heading: queue.querySelector('h2').textContent,
      tabs: [...queue.querySelectorAll('[role=tab]')].map((tab) => `${tab.textContent} ${tab.getAttribute('aria-selected')}`),
      search: queue.querySelector('#queue-search').value,
      site: queue.querySelector('#queue-site')?.value ?? null,
      sites: [...queue.querySelectorAll('#queue-site option')].map((o) => o.textContent),
      rows: [...queue.querySelectorAll('table.queue tbody tr')].map((tr) => tr.dataset.id),
      empty: queue.querySelector('#queue-empty')?.textContent ?? null,
    }));
    const after = await look(p);
    assert.equal(after.heading, '考区审核', 'the district stage\'s queue');
    assert.equal(after.search, '', 'no search kept');
    assert.equal(after.site, '', 'no exam site chosen');
    assert.deepEqual(after, await look(fresh), 'as a fresh sign-in shows it');
    assert.match(await p.locator('#top .who').textContent(), /考区审核员/);
    await fresh.context().close();
    await p.context().close();
  });

  it('in Chinese, no English word or internal code reaches the console, page by page', async () => {
    // Latin letters meant for people: abbreviations, the demo's usernames, the language switch,
    // the names of keys; a single capital is a key (J/K, A, S) or an ID number's check letter X.
    const allowed = new Set(['TOTP', 'CSV', 'ID', 'JPG', 'JPEG', 'PNG', 'KB', 'MB', 'Dossier', 'English', 'Esc', 'Enter',
      'dongcheng', 'xicheng', 'district', 'admin']);
    const latin = async (p, where) => {
      const text = await p.evaluate(() => document.body.innerText);
      const words = [...new Set(text.match(/[A-Za-z][A-Za-z0-9_]*/g) ?? [])]
        .filter((w) => !allowed.has(w) && !/^[A-Z]$/.test(w));
      assert.deepEqual(words, [], `${where}: Latin words on the page: ${words.join(', ')}`);
    };

    for (const username of ['dongcheng', 'district']) {
      const p = await staffSignIn(browser, base, username, demo.staff[username]);
      await latin(p, `${username}'s queue`);
      await p.context().close();
    }

    const admin = await staffSignIn(browser, base, 'admin', demo.staff.admin);
    await latin(admin, 'the administrator\'s queue');
    // A dossier, as the administrator reads it (its history and audit trail too).
    const seen = await apiOf(admin, `/api/v1/review/dossiers/${candidateId}`);
    if (['site', 'district'].includes(seen.stage)) {
      await everyState(admin, seen.stage);
      await admin.locator(`#queue table.queue tbody tr[data-id="${candidateId}"]`).click();
      await admin.locator('#audit li').first().waitFor();
      await latin(admin, 'a dossier');
    }
    for (const [link, ready, where] of [
      ['材料目录', 'form.category', 'the catalogue'],
      ['时间设置', '#windows', 'the windows'],
      ['审核账号', '#accounts tbody tr', 'the accounts'],
      ['发布与导出', '#results', 'publishing and export'],
      ['审核队列', '#queue', 'the queue again'],
    ]) {
      await admin.locator('#top nav').getByRole('link', { name: link, exact: true }).click();
      await admin.locator(ready).first().waitFor();
      await latin(admin, where);
    }
    await admin.getByRole('button', { name: '退出', exact: true }).click();
    await admin.locator('#login').waitFor();
    await latin(admin, 'the sign-in');
    await admin.context().close();
  });
});

// A diploma reused: two candidates of one exam site, 张明 and 王芳 (东城区考点), store the same
// certificate (`fixtures/diploma.jpg`, as the phone's pipeline prepared it), the rest of their
// materials drawn, and submit. The server fingerprints every document in the background and pairs
// the two; the site's reviewer sees the mark beside the diploma with a link to the other dossier,
// and follows it. A demo of its own: the tests above move 张明's dossier (with a drawn diploma) on
// through the review, and 王芳 enters by a ticket of her own, issued as the demo's banner says.
describe('a document reused in another dossier of the site, in the console', { concurrency: false }, () => {
  const ZHANG = '2026110100001'; // 张明, 东城区考点
  const WANG = '2026110100003'; // 王芳, 东城区考点, upgrading from assistant: one more material
  let server; // this describe's demo: base, demo, issueTicket, stop
  let chrome;
  let site; // 东城's reviewer's console
  let zhangId;
  let wangId;
  let zhangDiploma; // the diploma images as stored
  let wangDiploma;

  /** A GET of the API with the page's cookie: what the console itself is answered. */
  const apiOf = (p, path) => p.evaluate((url) => fetch(url).then((r) => r.json()), path);

  before(async () => {
    server = await startDemo();
    chrome = await launchChromium();
    const call = (...args) => apiAt(server.base, ...args);
    const json = (value) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
    const store = (bearer, category, jpeg, slot) => call(bearer, 'POST', `/api/v1/dossier/materials/${category}/images?slot=${slot}`, {
      body: jpeg, headers: { 'content-type': 'image/jpeg', 'idempotency-key': randomUUID() },
    });

    // 张明 is the demo's signed-in candidate; 王芳 enters by a ticket and activates, as the app would.
    assert.equal(server.demo.candidate.username, ZHANG);
    const zhang = (await call(null, 'POST', '/api/v1/auth/login', json(server.demo.candidate))).access_token;
    const entry = await call(null, 'POST', '/api/v1/auth/ticket', json({ ticket: await server.issueTicket(WANG), mode: 'app' }));
    assert.ok(entry.activation, `a first entry: ${JSON.stringify(entry)}`);
    const wang = (await call(null, 'POST', '/api/v1/auth/activate', json({
      activation_token: entry.activation.activation_token, password: 'wangfang2027', password_confirm: 'wangfang2027',
      security_question: '我的小学名称？', security_answer: '实验小学', pledge_truthfulness: true, pledge_discipline: true,
      mode: 'app',
    }))).access_token;

    // The same certificate, byte for byte, from both (the server reads whatever is queued in no
    // set order, so the wait below allows for every image of both dossiers).
    const diploma = readFileSync(join(webFixtures, 'diploma.jpg'));
    zhangDiploma = await store(zhang, 'diploma', diploma, 0);
    wangDiploma = await store(wang, 'diploma', diploma, 0);
    // The rest drawn (no long number on them, so nothing else is paired): the ID card's two
    // sides, then whatever the dossier still lacks (王芳 also her assistant's certificate).
    for (const [bearer, who] of [[zhang, 'Zhang'], [wang, 'Wang']]) {
      const [front, back] = await drawnDocuments([
        { width: 1200, height: 760, label: `${who} ID front`, hue: 210 },
        { width: 1200, height: 760, label: `${who} ID back`, hue: 30 },
      ], chrome);
      await store(bearer, 'id_card', front, 0);
      await store(bearer, 'id_card', back, 1);
      const { missing } = await call(bearer, 'GET', '/api/v1/dossier');
      const drawn = await drawnDocuments(missing.map((code, i) => ({ width: 850, height: 1200, label: `${who} ${code}`, hue: 60 * i })), chrome);
      for (const [i, code] of missing.entries()) await store(bearer, code, drawn[i], 0);
      assert.deepEqual((await call(bearer, 'GET', '/api/v1/dossier')).missing, [], `${who}: every required material uploaded`);
      await call(bearer, 'POST', '/api/v1/dossier/submit');
    }

    site = await staffSignIn(chrome, server.base, 'dongcheng', server.demo.staff.dongcheng);
    const { entries } = await apiOf(site, '/api/v1/review/queue?stage=site');
    zhangId = entries.find((e) => e.username === ZHANG)?.candidate_id;
    wangId = entries.find((e) => e.username === WANG)?.candidate_id;
    assert.ok(zhangId && wangId, `both in 东城's queue: ${JSON.stringify(entries)}`);
  });

  after(async () => {
    await chrome?.close();
    server?.stop();
  });

  it('the site\'s reviewer sees ❐ beside the diploma with a link to the other dossier, as advice, and follows it', async () => {
    // The server reads the images one after another in the background (Tesseract, a few seconds
    // each on this machine): until 张明's diploma is paired with 王芳's, as the API gives it.
    const diplomaIn = (dossier, image) => dossier.materials.find((m) => m.category.code === 'diploma')
      .images.find((i) => i.id === image.id);
    let dossier;
    let reused = [];
    for (const until = Date.now() + 180000; Date.now() < until;) {
      dossier = await apiOf(site, `/api/v1/review/dossiers/${zhangId}`);
      reused = diplomaIn(dossier, zhangDiploma)?.findings?.reused_in ?? [];
      if (reused.length) break;
      await new Promise((resolve) => { setTimeout(resolve, 1000); });
    }
    assert.deepEqual(reused, [{
      candidate_id: wangId, name: '王芳', exam_site: '东城区考点', category: 'diploma', image_id: wangDiploma.id,
    }], `张明's diploma, after 3 minutes (Tesseract installed?): ${JSON.stringify(diplomaIn(dossier, zhangDiploma))}`);
    // The category as this dossier's catalogue names it (学历证书 or whatever the district calls it).
    const category = dossier.materials.find((m) => m.category.code === 'diploma').category.name;

    // 张明's dossier, opened afresh.
    await site.goto('about:blank');
    await site.goto(`${server.base}/staff#/dossier/${zhangId}`);
    await site.locator('#decision').waitFor();
    assert.match(await site.locator('#candidate h2').textContent(), /^张明\s/);
    const viewer = site.locator(`#material-diploma .viewer[data-id="${zhangDiploma.id}"]`);
    const read = viewer.locator('.findings');
    const mark = read.locator('.finding.bad');
    await mark.waitFor();
    assert.equal(await mark.count(), 1, 'one mark: the reuse');
    assert.match(await mark.textContent(), /^❐\s*同一份材料也在其他考生的材料中$/);
    assert.ok(await mark.isVisible(), 'the ❐ mark is on the screen');
    // A link to 王芳's dossier, by her name, site and the category her copy is in.
    const link = read.locator(`a.reused-in[data-candidate="${wangId}"]`);
    assert.equal(await read.locator('a.reused-in').count(), 1, 'one other dossier');
    assert.equal(await link.textContent(), `王芳（东城区考点）：${category}`);
    assert.equal(await link.getAttribute('href'), `#/dossier/${wangId}`);
    assert.equal(await read.locator('.finding-advice').textContent(), '自动识别，仅供参考');
    assert.equal(await read.locator('a, button, input, select, textarea, [tabindex]').count(), 1, 'the link is the marks\' only control');
    // A diploma is no ID card: nothing of a card's reading (its state, "not read", fields read).
    assert.equal(await viewer.locator('.finding.unknown').count(), 0, 'no "not read" beside a diploma');
    assert.equal(await viewer.locator('.finding-detail').count(), 0, 'no fields read beside a diploma');
    assert.equal(await viewer.locator('.finding.quiet').count(), 0, 'no reading state beside a diploma');
    // The drawn documents share nothing with 王芳's: the diploma alone is marked.
    assert.equal(await site.locator('.viewer .finding').filter({ hasText: '同一份材料也在其他考生的材料中' }).count(), 1);

    // Followed: nothing decided here, so no question first; 王芳's dossier, and hers names 张明's.
    await link.click();
    await site.waitForFunction((hash) => location.hash === hash, `#/dossier/${wangId}`);
    await site.locator('#candidate h2').filter({ hasText: '王芳' }).waitFor();
    assert.match(await site.locator('#candidate h2').textContent(), /^王芳\s/);
    assert.equal(await site.locator('#leave').count(), 0, 'no question before leaving a dossier with nothing decided');
    const back = site.locator(`#material-diploma .viewer[data-id="${wangDiploma.id}"] .findings`);
    await back.locator(`a.reused-in[data-candidate="${zhangId}"]`).filter({ hasText: `张明（东城区考点）：${category}` }).waitFor();

    // And in English.
    await site.getByRole('button', { name: 'English', exact: true }).click();
    const english = back.locator('.finding.bad');
    await english.filter({ hasText: 'The same document is also in another candidate\'s dossier' }).waitFor();
    assert.match(await english.textContent(), /^❐\s*The same document is also in another candidate's dossier$/);
    assert.equal(await back.locator(`a.reused-in[data-candidate="${zhangId}"]`).textContent(), `张明 (东城区考点): ${category}`);
    await back.getByText('Read automatically; advice only').waitFor();
    assert.match(await site.locator('#candidate h2').textContent(), /^王芳\s/, 'still 王芳\'s dossier');
  });

  it('another site\'s reviewer cannot open a dossier the mark would lead to: not found, nothing of it shown', async () => {
    const p = await staffSignIn(chrome, server.base, 'xicheng', server.demo.staff.xicheng);
    const status = await p.evaluate((url) => fetch(url).then((r) => r.status), `/api/v1/review/dossiers/${zhangId}`);
    assert.equal(status, 404, '张明 (东城区考点) is out of 西城\'s scope');
    await p.goto('about:blank');
    await p.goto(`${server.base}/staff#/dossier/${zhangId}`);
    await p.locator('.notice.error').filter({ hasText: '未找到该内容' }).waitFor();
    assert.equal(await p.locator('#dossier').count(), 0, 'no dossier drawn');
    assert.ok(!(await p.evaluate(() => document.body.innerText)).includes('张明'), 'nothing of 张明\'s dossier on the page');
    await p.context().close();
  });
});
