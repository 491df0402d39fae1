// The whole journey in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against the real server binary with the demo district: a candidate activates, uploads a 2 MB
// sideways phone photo and sees it upright, on a phone corrects the outline of a page photographed
// at an angle and then keeps the whole photo, deletes and replaces one, submits; a site reviewer
// returns one material with a message; the candidate reads it, replaces, resubmits; the site
// passes, the district approves; the administrator closes the review window and publishes; the
// candidate sees the result. Screenshots of the key pages go to docs/screenshots/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtures, launchChromium, photos, shots, staffSignIn as signIn, startDemo } from './harness.mjs';

/**
 * A real phone photo stored sideways: the iPhone's 3264x2448 (1.9 MB) landscape pixels with
 * EXIF Orientation 6 ("rotate 90° to view"), which is how a phone held upright saves a portrait.
 * The file is unchanged but for that one tag value.
 */
function sidewaysPhonePhoto() {
  const bytes = Buffer.from(readFileSync(join(photos, 'real/iphone_hdr_NO.jpg')));
  const tiff = bytes.indexOf(Buffer.from('Exif\0\0', 'latin1')) + 6;
  const le = bytes.toString('latin1', tiff, tiff + 2) === 'II';
  const u16 = (o) => (le ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
  const ifd = tiff + (le ? bytes.readUInt32LE(tiff + 4) : bytes.readUInt32BE(tiff + 4));
  for (let i = 0; i < u16(ifd); i += 1) {
    const entry = ifd + 2 + 12 * i;
    if (u16(entry) === 0x0112) {
      if (le) bytes.writeUInt16LE(6, entry + 8); else bytes.writeUInt16BE(6, entry + 8);
      return { name: 'IMG_0001.JPG', mimeType: 'image/jpeg', buffer: bytes };
    }
  }
  throw new Error('the photo has no Orientation tag');
}

const file = (path, mimeType = 'image/jpeg') => ({
  name: path.split('/').pop(), mimeType, buffer: readFileSync(join(photos, path)),
});

let base;
let demo; // what the demo printed: ticket, staff passwords
let browser;
let stopServer;

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.jpg`), type: 'jpeg', quality: 70, fullPage: true });
}

/** The current dossier as the candidate's page sees it (same cookie). */
const dossierOf = (page) => page.evaluate(() => fetch('/api/v1/dossier').then((r) => r.json()));

/** Pick a photo for a slot; confirm the prepared image; wait until the slot shows it. */
async function uploadInto(page, category, slot, photo, { check } = {}) {
  await page.locator(`#material-${category} .slot[data-slot="${slot}"] input[type=file]`).setInputFiles(photo);
  const preview = page.locator('dialog.modal img.prepared');
  await preview.waitFor();
  await page.waitForFunction(() => document.querySelector('dialog.modal img.prepared')?.complete);
  if (check) await check(page, preview);
  await page.getByRole('button', { name: '确认上传' }).click();
  await page.locator(`#material-${category} .slot[data-slot="${slot}"] img`).waitFor();
  await page.waitForFunction(() => !document.getElementById('upload-progress'));
}

/** How far (a fraction of the photo's width or height) a corner shown may be from the page's. */
const NEAR = 0.04;

/** The outline's corners on screen (TL, TR, BR, BL), as fractions of the original photo shown. */
async function cornersShown(page) {
  const frame = await page.locator('dialog.modal .crop-frame').boundingBox();
  const corners = [];
  for (const name of ['tl', 'tr', 'br', 'bl']) {
    const b = await page.locator(`dialog.modal .corner[data-corner="${name}"]`).boundingBox();
    corners.push([(b.x + b.width / 2 - frame.x) / frame.width, (b.y + b.height / 2 - frame.y) / frame.height]);
  }
  return corners;
}

/** The corners a prepare request carried (`corners=x1,y1,…,y4`), as four points. */
function cornersSent(request) {
  const v = new URL(request.url()).searchParams.get('corners').split(',').map(Number);
  return [0, 2, 4, 6].map((i) => [v[i], v[i + 1]]);
}

/** Do what prepares the photo again; the request it sent, once the page shows its answer. */
async function preparedAgain(page, action) {
  const request = page.waitForRequest((r) => r.url().includes('/api/v1/photos/prepare'));
  await action();
  const sent = await request;
  await page.locator('dialog.modal .prepare[aria-busy="false"]').waitFor();
  return sent;
}

