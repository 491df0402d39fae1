// The reviewers' and administrators' console: sign-in with the second factor, the queues, the
// keyboard-driven review of a dossier, and the district's administration (catalogue, windows,
// accounts, publishing, export).
import {
  addStrings, api, ApiError, clearNotice, dialog, formatTime, h, languageButton, notify, setCsrf, show, t, busy as busyWith,
  field, setCategoryNames, useCsrfKey,
} from './common.js';

useCsrfKey('dossier.staff.csrf');

addStrings({
  'app.title': ['医师资格考试材料审核', 'Medical Licensing Exam · Review'],
  'nav.queue': ['审核队列', 'Queue'],
  'nav.catalogue': ['材料目录', 'Catalogue'],
  'nav.windows': ['时间设置', 'Windows'],
  'nav.accounts': ['审核账号', 'Accounts'],
  'nav.results': ['发布与导出', 'Results'],
  'login.title': ['审核人员登录', 'Staff sign-in'],
  'login.username': ['用户名', 'Username'],
  'login.code': ['动态码（身份验证器）', 'Authenticator code'],
  'totp.title': ['设置身份验证器', 'Set up your authenticator'],
  'totp.explain': ['本账号须使用身份验证器（如 Google Authenticator、Microsoft Authenticator）登录。请在应用中添加下列密钥，然后输入应用显示的 6 位动态码。', 'This account signs in with an authenticator app. Add this key to the app, then enter the 6-digit code it shows.'],
  'totp.secret': ['密钥', 'Key'],
  'totp.confirm': ['确认', 'Confirm'],
  'totp.done': ['身份验证器已启用。', 'The authenticator is set up.'],
  'totp.qr': ['二维码', 'QR code'],
  'role.site_reviewer': ['考点审核员', 'Site reviewer'],
  'role.district_reviewer': ['考区审核员', 'District reviewer'],
  'role.district_admin': ['考区管理员', 'District administrator'],
  'stage.site': ['考点审核', 'Site review'],
  'stage.district': ['考区审核', 'District review'],
  'stage.done': ['已完成', 'Done'],
  'rstate.waiting': ['待审核', 'Waiting'],
  'rstate.returned': ['已退回', 'Returned'],
  'rstate.pending': ['审核待定', 'Pending'],
  'rstate.approved': ['审核通过', 'Approved'],
  'rstate.not_eligible': ['不符合', 'Not eligible'],
  'q.resubmitted': ['重新上报', 'Resubmitted'],
  'mstate.open': ['未上报', 'Not submitted'],
  'mstate.submitted': ['待审核', 'To review'],
  'mstate.returned': ['已退回', 'Returned'],
  'mstate.approved': ['已通过', 'Approved'],
  'q.all': ['全部', 'All'],
  'q.empty': ['队列中没有考生。', 'No one in this queue.'],
  'q.nomatch': ['没有找到符合条件的考生。', 'No candidate matches.'],
  'q.found': ['找到 {n} 位考生', '{n} found'],
  'q.search': ['搜索', 'Search'],
  'q.search.placeholder': ['报名号、姓名或身份证号', 'Number, name or ID number'],
  'q.search.clear': ['清除', 'Clear'],
  'q.sites.all': ['全部考点', 'All exam sites'],
  'q.keys': ['快捷键：J/K 上下移动，Enter 打开，/ 搜索（Esc 离开搜索框）', 'Keys: J/K move, Enter opens, / searches (Esc leaves the search box)'],
  'q.name': ['姓名', 'Name'],
  'q.number': ['报名号', 'Number'],
  'q.id': ['证件号码', 'ID number'],
  'q.site': ['考点', 'Exam site'],
  'q.since': ['等待自', 'Waiting since'],
  'q.claimed': ['审核人', 'Claimed by'],
  'q.state': ['状态', 'State'],
  'd.back': ['返回队列', 'Back to queue'],
  'd.candidate': ['考生信息', 'Candidate'],
  'd.category': ['报考类别', 'Exam category'],
  'd.mobile': ['手机号码', 'Mobile'],
  'd.version': ['第 {n} 次上报', 'Submission {n}'],
  'd.keys': ['快捷键', 'Keys'],
  'd.k.jk': ['下一项 / 上一项材料（到头即停）', 'next / previous material (stops at the ends)'],
  'd.k.hl': ['同一材料的上一张 / 下一张图片', 'previous / next image of the material'],
  'd.k.a': ['通过，并转到下一项', 'approve, and on to the next'],
  'd.k.r': ['退回（光标进入意见框）', 'return (the message box takes the focus)'],
  'd.k.esc': ['离开输入框；不在输入框时返回队列', 'leave the text box; outside one, back to the queue'],
  'd.k.zx': ['放大 / 缩小当前图片', 'zoom the current image in / out'],
  'd.k.o': ['旋转当前图片', 'rotate the current image'],
  'd.k.arrows': ['移动放大后的图片（也可用鼠标拖动，滚轮缩放）', 'move a zoomed image (or drag it; the wheel zooms)'],
  'd.k.f': ['查看原图', 'the image at full size'],
  'd.k.s': ['查看审核结果摘要，再按 S 或 Enter 提交', 'the decision\'s summary; S or Enter again sends it'],
  'd.k.n': ['下一位考生', 'next candidate'],
  'd.position': ['第 {n}/{total} 项材料：{name}', 'Material {n} of {total}: {name}'],
  'd.first': ['已是第一项材料。', 'This is the first material.'],
  'd.last': ['已是最后一项材料。', 'This is the last material.'],
  'd.alldone': ['所有材料均已审核，按 S 查看并提交审核结果。', 'Every material is decided: press S to review and send.'],
  'd.image': ['图片 {n}/{total}', 'Image {n} of {total}'],
  'd.approve': ['通过', 'Approve'],
  'd.return': ['退回', 'Return'],
  'd.reason': ['退回原因', 'Reason'],
  'd.message': ['给考生的意见', 'Message to the candidate'],
  'd.current': ['当前版本', 'Current'],
  'd.previous': ['此前版本（已替换）', 'Earlier versions (replaced)'],
  'd.slot_removed': ['此处图片已删除', 'Deleted from this slot'],
  'd.outcome': ['审核结果', 'Decision'],
  'd.outcome.reason': ['原因（审核待定、不符合时必填）', 'Reason (for pending and not eligible)'],
  'd.send': ['提交审核结果', 'Send the decision'],
  'd.sent': ['已提交：{stage} · {state}', 'Sent: {stage} · {state}'],
  'd.history': ['审核记录', 'Decisions'],
  'd.audit': ['操作日志', 'Audit trail'],
  'd.readonly': ['只读：管理员不参与审核。', 'Read only: administrators do not review.'],
  'd.claimed': ['已领取，{until} 前由您审核。', 'Claimed: yours until {until}.'],
  'd.noimages': ['未上传', 'Nothing uploaded'],
  'd.zoom': ['放大', 'Zoom in'],
  'd.unzoom': ['缩小', 'Zoom out'],
  'd.rotate': ['旋转', 'Rotate'],
  'd.reset': ['复原', 'Reset'],
  'd.full': ['原图', 'Full size'],
  'd.full.title': ['原图：{name}', 'Full size: {name}'],
  'd.full.size': ['{w} × {h} 像素，按原始大小显示。', '{w} × {h} pixels, shown at their own size.'],
  'd.full.tab': ['在新标签页中打开', 'Open in a new tab'],
  'd.close': ['关闭', 'Close'],
  'd.reason.none': ['请选择退回原因', 'Choose a reason'],
  'd.fix.reason': ['请选择退回原因。', 'Choose a reason.'],
  'd.fix.message': ['请填写给考生的意见。', 'Write the message to the candidate.'],
  'd.need.reason': ['“{name}”未选择退回原因', '"{name}" has no reason for its return'],
  'd.need.message': ['“{name}”未填写给考生的意见', '"{name}" has no message to the candidate'],
  'd.need.returned': ['审核结果为“退回考生修改”，但没有退回任何材料', 'The decision is a return, but no material is returned'],
  'd.need.noreturn': ['有材料被退回，审核结果应为“退回考生修改”', 'A material is returned: the decision must be a return'],
  'd.need.all': ['以下材料尚未审核：{names}', 'Not decided yet: {names}'],
  'd.need.outcome_reason': ['“审核待定”和“不符合”须填写原因', 'Pending and not eligible need a reason'],
  'd.notsent': ['未提交：', 'Not sent: '],
  'd.cancelled': ['未提交，可继续修改。', 'Not sent; you can go on changing it.'],
  'd.sep': ['；', '; '],
  'd.list': ['、', ', '],
  'd.change.title': ['更改审核意见？', 'Change the verdict?'],
  'd.change.ask': ['“{name}”已标记为“{from}”。改为“{to}”吗？', '"{name}" is marked "{from}". Change it to "{to}"?'],
  'd.change.keys': ['Enter 或 Esc：保持不变。', 'Enter or Esc: keep it.'],
  'd.keep': ['保持“{verdict}”', 'Keep "{verdict}"'],
  'd.change': ['改为“{verdict}”', 'Change to "{verdict}"'],
  'd.summary.title': ['确认提交审核结果', 'Send this decision?'],
  'd.summary.who': ['考生：{name}（{number}）', 'Candidate: {name} ({number})'],
  'd.summary.returned': ['退回的材料（{n} 项）', 'Returned ({n})'],
  'd.summary.approved': ['通过的材料（{n} 项）', 'Approved ({n})'],
  'd.summary.undecided': ['未审核的材料（{n} 项）', 'Not decided ({n})'],
  'd.approved_earlier': ['上次审核已通过，未修改', 'Approved before, unchanged'],
  'd.note_history': ['曾退回：{reason}：{message}', 'Returned earlier: {reason}: {message}'],
  'd.summary.sms': ['提交后，考生将收到消息通知和短信。', 'Once sent, the candidate gets a message and an SMS.'],
  'd.summary.keys': ['再按 S 或 Enter 提交；Esc 取消。', 'S or Enter again sends it; Esc cancels.'],
  'd.cancel': ['取消', 'Cancel'],
  'd.confirm': ['确认提交', 'Send'],
  'd.leave.title': ['离开此考生？', 'Leave this candidate?'],
  'd.leave.ask': ['已作出的审核意见尚未提交，离开后将不会保存。', 'The verdicts you made have not been sent and will not be kept.'],
  'd.leave.stay': ['留在此页', 'Stay'],
  'd.leave.go': ['放弃并离开', 'Discard and leave'],
  // What the server read off an ID-card image: advice beside the image, never a decision.
  'f.match': ['与报名信息一致', 'Matches the registration'],
  'f.mismatch': ['与报名信息不一致', 'Differs from the registration'],
  'f.mismatch.number': ['身份证号与报名信息不一致', 'The ID number differs from the registration'],
  'f.mismatch.name': ['姓名与报名信息不一致', 'The name differs from the registration'],
  'f.unread': ['未能识别', 'Not read'],
  'f.unread.why': ['未能识别：{why}', 'Not read: {why}'],
  'f.why.illegible': ['照片不清晰', 'the photo is not clear'],
  'f.why.not_id_card': ['不像身份证', 'it does not look like an ID card'],
  'f.wrong_slot': ['正反面放反了', 'Front and back are in the wrong slots'],
  'f.check_digit': ['号码校验位不正确', 'The number\'s check character is wrong'],
  'f.expired': ['证件已过期', 'Card expired'],
  'f.pending': ['识别中…', 'Reading…'],
  'f.failed': ['未能自动识别', 'Could not be read automatically'],
  'f.read': ['识别：', 'Read: '],
  'f.roster': ['报名：', 'Registered: '],
  'f.authority': ['签发机关：{value}', 'Issued by: {value}'],
  'f.valid_until': ['有效期至：{value}', 'Valid until: {value}'],
  'f.long_term': ['长期', 'no end date'],
  'f.advice': ['自动识别，仅供参考', 'Read automatically; advice only'],
  // Any document (a diploma, a work proof, an ID card) found in another dossier the reviewer may open.
  'f.reused': ['同一份材料也在其他考生的材料中', 'The same document is also in another candidate\'s dossier'],
  'f.reused.in': ['{name}（{site}）：{category}', '{name} ({site}): {category}'],
  'audit.claim': ['领取审核', 'claimed'],
  'audit.release': ['释放领取', 'released'],
  'audit.approve': ['通过', 'approved'],
  'audit.return': ['退回', 'returned'],
  'audit.unlock': ['解锁供考生修改', 'unlocked for the candidate'],
  'audit.dossier_pass': ['通过，提交考区审核', 'passed to the district'],
  'audit.dossier_return': ['退回考生修改', 'returned to the candidate'],
  'audit.dossier_pending': ['审核待定', 'set pending'],
  'audit.dossier_approve': ['审核通过', 'approved'],
  'audit.dossier_not_eligible': ['不符合', 'not eligible'],
  'audit.login': ['登录', 'signed in'],
  'audit.login_failed': ['登录失败', 'sign-in failed'],
  'audit.other': ['其他操作', 'other'],
  'audit.candidate': ['考生 {username}', 'candidate {username}'],
  'mode.Web': ['网页', 'web'],
  'mode.App': ['手机应用', 'app'],
  'out.pass': ['通过，提交考区审核', 'Pass to the district'],
  'out.return': ['退回考生修改', 'Return to the candidate'],
  'out.pending': ['审核待定', 'Pending'],
  'out.approve': ['审核通过', 'Approve'],
  'out.not_eligible': ['不符合', 'Not eligible'],
  'reason.blurry': ['照片模糊或无法辨认', 'Blurry or illegible'],
  'reason.wrong_document': ['材料类别错误', 'Wrong document'],
  'reason.incomplete': ['材料不完整', 'Incomplete'],
  'reason.expired': ['证件已过期', 'Expired'],
  'reason.other': ['其他', 'Other'],
  'w.title': ['考区时间设置（北京时间）', 'The district\'s windows (Beijing time)'],
  'w.upload': ['材料上传', 'Upload'],
  'w.site': ['考点审核', 'Site review'],
  'w.district': ['考区审核', 'District review'],
  'w.opens': ['开始', 'Opens'],
  'w.closes': ['截止', 'Closes'],
  'w.save': ['保存', 'Save'],
  'w.saved': ['时间已保存。', 'Saved.'],
  'a.title': ['审核账号', 'Accounts'],
  'a.new': ['新建账号', 'New account'],
  'a.name': ['姓名', 'Name'],
  'a.role': ['角色', 'Role'],
  'a.site': ['考点（考点审核员）', 'Exam site (site reviewers)'],
  'a.totp': ['须使用身份验证器', 'Requires an authenticator'],
  'a.disabled': ['已停用', 'Disabled'],
  'a.disable': ['停用', 'Disable'],
  'a.enable': ['启用', 'Enable'],
  'a.create': ['创建', 'Create'],
  'a.created': ['账号 {username} 已创建，初始密码（仅显示一次）：{password}', 'Account {username} created; its first password (shown once): {password}'],
  'r.title': ['发布审核结果', 'Publish the results'],
  'r.explain': ['考区审核截止后，发布最终审核结果，考生即可在材料页面看到。', 'After the district review window closes, publish the final results; candidates then see them on their page.'],
  'r.publish': ['发布结果', 'Publish'],
  'r.cancel': ['取消', 'Cancel'],
  'r.confirm': ['确定发布审核结果吗？发布后考生即可查看。', 'Publish the results? Candidates will see them.'],
  'r.published': ['已发布：通过 {approved} 人，不符合 {not_eligible} 人，未完成审核 {undecided} 人。', 'Published: {approved} approved, {not_eligible} not eligible, {undecided} undecided.'],
  'r.export': ['导出审核结果（CSV）', 'Export the results (CSV)'],
  'r.export.site': ['仅导出考点（可选）', 'Only this exam site (optional)'],
  'r.export.file': ['审核结果.csv', 'results.csv'],
  'c.title': ['材料目录', 'Catalogue'],
  'c.name': ['名称', 'Name'],
  'c.description': ['说明', 'Description'],
  'c.requirement': ['要求', 'Requirement'],
  'c.conditional': ['部分考生必传', 'Required for some'],
  'c.condition': ['必传说明', 'Who must upload'],
  'c.count': ['图片数量（最少–最多）', 'Images (min–max)'],
  'c.example': ['示例图片', 'Example image'],
  'c.newexample': ['更换示例图片', 'Replace the example'],
  'c.save': ['保存', 'Save'],
  'c.saved': ['“{name}”已保存。', '"{name}" saved.'],
});

