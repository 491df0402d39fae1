// The reviewers' and administrators' console: sign-in with the second factor, the queues, the
// keyboard-driven review of a dossier, and the district's administration (catalogue, windows,
// accounts, publishing, export).
import {
  addStrings, api, ApiError, clearNotice, dialog, formatTime, h, languageButton, notify, setCsrf, show, t, busy, field,
  useCsrfKey,
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
  'q.keys': ['快捷键：J/K 上下移动，Enter 打开', 'Keys: J/K move, Enter opens'],
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
  'd.keys': ['快捷键：J/K 上一项/下一项材料，A 通过，R 退回，Z/X 放大/缩小，O 旋转，S 提交审核结果，N 下一位考生，Esc 返回', 'Keys: J/K material, A approve, R return, Z/X zoom, O rotate, S send the decision, N next candidate, Esc back'],
  'd.approve': ['通过', 'Approve'],
  'd.return': ['退回', 'Return'],
  'd.reason': ['退回原因', 'Reason'],
  'd.message': ['给考生的意见', 'Message to the candidate'],
  'd.current': ['当前版本', 'Current'],
  'd.previous': ['此前版本（已替换）', 'Earlier versions (replaced)'],
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
  'c.title': ['材料目录', 'Catalogue'],
  'c.code': ['代码', 'Code'],
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

let me = null;
let queueState = { stage: null, state: 'waiting', resubmitted: false, page: 0, entries: [], selected: 0 };
let keyHandler = null;

function onKeys(handler) {
  if (keyHandler) document.removeEventListener('keydown', keyHandler);
  keyHandler = (e) => {
    if (e.target.closest('input, textarea, select, dialog') || e.ctrlKey || e.metaKey || e.altKey) return;
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
      languageButton(route)));
  document.title = t('app.title');
}

/** A message to show after the next navigation (which clears the notice). */
let flash = null;

function go(hash, message) {
  flash = message;
  if (location.hash === hash) route(); else location.hash = hash;
}

async function route() {
  clearNotice();
  if (flash) { notify(flash, 'ok'); flash = null; }
  onKeys(() => {});
  try {
    if (!me) me = await api('GET', '/api/v1/staff/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin();
    if (e instanceof ApiError && e.status === 403) return showTotpSetup();
    return notify(e.describe(), 'error');
  }
  if (me.totp_required && !me.totp_enabled) return showTotpSetup();
  const [where, arg] = (location.hash.replace(/^#\/?/, '') || 'queue').split('/');
  header();
  try {
    if (where === 'dossier' && arg) return await showDossier(arg);
    if (where === 'windows') return await showWindows();
    if (where === 'accounts') return await showAccounts();
    if (where === 'results') return showResults();
    if (where === 'catalogue') return await showCatalogue();
    return await showQueue();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { me = null; return showLogin(); }
    notify(e.describe ? e.describe() : String(e), 'error');
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
        setCsrf(session.csrf_token);
        me = session.staff;
        location.hash = '#/queue';
        route();
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
    enrollment.qr_png_base64 ? h('img', { class: 'qr', src: `data:image/png;base64,${enrollment.qr_png_base64}`, alt: 'QR' }) : null,
    h('p', {}, `${t('totp.secret')}：`, h('code', { id: 'totp-secret' }, enrollment.secret_base32)),
    field(t('login.code'), h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 6 })),
    h('button', { type: 'submit', class: 'primary' }, t('totp.confirm')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form.querySelector('button'), async () => {
      await api('POST', '/api/v1/staff/totp/confirm', { json: { code: new FormData(form).get('code').trim() } });
      me = await api('GET', '/api/v1/staff/me');
      notify(t('totp.done'), 'ok');
      location.hash = '#/queue';
      route();
    });
  });
  show(form);
}

async function logout() {
  try { await api('POST', '/api/v1/staff/logout'); } catch { /* gone anyway */ }
  setCsrf(null);
  me = null;
  location.hash = '#/';
  showLogin();
}

// ------------------------------------------------------------------------------------------------
// The queue

