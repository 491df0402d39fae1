// The candidates' page: entry by ticket, activation, sign-in, recovery, personal information, and
// the materials page (报名材料上传) as the exam centre's operating guides describe it.
import {
  addStrings, api, ApiError, clearNotice, dialog, formatTime, h, languageButton, notify, setCsrf, show, t, field,
  busy as busyWith, sendWithProgress, setCategoryNames, uploadWithProgress, uuid,
} from './common.js';

addStrings({
  'state.decided': ['已提交，审核已结束', 'Submitted; the review is over'],
  'm.submit.unchanged': ['以下被退回的材料还没有重新上传：{names}。审核人员会看到与上次相同的照片，仍要提交吗？', 'These returned materials were not replaced: {names}. The reviewers will see the same photos again; submit anyway?'],
  'm.note_history': ['曾退回：{reason}：{message}', 'Returned earlier: {reason}: {message}'],
  'app.title': ['医师资格考试报名材料上传', 'Medical Licensing Exam · Materials'],
  'nav.materials': ['报名材料', 'Materials'],
  'nav.profile': ['个人信息', 'Personal information'],
  'login.title': ['考生登录', 'Candidate sign-in'],
  'login.username': ['用户名（报名号）', 'Username (registration number)'],
  'login.forgot': ['忘记密码？', 'Forgot your password?'],
  'login.hint': ['首次使用请在网上报名系统的报名信息处点击“上传相关材料”进入并激活账号。', 'First time here? Enter from the registration system ("upload materials") to activate your account.'],
  'enter.checking': ['正在验证登录链接…', 'Checking the entry link…'],
  'activate.title': ['激活账号', 'Activate your account'],
  'activate.who': ['{name}（{username}），请设置密码和密保问题。', '{name} ({username}), set your password and security question.'],
  'activate.password': ['密码（8-20 位，须同时包含字母和数字）', 'Password (8-20 characters, letters and digits)'],
  'activate.confirm': ['再次输入密码', 'Password again'],
  'activate.question': ['密保问题', 'Security question'],
  'activate.answer': ['密保答案', 'Answer'],
  'activate.pledge1': ['本人对所填信息及上传附件材料的真实性、准确性、完整性作出郑重承诺。', 'I solemnly pledge that the information and materials I provide are true, accurate and complete.'],
  'activate.pledge2': ['本人了解并遵守《医师资格考试违纪违规处理规定》。', 'I know and will abide by the rules on exam misconduct.'],
  'activate.submit': ['激活', 'Activate'],
  'activate.mismatch': ['两次输入的密码不一致。', 'The two passwords differ.'],
  'recover.title': ['找回密码', 'Recover your password'],
  'recover.next': ['下一步', 'Next'],
  'recover.new': ['新密码', 'New password'],
  'recover.submit': ['重置密码', 'Reset password'],
  'recover.done': ['密码已重置，请用新密码登录。', 'Your password has been reset; sign in with it.'],
  'profile.title': ['个人信息', 'Personal information'],
  'profile.name': ['姓名', 'Name'],
  'profile.id': ['证件号码', 'ID number'],
  'profile.category': ['报考类别', 'Exam category'],
  'profile.site': ['考点', 'Exam site'],
  'profile.mobile': ['手机号码（接收审核通知短信）', 'Mobile number (for SMS notices)'],
  'profile.email': ['电子邮箱', 'E-mail'],
  'profile.save': ['保存', 'Save'],
  'profile.saved': ['个人信息已保存。', 'Saved.'],
  'profile.incomplete': ['请完善个人信息（手机号码），以便接收审核通知。', 'Please complete your personal information (mobile number) to receive review notices.'],
  'm.deadline': ['上传截止时间', 'Upload deadline'],
  'm.opens': ['上传开始时间', 'Upload opens'],
  'm.closed': ['上传时间已截止', 'The upload window has closed'],
  'm.state': ['材料状态', 'Status'],
  'state.draft': ['未提交', 'Not submitted'],
  'state.submitted': ['已提交，等待审核', 'Submitted, awaiting review'],
  'state.returned': ['被退回，请按审核意见修改后重新提交审核', 'Returned: change the materials as the reviewers ask, then submit again'],
  'm.submit': ['提交审核', 'Submit for review'],
  'm.submit.confirm': ['提交后所有材料将被锁定，不能再修改。确定提交审核吗？', 'After submitting, all materials are locked and cannot be changed. Submit for review?'],
  'm.submit.ok': ['确定提交', 'Submit'],
  'm.cancel': ['取消', 'Cancel'],
  'm.missing': ['尚未上传的必传材料：{names}', 'Required materials still missing: {names}'],
  'm.result': ['审核结果', 'Result'],
  'result.approved': ['审核通过', 'Approved'],
  'result.not_eligible': ['不符合', 'Not eligible'],
  'm.messages': ['审核意见', 'Messages from reviewers'],
  'm.messages.none': ['暂无审核意见。', 'No messages.'],
  'm.unread': ['未读', 'Unread'],
  'm.markread': ['标为已读', 'Mark as read'],
  'm.submitted': ['上报完成，内容已锁定。', 'Submitted; the materials are locked.'],
  'm.changed': ['材料已在其他页面或设备上更改，已为您刷新。', 'The materials were changed on another page or device; this page has been refreshed.'],
  'c.must': ['必传', 'Required for some'],
  'c.example': ['示例', 'Example'],
  'c.example.title': ['{name} · 示例', '{name} · example'],
  'c.close': ['关闭', 'Close'],
  'c.slot': ['第 {n} 张', 'Image {n}'],
  'c.upload': ['上传', 'Upload'],
  'c.replace': ['替换', 'Replace'],
  'c.delete': ['删除', 'Delete'],
  'c.delete.confirm': ['确定删除这张图片吗？', 'Delete this image?'],
  'c.locked': ['已锁定', 'Locked'],
  'c.unlocked': ['未锁定', 'Unlocked'],
  'c.view': ['查看大图：{name}', 'View larger: {name}'],
  'c.named': ['{name} · {slot}', '{name} · {slot}'],
  'c.approved': ['已通过', 'Approved'],
  'c.returned': ['被退回', 'Returned'],
  'c.count': ['{have}/{max} 张', '{have}/{max} images'],
  'p.reading': ['正在读取照片…', 'Reading the photo…'],
  'p.shrinking': ['正在缩小照片，以便快速发送…', 'Making the photo smaller to send it quickly…'],
  'p.sending': ['正在发送照片：{pct}%', 'Sending the photo: {pct}%'],
  'p.working': ['正在处理照片（转正、压缩到 200 KB 以内）…', 'Preparing the photo (upright, within 200 KB)…'],
  'p.reworking': ['正在按新的边缘重新处理…', 'Preparing it again with the new outline…'],
  'p.result': ['处理后的照片（确认后上传此图）', 'Prepared photo (this is what gets uploaded)'],
  'p.info': ['{w}×{h} 像素，{kb} KB', '{w}×{h} pixels, {kb} KB'],
  'p.rotated': ['已按拍摄方向自动转正。', 'Turned upright as the camera recorded it.'],
  'p.turned': ['已按照片内容（文字方向）转正：顺时针旋转 {deg}°。', 'Turned upright by its content (the direction of the text): {deg}° clockwise.'],
  'crop.original': ['原始照片', 'Original photo'],
  'crop.whole': ['使用整张照片（不裁剪）', 'Use the whole photo (no cropping)'],
  'crop.hint': ['拖动四个圆点，对准证件（纸张）的四个角，松手后自动重新处理。使用键盘时：用 Tab 键选中圆点，方向键移动，回车键重新处理。', 'Drag the four dots onto the corners of the document (page); it is prepared again when you let go. With a keyboard: Tab to a dot, move it with the arrow keys, press Enter to prepare again.'],
  'crop.tl': ['左上角', 'Top-left corner'],
  'crop.tr': ['右上角', 'Top-right corner'],
  'crop.br': ['右下角', 'Bottom-right corner'],
  'crop.bl': ['左下角', 'Bottom-left corner'],
  'crop.corner': ['{corner}：距左 {x}%，距上 {y}%', '{corner}: {x}% from the left, {y}% from the top'],
  'crop.page.found': ['已自动识别证件边缘，并按边缘裁剪、拉正。如边缘不准，请拖动四个角调整。', 'The edges of the document were found; it was cropped to them and straightened. If the outline is off, drag its corners.'],
  'crop.page.given': ['已按您调整的四个角裁剪、拉正。', 'Cropped to the corners you set, and straightened.'],
  'crop.page.none': ['未能自动识别证件边缘，已保留整张照片。如需裁剪，请取消勾选“使用整张照片”，再拖动四个角。', 'The edges of the document were not found, so the whole photo is kept. To crop it, untick "Use the whole photo" and drag the corners.'],
  'crop.page.whole_frame': ['已使用整张照片。', 'The whole photo is used.'],
  'crop.page.whole_frame.back': ['已使用整张照片。取消勾选可按识别到的边缘裁剪。', 'The whole photo is used. Untick it to crop to the edges that were found.'],
  'p.good': ['照片清晰度和亮度合格。', 'Sharpness and brightness are fine.'],
  'p.warn.blurry': ['照片可能模糊，文字难以辨认。', 'The photo may be blurry; text may be hard to read.'],
  'p.warn.too_dark': ['照片太暗。', 'The photo is too dark.'],
  'p.warn.washed_out': ['照片过曝或反光。', 'The photo is washed out or has glare.'],
  'p.warn.too_small': ['证件在照片中太小，请靠近拍摄。', 'The document is too small in the photo; move closer.'],
  'p.warn.retake': ['建议重新拍摄后再上传。', 'Consider taking the photo again.'],
  'p.confirm': ['确认上传', 'Upload'],
  'p.again': ['重新选择', 'Choose another'],
  'p.uploading': ['正在上传…', 'Uploading…'],
  'p.uploaded': ['已上传：{name}', 'Uploaded: {name}'],
  'p.deleted': ['已删除。', 'Deleted.'],
  // What reading an uploaded ID card found that the candidate can put right before submitting.
  'f.wrong_slot.front': ['这张照片像是身份证反面（国徽面），此处应上传正面（人像面）。', 'This photo looks like the back of an ID card (the side with the national emblem); this slot is for the front (the side with your photo).'],
  'f.wrong_slot.back': ['这张照片像是身份证正面（人像面），此处应上传反面（国徽面）。', 'This photo looks like the front of an ID card (the side with your photo); this slot is for the back (the side with the national emblem).'],
  'f.number': ['识别到的身份证号与您的报名信息不一致，请确认上传的是本人身份证。', 'The ID number read from this photo differs from your registration; make sure it is your own ID card.'],
  'f.name': ['识别到的姓名与您的报名信息不一致，请确认。', 'The name read from this photo differs from your registration; please check it.'],
  'f.expired': ['这张身份证的有效期已过，请上传有效证件。', 'This ID card has expired; please upload a valid one.'],
  'f.slot': ['{slot}：{text}', '{slot}: {text}'],
  'f.advice': ['以上提示由系统自动识别，仅供参考，不影响提交。', 'These notes come from reading the photo automatically and are advice only; you can still submit.'],
  // A photo refused in the browser, before anything is sent.
  'pick.heic': ['这是 HEIC 格式的照片，无法上传。请在 iPhone“设置 → 相机 → 格式”中选择“兼容性最佳”后重新拍摄，或将照片截屏后上传截图。', 'This is a HEIC photo, which cannot be uploaded. On the iPhone choose Settings → Camera → Formats → "Most Compatible" and take it again, or upload a screenshot of it.'],
  'pick.other': ['只能上传 JPG 或 PNG 格式的照片，该文件不是这两种格式。', 'Only JPG or PNG photos can be uploaded; this file is neither.'],
  'pick.damaged': ['照片文件已损坏，无法打开。请重新选择或重新拍摄。', 'The photo file is damaged and cannot be opened. Choose another or take it again.'],
  'pick.unreadable': ['无法读取该文件，请重新选择。', 'The file cannot be read; choose it again.'],
  // Finer sentences for refusals (err.{code}.{detail}, as common.js looks them up).
  'err.unauthorized.wrong_password': ['用户名或密码不正确。', 'Wrong username or password.'],
  'err.unauthorized.wrong_answer': ['密保答案不正确。', 'The answer is not right.'],
  // The page's own words where the server's would be English.
  'why.password_length': ['密码须为 8-20 位。', 'The password must be 8-20 characters long.'],
  'why.password_chars': ['密码只能包含字母和数字。', 'The password may contain only letters and digits.'],
  'why.password_mix': ['密码须同时包含字母和数字。', 'The password must contain both letters and digits.'],
  'why.password_rules': ['密码不符合要求（8-20 位，须同时包含字母和数字）。', 'The password does not meet the rules (8-20 characters, letters and digits).'],
  'why.mobile': ['手机号码须为以 1 开头的 11 位数字。', 'The mobile number must be 11 digits starting with 1.'],
  'why.email': ['电子邮箱格式不正确。', 'The e-mail address is not valid.'],
  'why.invalid_profile': ['个人信息格式不正确，请检查后重试。', 'The personal information is not valid; check it and try again.'],
  'why.security_question': ['请填写密保问题和答案。', 'Enter a security question and its answer.'],
  'why.invalid_field': ['填写的内容不符合要求，请检查后重试。', 'Something entered is not valid; check it and try again.'],
  'why.invalid_photo': ['照片无法使用，请重新选择或重新拍摄。', 'The photo cannot be used; choose another or take it again.'],
  'why.busy': ['系统繁忙，请稍后重试。', 'The system is busy; try again later.'],
  'why.other': ['操作未能完成，请刷新页面后重试。', 'That did not work; reload the page and try again.'],
});