// What the console keeps between pages. All of it belongs to one sign-in: `resetSession` clears it
// on signing out and on every sign-in, so a second account in the same tab starts afresh.

let me = null;
/** The queue as the reviewer left it: stage and tab, search, exam site, page, the row picked. */
let queueState = freshQueue();
let keyHandler = null;
/** The open dossier's verdicts not yet sent: kept when the page is drawn again in the other language. */
let draft = null;
let relabelling = false;
/** A message to show after the next navigation (which clears the notice). */
let flash = null;
/** The exam sites district staff filter the queue by: asked once per sign-in (a promise). */
let examSites = null;
/** The search being typed: sent after a pause in the typing (or at once on Enter). */
let searchTimer = null;
const SEARCH_PAUSE_MS = 300;
/** The queue request in flight; a newer one, or signing out, stops it. */
let queueLoad = null;
/** Counts sign-ins and sign-outs: what was loaded for an earlier one is never drawn. */
let generation = 0;

function freshQueue() {
  return { stage: null, state: 'waiting', resubmitted: false, search: '', examSite: '', page: 0, entries: [], selected: 0 };
}

/**
 * Forget everything of the account signed in until now: its queue (stage, tab, search, site, page,
 * row), the verdicts not sent, the exam sites, a search or queue request under way, the category
 * names refusals use, the page's keys, the notice. The next account's own stage's queue comes next.
 * The language is the device's, not the account's: it stays.
 */
function resetSession() {
  generation += 1;
  me = null;
  queueState = freshQueue();
  draft = null;
  relabelling = false;
  flash = null;
  examSites = null;
  clearTimeout(searchTimer);
  searchTimer = null;
  queueLoad?.abort();
  queueLoad = null;
  setCategoryNames({});
  if (keyHandler) document.removeEventListener('keydown', keyHandler);
  keyHandler = null;
  clearNotice(); // what the last account was told (a new account's first password, say)
}

/** What a person reads about a failure: the API's refusal in words, never an exception's English. */
function describeError(e) {
  if (e instanceof ApiError) return e.describe();
  console.error(e);
  return t('err.unknown');
}

/** common.js's `busy`, a failure said in the console's words. */
function busy(button, action) {
  return busyWith(button, action, describeError);
}

/** Fields that take typed text keep their keys; wherever else the focus is, the page's keys work. */
function typesText(el) {
  if (!(el instanceof Element)) return false;
  if (el.isContentEditable || el.tagName === 'TEXTAREA') return true;
  return el.tagName === 'INPUT'
    && !['radio', 'checkbox', 'button', 'submit', 'reset', 'file', 'range', 'color', 'image'].includes(el.type);
}

/** A key's name, letters in lower case (Shift or Caps Lock do not change what a letter does). */
function keyOf(e) {
  return e.key.length === 1 ? e.key.toLowerCase() : e.key;
}

/**
 * The page's keys: `handler` gets every key pressed outside a dialog and without Ctrl, Alt or
 * Meta, and decides what it means where the focus is (a text field keeps its letters). Keys of
 * an input method's composition (pinyin being typed, Esc cancelling it) are the input method's.
 */
function onKeys(handler) {
  if (keyHandler) document.removeEventListener('keydown', keyHandler);
  keyHandler = (e) => {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof Element && e.target.closest('dialog')) return;
    handler(e);
  };
  document.addEventListener('keydown', keyHandler);
}