function myStage() {
  return me.role === 'district_reviewer' ? 'district' : 'site';
}

async function loadQueue() {
  const q = queueState;
  q.stage = q.stage || myStage();
  const params = new URLSearchParams({ stage: q.stage, page: String(q.page), per_page: '50' });
  if (q.state) params.set('state', q.state);
  if (q.resubmitted) params.set('resubmitted', 'true');
  const page = await api('GET', `/api/v1/review/queue?${params}`);
  q.entries = page.entries;
  q.selected = Math.min(q.selected, Math.max(0, page.entries.length - 1));
  return page;
}

async function showQueue() {
  const page = await loadQueue();
  const q = queueState;
  const tab = (label, count, state, resubmitted) => h('button', {
    type: 'button', role: 'tab', 'aria-selected': String(q.state === state && q.resubmitted === resubmitted),
    class: q.state === state && q.resubmitted === resubmitted ? 'tab active' : 'tab',
    onclick: () => { Object.assign(q, { state, resubmitted, page: 0, selected: 0 }); route(); },
  }, label, count === null ? '' : h('span', { class: 'count' }, String(count)));
  const stages = me.role === 'district_admin'
    ? h('div', { class: 'tabs' }, ['site', 'district'].map((s) => h('button', {
      type: 'button', class: q.stage === s ? 'tab active' : 'tab',
      onclick: () => { Object.assign(q, { stage: s, page: 0, selected: 0 }); route(); },
    }, t(`stage.${s}`))))
    : null;
  const rows = page.entries.map((e, i) => h('tr', {
    class: i === q.selected ? 'selected' : '', tabindex: '0', dataset: { id: e.candidate_id },
    onclick: () => { location.hash = `#/dossier/${e.candidate_id}`; },
  },
  h('td', {}, e.name), h('td', {}, e.username), h('td', {}, e.id_number_masked), h('td', {}, e.exam_site),
  h('td', {}, t(`rstate.${e.state}`), e.resubmitted ? h('span', { class: 'badge' }, t('q.resubmitted')) : null),
  h('td', {}, formatTime(e.waiting_since)), h('td', {}, e.claimed_by || '')));
  show(h('section', { class: 'card', id: 'queue' },
    h('h2', {}, t(`stage.${q.stage}`)),
    stages,
    h('div', { class: 'tabs', role: 'tablist' },
      tab(t('rstate.waiting'), page.counts.waiting, 'waiting', false),
      tab(t('q.resubmitted'), page.counts.resubmitted, 'waiting', true),
      tab(t('rstate.pending'), page.counts.pending, 'pending', false),
      tab(t('rstate.returned'), page.counts.returned, 'returned', false),
      tab(t('q.all'), null, null, false)),
    page.entries.length === 0 ? h('p', { class: 'muted' }, t('q.empty')) : h('div', { class: 'table-wrap' }, h('table', { class: 'queue' },
      h('thead', {}, h('tr', {}, ['q.name', 'q.number', 'q.id', 'q.site', 'q.state', 'q.since', 'q.claimed'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, rows))),
    h('p', { class: 'muted small keys' }, t('q.keys'))));
  onKeys((e) => {
    const n = q.entries.length;
    if (!n) return;
    if (e.key === 'j' || e.key === 'ArrowDown') q.selected = Math.min(n - 1, q.selected + 1);
    else if (e.key === 'k' || e.key === 'ArrowUp') q.selected = Math.max(0, q.selected - 1);
    else if (e.key === 'Enter' || e.key === 'o') { location.hash = `#/dossier/${q.entries[q.selected].candidate_id}`; return; } else return;
    e.preventDefault();
    document.querySelectorAll('table.queue tbody tr').forEach((tr, i) => tr.classList.toggle('selected', i === q.selected));
  });
}

// ------------------------------------------------------------------------------------------------
// A dossier

const REASONS = ['blurry', 'wrong_document', 'incomplete', 'expired', 'other'];

async function showDossier(id) {
  let d = await api('GET', `/api/v1/review/dossiers/${id}`);
  const reviewer = me.role !== 'district_admin';
  const decidable = reviewer && d.stage === myStage() && ['waiting', 'pending'].includes(d.state);
  let claim = null;
  if (decidable) {
    claim = await api('POST', `/api/v1/review/dossiers/${id}/claim`);
    d = await api('GET', `/api/v1/review/dossiers/${id}`);
  }
  const verdicts = {}; // category -> { verdict, reason, message }
  const withImages = d.materials.filter((m) => m.images.length > 0);
  let current = 0;
  const view = { zoom: 1, rotate: 0 };
  const c = d.candidate;

  const materialViews = d.materials.map((m) => {
    const code = m.category.code;
    const images = (list, cls) => h('div', { class: `images ${cls}` }, list.map((img) => h('figure', { class: 'viewer' },
      h('div', { class: 'frame' }, h('img', { src: img.url.replace('/api/v1/images/', '/api/v1/review/images/'), alt: m.category.name, dataset: { id: img.id } })),
      h('figcaption', {}, m.category.slot_labels?.[img.slot] || `#${img.slot + 1}`, ' · ', formatTime(img.uploaded_at)))));
    const decide = decidable && m.images.length ? decisionControls(code, verdicts, () => suggestOutcome()) : null;
    return h('article', { class: 'card material review', id: `material-${code}`, dataset: { category: code } },
      h('header', {}, h('h3', {}, m.category.name, m.required ? h('span', { class: 'required' }, '*') : null),
        h('span', { class: `badge ${m.state}` }, t(`mstate.${m.state}`))),
      m.note ? h('p', { class: 'notice error' }, `${m.note.reason}：${m.note.message}`) : null,
      m.images.length === 0 ? h('p', { class: 'muted' }, t('d.noimages')) : null,
      m.previous.length
        ? h('div', { class: 'versions' },
          h('div', {}, h('h4', {}, t('d.current')), images(m.images, 'now')),
          h('div', {}, h('h4', {}, t('d.previous')), images(m.previous, 'before')))
        : images(m.images, 'now'),
      decide);
  });

  const outcomeSelect = h('select', { name: 'outcome', id: 'outcome' },
    (d.stage === 'site' ? ['pass', 'return', 'pending'] : ['approve', 'return', 'pending', 'not_eligible'])
      .map((o) => h('option', { value: o }, t(`out.${o}`))));
  const outcomeReason = h('input', { name: 'outcome_reason', id: 'outcome-reason' });
  const send = h('button', { type: 'button', class: 'primary', id: 'send' }, t('d.send'));
  const suggestOutcome = () => {
    const anyReturned = Object.values(verdicts).some((v) => v.verdict === 'return');
    outcomeSelect.value = anyReturned ? 'return' : (d.stage === 'site' ? 'pass' : 'approve');
  };
  send.addEventListener('click', () => busy(send, async () => {
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
    go('#/queue', t('d.sent', { stage: t(`stage.${receipt.stage}`), state: t(`rstate.${receipt.state}`) }));
  }));

  const history = h('section', { class: 'card', id: 'history' }, h('h3', {}, t('d.history')),
    h('ul', { class: 'log' }, d.decisions.map((x) => h('li', {},
      h('time', {}, formatTime(x.at)), ` ${t(`stage.${x.stage}`)} · ${x.by} · `,
      x.category ? `${x.category}: ` : '', x.decision, x.reason ? ` (${x.reason})` : '', x.message ? ` “${x.message}”` : ''))));
  const audit = h('section', { class: 'card', id: 'audit' }, h('h3', {}, t('d.audit')),
    h('ul', { class: 'log' }, d.audit.map((x) => h('li', {},
      h('time', {}, formatTime(x.at)), ` ${x.actor} · ${x.action}`, x.category ? ` · ${x.category}` : '', x.detail ? ` · ${x.detail}` : ''))));

  show(
    h('p', {}, h('a', { href: '#/queue' }, '← ', t('d.back'))),
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
      h('div', { class: 'viewer-tools' },
        h('button', { type: 'button', onclick: () => zoom(1.25) }, t('d.zoom')),
        h('button', { type: 'button', onclick: () => zoom(0.8) }, t('d.unzoom')),
        h('button', { type: 'button', onclick: () => rotate() }, t('d.rotate'))),
      h('p', { class: 'muted small keys' }, t('d.keys'))),
    ...materialViews,
    decidable ? h('section', { class: 'card decision', id: 'decision' },
      h('h3', {}, t('d.outcome')),
      field(t('d.outcome'), outcomeSelect),
      field(t('d.outcome.reason'), outcomeReason),
      send) : null,
    history, audit);

  function applyView() {
    document.querySelectorAll('.viewer img').forEach((img) => {
      img.style.transform = `rotate(${view.rotate}deg) scale(${view.zoom})`;
    });
  }
  function zoom(f) { view.zoom = Math.min(6, Math.max(0.5, view.zoom * f)); applyView(); }
  function rotate() { view.rotate = (view.rotate + 90) % 360; applyView(); }
  function focusMaterial(i) {
    if (!withImages.length) return;
    current = (i + withImages.length) % withImages.length;
    const el = document.getElementById(`material-${withImages[current].category.code}`);
    document.querySelectorAll('.material.current').forEach((x) => x.classList.remove('current'));
    el.classList.add('current');
    el.scrollIntoView({ block: 'start', behavior: 'instant' });
  }
  function setVerdict(verdict) {
    if (!decidable || !withImages.length) return;
    const code = withImages[current].category.code;
    const radio = document.querySelector(`#material-${code} input[value="${verdict}"]`);
    radio.checked = true;
    radio.dispatchEvent(new Event('change', { bubbles: true }));
    if (verdict === 'return') document.querySelector(`#material-${code} textarea`).focus();
    else focusMaterial(current + 1);
  }
  focusMaterial(0);
  onKeys((e) => {
    const k = e.key.toLowerCase();
    const actions = {
      j: () => focusMaterial(current + 1), k: () => focusMaterial(current - 1),
      a: () => setVerdict('approve'), r: () => setVerdict('return'),
      z: () => zoom(1.25), x: () => zoom(0.8), o: rotate,
      s: () => send.click(), escape: () => { location.hash = '#/queue'; },
      n: () => nextDossier(id),
    };
    if (actions[k]) { e.preventDefault(); actions[k](); }
  });
}

/** Approve or return one material; `onChange` runs after each change (the outcome follows). */
function decisionControls(code, verdicts, onChange) {
  const name = `verdict-${code}`;
  const reason = h('select', { name: 'reason' }, REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`))));
  const message = h('textarea', { name: 'message', rows: 2, placeholder: t('d.message'), 'aria-label': t('d.message') });
  const returnFields = h('div', { class: 'return-fields', hidden: true }, field(t('d.reason'), reason), message);
  const update = () => {
    const chosen = document.querySelector(`input[name="${name}"]:checked`)?.value;
    if (!chosen) return;
    returnFields.hidden = chosen !== 'return';
    verdicts[code] = { verdict: chosen, reason: reason.value, message: message.value.trim() };
    onChange();
  };
  reason.addEventListener('change', update);
  message.addEventListener('input', update);
  return h('div', { class: 'verdict', onchange: update },
    h('label', { class: 'check' }, h('input', { type: 'radio', name, value: 'approve' }), t('d.approve')),
    h('label', { class: 'check' }, h('input', { type: 'radio', name, value: 'return' }), t('d.return')),
    returnFields);
}

async function nextDossier(id) {
  try { await api('DELETE', `/api/v1/review/dossiers/${id}/claim`); } catch { /* may not hold one */ }
  await loadQueue();
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
  const exportLink = h('a', { class: 'button', href: '/api/v1/admin/results.csv', id: 'export', download: 'results.csv' }, t('r.export'));
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
      h('h3', {}, c.name, ' ', h('code', {}, c.code)),
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