/** The server's English sentences a candidate can meet, and the page's words for them. */
const SERVER_SENTENCES = {
  'the password must be 8-20 characters long': 'why.password_length',
  'the password may contain only letters and digits': 'why.password_chars',
  'the password must contain both letters and digits': 'why.password_mix',
  'the two passwords differ': 'activate.mismatch',
  'the mobile number must be 11 digits starting with 1': 'why.mobile',
  'the e-mail address is not valid': 'why.email',
  'a security question and its answer are required for password recovery': 'why.security_question',
};
/** Refusals whose common sentence quotes the server's (English) message. */
const QUOTING = new Set(['password_rules', 'invalid_profile', 'invalid_field']);
const known = (key) => t(key) !== key;
/** Category code -> name, for refusals that name categories by code. */
let categoryNames = {};

/**
 * What the candidate reads for an error: the page's own sentence in the page's language, never
 * the server's English message or an internal code.
 */
function say(e) {
  if (!(e instanceof ApiError)) return t('why.other');
  const b = e.body;
  if (SERVER_SENTENCES[b.message]) return t(SERVER_SENTENCES[b.message]);
  if (QUOTING.has(e.code)) return t(`why.${e.code}`);
  if (e.code === 'missing_required') {
    return t('err.missing_required', { missing: (b.missing || []).map((c) => categoryNames[c] || c).join('、') });
  }
  if (e.code === 'invalid_photo' && !known(`photo.${b.detail}`)) return t('why.invalid_photo');
  if ((e.code === 'throttled' || e.code === 'unavailable') && !(e.retryAfter || b.retry_after_secs)) return t('why.busy');
  if (!known(`err.${e.code}`)) return t('why.other');
  return e.describe();
}