function header() {
  const admin = me?.role === 'district_admin';
  const link = (hash, key) => h('a', { href: hash, class: location.hash.startsWith(hash) ? 'active' : '' }, t(key));
  document.getElementById('top').replaceChildren(
    h('h1', {}, t('app.title')),
    h('nav', {},
      me ? [
        link('#/queue', 'nav.queue'),
        admin ? [link('#/catalogue', 'nav.catalogue'), link('#/windows', 'nav.windows'), link('#/accounts', 'nav.accounts'), link('#/results', 'nav.results')] : null,
        h('span', { class: 'who' }, `${me.name} · ${t(`role.${me.role}`)}${me.exam_site ? ` · ${me.exam_site}` : ''}`),
        h('button', { type: 'button', class: 'link', onclick: logout }, t('nav.logout')),
      ] : null,
      languageButton(relabel)));
  document.title = t('app.title');
}

/** The other language: the page drawn again, an open dossier with the verdicts made so far. */
function relabel() {
  relabelling = true;
  route();
}

function go(hash, message) {
  flash = message;
  if (location.hash === hash) route(); else location.hash = hash;
}

async function route() {
  const keepDraft = relabelling;
  relabelling = false;
  clearTimeout(searchTimer); // the page drawn next sends what was typed
  clearNotice();
  if (flash) { notify(flash, 'ok'); flash = null; }
  onKeys(() => {});
  try {
    if (!me) me = await api('GET', '/api/v1/staff/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin();
    if (e instanceof ApiError && e.status === 403) return showTotpSetup();
    return notify(describeError(e), 'error');
  }
  if (me.totp_required && !me.totp_enabled) return showTotpSetup();
  const [where, arg] = (location.hash.replace(/^#\/?/, '') || 'queue').split('/');
  header();
  try {
    if (where === 'dossier' && arg) return await showDossier(arg, keepDraft);
    if (where === 'windows') return await showWindows();
    if (where === 'accounts') return await showAccounts();
    if (where === 'results') return showResults();
    if (where === 'catalogue') return await showCatalogue();
    return await showQueue();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { me = null; return showLogin(); }
    notify(describeError(e), 'error');
  }
}

// ------------------------------------------------------------------------------------------------
// Sign-in and the second factor

function showLogin() {
  me = null;
  header();
  const code = field(t('login.code'), h('input', { name: 'totp_code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, pattern: '[0-9]{6}' }));
  code.hidden = true;
  const form = h('form', { class: 'card narrow', id: 'login' },
    h('h2', {}, t('login.title')),
    field(t('login.username'), h('input', { name: 'username', autocomplete: 'username', required: true })),
    field(t('login.password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    code,
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    busy(form.querySelector('button'), async () => {
      try {
        const session = await api('POST', '/api/v1/staff/login', {
          json: {
            username: f.get('username').trim(), password: f.get('password'),
            totp_code: f.get('totp_code') || undefined, mode: 'web',
          },
        });
        // A new sign-in starts afresh, whoever used this tab before.
        resetSession();
        setCsrf(session.csrf_token);
        me = session.staff;
        go('#/queue');
      } catch (e) {
        if (e.code === 'totp_required') {
          code.hidden = false;
          code.querySelector('input').focus();
        }
        throw e;
      }
    });
  });
  show(form);
}

async function showTotpSetup() {
  header();
  const enrollment = await api('POST', '/api/v1/staff/totp/enroll');
  const form = h('form', { class: 'card narrow', id: 'totp' },
    h('h2', {}, t('totp.title')),
    h('p', {}, t('totp.explain')),
    enrollment.qr_png_base64 ? h('img', { class: 'qr', src: `data:image/png;base64,${enrollment.qr_png_base64}`, alt: t('totp.qr') }) : null,
    h('p', {}, `${t('totp.secret')}：`, h('code', { id: 'totp-secret' }, enrollment.secret_base32)),
    field(t('login.code'), h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 6 })),
    h('button', { type: 'submit', class: 'primary' }, t('totp.confirm')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form.querySelector('button'), async () => {
      await api('POST', '/api/v1/staff/totp/confirm', { json: { code: new FormData(form).get('code').trim() } });
      const signedIn = await api('GET', '/api/v1/staff/me');
      resetSession();
      me = signedIn;
      go('#/queue', t('totp.done'));
    });
  });
  show(form);
}

async function logout() {
  try { await api('POST', '/api/v1/staff/logout'); } catch { /* gone anyway */ }
  setCsrf(null);
  // Nothing of this account's (tab, search, sites, draft, keys) is left for the next one.
  resetSession();
  // The address changed without a hashchange: the sign-in form is drawn once, not again by route().
  history.replaceState(null, '', '#/');
  showLogin();
}

// ------------------------------------------------------------------------------------------------
// The queue
//
// The tabs (each state with its count), a search box that narrows the tab as the reviewer types,
// and for district staff the exam site. Searching or choosing a site redraws the list only, so
// the search box keeps the focus; the keys of the list never act on what is typed there.

function myStage() {
  return me.role === 'district_reviewer' ? 'district' : 'site';
}

/** A page of the queue as the reviewer has it filtered; null when a newer request or a sign-out overtook it. */
async function loadQueue() {
  queueLoad?.abort();
  const load = new AbortController();
  queueLoad = load;
  const q = queueState;
  q.stage = q.stage || myStage();
  const params = new URLSearchParams({ stage: q.stage, page: String(q.page), per_page: '50' });
  if (q.state) params.set('state', q.state);
  if (q.resubmitted) params.set('resubmitted', 'true');
  if (q.examSite) params.set('exam_site', q.examSite);
  const search = q.search.trim();
  if (search) params.set('q', search);
  let page;
  try {
    page = await api('GET', `/api/v1/review/queue?${params}`, { signal: load.signal });
  } catch (e) {
    if (load.signal.aborted) return null;
    throw e;
  } finally {
    if (queueLoad === load) queueLoad = null;
  }
  if (load.signal.aborted) return null;
  q.entries = page.entries;
  q.selected = Math.min(q.selected, Math.max(0, page.entries.length - 1));
  return page;
}

/** The exam sites district staff may filter by; null for a site reviewer (their scope is one site). */
function queueSites() {
  if (me.role === 'site_reviewer') return Promise.resolve(null);
  if (!examSites) {
    const asked = api('GET', '/api/v1/review/exam-sites').then((answer) => answer.sites);
    examSites = asked;
    asked.catch(() => { if (examSites === asked) examSites = null; }); // asked again next time
  }
  return examSites;
}

/** The tabs with their counts, then the list (or why it is empty). */
function queueList(page) {
  const q = queueState;
  const tab = (label, count, state, resubmitted) => h('button', {
    type: 'button', role: 'tab', 'aria-selected': String(q.state === state && q.resubmitted === resubmitted),
    class: q.state === state && q.resubmitted === resubmitted ? 'tab active' : 'tab',
    onclick: () => { Object.assign(q, { state, resubmitted, page: 0, selected: 0 }); route(); },
  }, label, count === null ? '' : h('span', { class: 'count' }, String(count)));
  const filtered = Boolean(q.search.trim() || q.examSite);
  const rows = page.entries.map((e, i) => h('tr', {
    class: i === q.selected ? 'selected' : '', tabindex: '0', dataset: { id: e.candidate_id },
    onclick: () => { location.hash = `#/dossier/${e.candidate_id}`; },
  },
  h('td', {}, e.name), h('td', {}, e.username), h('td', {}, e.id_number_masked), h('td', {}, e.exam_site),
  h('td', {}, t(`rstate.${e.state}`), e.resubmitted ? h('span', { class: 'badge' }, t('q.resubmitted')) : null),
  h('td', {}, formatTime(e.waiting_since)), h('td', {}, e.claimed_by || '')));
  return [
    h('div', { class: 'tabs', role: 'tablist' },
      tab(t('rstate.waiting'), page.counts.waiting, 'waiting', false),
      tab(t('q.resubmitted'), page.counts.resubmitted, 'waiting', true),
      tab(t('rstate.pending'), page.counts.pending, 'pending', false),
      tab(t('rstate.returned'), page.counts.returned, 'returned', false),
      tab(t('q.all'), null, null, false)),
    page.entries.length === 0
      ? h('p', { class: 'muted', id: 'queue-empty' }, t(filtered ? 'q.nomatch' : 'q.empty'))
      : [
        filtered ? h('p', { class: 'muted small', id: 'queue-found' }, t('q.found', { n: page.total })) : null,
        h('div', { class: 'table-wrap' }, h('table', { class: 'queue' },
          h('thead', {}, h('tr', {}, ['q.name', 'q.number', 'q.id', 'q.site', 'q.state', 'q.since', 'q.claimed'].map((k) => h('th', {}, t(k))))),
          h('tbody', {}, rows))),
      ],
  ];
}

async function showQueue() {
  const epoch = generation;
  const [page, sites] = await Promise.all([loadQueue(), queueSites()]);
  if (!page || epoch !== generation) return; // overtaken by a newer load, or signed out meanwhile
  const q = queueState;
  const stages = me.role === 'district_admin'
    ? h('div', { class: 'tabs stages' }, ['site', 'district'].map((s) => h('button', {
      type: 'button', class: q.stage === s ? 'tab active' : 'tab',
      onclick: () => { Object.assign(q, { stage: s, page: 0, selected: 0 }); route(); },
    }, t(`stage.${s}`))))
    : null;
  const search = h('input', {
    type: 'text', id: 'queue-search', name: 'q', value: q.search, maxlength: 64, autocomplete: 'off',
    enterkeyhint: 'search', placeholder: t('q.search.placeholder'),
  });
  const clear = h('button', { type: 'button', id: 'queue-clear', disabled: !q.search }, t('q.search.clear'));
  const site = sites ? h('select', { id: 'queue-site', name: 'exam_site' },
    h('option', { value: '' }, t('q.sites.all')),
    sites.map((s) => h('option', { value: s, selected: s === q.examSite }, s))) : null;
  const results = h('div', { id: 'queue-results' });
  const draw = (answer) => results.replaceChildren(...queueList(answer).flat(Infinity).filter(Boolean));

  /** The list again as the filters now say (the first page, the first row); the filters keep the focus. */
  async function refresh() {
    if (epoch !== generation || !results.isConnected) return;
    clearTimeout(searchTimer);
    searchTimer = null;
    Object.assign(q, { page: 0, selected: 0 });
    try {
      const answer = await loadQueue();
      if (answer && epoch === generation && results.isConnected) draw(answer);
    } catch (e) {
      if (epoch !== generation || !results.isConnected) return;
      if (e instanceof ApiError && e.status === 401) { me = null; showLogin(); return; }
      notify(describeError(e), 'error');
    }
  }
  /** What is typed is sent once the typing pauses; pinyin still being composed is not sent. */
  const typed = () => {
    q.search = search.value;
    clear.disabled = !search.value;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(refresh, SEARCH_PAUSE_MS);
  };
  search.addEventListener('input', (e) => { if (!e.isComposing) typed(); });
  search.addEventListener('compositionend', typed);
  search.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    if (e.key === 'Enter') {
      e.preventDefault();
      q.search = search.value;
      refresh();
    } else if (e.key === 'Escape') {
      // Esc leaves the box: the list's keys work again.
      e.preventDefault();
      search.blur();
    }
  });
  clear.addEventListener('click', () => {
    search.value = '';
    q.search = '';
    search.focus();
    clear.disabled = true;
    refresh();
  });
  site?.addEventListener('change', () => {
    q.examSite = site.value;
    refresh();
  });

  draw(page);
  show(h('section', { class: 'card', id: 'queue' },
    h('h2', {}, t(`stage.${q.stage}`)),
    stages,
    h('div', { class: 'queue-filters', role: 'search' },
      h('label', { class: 'field search' }, h('span', {}, t('q.search')), search),
      clear,
      site ? h('label', { class: 'field site' }, h('span', {}, t('q.site')), site) : null),
    results,
    h('p', { class: 'muted small keys' }, t('q.keys'))));
  onKeys((e) => {
    const key = keyOf(e);
    if (typesText(e.target)) return; // the search box's letters, Enter and Esc are its own (above)
    if (key === '/') {
      e.preventDefault();
      search.focus();
      search.select();
      return;
    }
    const n = q.entries.length;
    if (!n) return;
    if ((key === 'ArrowDown' || key === 'ArrowUp') && e.target.closest?.('select')) return; // the select's own
    if (key === 'j' || key === 'ArrowDown') q.selected = Math.min(n - 1, q.selected + 1);
    else if (key === 'k' || key === 'ArrowUp') q.selected = Math.max(0, q.selected - 1);
    else if (key === 'Enter' || key === 'o') {
      // A row reached by Tab opens itself; Enter on a tab or a link is theirs.
      const row = e.target.closest?.('tr[data-id]');
      if (!row && key === 'Enter' && e.target.closest?.('button, a, select, input')) return;
      e.preventDefault();
      location.hash = `#/dossier/${row ? row.dataset.id : q.entries[q.selected].candidate_id}`;
      return;
    } else return;
    e.preventDefault();
    document.querySelectorAll('table.queue tbody tr').forEach((tr, i) => tr.classList.toggle('selected', i === q.selected));
  });
}

// ------------------------------------------------------------------------------------------------
// A dossier
//
// The keys decide nothing behind the reviewer's back: J/K stop at the first and last material, a
// key never replaces a verdict already made without asking (Enter or Esc keeps it), no return
// reason is chosen for the reviewer, and S shows what will be sent before a second S or Enter
// sends it (a decision messages the candidate and sends an SMS).

const REASONS = ['blurry', 'wrong_document', 'incomplete', 'expired', 'other'];
const ZOOM_STEP = 1.25;
const MAX_ZOOM = 8;
/** While an ID card is being read: the waits before each of the few fresh looks at the dossier. */
const FINDINGS_RECHECK_MS = [4000, 8000, 15000];

/**
 * A modal of the console's own (common.js's `dialog` cannot choose the button Enter presses):
 * resolves with the value of the button pressed, or null when closed otherwise (Esc). The button
 * whose value is `initial` has the focus, so Enter does what is safest or asked for; `keys` maps
 * a key to a value (the summary's second S). A held key's repeats answer nothing.
 */
function modal({ id, cls = '', title, body, buttons, initial, keys = {} }) {
  return new Promise((resolve) => {
    let result = null;
    const actions = buttons.map(([label, value, buttonClass]) => h('button', {
      type: 'button', class: buttonClass || '', onclick: () => { result = value; d.close(); },
    }, label));
    const d = h('dialog', { class: `modal ${cls}`, id, 'aria-label': title },
      h('h2', {}, title), h('div', { class: 'modal-body' }, body), h('div', { class: 'modal-actions' }, actions));
    d.addEventListener('keydown', (e) => {
      if (e.repeat) { e.preventDefault(); return; }
      if (e.isComposing || e.ctrlKey || e.metaKey || e.altKey || typesText(e.target)) return;
      const key = keyOf(e);
      if (!Object.hasOwn(keys, key) || (key === 'Enter' && e.target.closest('button, a'))) return;
      e.preventDefault();
      result = keys[key];
      d.close();
    });
    d.addEventListener('close', () => { d.remove(); resolve(result); });
    document.body.append(d);
    d.showModal();
    actions[buttons.findIndex(([, value]) => value === initial)]?.focus();
  });
}

// What the server read off an image (its `findings`), beside the image: for an ID card, a mark for
// what stands out (a symbol and words; the colour only repeats them) and the fields read beside
// the registration's; for any document, that the same one is in other dossiers, with a link to
// each; and always that it was read automatically, as advice. It decides nothing and takes no
// key; nor the focus, though the links are ordinary ones the Tab key reaches.

/** Whether the console has words for `key`. */
const hasWords = (key) => t(key) !== key;

/** The other dossiers holding the same document, as the server found them (none: an empty list). */
const reusedIn = (f) => f?.reused_in || [];

/**
 * The marks for a reading, each [kind, symbol, words]: kind is ok, bad, warn, unknown or quiet.
 * Another document than an ID card (`idCard` false) is read for its reuse only: its findings
 * carry none of a card's fields, and a card's marks (its state, "not read") would say what was
 * never asked of it.
 */
function findingMarks(f, idCard) {
  if (!f) return [];
  const marks = idCard ? cardMarks(f) : [];
  // Whatever the card's reading (still under way, say), the reuse was found already.
  if (reusedIn(f).length) marks.push(['bad', '❐', t('f.reused')]);
  return marks;
}

/** An ID card's marks: how its reading stands, then what differs from the roster or is wrong. */
function cardMarks(f) {
  if (f.state === 'pending') return [['quiet', '', t('f.pending')]];
  if (f.state !== 'done') return [['quiet', '', t('f.failed')]];
  const marks = [];
  if (f.roster_match === 'match') marks.push(['ok', '✓', t('f.match')]);
  if (f.roster_match === 'mismatch') {
    const differ = (f.mismatched || []).filter((what) => hasWords(`f.mismatch.${what}`));
    if (differ.length) differ.forEach((what) => marks.push(['bad', '✗', t(`f.mismatch.${what}`)]));
    else marks.push(['bad', '✗', t('f.mismatch')]);
  }
  // The back carries no number or name: it is compared on the front, and says nothing here.
  if (f.roster_match === 'unread' && f.unread_reason !== 'back_side') {
    const why = hasWords(`f.why.${f.unread_reason}`) ? t(`f.why.${f.unread_reason}`) : '';
    marks.push(['unknown', '?', why ? t('f.unread.why', { why }) : t('f.unread')]);
  }
  if (f.check_digit_ok === false) marks.push(['warn', '!', t('f.check_digit')]);
  if (f.expired) marks.push(['bad', '✗', t('f.expired')]);
  if (f.wrong_slot) marks.push(['warn', '!', t('f.wrong_slot')]);
  return marks;
}

/**
 * The front's name and number as read beside the registration's (`roster`: the dossier's
 * candidate, the number masked as the role sees it), what differs underlined; the back's
 * issuing authority and validity. Null when nothing usable was read, and for any other
 * document than an ID card (`idCard` false).
 */
function findingDetail(f, roster, idCard) {
  if (!idCard || f?.state !== 'done') return null;
  const parts = [];
  if ((f.roster_match === 'match' || f.roster_match === 'mismatch') && (f.name_read || f.number_read)) {
    const differ = new Set(f.roster_match === 'mismatch' ? f.mismatched || [] : []);
    const part = (what, value) => h('span', { class: differ.has(what) ? 'differs' : null }, value || '—');
    parts.push(
      h('span', { class: 'finding-read' }, t('f.read'), part('name', f.name_read), ' ', part('number', f.number_read)),
      h('span', { class: 'finding-roster' }, t('f.roster'), roster.name, ' ', roster.id_number),
    );
  }
  if (f.authority) parts.push(h('span', {}, t('f.authority', { value: f.authority })));
  if (f.valid_until) {
    const value = f.valid_until === '长期' ? t('f.long_term') : f.valid_until;
    parts.push(h('span', { class: f.expired ? 'differs' : null }, t('f.valid_until', { value })));
  }
  return parts.length ? parts : null;
}

/**
 * A link to another dossier holding the same document (`other`, an entry of `reused_in`): its
 * candidate, exam site and the category the copy is in, by the name this dossier's catalogue
 * gives it (`names`; the code when it has none). The address is the queue's own for that
 * dossier, so Ctrl, Shift or the middle button open it in another tab as the browser does; a
 * plain click (or Enter) goes there through `open`, which asks first when verdicts would be
 * lost, and from the full-size view closes it first.
 */
function reusedLink(other, names, open) {
  const category = names[other.category] || other.category;
  return h('a', {
    href: `#/dossier/${other.candidate_id}`, class: 'reused-in',
    dataset: { candidate: other.candidate_id, image: other.image_id },
    onclick: (e) => {
      if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      e.currentTarget.closest('dialog')?.close();
      open(other.candidate_id);
    },
  }, t('f.reused.in', { name: other.name, site: other.exam_site, category }));
}

/**
 * A reading as it is shown beside its image; an empty list when there is nothing to say.
 * `idCard`: whether the image's category is an ID card (only then are a card's fields shown);
 * `names`, `open`: for the links to other dossiers holding the same document (`reusedLink`).
 */
function findingsView(f, { roster, idCard, names, open }) {
  const marks = findingMarks(f, idCard);
  const detail = findingDetail(f, roster, idCard);
  const others = reusedIn(f);
  if (!marks.length && !detail) return [];
  return [
    ...marks.map(([kind, symbol, words]) => h('span', { class: `finding ${kind}` },
      symbol ? h('span', { class: 'symbol', 'aria-hidden': 'true' }, symbol) : null, words)),
    others.length ? h('span', { class: 'finding-reused' }, others.map((other) => reusedLink(other, names, open))) : null,
    detail ? h('span', { class: 'finding-detail' }, detail) : null,
    // A reuse is advice too, even beside a card whose reading is still under way.
    f.state === 'done' || others.length ? h('span', { class: 'finding-advice' }, t('f.advice')) : null,
  ].filter(Boolean);
}

/**
 * An image at its own size (one image pixel a screen pixel), scrolled in a large dialog; above it
 * what was read off it (`findings`: nodes from `findingsView`), if anything.
 */
function showFullSize(src, name, findings = []) {
  const img = h('img', { class: 'full-image', src, alt: name });
  const size = h('span', {});
  const describe = () => { size.textContent = t('d.full.size', { w: img.naturalWidth, h: img.naturalHeight }); };
  if (img.complete && img.naturalWidth) describe(); else img.addEventListener('load', describe);
  return modal({
    id: 'fullsize', cls: 'fullsize', title: t('d.full.title', { name }),
    body: [
      h('p', { class: 'small muted' }, size, ' ',
        h('a', { href: src, target: '_blank', rel: 'noopener', id: 'fullsize-tab' }, t('d.full.tab'))),
      findings.length ? h('div', { class: 'findings' }, findings) : null,
      h('div', { class: 'full-wrap' }, img),
    ],
    buttons: [[t('d.close'), null]],
    initial: null,
  });
}

/**
 * One image in a frame of its own, with its own view: zoomed towards the pointer (wheel) or the
 * frame's centre (keys, buttons), moved by dragging or by the arrow keys while it is larger than
 * its frame (never further than its edges, so every corner can be reached), turned a quarter at a
 * time, opened at full size. `onUse` runs when the reviewer points at it or moves into it. Below
 * it, and in the full-size view, what was read off it (`findings`; `roster`, `idCard`, `names`
 * and `open` as `findingsView` takes them), until `setFindings` gives a newer reading.
 */
function imageViewer({ src, name, caption, onUse, findings, roster, idCard, names, open }) {
  const view = { zoom: 1, rotate: 0, x: 0, y: 0 }; // x, y: the image's centre from the frame's
  const img = h('img', { src, alt: name, draggable: 'false' });
  const frame = h('div', { class: 'frame' }, img);
  const tool = (key, action) => h('button', { type: 'button', class: `tool-${key.slice(2)}`, onclick: action }, t(key));
  const read = h('div', { class: 'findings' });
  const figure = h('figure', { class: 'viewer', dataset: { zoom: '1', rotate: '0' } },
    frame,
    h('figcaption', {}, h('span', { class: 'caption' }, caption), h('span', { class: 'tools' },
      tool('d.zoom', () => zoom(ZOOM_STEP)), tool('d.unzoom', () => zoom(1 / ZOOM_STEP)),
      tool('d.rotate', () => rotate()), tool('d.reset', () => reset()), tool('d.full', () => full()))),
    read);
  const about = { roster, idCard, names, open };
  let reading = findings;
  let drawn = null; // the reading drawn last, as text
  function setFindings(next) {
    // The dossier is looked at again while another image is being read: the same reading again
    // is left as it is, so a link to another dossier that has the focus keeps it.
    const text = JSON.stringify(next ?? null);
    if (text === drawn) return;
    drawn = text;
    reading = next;
    const shown = findingsView(reading, about);
    read.replaceChildren(...shown);
    if (reading?.state) figure.dataset.finding = reading.state; else delete figure.dataset.finding;
  }
  setFindings(findings);
  const ready = () => img.naturalWidth > 0 && frame.clientWidth > 0;

  /** The frame, the image's box as laid out (unturned) and as turned, and the scale that fits it. */
  function geometry() {
    const fw = frame.clientWidth;
    const fh = frame.clientHeight;
    const bw = img.offsetWidth;
    const bh = img.offsetHeight;
    const [w, hgt] = view.rotate % 180 ? [bh, bw] : [bw, bh];
    return { fw, fh, bw, bh, w, h: hgt, fit: Math.min(fw / w, fh / hgt) };
  }
  function apply() {
    figure.dataset.zoom = String(Math.round(view.zoom * 100) / 100);
    figure.dataset.rotate = String(view.rotate);
    if (!ready()) return; // the view asked for is applied once the image is there
    const g = geometry();
    const scale = g.fit * view.zoom;
    const mx = Math.max(0, (g.w * scale - g.fw) / 2);
    const my = Math.max(0, (g.h * scale - g.fh) / 2);
    view.x = Math.min(mx, Math.max(-mx, view.x));
    view.y = Math.min(my, Math.max(-my, view.y));
    // Only the CSSOM: the page's style-src 'self' refuses style attributes, not this.
    const tx = g.fw / 2 + view.x - g.bw / 2;
    const ty = g.fh / 2 + view.y - g.bh / 2;
    img.style.transform = `translate(${tx}px, ${ty}px) rotate(${view.rotate}deg) scale(${scale})`;
    figure.classList.toggle('zoomed', mx > 0.5 || my > 0.5);
  }
  /** Zoom by `factor`, keeping the point `at` (from the frame's centre) where it is. */
  function zoom(factor, at = { x: 0, y: 0 }) {
    const before = view.zoom;
    view.zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
    const k = view.zoom / before;
    view.x = at.x - (at.x - view.x) * k;
    view.y = at.y - (at.y - view.y) * k;
    apply();
  }
  /** A quarter turn clockwise about the frame's centre: what was in the middle stays there. */
  function rotate() {
    const before = ready() ? geometry().fit : 1;
    view.rotate = (view.rotate + 90) % 360;
    const k = ready() ? geometry().fit / before : 1;
    [view.x, view.y] = [-view.y * k, view.x * k];
    apply();
  }
  function reset() {
    Object.assign(view, { zoom: 1, rotate: 0, x: 0, y: 0 });
    apply();
  }
  /** Look further along (dx, dy): the image moves the other way, as a scrolled page does. */
  function step(dx, dy) {
    view.x -= dx * frame.clientWidth * 0.15;
    view.y -= dy * frame.clientHeight * 0.15;
    apply();
  }
  function full() {
    return showFullSize(src, name, findingsView(reading, about));
  }

  img.addEventListener('load', () => { figure.classList.add('ready'); apply(); });
  img.addEventListener('error', () => figure.classList.add('ready', 'broken'));
  new ResizeObserver(() => apply()).observe(frame);
  figure.addEventListener('pointerdown', () => onUse());
  figure.addEventListener('focusin', () => onUse());
  frame.addEventListener('wheel', (e) => {
    if (!ready()) return;
    const delta = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1);
    // Nothing to zoom out of: the wheel scrolls the page instead.
    if (delta > 0 && view.zoom <= 1) return;
    e.preventDefault();
    onUse();
    const r = frame.getBoundingClientRect();
    zoom(Math.exp(-delta * 0.0015), { x: e.clientX - r.left - r.width / 2, y: e.clientY - r.top - r.height / 2 });
  }, { passive: false });
  let drag = null;
  frame.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !figure.classList.contains('zoomed')) return;
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
    frame.setPointerCapture(e.pointerId);
    figure.classList.add('dragging');
  });
  frame.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    view.x += e.clientX - drag.x;
    view.y += e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    apply();
  });
  const endDrag = () => { drag = null; figure.classList.remove('dragging'); };
  frame.addEventListener('pointerup', endDrag);
  frame.addEventListener('pointercancel', endDrag);

  return { figure, zoom, rotate, reset, step, full, setFindings, zoomed: () => figure.classList.contains('zoomed') };
}

