// What both pages share: the language (zh-CN first, English second), calls to the JSON API with the
// cookie session and its CSRF token, the words for every refusal the API can give, and a small
// helper to build elements without ever parsing HTML from data.

const STRINGS = { 'zh-CN': {}, en: {} };
let lang = localStorage.getItem('dossier.lang') || 'zh-CN';

/** Add a page's strings: { key: [zh-CN, en] }. */
export function addStrings(table) {
  for (const [key, [zh, en]] of Object.entries(table)) {
    STRINGS['zh-CN'][key] = zh;
    STRINGS.en[key] = en;
  }
}

/** The text for `key` in the current language; `{name}` placeholders are filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS['zh-CN'][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

export function currentLang() {
  return lang;
}

export function setLang(next) {
  lang = next;
  localStorage.setItem('dossier.lang', next);
  document.documentElement.lang = next;
}

addStrings({
  'lang.switch': ['English', '中文'],
  // Said alike on both pages.
  'c.optional': ['选择上传', 'Optional'],
  'c.required': ['必须上传', 'Required'],
  'login.password': ['密码', 'Password'],
  'login.submit': ['登录', 'Sign in'],
  'nav.logout': ['退出', 'Sign out'],
  'err.bad_request': ['请求有误，请检查填写的内容。', 'The request is not valid; check what you entered.'],
  'err.unauthorized': ['登录已失效，请重新登录。', 'You are signed out; please sign in again.'],
  'err.session_expired': ['登录已过期，请重新登录。', 'Your session has expired; please sign in again.'],
  'err.invalid_field': ['填写的内容不符合要求，请检查。', 'A field is not valid; please check it.'],
  'err.invalid_field.windows_order': ['每个时间段的开始时间必须早于结束时间。', 'Every window must open before it closes.'],
  'err.invalid_field.review_closes_before_uploads': ['审核时间不能在上传截止之前结束。', 'A review window may not close before the upload window does.'],
  'err.invalid_field.message': ['给考生的说明不能包含控制字符、不可见字符或标记。', 'The message may not contain control characters, invisible characters or markup.'],
  'err.invalid_field.materials': ['有材料没有图片，不能审核，请刷新后重试。', 'A material holds no images to decide on; reload and try again.'],
  'err.invalid_field.exam_site': ['请填写正确的考点名称（考点审核人员必须指定考点）。', 'Enter a valid exam site (a site reviewer needs one).'],
  'err.invalid_field.username': ['用户名不符合要求：3-32 位字母、数字或下划线。', 'The username does not meet the rules: 3-32 letters, digits or underscores.'],
  'err.invalid_field.name': ['姓名不符合要求。', 'The name is not valid.'],
  'err.invalid_field.category': ['材料类别的设置不符合要求：名称 1-100 字，说明不超过 2000 字，图片数量 1-20 张。', 'The category is not valid: a name of 1-100 characters, a description of at most 2000, 1-20 images.'],
  'err.invalid_field.max_images': ['该类别的图片位置已命名，图片数量不能更改。', "This category's slots are named; its number of images cannot change."],
  'err.invalid_field.code': ['请先开始设置身份验证器。', 'Start setting up the authenticator first.'],
  'err.invalid_field.conditional_needs_rule': ['“部分考生必传”需要考区文件中的名单规则，请联系技术人员设置。', 'A conditional category needs its roster rule in the district file; ask the technical staff.'],
  'err.totp_required.setup_required': ['请先设置身份验证器，完成后才能审核。', 'Set up your authenticator app first.'],
  'err.forbidden.own_account': ['不能修改自己的账号，请由其他管理员修改。', 'Ask another administrator to change your own account.'],
  'err.unauthorized.wrong_password': ['用户名或密码不正确。', 'Wrong username or password.'],
  'err.unauthorized.wrong_answer': ['密保问题的答案不正确。', 'The answer to the security question is not right.'],
  'err.window_not_open.review': ['审核时间尚未开始。', 'The review window has not opened yet.'],
  'err.window_closed.review': ['审核时间已结束。', 'The review window has closed.'],
  'err.window_not_open.district_review_open': ['考区审核时间结束后才能发布结果。', 'Results can be published once the district review window has closed.'],
  'err.locked.published': ['审核结果已经发布过。', 'The results have already been published.'],
  'err.decision_rules.returned_material': ['有材料被退回时，审核结果应为“退回考生修改”。', 'A material is returned: return the dossier.'],
  'err.decision_rules.nothing_returned': ['退回考生修改时，至少要退回一项材料。', 'Returning the dossier needs at least one returned material.'],
  'err.decision_rules.return_without_reason': ['每项退回的材料都需要选择原因并填写给考生的说明。', 'Each returned material needs a reason and a message to the candidate.'],
  'err.decision_rules.reason_required': ['“审核待定”和“不符合”需要填写原因。', '"Pending" and "not eligible" need a reason.'],
  'err.decision_rules.wrong_stage': ['该审核结果不属于本审核阶段。', 'That outcome does not belong to this stage.'],
  'err.decision_rules.undecided': ['还有材料未审核：{missing}', 'Some materials are undecided: {missing}'],
  'err.already_exists': ['该用户名已被使用。', 'That username is already taken.'],
  'err.method_not_allowed': ['请求有误，请刷新页面后重试。', 'The request is not valid; reload the page and try again.'],
  'err.unsupported_media_type': ['文件类型不正确。', 'The file type is not accepted.'],
  'err.body_incomplete': ['上传中断，请重试。', 'The upload was interrupted; please try again.'],
  'err.body_incomplete.too_slow': ['网络太慢，上传已中断，请在网络较好时重试。', 'The network is too slow and the upload stopped; try again on a better connection.'],
  'err.totp_required.wrong_code': ['动态码不正确，请重新输入。', 'That code is not right; enter it again.'],
  'err.totp_required.code_used': ['该动态码已使用过，请等待下一个动态码。', 'That code was used already; wait for the next one.'],
  'err.forbidden': ['无权进行此操作，请刷新页面后重试。', 'Not allowed; reload the page and try again.'],
  'err.not_found': ['未找到该内容。', 'Not found.'],
  'err.throttled': ['尝试次数过多，请 {secs} 秒后再试。', 'Too many attempts; try again in {secs} s.'],
  'err.window_not_open': ['上传时间尚未开始。', 'The upload window has not opened yet.'],
  'err.window_closed': ['上传时间已截止，材料不能再修改。', 'The upload window has closed; materials can no longer be changed.'],
  'err.locked': ['材料已锁定，不能修改。', 'This material is locked and cannot be changed.'],
  'err.count_reached': ['该类材料的图片数量已满，请先删除一张。', 'This category already has all its images; delete one first.'],
  'err.slot_taken': ['该位置已有图片。', 'That slot already holds an image.'],
  'err.missing_required': ['以下必传材料尚未上传：{missing}', 'Required materials are missing: {missing}'],
  'err.nothing_to_submit': ['没有需要上报的内容。', 'There is nothing to submit.'],
  'err.invalid_photo': ['照片无法使用：{detail}', 'The photo cannot be used: {detail}'],
  'err.payload_too_large': ['文件太大。', 'The file is too large.'],
  'err.length_required': ['上传失败，请重试。', 'The upload failed; try again.'],
  'err.idempotency_key_required': ['上传失败，请重试。', 'The upload failed; try again.'],
  'err.idempotency_conflict': ['上传冲突，请重新选择照片。', 'Upload conflict; choose the photo again.'],
  'err.ticket_invalid': ['登录链接无效，请从报名系统重新进入。', 'The entry link is not valid; enter again from the registration system.'],
  'err.ticket_expired': ['登录链接已过期，请从报名系统重新进入。', 'The entry link has expired; enter again from the registration system.'],
  'err.ticket_used': ['登录链接已使用过，请用账号和密码登录。', 'The entry link was already used; sign in with your password.'],
  'err.already_activated': ['账号已激活，请直接登录。', 'The account is already activated; sign in.'],
  'err.password_rules': ['密码不符合要求：8-20 位，须同时包含字母和数字，两次输入须一致。', 'The password does not meet the rules: 8-20 characters with letters and digits, typed the same twice.'],
  'err.pledges_required': ['请阅读并勾选两项承诺。', 'Please read and tick both pledges.'],
  'err.invalid_profile': ['个人信息格式不正确，请检查手机号和电子邮箱。', 'The personal information is not valid; check the mobile number and e-mail.'],
  'err.unknown': ['操作未成功，请刷新页面后重试。', 'That did not work; reload the page and try again.'],
  'err.unknown_category': ['没有该材料类别。', 'No such material category.'],
  'err.totp_required': ['请输入身份验证器中的 6 位动态码。', 'Enter the 6-digit code from your authenticator app.'],
  'err.claimed_by_other': ['该考生材料正由其他审核人员审核，请选择其他考生。', 'Another reviewer is working on this dossier; choose another.'],
  'err.claim_required': ['请先领取该考生材料。', 'Claim the dossier first.'],
  'err.stale_version': ['考生已重新上报，请刷新后再审核。', 'The candidate has submitted again; reload before deciding.'],
  'err.not_reviewable': ['该材料当前不能审核。', 'This dossier cannot be reviewed now.'],
  'err.decision_rules': ['审核结果不完整，请检查每项材料的审核意见。', 'The decision is incomplete; check each material.'],
  'err.internal': ['服务器出错，请稍后重试。', 'Server error; please try again later.'],
  'err.unavailable': ['系统繁忙，请 {secs} 秒后重试。', 'The system is busy; try again in {secs} s.'],
  'err.network': ['网络连接失败，请检查网络后重试。', 'No connection; check the network and try again.'],
  'photo.unsupported_format': ['只接受 JPG/JPEG 或 PNG 格式的照片（HEIC 等格式请在手机设置中改为“兼容性最佳”或截图后上传）。', 'Only JPG/JPEG or PNG photos are accepted (for HEIC, set the camera to "Most Compatible").'],
  'photo.not_an_image': ['该文件不是图片。', 'This file is not an image.'],
  'photo.too_many_pixels': ['照片像素过大。', 'The photo has too many pixels.'],
  'photo.file_too_large': ['文件太大。', 'The file is too large.'],
  'photo.corrupt': ['照片已损坏，无法读取。', 'The photo is damaged and cannot be read.'],
  'photo.over_budget': ['文件超过 200 KB。', 'The file is over 200 KB.'],
  'photo.not_upright': ['照片方向不正。', 'The photo is not upright.'],
  'photo.invalid_corners': ['四个角没有围成一页纸，请重新拖动或使用整张照片。', 'The corners do not outline a page; move them again or use the whole photo.'],
  'photo.budget_unreachable': ['无法在保持清晰的前提下压缩到 200 KB 以内，请重新拍摄。', 'Cannot fit 200 KB and stay legible; take the photo again.'],
});

/** A refusal from the API, with its machine-readable code and the words to show. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || (status >= 500 ? 'internal' : 'bad_request');
    this.body = body || {};
    this.retryAfter = retryAfter;
  }

  /** What the user reads. */
  describe() {
    const b = this.body;
    const vars = {
      message: b.message || '',
      secs: this.retryAfter || b.retry_after_secs || '',
      // Categories by the names the page shows (`setCategoryNames`), never their codes.
      missing: (b.missing || []).map((c) => categoryNames[c] || c).join('、'),
      detail: b.detail ? t(`photo.${b.detail}`) : '',
    };
    // A finer sentence where the refusal's detail has one (a wrong or reused code, a slow upload).
    const fine = b.detail ? `err.${this.code}.${b.detail}` : null;
    if (fine && t(fine) !== fine) return t(fine, vars);
    const key = `err.${this.code}`;
    // The server's English message never reaches a person: an unknown code gets a plain sentence.
    return t(key) === key ? t('err.unknown') : t(key, vars);
  }
}