/** Run `action` with `button` disabled; its refusal, if any, is said at the top of the page. */
const busy = (button, action) => busyWith(button, action, say);

let session = { signedIn: false, profileIncomplete: false };

// ------------------------------------------------------------------------------------------------
// Frame and routing

function header() {
  const nav = session.signedIn
    ? [
      h('a', { href: '#/materials' }, t('nav.materials')),
      h('a', { href: '#/profile' }, t('nav.profile')),
      h('button', { type: 'button', class: 'link', onclick: logout }, t('nav.logout')),
    ]
    : [];
  document.getElementById('top').replaceChildren(
    h('h1', {}, t('app.title')),
    h('nav', {}, nav, languageButton(route)),
  );
  document.title = t('app.title');
}

async function route() {
  clearNotice();
  untell();
  stopFindings();
  const params = new URLSearchParams(location.search);
  if (location.pathname === '/enter' && params.get('ticket')) {
    const ticket = params.get('ticket');
    history.replaceState(null, '', '/');
    return enter(ticket);
  }
  const where = location.hash.replace(/^#\/?/, '') || 'materials';
  if (where === 'recover') return showRecovery();
  if (where === 'login') return showLogin();
  if (where === 'profile') return guarded(showProfile);
  return guarded(showMaterials);
}

async function guarded(view) {
  try {
    session.signedIn = true;
    await view();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      session.signedIn = false;
      return showLogin();
    }
    header();
    notify(say(e), 'error');
  }
}

function signedIn(grant) {
  setCsrf(grant.csrf_token);
  session = { signedIn: true, profileIncomplete: grant.profile_incomplete };
  if (location.hash !== '#/materials') location.hash = '#/materials';
  else route();
}

async function logout() {
  try { await api('POST', '/api/v1/auth/logout'); } catch { /* signed out anyway */ }
  setCsrf(null);
  session = { signedIn: false };
  location.hash = '#/login';
}

// ------------------------------------------------------------------------------------------------
// Entry, activation, sign-in, recovery

async function enter(ticket) {
  session.signedIn = false;
  header();
  show(h('p', { class: 'muted' }, t('enter.checking')));
  try {
    const answer = await api('POST', '/api/v1/auth/ticket', { json: { ticket, mode: 'web' } });
    if (answer.session) return signedIn(answer.session);
    showActivation(answer.activation);
  } catch (e) {
    showLogin();
    notify(say(e), 'error');
  }
}

function showActivation(needed) {
  header();
  const form = h('form', { class: 'card narrow', id: 'activate' },
    h('h2', {}, t('activate.title')),
    h('p', {}, t('activate.who', needed)),
    field(t('activate.password'), h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 20 })),
    field(t('activate.confirm'), h('input', { name: 'password_confirm', type: 'password', autocomplete: 'new-password', required: true })),
    field(t('activate.question'), h('input', { name: 'security_question', required: true, maxlength: 100 })),
    field(t('activate.answer'), h('input', { name: 'security_answer', required: true, maxlength: 100 })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'pledge_truthfulness' }), t('activate.pledge1')),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'pledge_discipline' }), t('activate.pledge2')),
    h('button', { type: 'submit', class: 'primary' }, t('activate.submit')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    if (f.get('password') !== f.get('password_confirm')) return notify(t('activate.mismatch'), 'error');
    busy(form.querySelector('button'), async () => {
      const grant = await api('POST', '/api/v1/auth/activate', {
        json: {
          activation_token: needed.activation_token,
          password: f.get('password'),
          password_confirm: f.get('password_confirm'),
          security_question: f.get('security_question'),
          security_answer: f.get('security_answer'),
          pledge_truthfulness: f.get('pledge_truthfulness') === 'on',
          pledge_discipline: f.get('pledge_discipline') === 'on',
          mode: 'web',
        },
      });
      signedIn(grant);
    });
  });
  show(form);
}