async function showDossier(id, relabelled) {
  let d = await api('GET', `/api/v1/review/dossiers/${id}`);
  const reviewer = me.role !== 'district_admin';
  const decidable = reviewer && d.stage === myStage() && ['waiting', 'pending'].includes(d.state);
  let claim = null;
  if (decidable) {
    claim = await api('POST', `/api/v1/review/dossiers/${id}/claim`);
    d = await api('GET', `/api/v1/review/dossiers/${id}`);
  }
  const kept = relabelled && draft?.id === id && draft.version === d.version ? draft : null;
  const mine = kept || { id, version: d.version, verdicts: {}, current: 0, outcome: null, outcomeReason: '' };
  draft = mine;
  const { verdicts } = mine; // category -> { verdict, reason, message }
  // Approved at this stage before and unchanged since a resubmission: the verdict stands.
  for (const m of d.materials) {
    if (m.approved_earlier && !verdicts[m.category.code]) {
      verdicts[m.category.code] = { verdict: 'approve', reason: '', message: '' };
    }
  }
  const materials = d.materials.filter((m) => m.images.length > 0); // what J/K step through
  const names = Object.fromEntries(d.materials.map((m) => [m.category.code, m.category.name]));
  setCategoryNames(names);
  const controls = {}; // category -> its approve/return controls
  const viewers = {}; // category -> the viewers of its images, the current version's first
  const byImage = {}; // image id -> its viewer (a newer reading goes to it)
  const active = {}; // category -> the viewer the keys act on
  let current = Math.min(mine.current, Math.max(0, materials.length - 1));
  let sending = false;
  const c = d.candidate;
  const list = (items) => items.join(t('d.list'));
  /** Another dossier holding the same document as one here: its link, as Esc and N leave this one. */
  const openOther = (other) => leave(() => { location.hash = `#/dossier/${other}`; });

  const materialViews = d.materials.map((m) => {
    const code = m.category.code;
    const index = materials.indexOf(m);
    viewers[code] = [];
    active[code] = 0;
    const images = (shown, cls) => h('div', { class: `images ${cls}` }, shown.map((img) => {
      const viewer = imageViewer({
        src: img.url.replace('/api/v1/images/', '/api/v1/review/images/'),
        name: m.category.name,
        caption: `${m.category.slot_labels?.[img.slot] || `#${img.slot + 1}`} · ${formatTime(img.uploaded_at)}`,
        onUse: () => use(index, viewer),
        findings: img.findings,
        roster: c,
        // The server reads only an ID card's fields; any document may be found in other dossiers.
        idCard: m.category.document === 'id_card',
        names,
        open: openOther,
      });
      viewer.figure.dataset.id = img.id;
      viewers[code].push(viewer);
      byImage[img.id] = viewer;
      return viewer.figure;
    }));
    /**
     * A resubmitted material: a row per slot, what is there now beside what the reviewer saw
     * there before (newest first), so a replaced ID card's back sits next to its old back.
     */
    const versions = () => {
      const slots = [...new Set([...m.images, ...m.previous].map((img) => img.slot))].sort((a, b) => a - b);
      return h('div', { class: 'versions' },
        h('h4', {}, t('d.current')), h('h4', {}, t('d.previous')),
        slots.flatMap((slot) => {
          const now = m.images.filter((img) => img.slot === slot);
          return [
            now.length ? images(now, 'now') : h('p', { class: 'muted removed' }, t('d.slot_removed')),
            images(m.previous.filter((img) => img.slot === slot), 'before'),
          ];
        }));
    };
    const decide = decidable && m.images.length ? decisionControls(code, verdicts, () => suggestOutcome()) : null;
    if (decide) controls[code] = decide;
    const article = h('article', {
      class: 'card material review', id: `material-${code}`, dataset: { category: code },
      tabindex: index >= 0 ? '-1' : undefined,
    },
    h('header', {}, h('h3', {}, m.category.name, m.required ? h('span', { class: 'required' }, '*') : null),
      h('span', { class: `badge ${m.state}` }, t(`mstate.${m.state}`)),
      m.approved_earlier ? h('span', { class: 'badge approved earlier' }, t('d.approved_earlier')) : null),
    // A return note is red while the material is returned; once decided again it is history.
    m.note ? h('p', { class: m.state === 'returned' ? 'notice error' : 'muted note-history' },
      m.state === 'returned' ? `${m.note.reason}：${m.note.message}` : t('d.note_history', { reason: m.note.reason, message: m.note.message })) : null,
    m.images.length === 0 ? h('p', { class: 'muted' }, t('d.noimages')) : null,
    m.previous.length ? versions() : images(m.images, 'now'),
    decide?.element);
    if (index >= 0) {
      // Working in a material (a click, a radio, Tab into it) makes it the one the keys act on.
      const here = () => { if (current !== index) select(index, { scroll: false, focus: false }); };
      article.addEventListener('pointerdown', here);
      article.addEventListener('focusin', here);
    }
    return article;
  });

  const outcomeSelect = h('select', { name: 'outcome', id: 'outcome' },
    (d.stage === 'site' ? ['pass', 'return', 'pending'] : ['approve', 'return', 'pending', 'not_eligible'])
      .map((o) => h('option', { value: o }, t(`out.${o}`))));
  const outcomeReason = h('input', { name: 'outcome_reason', id: 'outcome-reason', maxlength: 500 });
  const send = h('button', { type: 'button', class: 'primary', id: 'send' }, t('d.send'));
  const position = h('p', { id: 'review-position', class: 'muted small' });
  const status = h('p', { id: 'review-status', class: 'status', 'aria-live': 'polite' });
  const suggestOutcome = () => {
    const anyReturned = Object.values(verdicts).some((v) => v.verdict === 'return');
    outcomeSelect.value = anyReturned ? 'return' : (d.stage === 'site' ? 'pass' : 'approve');
    mine.outcome = outcomeSelect.value;
    say();
  };
  outcomeSelect.addEventListener('change', () => { mine.outcome = outcomeSelect.value; });
  outcomeReason.addEventListener('input', () => { mine.outcomeReason = outcomeReason.value; });
  if (kept) {
    if (mine.outcome) outcomeSelect.value = mine.outcome;
    outcomeReason.value = mine.outcomeReason;
  }
  send.addEventListener('click', () => review());

  // Codes are said in words; one the table does not know is not shown as the code it is.
  const word = (key, otherwise) => (t(key) === key ? otherwise : t(key));
  const actor = (who) => (who.startsWith('candidate:') ? t('audit.candidate', { username: who.slice('candidate:'.length) }) : who);
  const auditDetail = (x) => {
    // A failed sign-in's detail is the server's English reason: never shown.
    if (!x.detail || x.action === 'login_failed') return '';
    const version = /^version (\d+)$/.exec(x.detail);
    // Otherwise a sign-in's mode (Web, App) or what a reviewer wrote (a reason, a message).
    return version ? t('d.version', { n: version[1] }) : word(`mode.${x.detail}`, x.detail);
  };
  const history = h('section', { class: 'card', id: 'history' }, h('h3', {}, t('d.history')),
    h('ul', { class: 'log' }, d.decisions.map((x) => h('li', {},
      h('time', {}, formatTime(x.at)), ` ${t(`stage.${x.stage}`)} · ${x.by} · `,
      x.category ? `${names[x.category] || x.category}: ` : '',
      x.category ? word(`d.${x.decision}`, t('audit.other')) : word(`out.${x.decision}`, t('audit.other')),
      x.reason ? ` (${x.reason})` : '', x.message ? ` “${x.message}”` : ''))));
  const audit = h('section', { class: 'card', id: 'audit' }, h('h3', {}, t('d.audit')),
    h('ul', { class: 'log' }, d.audit.map((x) => h('li', {},
      h('time', {}, formatTime(x.at)), ` ${actor(x.actor)} · ${word(`audit.${x.action}`, t('audit.other'))}`,
      x.category ? ` · ${names[x.category] || x.category}` : '', auditDetail(x) ? ` · ${auditDetail(x)}` : ''))));
  const keys = [['J / K', 'd.k.jk'], ['H / L', 'd.k.hl'], ['A', 'd.k.a'], ['R', 'd.k.r'], ['Esc', 'd.k.esc'],
    ['Z / X', 'd.k.zx'], ['O', 'd.k.o'], ['← ↑ → ↓', 'd.k.arrows'], ['F', 'd.k.f'], ['S', 'd.k.s'], ['N', 'd.k.n']]
    .filter(([, key]) => decidable || !['d.k.a', 'd.k.r', 'd.k.s'].includes(key));

  show(h('div', { class: 'dossier', id: 'dossier' },
    h('aside', { class: 'side' },
      h('p', { class: 'back' }, h('a', { href: '#/queue' }, '← ', t('d.back'))),
      h('section', { class: 'card', id: 'candidate' },
        h('h2', {}, c.name, ' ', h('span', { class: 'muted' }, c.username)),
        h('dl', { class: 'facts' },
          h('dt', {}, t('q.id')), h('dd', { id: 'id-number' }, c.id_number),
          h('dt', {}, t('d.category')), h('dd', {}, c.exam_category),
          h('dt', {}, t('q.site')), h('dd', {}, c.exam_site),
          h('dt', {}, t('d.mobile')), h('dd', {}, c.mobile_masked || '—'),
          h('dt', {}, t('q.state')), h('dd', {}, `${t(`stage.${d.stage}`)} · ${t(`rstate.${d.state}`)} · ${t('d.version', { n: d.version })}`)),
        claim ? h('p', { class: 'muted' }, t('d.claimed', { until: formatTime(claim.until) })) : null,
        reviewer ? null : h('p', { class: 'muted' }, t('d.readonly')),
        position, status,
        h('details', { class: 'keys small', open: true }, h('summary', {}, t('d.keys')),
          h('dl', {}, keys.map(([k, key]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, t(key))])))),
      decidable ? h('section', { class: 'card decision', id: 'decision' },
        h('h3', {}, t('d.outcome')),
        field(t('d.outcome'), outcomeSelect),
        field(t('d.outcome.reason'), outcomeReason),
        send) : null,
      history, audit),
    h('div', { class: 'materials' }, materialViews)));

  const articleOf = (i) => document.getElementById(`material-${materials[i].category.code}`);
  const viewerOf = () => {
    const m = materials[current];
    return m ? viewers[m.category.code][active[m.category.code]] : null;
  };
  const allDecided = () => materials.every((m) => verdicts[m.category.code]);

  /** The position, and a word on the last key (an end reached, a problem, all decided). */
  function say(text = '', kind = '') {
    const m = materials[current];
    position.textContent = m ? t('d.position', { n: current + 1, total: materials.length, name: m.category.name }) : '';
    const done = decidable && materials.length && allDecided() && kind !== 'error' ? t('d.alldone') : '';
    status.textContent = [text, done].filter(Boolean).join(' ');
    status.className = kind ? `status ${kind}` : 'status';
  }

  /** Make material `i` the one the keys act on. J/K stop at the ends: nothing wraps round. */
  function select(i, { scroll = true, focus = true } = {}) {
    if (!materials.length) return;
    const edge = i < 0 ? t('d.first') : i >= materials.length ? t('d.last') : '';
    current = Math.max(0, Math.min(materials.length - 1, i));
    mine.current = current;
    const el = articleOf(current);
    document.querySelectorAll('.material.current').forEach((x) => { if (x !== el) x.classList.remove('current'); });
    el.classList.add('current');
    if (focus) el.focus({ preventScroll: true });
    if (scroll) el.scrollIntoView({ block: 'start', behavior: 'instant' });
    say(edge);
  }

  /** Make image `i` of a material the one Z, X, O, F and the arrows act on. */
  function pick(code, i) {
    const shown = viewers[code];
    active[code] = Math.max(0, Math.min(shown.length - 1, i));
    shown.forEach((v, j) => v.figure.classList.toggle('active', j === active[code]));
  }

  function use(index, viewer) {
    if (index < 0) return;
    if (current !== index) select(index, { scroll: false, focus: false });
    const code = materials[index].category.code;
    pick(code, viewers[code].indexOf(viewer));
  }

  /** A then R on one material: a verdict made is changed only when the reviewer says so. */
  async function setVerdict(verdict) {
    if (!decidable || !materials.length) return;
    const m = materials[current];
    const code = m.category.code;
    const had = verdicts[code]?.verdict;
    if (had && had !== verdict) {
      const from = t(`d.${had}`);
      const to = t(`d.${verdict}`);
      const v = verdicts[code];
      const yes = await modal({
        id: 'verdict-change', title: t('d.change.title'),
        body: [
          h('p', {}, t('d.change.ask', { name: m.category.name, from, to })),
          had === 'return' && (v.reason || v.message)
            ? h('p', { class: 'muted' }, v.reason ? t(`reason.${v.reason}`) : '', v.reason && v.message ? ' · ' : '', v.message ? `“${v.message}”` : '')
            : null,
          h('p', { class: 'muted small' }, t('d.change.keys')),
        ],
        buttons: [[t('d.keep', { verdict: from }), false, 'primary'], [t('d.change', { verdict: to }), true]],
        initial: false,
      });
      if (!yes) { select(current, { scroll: false }); return; }
    }
    controls[code].set(verdict);
    if (verdict === 'return') controls[code].focusMessage();
    else select(current + 1, { scroll: current + 1 < materials.length });
  }

  /** What stops the decision from being sent, each said; where to put it right. */
  function problems() {
    const found = [];
    for (const [i, m] of materials.entries()) {
      const code = m.category.code;
      const v = verdicts[code];
      const missing = v?.verdict === 'return' ? [!v.reason && 'reason', !v.message && 'message'].filter(Boolean) : [];
      const lacking = controls[code]?.flag(missing);
      for (const what of missing) found.push({ text: t(`d.need.${what}`, { name: m.category.name }), index: i, focus: lacking });
    }
    const outcome = outcomeSelect.value;
    const returned = materials.filter((m) => verdicts[m.category.code]?.verdict === 'return');
    const undecided = materials.filter((m) => !verdicts[m.category.code]);
    const passing = outcome === 'pass' || outcome === 'approve';
    if (outcome === 'return' && !returned.length) found.push({ text: t('d.need.returned'), focus: outcomeSelect });
    if (passing && returned.length) found.push({ text: t('d.need.noreturn'), focus: outcomeSelect });
    if (passing && undecided.length) {
      found.push({ text: t('d.need.all', { names: list(undecided.map((m) => m.category.name)) }), index: materials.indexOf(undecided[0]) });
    }
    if ((outcome === 'pending' || outcome === 'not_eligible') && !outcomeReason.value.trim()) {
      found.push({ text: t('d.need.outcome_reason'), focus: outcomeReason });
    }
    return found;
  }

  /** What the candidate will be told, material by material, before it is sent. */
  function summary() {
    const by = (verdict) => materials.filter((m) => verdicts[m.category.code]?.verdict === verdict);
    const returned = by('return');
    const approved = by('approve');
    const undecided = materials.filter((m) => !verdicts[m.category.code]);
    const outcome = outcomeSelect.value;
    const reason = outcomeReason.value.trim();
    return [
      h('p', {}, t('d.summary.who', { name: c.name, number: c.username })),
      h('p', { class: 'summary-outcome' }, `${t('d.outcome')}：`, h('strong', { id: 'summary-outcome' }, t(`out.${outcome}`)),
        reason ? ` · ${reason}` : ''),
      returned.length ? h('section', { class: 'summary-returned' }, h('h3', {}, t('d.summary.returned', { n: returned.length })),
        h('ul', {}, returned.map((m) => {
          const v = verdicts[m.category.code];
          return h('li', { dataset: { category: m.category.code } }, h('strong', {}, m.category.name), ' · ', t(`reason.${v.reason}`),
            h('br'), `${t('d.message')}：“${v.message}”`);
        }))) : null,
      approved.length ? h('section', { class: 'summary-approved' }, h('h3', {}, t('d.summary.approved', { n: approved.length })),
        h('p', {}, list(approved.map((m) => m.category.name)))) : null,
      undecided.length ? h('section', { class: 'summary-undecided' }, h('h3', {}, t('d.summary.undecided', { n: undecided.length })),
        h('p', {}, list(undecided.map((m) => m.category.name)))) : null,
      outcome === 'pass' ? null : h('p', { class: 'muted' }, t('d.summary.sms')),
      h('p', { class: 'muted small' }, t('d.summary.keys')),
    ];
  }

  /** S or the button: the problems if any, else the summary; sent on a second S or Enter. */
  async function review() {
    if (!decidable || sending || !send.isConnected || document.querySelector('dialog[open]')) return;
    const found = problems();
    if (found.length) {
      // To the first thing to put right (a return's reason first), then every problem said.
      const first = found[0];
      if (first.index !== undefined) select(first.index, { focus: !first.focus });
      first.focus?.focus();
      say(`${t('d.notsent')}${found.map((f) => f.text).join(t('d.sep'))}`, 'error');
      return;
    }
    say();
    const yes = await modal({
      id: 'summary', cls: 'summary', title: t('d.summary.title'), body: summary(),
      buttons: [[t('d.cancel'), false], [t('d.confirm'), true, 'primary']],
      initial: true, keys: { s: true, Enter: true },
    });
    if (!yes) {
      select(current, { scroll: false });
      say(t('d.cancelled'));
      return;
    }
    sending = true;
    await busy(send, async () => {
      try {
        const receipt = await api('POST', `/api/v1/review/dossiers/${id}/decision`, {
          json: {
            version: d.version,
            materials: Object.entries(verdicts).map(([category, v]) => ({
              category, verdict: v.verdict,
              reason: v.verdict === 'return' ? v.reason : undefined,
              message: v.verdict === 'return' ? v.message : undefined,
            })),
            outcome: outcomeSelect.value,
            reason: outcomeReason.value.trim() || undefined,
          },
        });
        draft = null;
        go('#/queue', t('d.sent', { stage: t(`stage.${receipt.stage}`), state: t(`rstate.${receipt.state}`) }));
      } finally {
        sending = false;
      }
    });
  }

  /** Esc and N: verdicts not sent are not dropped without asking. */
  async function leave(then) {
    if (decidable && Object.keys(verdicts).length) {
      const yes = await modal({
        id: 'leave', title: t('d.leave.title'), body: h('p', {}, t('d.leave.ask')),
        buttons: [[t('d.leave.stay'), false, 'primary'], [t('d.leave.go'), true, 'danger']], initial: false,
      });
      if (!yes) { select(current, { scroll: false }); return; }
    }
    draft = null;
    then();
  }

  for (const code of Object.keys(viewers)) pick(code, 0);
  if (materials.length) select(current, { scroll: Boolean(kept) }); else say();
  watchFindings();

  /**
   * An ID card still being read when the dossier opened: the dossier is fetched again a few
   * times, further apart, and each image's reading put beside it; nothing else on the page
   * changes (verdicts, zoom, focus). It stops once nothing is pending, after the last try, or
   * once the reviewer has left the dossier (or signed out).
   */
  function watchFindings() {
    const epoch = generation;
    const root = document.getElementById('dossier');
    const pendingIn = (dossier) => dossier.materials.some((m) => [...m.images, ...m.previous]
      .some((img) => img.findings?.state === 'pending'));
    const here = () => epoch === generation && root?.isConnected;
    let tries = 0;
    const again = async () => {
      if (!here()) return;
      let fresh;
      try {
        fresh = await api('GET', `/api/v1/review/dossiers/${id}`);
      } catch {
        return; // said nowhere: the reading shows when the dossier is opened again
      }
      if (!here()) return;
      for (const m of fresh.materials) {
        for (const img of [...m.images, ...m.previous]) byImage[img.id]?.setFindings(img.findings);
      }
      tries += 1;
      if (pendingIn(fresh) && tries < FINDINGS_RECHECK_MS.length) setTimeout(again, FINDINGS_RECHECK_MS[tries]);
    };
    if (pendingIn(d)) setTimeout(again, FINDINGS_RECHECK_MS[0]);
  }

  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  onKeys((e) => {
    const key = keyOf(e);
    const target = e.target instanceof Element ? e.target : document.body;
    if (typesText(target)) {
      // Esc leaves the text box; every key works again from the material.
      if (key === 'Escape') { e.preventDefault(); target.blur(); select(current, { scroll: false }); }
      return;
    }
    const control = target.closest('select, input, button, a, summary, textarea');
    if (key === 'Escape') {
      e.preventDefault();
      if (control && document.getElementById('main').contains(control)) select(current, { scroll: false });
      else leave(() => { location.hash = '#/queue'; });
      return;
    }
    if (arrows[key]) {
      if (target.matches('input[type=radio]')) e.preventDefault(); // arrows never change a verdict
      else if (target.closest('select, .side')) return; // the select's own, or the side column's scrolling
      const viewer = viewerOf();
      if (viewer?.zoomed()) { e.preventDefault(); viewer.step(...arrows[key]); }
      return;
    }
    const m = materials[current];
    /** H/L: another image of the material, stopping at its first and last. */
    const flip = (by) => {
      if (!m) return;
      const code = m.category.code;
      pick(code, active[code] + by);
      say(t('d.image', { n: active[code] + 1, total: viewers[code].length }));
    };
    const actions = {
      j: () => select(current + 1), k: () => select(current - 1),
      h: () => flip(-1), l: () => flip(1),
      a: () => setVerdict('approve'), r: () => setVerdict('return'),
      z: () => viewerOf()?.zoom(ZOOM_STEP), x: () => viewerOf()?.zoom(1 / ZOOM_STEP), o: () => viewerOf()?.rotate(),
      f: () => viewerOf()?.full(),
      s: () => review(),
      n: () => leave(() => nextDossier(id)),
    };
    if (Object.hasOwn(actions, key)) { e.preventDefault(); actions[key](); }
  });
}