let categoryNames = {};

/** The names of the district's categories by code, for refusals that list materials. */
export function setCategoryNames(names) { categoryNames = names || {}; }

/** The CSRF token of the page's cookie session, kept where this origin's pages can read it. */
const csrf = {
  key: 'dossier.csrf',
  get() { return localStorage.getItem(this.key); },
  set(v) { if (v) localStorage.setItem(this.key, v); else localStorage.removeItem(this.key); },
};

export function useCsrfKey(key) { csrf.key = key; }
export function setCsrf(token) { csrf.set(token); }

/**
 * Call the API. `json` is sent as JSON; the answer is parsed as JSON unless `raw`. `signal` (an
 * AbortSignal) stops a call whose answer is no longer wanted.
 */
export async function api(method, path, { json, body, headers = {}, raw = false, signal } = {}) {
  const h = new Headers(headers);
  if (json !== undefined) {
    h.set('content-type', 'application/json');
    body = JSON.stringify(json);
  }
  if (method !== 'GET' && csrf.get()) h.set('X-CSRF-Token', csrf.get());
  let response;
  try {
    response = await fetch(path, { method, headers: h, body, credentials: 'same-origin', signal });
  } catch {
    throw new ApiError(0, { code: 'network' });
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  return new ApiError(response.status, body, response.headers.get('retry-after'));
}

/**
 * Upload with progress (fetch reports none). Resolves with the parsed JSON answer.
 * `onProgress(fraction)` is called as the body goes out.
 */
export function uploadWithProgress(path, blob, headers, onProgress) {
  return sendWithProgress('POST', path, blob, { headers, onProgress });
}

/**
 * A request whose body's progress is reported, which fetch cannot do. `onProgress(fraction)` is
 * called as the body goes out and `onSent()` once all of it has (the server is working on it
 * then). Resolves with the parsed JSON answer, or with `as: 'blob'` with `{ blob, header(name) }`;
 * a refusal is an ApiError as from `api`. `signal` (an AbortSignal) stops it with an AbortError.
 */
export function sendWithProgress(method, path, body, { headers = {}, onProgress, onSent, signal, as = 'json' } = {}) {
  return new Promise((resolve, reject) => {
    const aborted = () => reject(new DOMException('The request was stopped.', 'AbortError'));
    if (signal?.aborted) return aborted();
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    if (as === 'blob') xhr.responseType = 'blob';
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (method !== 'GET' && csrf.get()) xhr.setRequestHeader('X-CSRF-Token', csrf.get());
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
    xhr.upload.onload = () => onSent?.();
    xhr.onerror = () => reject(new ApiError(0, { code: 'network' }));
    xhr.onabort = aborted;
    xhr.onload = async () => {
      const header = (name) => xhr.getResponseHeader(name);
      const ok = xhr.status >= 200 && xhr.status < 300;
      if (ok && as === 'blob') return resolve({ blob: xhr.response, header });
      let answer = null;
      try {
        answer = JSON.parse(as === 'blob' ? await xhr.response.text() : xhr.responseText);
      } catch { /* empty, or not JSON */ }
      if (ok) resolve(answer);
      else reject(new ApiError(xhr.status, answer, header('retry-after')));
    };
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/** A random UUID (v4), also where `crypto.randomUUID` is missing (plain http on a LAN address). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Build an element: h('button', { class: 'x', onclick }, 'text', child). Text is never parsed. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Run `action` with `button` disabled; show its refusal, if any, at the top of the page, in the
 * words `describe(error)` gives (by default the API's sentence for it).
 */
export async function busy(button, action, describe = (e) => (e.describe ? e.describe() : String(e))) {
  button.disabled = true;
  try {
    await action();
  } catch (e) {
    notify(describe(e), 'error');
  } finally {
    button.disabled = false;
  }
}

/** A labelled form control. */
export function field(label, control) {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

/** Replace the page's content; arrays are flattened and empty parts (null, false) left out. */
export function show(...children) {
  document.getElementById('main').replaceChildren(...children.flat(Infinity).filter((c) => c || c === 0));
}

/** Exam times are Beijing time, whatever the computer's zone. */
export function formatTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang, {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(iso));
}

/**
 * A modal dialog; resolves with the value of the button pressed, or null when it is closed
 * otherwise (Escape, or `close()` by the caller).
 */
export function dialog(title, body, buttons) {
  return new Promise((resolve) => {
    let result = null;
    const d = h('dialog', { class: 'modal', 'aria-label': title },
      h('h2', {}, title),
      h('div', { class: 'modal-body' }, body),
      h('div', { class: 'modal-actions' },
        buttons.map(([label, value, cls]) => h('button', {
          type: 'button', class: cls || '', onclick: () => { result = value; d.close(); },
        }, label))));
    d.addEventListener('close', () => { d.remove(); resolve(result); });
    document.body.append(d);
    d.showModal();
  });
}

/** A line of feedback at the top of the page: `kind` is ok, error or info. */
export function notify(text, kind = 'info') {
  const area = document.getElementById('notice');
  area.replaceChildren(h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text));
  area.scrollIntoView({ block: 'nearest' });
}

export function clearNotice() {
  document.getElementById('notice')?.replaceChildren();
}

/** The language switch in the header. */
export function languageButton(rerender) {
  return h('button', {
    type: 'button', class: 'link lang', lang: lang === 'en' ? 'zh-CN' : 'en',
    onclick: () => { setLang(lang === 'en' ? 'zh-CN' : 'en'); rerender(); },
  }, t('lang.switch'));
}

document.documentElement.lang = lang;