function showLogin() {
  session.signedIn = false;
  header();
  const form = h('form', { class: 'card narrow', id: 'login' },
    h('h2', {}, t('login.title')),
    field(t('login.username'), h('input', { name: 'username', autocomplete: 'username', required: true })),
    field(t('login.password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
    h('p', {}, h('a', { href: '#/recover' }, t('login.forgot'))),
    h('p', { class: 'muted' }, t('login.hint')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    busy(form.querySelector('button'), async () => {
      signedIn(await api('POST', '/api/v1/auth/login', {
        json: { username: f.get('username').trim(), password: f.get('password'), mode: 'web' },
      }));
    });
  });
  show(form);
}

function showRecovery() {
  header();
  const form = h('form', { class: 'card narrow', id: 'recover' },
    h('h2', {}, t('recover.title')),
    field(t('login.username'), h('input', { name: 'username', required: true })),
    h('button', { type: 'submit', class: 'primary' }, t('recover.next')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const username = new FormData(form).get('username').trim();
    busy(form.querySelector('button'), async () => {
      const q = await api('POST', '/api/v1/auth/recovery/question', { json: { username } });
      const second = h('form', { class: 'card narrow', id: 'recover-answer' },
        h('h2', {}, t('recover.title')),
        h('p', {}, q.security_question),
        field(t('activate.answer'), h('input', { name: 'answer', required: true })),
        field(t('recover.new'), h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
        field(t('activate.confirm'), h('input', { name: 'confirm', type: 'password', autocomplete: 'new-password', required: true })),
        h('button', { type: 'submit', class: 'primary' }, t('recover.submit')));
      second.addEventListener('submit', (e2) => {
        e2.preventDefault();
        const f = new FormData(second);
        busy(second.querySelector('button'), async () => {
          await api('POST', '/api/v1/auth/recovery', {
            json: {
              username, security_answer: f.get('answer'),
              new_password: f.get('password'), new_password_confirm: f.get('confirm'),
            },
          });
          location.hash = '#/login';
          notify(t('recover.done'), 'ok');
        });
      });
      show(second);
    });
  });
  show(form);
}

// ------------------------------------------------------------------------------------------------
// Personal information

async function showProfile() {
  const p = await api('GET', '/api/v1/profile');
  header();
  const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const form = h('form', { class: 'card narrow', id: 'profile' },
    h('h2', {}, t('profile.title')),
    h('dl', { class: 'facts' },
      row(t('login.username'), p.username), row(t('profile.name'), p.name),
      row(t('profile.id'), p.id_number_masked), row(t('profile.category'), p.exam_category),
      row(t('profile.site'), p.exam_site)),
    field(t('profile.mobile'), h('input', { name: 'mobile', type: 'tel', value: p.mobile || '', inputmode: 'numeric', maxlength: 11 })),
    field(t('profile.email'), h('input', { name: 'email', type: 'email', value: p.email || '' })),
    h('button', { type: 'submit', class: 'primary' }, t('profile.save')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    busy(form.querySelector('button'), async () => {
      const saved = await api('PUT', '/api/v1/profile', {
        json: { mobile: f.get('mobile').trim() || undefined, email: f.get('email').trim() || undefined },
      });
      session.profileIncomplete = !saved.complete;
      notify(t('profile.saved'), 'ok');
    });
  });
  show(form);
}

// ------------------------------------------------------------------------------------------------
// The materials page

async function showMaterials() {
  const [d, inbox] = await Promise.all([api('GET', '/api/v1/dossier'), api('GET', '/api/v1/messages')]);
  header();
  categoryNames = Object.fromEntries(d.materials.map((m) => [m.category.code, m.category.name]));
  setCategoryNames(categoryNames);
  show(
    !d.profile.complete ? h('p', { class: 'notice info' }, h('a', { href: '#/profile' }, t('profile.incomplete'))) : null,
    statusPanel(d, categoryNames),
    messagesPanel(inbox),
    h('section', { class: 'materials', 'aria-label': t('nav.materials') }, d.materials.map((m) => materialCard(d, m))),
  );
  watchFindings(d);
}

/**
 * The materials again after a change, with the card of `code` where it was on the screen: the
 * candidate, scrolled down to it on a phone, stays there whatever grew or shrank above it.
 */
async function refresh(code) {
  const card = () => document.getElementById(`material-${code}`);
  const before = card()?.getBoundingClientRect().top;
  clearNotice(); // inside the measured change: the notice at the top may be as tall as a line
  await showMaterials();
  const after = card()?.getBoundingClientRect().top;
  if (before !== undefined && after !== undefined && after !== before) window.scrollBy(0, after - before);
}

let toastTimer = 0;

/**
 * Feedback on the materials, at the foot of the screen over the page: seen wherever the candidate
 * has scrolled to, and nothing moves (the notice at the top of the page would take them there,
 * and a line added or removed in the list would move what follows it). `extra` (a progress bar)
 * goes with it. Errors stay until closed or the next action; the rest go after a few seconds.
 */
function tell(text, kind = 'info', extra = null) {
  const toast = document.getElementById('toast');
  if (!toast) return notify(text, kind);
  clearTimeout(toastTimer);
  const close = kind === 'error'
    ? h('button', { type: 'button', class: 'toast-close', 'aria-label': t('c.close'), onclick: untell }, '×')
    : null;
  toast.replaceChildren(h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null },
    h('p', {}, text), close, extra));
  if (kind !== 'error' && !extra) toastTimer = setTimeout(untell, 6000);
}

function untell() {
  clearTimeout(toastTimer);
  document.getElementById('toast')?.replaceChildren();
}

/**
 * Refusals that mean the page was out of date: another tab or the phone app filled the slot,
 * deleted the image, used up the count or submitted. The page shows what is true now.
 */
const STALE = new Set(['count_reached', 'slot_taken', 'not_found', 'locked', 'nothing_to_submit', 'missing_required']);
const isStale = (e) => e instanceof ApiError && STALE.has(e.code);

/** A change of `code` was refused: why, after showing the materials afresh when the page was out of date. */
async function refused(code, e) {
  if (!isStale(e)) return tell(say(e), 'error');
  try {
    await refresh(code);
  } catch (again) {
    return tell(say(again), 'error');
  }
  return tell(t('m.changed'), 'error');
}

function statusPanel(d, names) {
  const w = d.window;
  const windowLine = w.state === 'not_yet_open'
    ? [t('m.opens'), formatTime(w.opens_at)]
    : w.state === 'closed' ? [t('m.closed'), formatTime(w.closes_at)] : [t('m.deadline'), formatTime(w.closes_at)];
  const submit = h('button', { type: 'button', class: 'primary', id: 'submit', disabled: !d.can_submit }, t('m.submit'));
  submit.addEventListener('click', () => submitDossier(submit, d));
  return h('section', { class: 'card status', id: 'status' },
    h('h2', {}, d.district_name, ' · ', d.profile.name),
    h('dl', { class: 'facts' },
      h('dt', {}, windowLine[0]), h('dd', { class: 'deadline' }, windowLine[1]),
      h('dt', {}, t('m.state')), h('dd', { class: `state state-${d.state}`, id: 'dossier-state' }, t(d.result ? 'state.decided' : `state.${d.state}`)),
      d.result ? [h('dt', {}, t('m.result')), h('dd', { class: `result result-${d.result.outcome}`, id: 'result' },
        t(`result.${d.result.outcome}`), d.result.reason ? `（${d.result.reason}）` : '')] : null),
    d.missing.length && d.state !== 'submitted'
      ? h('p', { class: 'muted', id: 'missing' }, t('m.missing', { names: d.missing.map((c) => names[c] || c).join('、') }))
      : null,
    d.state !== 'submitted' && w.state === 'open' ? submit : null);
}

async function submitDossier(button, d) {
  // A returned material still holding only what the reviewer returned: say so before sending.
  const unchanged = d.materials.filter((m) => m.state === 'returned' && m.note
    && m.images.every((img) => new Date(img.uploaded_at) <= new Date(m.note.at)));
  const yes = await dialog(t('m.submit'), h('div', {},
    unchanged.length ? h('p', { class: 'notice error', id: 'unchanged-returns' },
      t('m.submit.unchanged', { names: unchanged.map((m) => m.category.name).join('、') })) : null,
    h('p', {}, t('m.submit.confirm'))),
  [[t('m.cancel'), false], [t('m.submit.ok'), true, 'primary']]);
  if (!yes) return;
  await busy(button, async () => {
    try {
      await api('POST', '/api/v1/dossier/submit');
    } catch (e) {
      if (!isStale(e)) throw e;
      // Submitted, or a material deleted, on another page: what is true now, and why.
      await showMaterials();
      notify(t('m.changed'), 'error');
      return;
    }
    await showMaterials();
    notify(t('m.submitted'), 'ok');
  });
}

function messagesPanel(inbox) {
  // Unread first, newest first within each.
  const list = [...inbox.messages].sort((a, b) => (a.read - b.read) || b.created_at.localeCompare(a.created_at));
  return h('section', { class: 'card messages', id: 'messages' },
    h('h2', {}, t('m.messages'), inbox.unread ? h('span', { class: 'badge unread' }, `${inbox.unread} ${t('m.unread')}`) : null),
    list.length === 0 ? h('p', { class: 'muted' }, t('m.messages.none')) : h('ul', {}, list.map((m) => {
      const read = h('button', { type: 'button', class: 'link' }, t('m.markread'));
      read.addEventListener('click', () => busy(read, async () => {
        await api('POST', `/api/v1/messages/${m.id}/read`);
        await showMaterials();
      }));
      return h('li', { class: m.read ? 'message read' : 'message unread' },
        h('div', { class: 'message-head' }, h('strong', {}, m.title), h('time', {}, formatTime(m.created_at))),
        h('p', { class: 'message-body' }, m.body),
        m.read ? null : read);
    })));
}

/** A slot's name: the category's own (正面, 反面) or its number (第 2 张). */
const slotLabel = (c, slot) => c.slot_labels?.[slot] || t('c.slot', { n: slot + 1 });

function materialCard(d, m) {
  const c = m.category;
  const mark = c.requirement === 'required'
    ? h('span', { class: 'required', title: t('c.required') }, '*')
    : c.requirement === 'conditional'
      ? h('span', { class: 'badge must' }, c.condition_text || t('c.must'))
      : h('span', { class: 'muted small' }, t('c.optional'));
  const stateBadge = m.state === 'returned' ? h('span', { class: 'badge returned' }, t('c.returned'))
    : m.state === 'approved' ? h('span', { class: 'badge approved' }, t('c.approved')) : null;
  const slots = [];
  for (let slot = 0; slot < c.max_images; slot += 1) {
    const image = m.images.find((i) => i.slot === slot);
    slots.push(slotView(d, m, slot, slotLabel(c, slot), image));
  }
  // An ID card's warnings live here, told as they come (a reading finishes after the upload).
  const warnings = c.document === 'id_card'
    ? h('div', { class: 'findings-warnings', id: `findings-${c.code}`, 'aria-live': 'polite' }, findingsNotes(m))
    : null;
  return h('article', { class: 'card material', id: `material-${c.code}`, dataset: { category: c.code } },
    h('header', {},
      h('h3', {}, mark, ' ', c.name, ' ', stateBadge),
      h('span', { class: 'muted small' }, t('c.count', { have: m.images.length, max: c.max_images })),
      c.example_url ? h('button', { type: 'button', class: 'link example', onclick: () => showExample(c) }, t('c.example')) : null),
    h('p', { class: 'description' }, c.description),
    // The reviewer's note is red while the material waits to be replaced; after that it is history.
    m.note ? h('p', { class: m.state === 'returned' ? 'notice error note' : 'muted note' },
      m.state === 'returned' ? `${m.note.reason}：${m.note.message}` : t('m.note_history', { reason: m.note.reason, message: m.note.message })) : null,
    h('div', { class: 'slots' }, slots),
    warnings);
}

/** The long side of the server's thumbnails (THUMBNAIL_LONG_EDGE in core). */
const THUMBNAIL_LONG_EDGE = 320;

function slotView(d, m, slot, label, image) {
  if (image) {
    const name = t('c.named', { name: m.category.name, slot: label });
    // The small JPEG the server makes for lists; the image itself only when tapped.
    const fit = Math.min(1, THUMBNAIL_LONG_EDGE / Math.max(image.width, image.height, 1));
    const thumb = h('img', {
      src: image.thumbnail_url || image.url, alt: name, loading: 'lazy', decoding: 'async',
      width: Math.max(1, Math.round(image.width * fit)), height: Math.max(1, Math.round(image.height * fit)),
    });
    // Words, not a padlock emoji: without an emoji font that shows as a crossed box.
    const lock = image.locked
      ? h('span', { class: 'badge locked' }, t('c.locked'))
      : h('span', { class: 'badge unlocked' }, t('c.unlocked'));
    return h('figure', { class: cardWarnings(image).length ? 'slot filled warned' : 'slot filled', dataset: { slot, image: image.id } },
      h('button', { type: 'button', class: 'thumb', 'aria-label': t('c.view', { name }), onclick: () => showImage(name, image) }, thumb),
      h('figcaption', {}, h('span', { class: 'slot-label' }, label), ' ', lock),
      image.locked ? null : h('div', { class: 'slot-actions' },
        h('button', { type: 'button', class: 'minus', title: t('c.delete'), 'aria-label': `${t('c.delete')} ${label}`, onclick: () => deleteImage(m, slot, image) }, '−'),
        pickButton(m, slot, t('c.replace'), image.id)));
  }
  return h('figure', { class: 'slot empty', dataset: { slot } },
    h('div', { class: 'placeholder' }, m.can_upload ? pickButton(m, slot, t('c.upload')) : '—'),
    h('figcaption', {}, label));
}

// ------------------------------------------------------------------------------------------------
// What the server read off an uploaded ID card
//
// The server reads an ID card in the background after its upload. What the candidate can put
// right before submitting (the card's other side in this slot, another person's number or name,
// a card past its validity) is said under the card's slots, after the slot's name: advice, never
// a refusal, so submitting stays possible. A reading not finished or not possible says nothing.
// While one is under way the page looks again a few times, further apart, then stops.

/** The waits before each fresh look at the dossier while an ID card is being read. */
const FINDINGS_RECHECK_MS = [2000, 3000, 5000, 8000, 10000, 15000];
/** The looks of the materials drawn last: a redraw or another page ends them. */
let findingsWatch = null;

/** What the reading of one image asks the candidate to check; nothing once the image is locked. */
function cardWarnings(image) {
  const f = image.findings;
  if (!f || f.state !== 'done' || image.locked) return [];
  const said = [];
  if (f.wrong_slot) said.push(t(image.slot === 0 ? 'f.wrong_slot.front' : 'f.wrong_slot.back'));
  if (f.roster_match === 'mismatch') {
    const differ = f.mismatched || [];
    if (differ.includes('number')) said.push(t('f.number'));
    else if (differ.includes('name')) said.push(t('f.name'));
  }
  if (f.expired) said.push(t('f.expired'));
  return said;
}

/** A material's warnings, each after its slot's name, and that they are advice; none: nothing. */
function findingsNotes(m) {
  const items = m.images.flatMap((image) => cardWarnings(image)
    .map((text) => h('li', {}, t('f.slot', { slot: slotLabel(m.category, image.slot), text }))));
  return items.length ? [h('ul', {}, items), h('p', { class: 'muted small' }, t('f.advice'))] : [];
}

const readingUnderWay = (d) => d.materials.some((m) => m.images.some((i) => !i.locked && i.findings?.state === 'pending'));

/**
 * While an image of the dossier `d` (as just drawn) is being read, look again a few times and
 * put each ID card's warnings in place: the rest of the page (focus, scrolling, a dialog) stays.
 */
function watchFindings(d) {
  stopFindings();
  if (!readingUnderWay(d)) return;
  const watch = { tries: 0, timer: 0 };
  const again = async () => {
    let fresh;
    try {
      fresh = await api('GET', '/api/v1/dossier');
    } catch {
      return; // said nowhere: the warnings show on the next visit
    }
    if (findingsWatch !== watch) return; // drawn again meanwhile, or another page
    for (const m of fresh.materials) showFindings(m);
    watch.tries += 1;
    if (readingUnderWay(fresh) && watch.tries < FINDINGS_RECHECK_MS.length) {
      watch.timer = setTimeout(again, FINDINGS_RECHECK_MS[watch.tries]);
    }
  };
  findingsWatch = watch;
  watch.timer = setTimeout(again, FINDINGS_RECHECK_MS[0]);
}

function stopFindings() {
  if (findingsWatch) clearTimeout(findingsWatch.timer);
  findingsWatch = null;
}

/** A material's warnings as read now, for the images the page shows (not one stored elsewhere since). */
function showFindings(m) {
  const box = document.getElementById(`findings-${m.category.code}`);
  if (!box) return;
  const card = document.getElementById(`material-${m.category.code}`);
  const shown = m.images.filter((image) => card.querySelector(`.slot[data-image="${image.id}"]`));
  for (const image of shown) {
    card.querySelector(`.slot[data-image="${image.id}"]`).classList.toggle('warned', cardWarnings(image).length > 0);
  }
  const notes = findingsNotes({ ...m, images: shown });
  // Told again only when it changed: a live region reads out what it is given.
  if (box.textContent !== notes.map((n) => n.textContent).join('')) box.replaceChildren(...notes);
}

/** The upload button of a free slot (or the replace button of an unlocked image). */
function pickButton(m, slot, text, replaces) {
  const input = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/*', class: 'visually-hidden', 'aria-label': `${m.category.name} ${text}` });
  input.addEventListener('change', () => {
    const file = input.files[0];
    input.value = '';
    if (file) preparePhoto(m, slot, file, replaces);
  });
  return h('label', { class: 'button upload' }, text, input);
}

async function showExample(c) {
  await dialog(t('c.example.title', { name: c.name }),
    h('img', { class: 'example-image', src: c.example_url, alt: t('c.example.title', { name: c.name }) }),
    [[t('c.close'), true, 'primary']]);
}

/** A stored image at its own size, as far as the screen allows; Esc, a tap or the button closes it. */
async function showImage(name, image) {
  const img = h('img', { class: 'large-image', src: image.url, alt: name, width: image.width, height: image.height, decoding: 'async' });
  const closed = dialog(name, img, [[t('c.close'), true, 'primary']]);
  const modal = img.closest('dialog');
  modal.classList.add('large');
  // A tap on the picture or around it closes it, as a phone's photo viewer does.
  modal.addEventListener('click', (e) => { if (e.target === modal || e.target === img) modal.close(); });
  await closed;
}

/** Where the keyboard was, after the slot was drawn again (without scrolling to it). */
function focusSlot(code, slot) {
  const at = document.querySelector(`#material-${code} .slot[data-slot="${slot}"]`);
  at?.querySelector('.thumb, input[type=file]')?.focus({ preventScroll: true });
}

async function deleteImage(m, slot, image) {
  const code = m.category.code;
  const yes = await dialog(t('c.delete'), h('p', {}, t('c.delete.confirm')),
    [[t('m.cancel'), false], [t('c.delete'), true, 'danger']]);
  if (!yes) return;
  untell();
  try {
    await api('DELETE', `/api/v1/images/${image.id}`);
    await refresh(code);
    tell(t('p.deleted'), 'ok');
    focusSlot(code, slot);
  } catch (e) {
    await refused(code, e);
  }
}

// ------------------------------------------------------------------------------------------------
// Reading a photo in the browser: refused at once when it cannot be used, made small for the trip

/**
 * The long side of what is sent: the server's result is at most 2048 px, so more pixels would
 * mostly cost upload time on a phone network (each extra 100 KB is about 0.27 s at 3 Mbps).
 */
const SEND_LONG_EDGE = 2048;
/**
 * One encode at this quality makes a phone photo about 330 KB at 2048 px (0.72 made 380 KB, 0.14 s
 * more at 3 Mbps, for detail the server's 200 KB result cannot keep); a second encode (slower in
 * the browser than the upload it saves) only when the first is over SEND_BUDGET.
 */
const FIRST_QUALITY = 0.65;
const SEND_BUDGET = 520 * 1024;
/** The second encode gives up quality first, down to this, then pixels down to the floor. */
const LOWEST_QUALITY = 0.6;
const LEAST_LONG_EDGE = 1600;
/** How a JPEG's size follows its quality: ln(bytes) falls by about this per 1.0 of quality. */
const LOG_BYTES_PER_QUALITY = 3;
/** What the prepare endpoint reads at most (PREPARE_LIMIT_BYTES). */
const PREPARE_LIMIT = 32 * 1024 * 1024;
/** The bytes read for the format, the EXIF orientation and the frame size. */
const HEAD_BYTES = 256 * 1024;
/** Above this, a decode that fails may have run out of a phone's memory rather than met damage. */
const MAY_NOT_FIT_PIXELS = 24e6;

/** A photo refused in the browser: `reason` is heic, other, damaged, unreadable or too_large. */
class Unusable extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }

  describe() {
    return this.reason === 'too_large' ? t('photo.file_too_large') : t(`pick.${this.reason}`);
  }
}