/**
 * Approve or return one material. No reason is chosen for the reviewer: a return is sent only
 * with a reason picked and a message written. `onChange` runs after each change.
 */
function decisionControls(code, verdicts, onChange) {
  const name = `verdict-${code}`;
  const approve = h('input', { type: 'radio', name, value: 'approve' });
  const giveBack = h('input', { type: 'radio', name, value: 'return' });
  const reason = h('select', { name: 'reason', required: true },
    h('option', { value: '' }, t('d.reason.none')),
    REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`))));
  const message = h('textarea', { name: 'message', rows: 2, maxlength: 500, placeholder: t('d.message'), 'aria-label': t('d.message') });
  const problem = h('p', { class: 'field-error', hidden: true });
  const returnFields = h('div', { class: 'return-fields', hidden: true }, field(t('d.reason'), reason), message, problem);
  const kept = verdicts[code];
  if (kept) {
    (kept.verdict === 'approve' ? approve : giveBack).checked = true;
    reason.value = kept.reason;
    message.value = kept.message;
    returnFields.hidden = kept.verdict !== 'return';
  }
  /** Mark what a return lacks; the first field lacking it. */
  const flag = (missing) => {
    for (const [el, what] of [[reason, 'reason'], [message, 'message']]) {
      if (missing.includes(what)) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid');
    }
    problem.hidden = missing.length === 0;
    problem.textContent = missing.map((what) => t(`d.fix.${what}`)).join(' ');
    return { reason, message }[missing[0]] || null;
  };
  const update = () => {
    const chosen = approve.checked ? 'approve' : giveBack.checked ? 'return' : null;
    if (!chosen) return;
    returnFields.hidden = chosen !== 'return';
    verdicts[code] = { verdict: chosen, reason: reason.value, message: message.value.trim() };
    // A problem pointed out goes as soon as it is put right.
    if (!problem.hidden) {
      flag(chosen === 'return' ? [!reason.value && 'reason', !message.value.trim() && 'message'].filter(Boolean) : []);
    }
    onChange();
  };
  message.addEventListener('input', update);
  const element = h('div', { class: 'verdict', onchange: update },
    h('label', { class: 'check' }, approve, t('d.approve')),
    h('label', { class: 'check' }, giveBack, t('d.return')),
    returnFields);
  return {
    element,
    flag,
    set(verdict) {
      (verdict === 'approve' ? approve : giveBack).checked = true;
      update();
    },
    focusMessage() {
      message.focus();
    },
  };
}

async function nextDossier(id) {
  try { await api('DELETE', `/api/v1/review/dossiers/${id}/claim`); } catch { /* may not hold one */ }
  if (!(await loadQueue())) return; // overtaken (signed out meanwhile)
  const next = queueState.entries.find((e) => e.candidate_id !== id);
  location.hash = next ? `#/dossier/${next.candidate_id}` : '#/queue';
}

// ------------------------------------------------------------------------------------------------
// Administration

/** An RFC 3339 instant as the value of a datetime-local input in Beijing time, and back. */
function toLocalInput(iso) {
  const d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
  return d.toISOString().slice(0, 16);
}
function fromLocalInput(value) {
  return `${value}:00+08:00`;
}

async function showWindows() {
  const w = await api('GET', '/api/v1/admin/windows');
  const keys = [['upload', 'w.upload'], ['site_review', 'w.site'], ['district_review', 'w.district']];
  const form = h('form', { class: 'card narrow', id: 'windows' },
    h('h2', {}, t('w.title')),
    keys.map(([k, label]) => h('fieldset', {}, h('legend', {}, t(label)),
      field(t('w.opens'), h('input', { type: 'datetime-local', name: `${k}_opens_at`, value: toLocalInput(w[`${k}_opens_at`]), required: true })),
      field(t('w.closes'), h('input', { type: 'datetime-local', name: `${k}_closes_at`, value: toLocalInput(w[`${k}_closes_at`]), required: true })))),
    h('button', { type: 'submit', class: 'primary' }, t('w.save')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const json = Object.fromEntries([...f.entries()].map(([k, v]) => [k, fromLocalInput(v)]));
    busy(form.querySelector('button'), async () => {
      await api('PUT', '/api/v1/admin/windows', { json });
      notify(t('w.saved'), 'ok');
    });
  });
  show(form);
}

async function showAccounts() {
  const list = await api('GET', '/api/v1/admin/staff');
  const roles = ['site_reviewer', 'district_reviewer', 'district_admin'];
  const form = h('form', { class: 'card', id: 'new-account' },
    h('h3', {}, t('a.new')),
    h('div', { class: 'row' },
      field(t('login.username'), h('input', { name: 'username', required: true, pattern: '[a-z0-9_.-]{2,32}' })),
      field(t('a.name'), h('input', { name: 'name', required: true })),
      field(t('a.role'), h('select', { name: 'role' }, roles.map((r) => h('option', { value: r }, t(`role.${r}`))))),
      field(t('a.site'), h('input', { name: 'exam_site' }))),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'totp_required' }), t('a.totp')),
    h('button', { type: 'submit', class: 'primary' }, t('a.create')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    busy(form.querySelector('button'), async () => {
      const created = await api('POST', '/api/v1/admin/staff', {
        json: {
          username: f.get('username').trim(), name: f.get('name').trim(), role: f.get('role'),
          exam_site: f.get('exam_site').trim() || undefined, totp_required: f.get('totp_required') === 'on',
        },
      });
      await showAccounts();
      notify(t('a.created', { username: created.staff.username, password: created.password }), 'ok');
    });
  });
  const rows = list.staff.map((s) => {
    const toggle = h('button', { type: 'button', class: 'link' }, s.disabled ? t('a.enable') : t('a.disable'));
    toggle.addEventListener('click', () => busy(toggle, async () => {
      await api('PATCH', `/api/v1/admin/staff/${encodeURIComponent(s.username)}`, { json: { disabled: !s.disabled } });
      await showAccounts();
    }));
    return h('tr', { class: s.disabled ? 'disabled' : '' },
      h('td', {}, s.username), h('td', {}, s.name), h('td', {}, t(`role.${s.role}`)), h('td', {}, s.exam_site || ''),
      h('td', {}, s.totp_enabled ? '✓' : s.totp_required ? t('a.totp') : ''), h('td', {}, s.disabled ? t('a.disabled') : ''),
      h('td', {}, s.username === me.username ? '' : toggle));
  });
  show(h('section', { class: 'card', id: 'accounts' }, h('h2', {}, t('a.title')),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['login.username', 'a.name', 'a.role', 'a.site', 'a.totp', 'a.disabled', ''].map((k) => h('th', {}, k ? t(k) : '')))),
      h('tbody', {}, rows)))), form);
}