/** A finger's drag, as Chromium gets it from a touch screen: down, five moves, up. */
async function touchDrag(page, from, to) {
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, p) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: p ? [{ x: p.x, y: p.y }] : [] });
  await touch('touchStart', from);
  for (let i = 1; i <= 5; i += 1) {
    await touch('touchMove', { x: from.x + ((to.x - from.x) * i) / 5, y: from.y + ((to.y - from.y) * i) / 5 });
  }
  await touch('touchEnd');
  await cdp.detach();
}

/** Each staff member signs in in a browser of their own (their own cookie). */
const staffSignIn = (username) => signIn(browser, base, username, demo.staff[username]);

async function approveAllAndSend(page, outcomeText) {
  for (const radio of await page.locator('.verdict input[value="approve"]').all()) await radio.check();
  assert.equal(await page.locator('#outcome option:checked').textContent(), outcomeText);
  await page.getByRole('button', { name: '提交审核结果' }).click();
  // What will be sent is shown first; sent once confirmed.
  await page.locator('#summary').getByRole('button', { name: '确认提交' }).click();
  await page.locator('#queue').waitFor();
}

describe('the web pages, candidate and reviewers, in Chromium', { concurrency: false }, () => {
  let candidate; // the candidate's browser page

  before(async () => {
    mkdirSync(shots, { recursive: true });
    ({ base, demo, stop: stopServer } = await startDemo());
    browser = await launchChromium();
    const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10000);
    candidate = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    stopServer?.();
  });

  it('serves the pages with a content security policy and nothing from another origin', async () => {
    const foreign = [];
    candidate.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url()); });
    const response = await candidate.goto(`${base}/`);
    const csp = response.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers()['x-content-type-options'], 'nosniff');
    await candidate.locator('#login').waitFor();
    assert.deepEqual(foreign, []);
    await shot(candidate, '01-candidate-login');
  });

  it('enters by the ticket and activates with both pledges', async () => {
    await candidate.goto(`${base}/enter?ticket=${encodeURIComponent(demo.ticket)}`);
    await candidate.locator('#activate').waitFor();
    assert.match(await candidate.locator('#activate').textContent(), /李华/);
    await candidate.getByLabel('密码（8-20 位').fill('lihua2027');
    await candidate.getByLabel('再次输入密码').fill('lihua2027');
    await candidate.getByLabel('密保问题').fill('我的小学名称？');
    await candidate.getByLabel('密保答案').fill('实验小学');
    await shot(candidate, '02-activation');
    // Without the pledges the page says what is missing and stays.
    await candidate.getByRole('button', { name: '激活' }).click();
    await candidate.getByText('请阅读并勾选两项承诺').waitFor();
    await candidate.getByLabel(/真实性、准确性、完整性/).check();
    await candidate.getByLabel(/违纪违规处理规定/).check();
    await candidate.getByRole('button', { name: '激活' }).click();
    await candidate.locator('#status').waitFor();
    assert.equal(await candidate.locator('#dossier-state').textContent(), '未提交');
    assert.ok(await candidate.locator('#submit').isDisabled(), 'nothing uploaded: submit is disabled');
    assert.match(await candidate.locator('#material-id_card h3').textContent(), /\*/);
    await candidate.locator('#material-id_card .example').click();
    await candidate.locator('dialog.modal img.example-image').waitFor();
    await candidate.waitForFunction(() => document.querySelector('dialog.modal img.example-image')?.naturalWidth > 0);
    await candidate.getByRole('button', { name: '关闭' }).click();
    await shot(candidate, '03-materials-empty');
  });

  it('prepares a 2 MB sideways phone photo on the server and shows it upright, under 200 KB', async () => {
    const photo = sidewaysPhonePhoto();
    assert.ok(photo.buffer.length > 1_800_000);
    await uploadInto(candidate, 'id_card', 0, photo, {
      check: async (page) => {
        const dims = await page.locator('dialog.modal img.prepared').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
        assert.ok(dims[1] > dims[0], `upright portrait expected, got ${dims}`);
        assert.match(await page.locator('#prepared-info').textContent(), /KB/);
        await page.getByText('已按拍摄方向自动转正').waitFor();
        await shot(page, '04-prepared-photo');
      },
    });
    // What the server stored: the upright JPEG within the budget, shown in the slot.
    const stored = await candidate.locator('#material-id_card .slot[data-slot="0"] img').evaluate(async (img) => {
      const blob = await fetch(img.src).then((r) => r.blob());
      return { bytes: blob.size, w: img.naturalWidth, h: img.naturalHeight };
    });
    assert.ok(stored.bytes <= 200 * 1024, `stored ${stored.bytes} bytes`);
    assert.ok(stored.h > stored.w, 'the thumbnail is upright');
  });

  it('on a phone, outlines the page on a photo taken at an angle; a moved corner or the whole photo prepares it again', async () => {
    // An A4 page lying at an angle on a desk; where its corners are, in the photo's pixels.
    const truth = JSON.parse(readFileSync(join(fixtures, 'page-at-angle.json'), 'utf8'));
    const photo = { name: 'page-at-angle.jpg', mimeType: 'image/jpeg', buffer: readFileSync(join(fixtures, 'page-at-angle.jpg')) };
    const phone = await browser.newContext({
      locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      storageState: await candidate.context().storageState(),
    });
    phone.setDefaultTimeout(15000);
    const page = await phone.newPage();
    await page.goto(`${base}/`);
    await page.locator('#status').waitFor();
    let prepared; // the size of the prepared image shown last: what confirming uploads
    await uploadInto(page, 'diploma', 0, photo, {
      check: async () => {
        // The outline found, with a corner to drag at each of the page's corners.
        await page.getByText('已自动识别证件边缘').waitFor();
        const handles = page.locator('dialog.modal .corner');
        await handles.first().waitFor();
        assert.equal(await handles.count(), 4);
        const found = await cornersShown(page);
        truth.corners.forEach(([x, y], i) => {
          const [shownX, shownY] = found[i];
          assert.ok(Math.abs(shownX - x / truth.width) < NEAR && Math.abs(shownY - y / truth.height) < NEAR,
            `corner ${i} is shown at ${shownX.toFixed(3)},${shownY.toFixed(3)}; the page's is at ${(x / truth.width).toFixed(3)},${(y / truth.height).toFixed(3)}`);
        });
        const overflow = await page.locator('dialog.modal').evaluate((d) => d.scrollWidth - d.clientWidth);
        assert.ok(overflow <= 0, `the dialog is wider than the phone by ${overflow}px`);
        await shot(page, '04-phone-page-outline');

        // A finger drags the top-left corner in: the photo is prepared again with it there.
        const topLeft = page.locator('dialog.modal .corner[data-corner="tl"]');
        await topLeft.scrollIntoViewIfNeeded();
        const frame = await page.locator('dialog.modal .crop-frame').boundingBox();
        const box = await topLeft.boundingBox();
        const from = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
        const dragged = cornersSent(await preparedAgain(page, () => touchDrag(page, from, { x: from.x + 20, y: from.y + 15 })));
        assert.ok(Math.abs(dragged[0][0] - (found[0][0] + 20 / frame.width)) < 0.01
          && Math.abs(dragged[0][1] - (found[0][1] + 15 / frame.height)) < 0.01, `top-left sent at ${dragged[0]}`);
        for (const i of [1, 2, 3]) {
          assert.ok(Math.abs(dragged[i][0] - found[i][0]) < 0.005 && Math.abs(dragged[i][1] - found[i][1]) < 0.005,
            `corner ${i} was not moved but was sent at ${dragged[i]}`);
        }

        // By keyboard: the top-right corner 3% to the left, then Enter.
        const topRight = page.getByRole('button', { name: /^右上角/ });
        await topRight.focus();
        for (let i = 0; i < 3; i += 1) await page.keyboard.press('ArrowLeft');
        const keyed = cornersSent(await preparedAgain(page, () => page.keyboard.press('Enter')));
        assert.ok(Math.abs(keyed[1][0] - (dragged[1][0] - 0.03)) < 0.002, `top-right sent at ${keyed[1]}`);

        // The whole photo: asked for, and the outline no longer has corners to drag.
        const whole = await preparedAgain(page, () => page.getByLabel('使用整张照片').check());
        assert.equal(new URL(whole.url()).searchParams.get('whole_frame'), 'true');
        assert.equal(await page.locator('dialog.modal .corner:visible').count(), 0);
        assert.ok(await page.getByLabel('使用整张照片').isChecked());
        prepared = await page.locator('dialog.modal img.prepared').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
      },
    });
    // What was stored is the whole photo shown last, not an earlier crop.
    const image = (await dossierOf(page)).materials.find((m) => m.category.code === 'diploma').images[0];
    assert.deepEqual([image.width, image.height], prepared);
    await phone.close();
    await candidate.reload();
    await candidate.locator('#status').waitFor();
  });

  it('refuses a HEIC photo with a clear message', async () => {
    await candidate.locator('#material-degree .slot[data-slot="0"] input[type=file]')
      .setInputFiles(file('heic/samplefilehub.heif', 'image/heif'));
    await candidate.locator('.notice.error').filter({ hasText: 'HEIC' }).waitFor();
  });

  it('fills the required materials, deletes one and replaces it', async () => {
    await uploadInto(candidate, 'id_card', 1, file('orientation/Landscape_6.jpg'));
    const missing = (await dossierOf(candidate)).missing;
    for (const category of missing) await uploadInto(candidate, category, 0, file('real/canon_hdr_NO.jpg'));
    assert.deepEqual((await dossierOf(candidate)).missing, []);
    // The minus button, confirmed, empties the slot; a new photo goes into it.
    const before = await candidate.locator('#material-diploma .slot[data-slot="0"] img').getAttribute('src');
    await candidate.locator('#material-diploma .slot[data-slot="0"] .minus').click();
    await candidate.locator('dialog.modal').getByRole('button', { name: '删除' }).click();
    await candidate.locator('#material-diploma .slot[data-slot="0"].empty').waitFor();
    await uploadInto(candidate, 'diploma', 0, file('orientation/Portrait_3.jpg'));
    assert.notEqual(await candidate.locator('#material-diploma .slot[data-slot="0"] img').getAttribute('src'), before);
    await shot(candidate, '05-materials-filled');
  });

  it('submits after confirming, and everything is locked', async () => {
    await candidate.locator('#submit').click();
    await candidate.locator('dialog.modal').getByRole('button', { name: '确定提交' }).click();
    await candidate.locator('.notice.ok').filter({ hasText: '上报完成，内容已锁定' }).waitFor();
    assert.equal(await candidate.locator('#dossier-state').textContent(), '已提交，等待审核');
    assert.equal(await candidate.locator('.minus').count(), 0, 'no minus button on locked images');
    assert.ok(await candidate.locator('.badge.locked').count() >= 4);
    await shot(candidate, '06-submitted');
  });

  it('a site reviewer returns one material with a message, by keyboard', async () => {
    const page = await staffSignIn('xicheng');
    await page.locator('table.queue tbody tr').filter({ hasText: '李华' }).waitFor();
    await shot(page, '07-review-queue');
    await page.keyboard.press('Enter');
    await page.locator('#decision').waitFor();
    assert.match(await page.locator('#id-number').textContent(), /\*/, 'the ID number is masked for a reviewer');
    await page.keyboard.press('a'); // id_card approved, on to the diploma
    await page.keyboard.press('r'); // return the diploma: the message box takes the focus
    await page.keyboard.type('毕业证书照片反光，请在光线均匀处重新拍摄。');
    await page.locator('#material-diploma select[name="reason"]').selectOption('blurry');
    await page.evaluate(() => document.activeElement.blur());
    for (const radio of await page.locator('.verdict input[value="approve"]').all()) {
      if (!(await radio.evaluate((r) => r.name === 'verdict-diploma'))) await radio.check();
    }
    await page.evaluate(() => document.activeElement.blur());
    assert.equal(await page.locator('#outcome').inputValue(), 'return');
    await shot(page, '08-review-dossier');
    // Z and O act on one image: the current material's (the one last worked in).
    await page.keyboard.press('z');
    await page.keyboard.press('o');
    const view = page.locator('.material.current .viewer.active');
    assert.deepEqual(await view.evaluate((f) => [f.dataset.rotate, f.dataset.zoom]), ['90', '1.25']);
    // S shows what will be sent; a second S sends it.
    await page.keyboard.press('s');
    await page.locator('#summary').filter({ hasText: '毕业证书照片反光' }).waitFor();
    await page.keyboard.press('s');
    await page.locator('.notice.ok').filter({ hasText: '已退回' }).waitFor();
    await page.context().close();
  });

  it('the candidate reads the message, replaces the material and submits again', async () => {
    await candidate.reload();
    await candidate.locator('#status').waitFor();
    assert.match(await candidate.locator('#dossier-state').textContent(), /被退回/);
    const first = candidate.locator('#messages li').first();
    assert.match(await first.getAttribute('class'), /unread/);
    assert.match(await first.textContent(), /毕业证书照片反光/);
    assert.match(await candidate.locator('#material-diploma .note').textContent(), /照片模糊或无法辨认/);
    await shot(candidate, '09-returned');
    await first.getByRole('button', { name: '标为已读' }).click();
    await candidate.locator('#messages li.read').first().waitFor();
    // Only the returned material is unlocked: replace it in place.
    assert.equal(await candidate.locator('#material-id_card .minus').count(), 0);
    await uploadInto(candidate, 'diploma', 0, file('real/iphone_hdr_NO.jpg'));
    await candidate.locator('#submit').click();
    await candidate.locator('dialog.modal').getByRole('button', { name: '确定提交' }).click();
    await candidate.locator('.notice.ok').filter({ hasText: '上报完成，内容已锁定' }).waitFor();
  });

  it('the site passes the resubmission, seeing old and new side by side; the district approves', async () => {
    const site = await staffSignIn('xicheng');
    await site.getByRole('tab', { name: /重新上报/ }).click();
    await site.locator('table.queue tbody tr').filter({ hasText: '李华' }).click();
    await site.locator('#material-diploma .versions .images.before img').first().waitFor();
    assert.equal(await site.locator('#material-diploma .versions .images.now img').count(), 1);
    await shot(site, '10-review-resubmitted');
    await approveAllAndSend(site, '通过，提交考区审核');
    await site.context().close();

    const district = await staffSignIn('district');
    await district.locator('table.queue tbody tr').filter({ hasText: '李华' }).click();
    await district.locator('#decision').waitFor();
    await approveAllAndSend(district, '审核通过');
    await district.context().close();
  });

  it('the administrator closes the district review window and publishes', async () => {
    const admin = await staffSignIn('admin');
    await admin.locator('#queue').waitFor();
    await admin.getByRole('link', { name: '材料目录' }).click();
    await admin.locator('#category-id_card').waitFor();
    await shot(admin, '11-admin-catalogue');
    await admin.getByRole('link', { name: '审核账号' }).click();
    await admin.locator('#accounts tbody tr').first().waitFor();
    await shot(admin, '12-admin-accounts');
    await admin.getByRole('link', { name: '时间设置' }).click();
    const beijing = (ms) => new Date(Date.now() + ms + 8 * 3600e3).toISOString().slice(0, 16);
    // Uploads closed first: a review window may not close before the upload window does.
    await admin.locator('input[name="upload_opens_at"]').fill(beijing(-9 * 86400e3));
    await admin.locator('input[name="upload_closes_at"]').fill(beijing(-3 * 86400e3));
    await admin.locator('input[name="district_review_opens_at"]').fill(beijing(-2 * 86400e3));
    await admin.locator('input[name="district_review_closes_at"]').fill(beijing(-60e3));
    await admin.getByRole('button', { name: '保存' }).click();
    await admin.locator('.notice.ok').waitFor();
    await admin.getByRole('link', { name: '发布与导出' }).click();
    await admin.locator('#publish').click();
    await admin.locator('dialog.modal').getByRole('button', { name: '发布结果' }).click();
    await admin.locator('.notice.ok').filter({ hasText: '通过 1 人' }).waitFor();
    const csv = await admin.evaluate(() => fetch('/api/v1/admin/results.csv').then((r) => r.text()));
    assert.match(csv, /李华/);
    await shot(admin, '13-admin-published');
  });

  it('the candidate sees the result, on a desktop and on a phone', async () => {
    await candidate.reload();
    await candidate.locator('#result').waitFor();
    assert.equal(await candidate.locator('#result').textContent(), '审核通过');
    await shot(candidate, '14-result');
    const phone = await browser.newContext({
      locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      storageState: await candidate.context().storageState(),
    });
    const page = await phone.newPage();
    await page.goto(`${base}/`);
    await page.locator('#result').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is wider than the phone by ${overflow}px`);
    await shot(page, '15-phone-result');
    // And in English.
    await page.getByRole('button', { name: 'English' }).click();
    await page.locator('#result').filter({ hasText: 'Approved' }).waitFor();
    await page.getByRole('button', { name: 'Submit for review' }).waitFor({ state: 'detached' });
    await phone.close();
  });
});