const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);

/** What the first bytes say a file is, whatever its name or type: jpeg, png, heic or other. */
function sniff(b) {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  const text = (from) => String.fromCharCode(b[from], b[from + 1], b[from + 2], b[from + 3]);
  if (b.length >= 12 && text(4) === 'ftyp') {
    // The ftyp box: its size, the major brand, a version, then the compatible brands.
    const size = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
    const brands = [text(8)];
    for (let at = 16; at + 4 <= Math.min(b.length, size); at += 4) brands.push(text(at));
    const avif = brands.includes('avif') || brands.includes('avis');
    const heif = brands.some((x) => x === 'mif1' || x === 'msf1');
    if (brands.some((x) => HEVC_BRANDS.has(x)) || (heif && !avif)) return 'heic';
  }
  return 'other';
}

/**
 * What the head of the file says of the picture: the JPEG's EXIF orientation (1-8; 1 when there
 * is none) and the stored frame's size, or a PNG's size; the size is null where not found.
 */
function photoHead(b, type) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (type === 'png') {
    return b.length >= 24 ? { orientation: 1, width: v.getUint32(16), height: v.getUint32(20) } : { orientation: 1, width: null, height: null };
  }
  const head = { orientation: 1, width: null, height: null };
  // The segments before the image data: APP1 holds EXIF, a SOFn marker the frame's size.
  let at = 2;
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1];
    if (marker === 0xff) { at += 1; continue; } // a fill byte
    if (marker === 0xda || marker === 0xd9) break;
    const end = Math.min(b.length, at + 2 + v.getUint16(at + 2));
    if (marker === 0xe1 && head.orientation === 1) head.orientation = exifOrientation(v, at + 4, end);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && at + 9 <= b.length) {
      head.height = v.getUint16(at + 5);
      head.width = v.getUint16(at + 7);
      break;
    }
    at = end;
  }
  return head;
}