function showResults() {
  const publish = h('button', { type: 'button', class: 'primary', id: 'publish' }, t('r.publish'));
  publish.addEventListener('click', async () => {
    const yes = await dialog(t('r.publish'), h('p', {}, t('r.confirm')), [[t('r.cancel'), false], [t('r.publish'), true, 'primary']]);
    if (!yes) return;
    busy(publish, async () => {
      const receipt = await api('POST', '/api/v1/admin/publish');
      notify(t('r.published', receipt), 'ok');
    });
  });
  const site = h('input', { name: 'exam_site', id: 'export-site' });
  const exportLink = h('a', { class: 'button', href: '/api/v1/admin/results.csv', id: 'export', download: t('r.export.file') }, t('r.export'));
  site.addEventListener('input', () => {
    const v = site.value.trim();
    exportLink.href = v ? `/api/v1/admin/results.csv?exam_site=${encodeURIComponent(v)}` : '/api/v1/admin/results.csv';
  });
  show(h('section', { class: 'card narrow', id: 'results' },
    h('h2', {}, t('r.title')), h('p', {}, t('r.explain')), publish,
    h('hr'), field(t('r.export.site'), site), exportLink));
}

async function showCatalogue() {
  const catalogue = await api('GET', '/api/v1/admin/catalogue');
  const cards = catalogue.categories.map((c) => {
    const form = h('form', { class: 'card category', id: `category-${c.code}` },
      h('h3', {}, c.name),
      field(t('c.name'), h('input', { name: 'name', value: c.name, required: true })),
      field(t('c.description'), h('textarea', { name: 'description', rows: 3 }, c.description)),
      h('div', { class: 'row' },
        field(t('c.requirement'), h('select', { name: 'requirement' }, ['required', 'conditional', 'optional'].map((r) => h('option', { value: r, selected: r === c.requirement }, t(`c.${r}`))))),
        field(t('c.condition'), h('input', { name: 'condition_text', value: c.condition_text || '' })),
        field(t('c.count'), h('span', { class: 'pair' },
          h('input', { name: 'min_images', type: 'number', min: 1, max: 10, value: c.min_images }),
          h('input', { name: 'max_images', type: 'number', min: 1, max: 10, value: c.max_images })))),
      h('div', { class: 'row' },
        c.example_url ? h('img', { class: 'example-thumb', src: c.example_url, alt: t('c.example') }) : null,
        field(t('c.newexample'), h('input', { type: 'file', name: 'example', accept: 'image/jpeg,image/png' }))),
      h('button', { type: 'submit', class: 'primary' }, t('c.save')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      busy(form.querySelector('button[type=submit]'), async () => {
        await api('PUT', `/api/v1/admin/catalogue/${c.code}`, {
          json: {
            name: f.get('name').trim(), description: f.get('description').trim(), requirement: f.get('requirement'),
            condition_text: f.get('condition_text').trim() || undefined,
            min_images: Number(f.get('min_images')), max_images: Number(f.get('max_images')),
          },
        });
        const file = f.get('example');
        if (file && file.size) {
          await api('PUT', `/api/v1/admin/catalogue/${c.code}/example`, { body: file, headers: { 'content-type': file.type || 'application/octet-stream' } });
        }
        await showCatalogue();
        notify(t('c.saved', { name: f.get('name') }), 'ok');
      });
    });
    return form;
  });
  show(h('h2', {}, t('c.title')), ...cards);
}

window.addEventListener('hashchange', route);
route();