/** The Orientation tag (0x0112) of the first IFD of an APP1 "Exif" segment's TIFF data. */
function exifOrientation(v, start, end) {
  if (start + 14 > end || v.getUint32(start) !== 0x45786966 || v.getUint16(start + 4) !== 0) return 1;
  const tiff = start + 6;
  const le = v.getUint16(tiff) === 0x4949; // "II", else "MM"
  const ifd = tiff + v.getUint32(tiff + 4, le);
  if (ifd + 2 > end) return 1;
  for (let i = 0, n = v.getUint16(ifd, le); i < n; i += 1) {
    const entry = ifd + 2 + 12 * i;
    if (entry + 10 > end) break;
    if (v.getUint16(entry, le) === 0x0112) {
      const o = v.getUint16(entry + 8, le);
      return o >= 1 && o <= 8 ? o : 1;
    }
  }
  return 1;
}

/** The file's type and head; refuses at once what is not a JPEG or PNG. */
async function readHead(file) {
  let bytes;
  try {
    const part = file.slice(0, HEAD_BYTES);
    bytes = new Uint8Array(await (part.arrayBuffer ? part.arrayBuffer() : new Response(part).arrayBuffer()));
  } catch {
    throw new Unusable('unreadable');
  }
  const type = sniff(bytes);
  if (type !== 'jpeg' && type !== 'png') throw new Unusable(type);
  return photoHead(bytes, type);
}

/** The bitmap drawn at `scale` and encoded as JPEG; a blob of its bytes. */
async function encodeJpeg(bitmap, scale, quality) {
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff'; // a PNG's transparent parts on white paper, not black
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = 'high';
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  canvas.width = 0; // the pixels are let go at once (iOS counts canvas memory)
  canvas.height = 0;
  if (!blob) throw new Error('the canvas was not encoded');
  return blob;
}

/**
 * What goes to the server: the photo decoded here (what this browser cannot decode is damaged,
 * refused before anything is sent), turned upright by its EXIF orientation, at most
 * SEND_LONG_EDGE on its long side, as JPEG at FIRST_QUALITY or, when that is over SEND_BUDGET,
 * once more at the quality and size the first result predicts for it. The original goes as it
 * is when it is already that small, when re-encoding would save little, and when this browser
 * cannot decode, draw or encode it for a reason other than damage: the server, which decides
 * what is stored in any case, then does the work. `orientation` is the EXIF turn applied here
 * (the server then sees upright pixels); `stage(name)` says what is being done.
 */
async function photoToSend(file, head, stage) {
  const original = { blob: file, orientation: 1 };
  if (typeof createImageBitmap !== 'function') return original;
  stage('reading');
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch((e) => {
      // A browser that does not know the option: its default, which is the EXIF turn too.
      if (e?.name === 'TypeError') return createImageBitmap(file);
      throw e;
    });
  } catch (e) {
    const damage = e?.name === 'InvalidStateError' || e?.name === 'EncodingError';
    const huge = head.width * head.height > MAY_NOT_FIT_PIXELS;
    if (damage && !huge) throw new Unusable('damaged');
    return original;
  }
  try {
    const long = Math.max(bitmap.width, bitmap.height);
    const fits = long <= SEND_LONG_EDGE;
    if (fits && file.size <= SEND_BUDGET) return original;
    // A browser that ignored the EXIF turn would send sideways pixels as upright ones.
    const turned = head.orientation >= 5 && head.width && head.width !== head.height;
    if (turned && bitmap.width === head.width && bitmap.height === head.height) return original;
    stage('shrinking');
    let scale = Math.min(1, SEND_LONG_EDGE / long);
    let quality = FIRST_QUALITY;
    let blob = await encodeJpeg(bitmap, scale, quality);
    if (blob.size > SEND_BUDGET) {
      const lose = Math.log(SEND_BUDGET / blob.size); // < 0, in ln(bytes)
      quality = Math.max(LOWEST_QUALITY, FIRST_QUALITY + lose / LOG_BYTES_PER_QUALITY);
      const left = lose + (FIRST_QUALITY - quality) * LOG_BYTES_PER_QUALITY;
      // Bytes go roughly with pixels, a little less (each of fewer pixels carries more detail).
      const least = Math.min(scale, LEAST_LONG_EDGE / long);
      if (left < 0) scale = Math.max(least, scale * Math.sqrt(0.85 * Math.exp(left)));
      blob = await encodeJpeg(bitmap, scale, quality);
    }
    if (fits && blob.size > 0.8 * file.size) return original;
    return { blob, orientation: head.orientation };
  } catch {
    return original;
  } finally {
    bitmap.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Preparing a photo: the server finds the page on it; the candidate can correct its outline

/**
 * A photo from the phone or camera: refused here at once if it is not a JPEG or PNG or is
 * damaged; else made small here (photoToSend) and sent, with its progress shown, to the server's
 * copy of the app's pipeline, which finds the page on it, flattens it and fits it within
 * 200 KB. The candidate sees what was sent with the outline that was found beside the prepared
 * image and its warnings; moving a corner or choosing the whole photo prepares the same bytes
 * again. Only a confirmation stores the prepared image shown.
 */
async function preparePhoto(m, slot, file, replaces) {
  const code = m.category.code;
  let head;
  try {
    head = await readHead(file);
  } catch (e) {
    tell(e.describe(), 'error');
    return;
  }
  untell();
  // A photo of a person (holding the ID card, say) is never cropped: there is no outline.
  const editor = m.category.subject === 'person' ? null : outlineEditor(() => prepare());
  const status = h('p', { class: 'muted status', role: 'status' });
  const meter = h('progress', { class: 'prepare-progress', max: 100 });
  const problem = h('p', { class: 'notice error', role: 'alert', hidden: true });
  const result = h('figure', { class: 'result' });
  const body = h('div', { class: 'prepare', 'aria-busy': 'true' }, status, meter, problem,
    h('div', { class: 'prepare-views' }, editor?.root, result));
  const closed = dialog(t('c.named', { name: m.category.name, slot: slotLabel(m.category, slot) }), body,
    [[t('m.cancel'), 'cancel'], [t('p.again'), 'again'], [t('p.confirm'), 'upload', 'primary']]);
  const modal = body.closest('dialog');
  if (editor) modal.classList.add('wide');
  const confirm = modal.querySelector('.modal-actions .primary');
  confirm.disabled = true;
  let sent = null; // what goes to the server: the photo made small here, or the original
  let shown = null; // the answer on screen: what a confirmation uploads
  let asked = 0; // the newest request's number: an older one's answer is dropped
  let inFlight = null;
  let open = true;
  closed.then(() => { open = false; inFlight?.abort(); });

  /** What is being done, in words and on the bar (`fraction` while sending; else it just moves). */
  function stage(name, fraction) {
    status.textContent = t(`p.${name}`, { pct: Math.round((fraction || 0) * 100) });
    meter.hidden = false;
    if (fraction === undefined) meter.removeAttribute('value');
    else meter.value = Math.round(fraction * 100);
  }

  async function prepare() {
    const mine = ++asked;
    const current = () => mine === asked && open;
    inFlight?.abort();
    inFlight = new AbortController();
    body.setAttribute('aria-busy', 'true');
    confirm.disabled = true; // never upload an image the outline no longer describes
    const working = shown ? 'reworking' : 'working';
    stage('sending', 0);
    problem.hidden = true;
    const outline = editor ? editor.request() : 'subject=person';
    try {
      const answer = readPrepared(await sendWithProgress('POST',
        `/api/v1/photos/prepare?document=${m.category.document}${outline ? `&${outline}` : ''}`, sent.blob, {
          headers: { 'content-type': 'application/octet-stream' }, as: 'blob', signal: inFlight.signal,
          onProgress: (f) => { if (current()) stage('sending', f); },
          onSent: () => { if (current()) stage(working); },
        }), sent);
      const img = h('img', { class: 'prepared', src: answer.url, alt: t('p.result'), dataset: { width: answer.width, height: answer.height } });
      await img.decode().catch(() => {}); // shown whole, not half-loaded
      if (!current()) {
        URL.revokeObjectURL(answer.url);
        return;
      }
      if (shown) URL.revokeObjectURL(shown.url);
      shown = answer;
      editor?.answered(answer);
      result.replaceChildren(...preparedView(answer, img));
      status.textContent = '';
      meter.hidden = true;
    } catch (e) {
      if (!current()) return;
      if (!shown) {
        modal.close();
        tell(say(e), 'error');
        return;
      }
      // The last prepared image stays, and is what a confirmation uploads.
      editor?.failed();
      status.textContent = '';
      meter.hidden = true;
      problem.textContent = say(e);
      problem.hidden = false;
    } finally {
      if (current()) {
        body.setAttribute('aria-busy', 'false');
        confirm.disabled = !shown;
      }
    }
  }

  try {
    sent = await photoToSend(file, head, stage);
    if (sent.blob === file && file.size > PREPARE_LIMIT) throw new Unusable('too_large');
  } catch (e) {
    if (open) modal.close();
    tell(e instanceof Unusable ? e.describe() : t('why.other'), 'error');
    return;
  }
  if (open) {
    editor?.show(sent.blob);
    prepare();
  }
  const choice = await closed;
  editor?.dispose();
  if (shown) URL.revokeObjectURL(shown.url);
  if (choice === 'again') {
    const again = pickButton(m, slot, '', replaces).querySelector('input');
    document.body.append(again);
    again.click();
    again.addEventListener('change', () => again.remove(), { once: true });
    return;
  }
  if (choice !== 'upload' || !shown) return;
  await upload(m, slot, shown.blob, replaces);
}

/** What the prepare endpoint answered: the JPEG, and what its headers say of it. */
function readPrepared({ blob, header }, sent) {
  const warnings = (header('x-photo-warnings') || '').split(',').filter((w) => w && known(`p.warn.${w}`));
  return {
    blob,
    url: URL.createObjectURL(blob),
    warnings,
    width: header('x-photo-width'),
    height: header('x-photo-height'),
    // Turned by its EXIF orientation here (the server then saw upright pixels), or there.
    rotated: sent.orientation > 1 || Number(header('x-source-orientation') || 1) > 1,
    turned: Number(header('x-photo-turned')) || 0,
    page: header('x-photo-page'),
    corners: parseCorners(header('x-photo-corners')),
    confidence: header('x-photo-page-confidence'),
  };
}

function preparedView(answer, img) {
  const warnings = answer.warnings.map((w) => h('li', { class: 'warning' }, t(`p.warn.${w}`)));
  return [
    h('figcaption', {}, t('p.result')),
    img,
    h('p', { class: 'muted', id: 'prepared-info' }, t('p.info', { w: answer.width, h: answer.height, kb: Math.ceil(answer.blob.size / 1024) })),
    answer.rotated ? h('p', {}, t('p.rotated')) : null,
    answer.turned ? h('p', { class: 'turned' }, t('p.turned', { deg: answer.turned })) : null,
    warnings.length ? h('ul', { class: 'warnings' }, warnings, h('li', {}, t('p.warn.retake'))) : h('p', { class: 'ok' }, t('p.good')),
  ].filter(Boolean);
}

const CORNER_NAMES = ['tl', 'tr', 'br', 'bl']; // the API's order
/** Where the corners start when the candidate marks a page the server did not find. */
const INSET_CORNERS = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]];
const ARROW_STEPS = { ArrowLeft: [-0.01, 0], ArrowRight: [0.01, 0], ArrowUp: [0, -0.01], ArrowDown: [0, 0.01] };
/** The original's greatest height on screen, so that the prepared image fits beside or below it. */
const ORIGINAL_MAX_VH = 50;

const clamp01 = (n) => Math.min(1, Math.max(0, n));

/** `x1,y1,…,x4,y4` (fractions of the upright photo, TL TR BR BL) as four points, or null. */
function parseCorners(text) {
  const v = (text || '').split(',').map((n) => (n.trim() === '' ? NaN : Number(n)));
  if (v.length !== 8 || v.some((n) => !Number.isFinite(n))) return null;
  return [0, 2, 4, 6].map((i) => [clamp01(v[i]), clamp01(v[i + 1])]);
}

/** Four points as the API takes them: fractions with at most 4 decimals. */
function formatCorners(corners) {
  return corners.flat().map((n) => String(Number(clamp01(n).toFixed(4)))).join(',');
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/**
 * The whole photo as the server saw it (`show(blob)`: the copy made small here, or the original
 * file) with the outline of the page, four corners to drag (or to move by 1% with the arrow keys)
 * and the whole-photo toggle. The browser shows it upright (the copy is, the original by its EXIF
 * orientation), which is the frame the API's corners are fractions of. `onChange` is called when
 * a change is finished: a drag let go, Enter on a corner, focus leaving moved corners, the toggle.
 */
function outlineEditor(onChange) {
  let corners = null; // the outline shown: the server's, or as the candidate moved it
  let whole = false;
  let dirty = false; // changed since the outline was last sent
  let url = null;
  const img = h('img', { class: 'original', alt: t('crop.original'), draggable: 'false' });
  const shade = svg('path', { class: 'shade' });
  const line = svg('polygon', { class: 'line' });
  const outline = svg('svg', { class: 'outline', viewBox: '0 0 100 100', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  outline.append(shade, line);
  const handles = CORNER_NAMES.map((name, i) => cornerHandle(name, i));
  const frame = h('div', { class: 'crop-frame', hidden: true }, img, outline, handles);
  const toggle = h('input', { type: 'checkbox', name: 'whole_frame' });
  // Offered once the server has said what it did (and not the dialog's first focus before that).
  const wholeChoice = h('label', { class: 'check', hidden: true }, toggle, t('crop.whole'));
  const note = h('p', { class: 'page-note' });
  const hint = h('p', { class: 'muted small', id: 'crop-hint' }, t('crop.hint'));
  const root = h('figure', { class: 'crop' },
    h('figcaption', {}, t('crop.original')),
    h('div', { class: 'crop-area' }, frame),
    wholeChoice,
    note, hint);

  img.addEventListener('load', () => {
    // The frame is the image's own box, whatever its shape, so fractions of it are the photo's.
    const ratio = img.naturalWidth / img.naturalHeight;
    frame.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
    frame.style.width = `min(100%, ${(ORIGINAL_MAX_VH * ratio).toFixed(2)}vh)`;
    frame.hidden = false;
  });
  frame.addEventListener('focusout', (e) => {
    if (!frame.contains(e.relatedTarget)) finish();
  });
  toggle.addEventListener('change', () => {
    whole = toggle.checked;
    if (!whole && !corners) corners = INSET_CORNERS.map((p) => [...p]);
    dirty = true;
    finish();
  });
  draw();

  function cornerHandle(name, i) {
    const handle = h('button', { type: 'button', class: 'corner', dataset: { corner: name }, 'aria-describedby': 'crop-hint' });
    let grab = null; // while dragging: the pointer, its offset from the corner, whether it moved
    handle.addEventListener('pointerdown', (e) => {
      if (!e.isPrimary || e.button !== 0 || !corners) return;
      e.preventDefault(); // no text selection, no emulated mouse events
      handle.focus();
      handle.setPointerCapture(e.pointerId);
      const r = frame.getBoundingClientRect();
      grab = {
        id: e.pointerId, moved: false,
        dx: e.clientX - r.left - corners[i][0] * r.width, dy: e.clientY - r.top - corners[i][1] * r.height,
      };
    });
    handle.addEventListener('pointermove', (e) => {
      if (grab?.id !== e.pointerId) return;
      const r = frame.getBoundingClientRect();
      move(i, (e.clientX - grab.dx - r.left) / r.width, (e.clientY - grab.dy - r.top) / r.height);
      grab.moved = true;
    });
    // After pointerup and pointercancel alike.
    handle.addEventListener('lostpointercapture', () => {
      const moved = grab?.moved;
      grab = null;
      if (moved) finish();
    });
    handle.addEventListener('keydown', (e) => {
      const step = ARROW_STEPS[e.key];
      if (step) {
        e.preventDefault();
        move(i, corners[i][0] + step[0], corners[i][1] + step[1]);
      } else if (e.key === 'Enter') {
        e.preventDefault();
        finish();
      }
    });
    return handle;
  }

  function move(i, x, y) {
    corners[i] = [clamp01(x), clamp01(y)];
    dirty = true;
    draw();
  }

  function finish() {
    draw();
    if (dirty) onChange();
  }

  function draw() {
    const active = Boolean(corners) && !whole;
    toggle.checked = whole;
    root.classList.toggle('whole', whole);
    outline.classList.toggle('absent', !corners);
    hint.hidden = !active;
    if (corners) {
      const points = corners.map(([x, y]) => `${(x * 100).toFixed(2)} ${(y * 100).toFixed(2)}`);
      line.setAttribute('points', points.join(' '));
      // Darken what is cut away.
      shade.setAttribute('d', `M0 0H100V100H0Z M${points.join(' L')}Z`);
    }
    handles.forEach((handle, i) => {
      handle.hidden = !active;
      if (!corners) return;
      const [x, y] = corners[i];
      handle.style.left = `${x * 100}%`;
      handle.style.top = `${y * 100}%`;
      handle.setAttribute('aria-label', t('crop.corner', {
        corner: t(`crop.${CORNER_NAMES[i]}`), x: Math.round(x * 100), y: Math.round(y * 100),
      }));
    });
  }

  return {
    root,
    /** The photo sent, to draw the outline over. */
    show(blob) {
      url = URL.createObjectURL(blob);
      img.src = url;
    },
    /** The outline's part of the next prepare request; from now on the outline counts as sent. */
    request() {
      dirty = false;
      if (whole) return 'whole_frame=true';
      return corners ? `corners=${formatCorners(corners)}` : ''; // first time: the server looks
    },
    /** Show what the server did, unless the candidate has changed the outline since asking. */
    answered(answer) {
      if (!dirty) {
        whole = answer.page === 'whole_frame' || answer.page === 'none';
        if (answer.corners) corners = answer.corners;
      }
      const said = ['found', 'given', 'none', 'whole_frame'].includes(answer.page);
      const back = answer.page === 'whole_frame' && answer.corners ? '.back' : '';
      note.textContent = said ? t(`crop.page.${answer.page}${back}`) : '';
      wholeChoice.hidden = false;
      root.dataset.page = answer.page || '';
      root.dataset.confidence = answer.confidence || '';
      draw();
    },
    /** The outline was not prepared: Enter or letting go tries again. */
    failed() { dirty = true; },
    dispose() { if (url) URL.revokeObjectURL(url); },
  };
}

/** Store the prepared image, with its progress; the page stays where it is. */
async function upload(m, slot, blob, replaces) {
  const code = m.category.code;
  const bar = h('progress', { max: 100, value: 0, id: 'upload-progress' });
  tell(t('p.uploading'), 'info', bar);
  const query = new URLSearchParams({ slot: String(slot) });
  if (replaces) query.set('replaces', replaces);
  try {
    await uploadWithProgress(`/api/v1/dossier/materials/${code}/images?${query}`, blob,
      { 'content-type': 'image/jpeg', 'Idempotency-Key': uuid() },
      (f) => { bar.value = Math.round(f * 100); });
    await refresh(code);
    tell(t('p.uploaded', { name: m.category.name }), 'ok');
    focusSlot(code, slot);
  } catch (e) {
    await refused(code, e);
  }
}

window.addEventListener('hashchange', route);
route();
