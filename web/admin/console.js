/*
 * console.js — the operator's console: sign-in, jobs, a job, schedules,
 * calendar and limits, all through /admin/api (src/api/admin_api.h).
 *
 * The admin token lives in sessionStorage only (never a URL or cookie)
 * and goes out in the Authorization header.  Every piece of server data
 * reaches the page through textContent or element attributes set one by
 * one (el() below); no HTML is built from strings, so a job's error
 * text that contains markup shows as text.  Each page polls at most
 * once a second, and only while it is shown.
 */
'use strict';

(function () {
	const TOKEN_KEY = 'bulkhead.admin.token';
	const POLL_MS = 1000;
	const PAGE_SIZE = 25;
	const ROLES = { viewer: 0, operator: 1, admin: 2 };

	let me = null;			/* whoami */
	let pollTimer = null;
	let pollGen = 0;		/* bumps on every page change */
	const jobsView = { state: '', kind: '', cursors: [], before: null,
	    next: null };
	const calView = { mode: 'week', anchor: startOfDay(new Date()) };
	let editing = null;		/* schedule name being edited */
	/* The job page: which job, the error lines' page, and what its
	 * error lines and audit rows were last read for. */
	const jobView = { id: null, errOffset: 0, errMore: false,
	    errSig: null, auditSig: null };
	const ERR_PAGE = 50;

	/* ---- helpers ---- */

	function $(id) { return document.getElementById(id); }

	/* An element with attributes (props) and children (nodes or text). */
	function el(tag, props, ...kids) {
		const e = document.createElement(tag);
		for (const k in (props || {})) {
			const v = props[k];
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				e.className = v;
			else if (k === 'text')
				e.textContent = v;
			else if (k.startsWith('on'))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? '' : v);
		}
		for (const c of kids) {
			if (c === null || c === undefined)
				continue;
			e.append(c instanceof Node ? c : String(c));
		}
		return e;
	}

	function clear(e) { e.replaceChildren(); return e; }

	/*
	 * Replaces a table body's rows, keeping the keyboard focus on the
	 * same control of the same row (polling must not lose it).
	 */
	function replaceRows(tbody, rows) {
		const a = document.activeElement;
		let key = null;
		if (a && tbody.contains(a)) {
			const tr = a.closest('tr');
			key = { row: tr ? tr.getAttribute('data-key') : null,
			    ctl: a.getAttribute('data-action') || a.tagName };
		}
		clear(tbody).append(...rows);
		if (key === null || key.row === null)
			return;
		for (const tr of tbody.rows) {
			if (tr.getAttribute('data-key') !== key.row)
				continue;
			for (const c of tr.querySelectorAll(
			    'button, a, summary, input'))
				if ((c.getAttribute('data-action') ||
				    c.tagName) === key.ctl) {
					c.focus();
					return;
				}
		}
	}

	function may(role) {
		return me !== null && ROLES[me.role] >= ROLES[role];
	}

	function banner(msg, bad) {
		const b = $('banner');
		b.textContent = msg || '';
		b.hidden = !msg;
		b.classList.toggle('bad', !!bad);
	}

	function fmtTime(s) {
		if (!s)
			return '';
		const d = new Date(s);
		if (isNaN(d))
			return s;
		return d.toLocaleString(undefined, { year: 'numeric',
		    month: '2-digit', day: '2-digit', hour: '2-digit',
		    minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
	}

	function fmtDuration(s) {
		if (s === null || s === undefined)
			return '';
		s = Math.round(s);
		const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
		if (h > 0)
			return h + ' h ' + m + ' min';
		if (m > 0)
			return m + ' min ' + (s % 60) + ' s';
		return s + ' s';
	}

	function fmtNum(n) {
		return n === null || n === undefined ? '' :
		    Number(n).toLocaleString('en');
	}

	/* RFC 3339 with the browser's offset, as the API wants. */
	function rfc3339(d) {
		const p = (n) => String(n).padStart(2, '0');
		const off = -d.getTimezoneOffset();
		const sign = off >= 0 ? '+' : '-';
		const a = Math.abs(off);
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' +
		    p(d.getDate()) + 'T' + p(d.getHours()) + ':' +
		    p(d.getMinutes()) + ':' + p(d.getSeconds()) + sign +
		    p(Math.floor(a / 60)) + ':' + p(a % 60);
	}

	function startOfDay(d) {
		return new Date(d.getFullYear(), d.getMonth(), d.getDate());
	}

	function addDays(d, n) {
		return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
	}

	function dayKey(d) {
		return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' +
		    d.getDate();
	}

	/* ---- the API ---- */

	class ApiError extends Error {
		constructor(status, msg) { super(msg); this.status = status; }
	}

	/* The answer's JSON, or throws ApiError with the diagnostics. */
	async function api(method, path, body) {
		const token = sessionStorage.getItem(TOKEN_KEY);
		const init = { method: method, headers: {
		    'Accept': 'application/json' }, cache: 'no-store',
		    credentials: 'omit', redirect: 'error' };
		if (token)
			init.headers['Authorization'] = 'Bearer ' + token;
		if (body !== undefined) {
			init.headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const r = await fetch('/admin/api/' + path, init);
		let j = null;
		if (r.status !== 204) {
			try { j = await r.json(); } catch (e) { j = null; }
		}
		if (!r.ok) {
			let msg = 'HTTP ' + r.status;
			if (j && j.issue && j.issue[0] &&
			    j.issue[0].diagnostics)
				msg = j.issue[0].diagnostics;
			if (r.status === 401 && method === 'GET' &&
			    path === 'whoami')
				throw new ApiError(401, msg);
			if (r.status === 401) {
				signOut('Signed out: ' + msg);
			}
			throw new ApiError(r.status, msg);
		}
		return j;
	}

	/* Runs an action, shows its failure in the banner. */
	async function act(fn) {
		banner('');
		try {
			await fn();
		} catch (e) {
			banner(e.message, true);
		}
		schedulePoll(0);
	}

	/* ---- sign-in ---- */

	async function signIn(token) {
		sessionStorage.setItem(TOKEN_KEY, token);
		try {
			me = await api('GET', 'whoami');
		} catch (e) {
			sessionStorage.removeItem(TOKEN_KEY);
			me = null;
			throw e;
		}
		$('who-name').textContent = me.name;
		$('who-role').textContent = me.role;
		$('who').hidden = false;
		$('nav').hidden = false;
		document.body.dataset.role = me.role;
		route();
	}

	function signOut(msg) {
		sessionStorage.removeItem(TOKEN_KEY);
		me = null;
		$('who').hidden = true;
		$('nav').hidden = true;
		delete document.body.dataset.role;
		showPage('signin');
		$('signin-error').textContent = msg || '';
		$('token').focus();
	}

	/* ---- pages and polling ---- */

	function showPage(name) {
		pollGen++;
		if (pollTimer !== null)
			clearTimeout(pollTimer);
		pollTimer = null;
		for (const s of document.querySelectorAll('section.page'))
			s.hidden = s.id !== (name === 'signin' ? 'signin' :
			    'page-' + name);
		for (const a of document.querySelectorAll('#nav a'))
			if (a.dataset.page === name ||
			    (name === 'job' && a.dataset.page === 'jobs'))
				a.setAttribute('aria-current', 'page');
			else
				a.removeAttribute('aria-current');
		banner('');
	}

	const loaders = {};

	/* Loads the current page now (delay 0) or after delay ms, once. */
	function schedulePoll(delay) {
		if (pollTimer !== null)
			clearTimeout(pollTimer);
		const gen = pollGen;
		pollTimer = setTimeout(async () => {
			pollTimer = null;
			const page = current();
			const started = Date.now();
			let used = 1;
			try {
				/* A loader may answer how many requests
				 * it made; the next poll waits that many
				 * seconds (the job page's extra reads). */
				used = await loaders[page.name](page.arg) || 1;
			} catch (e) {
				if (gen === pollGen && me !== null)
					banner(e.message, true);
			}
			/* At most one request a second per page. */
			/* Limits are not polled: it would overwrite an
			 * edit in progress. */
			if (gen === pollGen && me !== null &&
			    page.name !== 'limits')
				schedulePoll(Math.max(used * POLL_MS -
				    (Date.now() - started), 0) +
				    (page.name === 'calendar' ?
				    9 * POLL_MS : 0));
		}, delay);
	}

	function current() {
		const h = location.hash.replace(/^#/, '');
		const m = /^job\/([A-Za-z0-9.\-]+)$/.exec(h);
		if (m)
			return { name: 'job', arg: m[1] };
		if (['jobs', 'schedules', 'calendar', 'limits'].includes(h))
			return { name: h, arg: null };
		return { name: 'jobs', arg: null };
	}

	function route() {
		if (me === null)
			return;
		const page = current();
		showPage(page.name);
		if (page.name === 'schedules')
			$('sched-form').hidden = editing === null;
		schedulePoll(0);
	}

	/* ---- jobs ---- */

	function stateBadge(j) {
		let s = j.state;
		if (s === 'running' && j.pause_requested)
			s = 'running (pause requested)';
		return el('span', { class: 'badge st-' + j.state, text: s });
	}

	/* Which actions the state machine allows (admin_api.h). */
	function allowed(j) {
		const st = j.state, pr = j.pause_requested;
		return {
			pause: st === 'queued' || st === 'scheduled' ||
			    (st === 'running' && !pr),
			resume: st === 'paused' || (st === 'running' && pr),
			cancel: st === 'queued' || st === 'scheduled' ||
			    st === 'paused' || st === 'running',
			retry: st === 'failed' || st === 'cancelled',
		};
	}

	function actionButtons(j) {
		const ok = allowed(j), box = el('span', { class: 'actions' });
		if (!may('operator'))
			return box;
		for (const a of ['pause', 'resume', 'cancel', 'retry']) {
			box.append(el('button', { type: 'button',
			    'data-action': a, 'data-job': j.id,
			    disabled: !ok[a], 'aria-label': a + ' job ' + j.id,
			    text: a, onclick: () => act(async () => {
				const r = await api('POST', 'jobs/' +
				    encodeURIComponent(j.id) + '/' + a);
				if (a === 'retry' && r && r.id)
					banner('retried as job ' + r.id);
			}) }));
		}
		return box;
	}

	function progressCell(j) {
		const box = el('div', { class: 'prog' });
		if (j.rows === null && j.total === null)
			return box;
		const bar = el('progress', { max: j.total || 1,
		    'aria-label': 'progress of job ' + j.id });
		if (j.total)
			bar.value = Math.min(j.rows || 0, j.total);
		else if (j.state === 'completed')
			bar.value = 1;
		else
			bar.removeAttribute('value');
		let txt = fmtNum(j.rows || 0) + (j.total ? ' / ' +
		    fmtNum(j.total) : '') + ' rows';
		if (j.rate)
			txt += ', ' + fmtNum(Math.round(j.rate)) + '/s';
		box.append(bar, el('span', { class: 'rows', text: txt }));
		return box;
	}

	function errorCell(j) {
		if (!j.error)
			return '';
		/* The whole text on click: a disclosure, keyboard ready. */
		return el('details', { class: 'err' },
		    el('summary', { text: j.error_line || j.error }),
		    el('pre', { text: j.error }));
	}

	function td(label, ...kids) {
		return el('td', { 'data-label': label }, ...kids);
	}

	async function loadJobs() {
		const q = new URLSearchParams();
		q.set('limit', PAGE_SIZE);
		if (jobsView.state)
			q.set('state', jobsView.state);
		if (jobsView.kind)
			q.set('kind', jobsView.kind);
		if (jobsView.before)
			q.set('before', jobsView.before);
		const gen = pollGen;
		const r = await api('GET', 'jobs?' + q.toString());
		if (gen !== pollGen)
			return;
		jobsView.next = r.next_before || null;
		$('p-older').disabled = !jobsView.next;
		$('p-newer').disabled = jobsView.cursors.length === 0;
		const open = new Set();
		for (const d of document.querySelectorAll('#jobs details[open]'))
			open.add(d.closest('tr').dataset.job);
		const rows = r.jobs.map((j) => {
			const err = errorCell(j);
			if (err && open.has(j.id))
				err.open = true;
			return el('tr', { 'data-job': j.id, 'data-key': j.id,
			    'data-state': j.state },
			    td('Id', el('a', { href: '#job/' + j.id,
				text: j.id })),
			    td('Kind', j.kind),
			    td('Schedule or client', j.schedule ?
				el('span', { text: j.schedule,
				    title: 'schedule' }) : j.client ||
				el('span', { class: 'muted',
				    text: 'operator' })),
			    td('State', stateBadge(j)),
			    td('Started', j.started ? fmtTime(j.started) :
				j.state === 'scheduled' ? 'not before ' +
				fmtTime(j.not_before) : ''),
			    td('Duration', fmtDuration(j.duration_s)),
			    td('Progress', progressCell(j)),
			    td('Attempts', j.attempts + ' / ' +
				j.max_attempts),
			    td('Error', err),
			    td('Actions', actionButtons(j)));
		});
		replaceRows($('jobs').tBodies[0], rows);
		$('jobs-empty').hidden = rows.length > 0;
	}

	function jsonText(v) {
		return v === null || v === undefined ? '—' :
		    JSON.stringify(v, null, 2);
	}

	async function loadJob(id) {
		const gen = pollGen;
		if (jobView.id !== id)
			Object.assign(jobView, { id: id, errOffset: 0,
			    errMore: false, errSig: null, auditSig: null });
		const j = await api('GET', 'jobs/' + encodeURIComponent(id));
		if (gen !== pollGen)
			return 1;
		$('job-id').textContent = j.id;
		clear($('job-actions')).append(stateBadge(j), ' ',
		    actionButtons(j));
		const f = clear($('job-fields'));
		const add = (k, v) => {
			if (v !== null && v !== undefined && v !== '')
				f.append(el('dt', { text: k }),
				    el('dd', { text: v }));
		};
		add('Kind', j.kind);
		add('Schedule', j.schedule);
		add('Client', j.schedule ? null : j.client);
		add('Created', fmtTime(j.created));
		add('Not before', fmtTime(j.not_before));
		add('Started', fmtTime(j.started));
		add('Finished', fmtTime(j.finished));
		add('Duration', fmtDuration(j.duration_s));
		add('Attempts', j.attempts + ' / ' + j.max_attempts);
		add('Priority', String(j.priority));
		add('Retry of', j.retry_of);
		add('Worker', j.lease_owner);
		add('Status URL', j.status_url);
		clear($('job-progress')).append(progressCell(j));
		$('job-error').textContent = j.error || '—';
		$('job-params').textContent = jsonText(j.params);
		$('job-checkpoint').textContent = jsonText(j.checkpoint);
		$('job-result').textContent = jsonText(j.result);
		const rows = (j.outputs || []).map((o) => el('tr',
		    { class: o.channel === 'error' ? 'error-file' : null },
		    td('Channel', o.channel), td('Type', o.type),
		    td('Count', fmtNum(o.count)), td('Bytes', fmtNum(o.bytes)),
		    td('File', o.url ? el('a', { href: o.url,
			download: '', rel: 'noopener', text: o.url }) : '')));
		clear($('job-outputs').tBodies[0]).append(...rows);
		showDeliveries(j);
		/* Error lines and audit rows only when they may have
		 * changed: new error files, another page, a write. */
		let used = 1;
		const errSig = (j.outputs || []).filter((o) =>
		    o.channel === 'error').map((o) => o.seq + ':' +
		    o.count).join(',') + '@' + jobView.errOffset;
		if (errSig !== jobView.errSig) {
			used++;
			const r = await api('GET', 'jobs/' +
			    encodeURIComponent(id) + '/errors?limit=' +
			    ERR_PAGE + '&offset=' + jobView.errOffset);
			if (gen !== pollGen)
				return used;
			jobView.errSig = errSig;
			showErrorLines(r);
		}
		const auditSig = j.updated + '|' + JSON.stringify(
		    (j.deliveries || []).map((d) => [d.n, d.attempts,
		    d.updated]));
		if (auditSig !== jobView.auditSig) {
			used++;
			const r = await api('GET', 'jobs/' +
			    encodeURIComponent(id) + '/audit');
			if (gen !== pollGen)
				return used;
			jobView.auditSig = auditSig;
			showAudit(r.audit || []);
		}
		return used;
	}

	/* The job's error file lines: every value as text. */
	function showErrorLines(r) {
		jobView.errMore = !!r.more;
		const rows = (r.lines || []).map((l) => el('tr',
		    { 'data-n': l.n, class: 'errline sev-' +
			(l.severity || 'unknown') },
		    td('#', String(l.n + 1)),
		    td('File, line', l.file + ', ' + l.line),
		    td('Severity', l.severity || ''),
		    td('Code', l.code || ''),
		    td('Diagnostics', el('span', { class: 'diag',
			text: l.text !== undefined ? l.text :
			l.diagnostics || '' })),
		    td('Location', l.location || '')));
		clear($('job-errlines').tBodies[0]).append(...rows);
		$('job-errlines-empty').hidden = rows.length > 0;
		let c = '';
		if (rows.length > 0)
			c = 'lines ' + fmtNum(r.offset + 1) + '–' +
			    fmtNum(r.offset + rows.length) + ' of ' +
			    fmtNum(r.total);
		if (r.files_removed)
			c = 'files removed ' + fmtTime(r.files_removed);
		if (r.missing > 0)
			c += (c ? '; ' : '') + r.missing + ' file' +
			    (r.missing === 1 ? '' : 's') + ' unreadable';
		$('job-errlines-count').textContent = c;
		$('e-prev').disabled = jobView.errOffset === 0;
		$('e-next').disabled = !jobView.errMore;
	}

	/* OpenHIM deliveries, with a redeliver button for operators. */
	function showDeliveries(j) {
		const rows = (j.deliveries || []).map((d) => el('tr',
		    { 'data-delivery': d.n, 'data-key': d.n,
			'data-state': d.state },
		    td('#', String(d.n)),
		    td('Target', d.target),
		    td('State', el('span', { class: 'badge dl-' + d.state,
			text: d.state })),
		    td('Attempts', d.attempts + ' / ' + d.maxAttempts),
		    td('Last status', d.lastStatus === null ||
			d.lastStatus === undefined ? '' :
			el('span', { title: d.lastResponse || '',
			    text: String(d.lastStatus) })),
		    td('Next attempt', fmtTime(d.nextAt)),
		    td('Actions', may('operator') ? el('button', {
			type: 'button', 'data-action': 'redeliver',
			'aria-label': 'deliver again to ' + d.target,
			text: 'redeliver', onclick: () => act(async () => {
				await api('POST', 'jobs/' +
				    encodeURIComponent(j.id) +
				    '/deliveries/' + d.n + '/retry');
				banner('delivery ' + d.n + ' to ' + d.target +
				    ' queued again');
			}) }) : '')));
		/* Rebuilt every second: keep the keyboard focus. */
		replaceRows($('job-deliveries').tBodies[0], rows);
		$('job-deliveries-empty').hidden = rows.length > 0;
	}

	function auditValue(v) {
		return v === null || v === undefined ? '—' :
		    typeof v === 'string' ? v : JSON.stringify(v);
	}

	/* Who changed the job, when, and what changed. */
	function showAudit(list) {
		const rows = list.map((a) => {
			const ch = el('ul', { class: 'changes' });
			if (a.created)
				ch.append(el('li', { text: a.job === jobView.id ?
				    'created' : 'created job ' + a.job }));
			for (const c of a.changes || [])
				ch.append(el('li', {},
				    el('code', { text: c.field }), ': ',
				    auditValue(c.before), ' → ',
				    auditValue(c.after)));
			return el('tr', { 'data-audit': a.id },
			    td('When', fmtTime(a.at)),
			    td('Action', a.action),
			    td('Who', (a.principal || a.actor) +
				(a.role ? ' (' + a.role + ')' : '')),
			    td('From', a.client_addr || ''),
			    td('Changes', ch));
		});
		clear($('job-audit').tBodies[0]).append(...rows);
		$('job-audit-empty').hidden = rows.length > 0;
	}

	/* ---- schedules ---- */

	async function loadSchedules() {
		const gen = pollGen;
		const r = await api('GET', 'schedules');
		if (gen !== pollGen)
			return;
		const rows = r.schedules.map((s) => {
			const box = el('span', { class: 'actions' });
			if (may('operator')) {
				const name = encodeURIComponent(s.name);
				box.append(
				    el('button', { type: 'button', text:
					s.enabled ? 'pause' : 'resume',
					onclick: () => act(() => api('POST',
					'schedules/' + name + '/' +
					(s.enabled ? 'pause' : 'resume'))) }),
				    el('button', { type: 'button',
					text: 'run now', 'data-action': 'run',
					onclick: () => act(async () => {
					const j = await api('POST',
					    'schedules/' + name + '/run');
					banner('started job ' + j.id);
				    }) }),
				    el('button', { type: 'button', text: 'edit',
					'data-action': 'edit',
					disabled: s.source === 'config',
					title: s.source === 'config' ?
					'defined in the configuration file' :
					null, onclick: () => editSchedule(s) }),
				    el('button', { type: 'button',
					text: 'delete', 'data-action': 'delete',
					disabled: s.source === 'config',
					onclick: () => {
					if (confirm('Delete the schedule "' +
					    s.name + '"?'))
						act(() => api('DELETE',
						    'schedules/' + name));
				    } }));
			}
			let last = '';
			if (s.last_fire) {
				last = el('span', {}, fmtTime(s.last_fire), ' ',
				    s.last_result ? el('span', { class:
				    'badge st-' + s.last_result,
				    text: s.last_result }) : '');
				if (s.last_job)
					last = el('a', { href: '#job/' +
					    s.last_job }, last);
			}
			return el('tr', { 'data-schedule': s.name,
			    'data-key': s.name },
			    td('Name', s.name),
			    td('When', el('span', { title: s.cron + ' ' +
				(s.timezone || ''), text: s.cron_text ||
				s.cron }), s.job ? el('div', { class: 'muted',
				text: s.job.kind }) : ''),
			    td('Next fire', s.enabled ? fmtTime(s.next_fire) :
				'—'),
			    td('Last fire', last),
			    td('Enabled', s.enabled ? 'yes' : 'no'),
			    td('Actions', box));
		});
		replaceRows($('schedules').tBodies[0], rows);
	}

	const FIELDS = ['name', 'cron', 'timezone', 'misfire', 'kind',
	    'params'];

	function clearFieldErrors() {
		for (const f of FIELDS) {
			$('e-' + f).textContent = '';
			$('s-' + f).removeAttribute('aria-invalid');
		}
		$('e-form').textContent = '';
	}

	/* Shows an API message at the field it names ("cron: ..."). */
	function fieldError(msg) {
		const m = /^([a-z_.]+):\s*(.*)$/s.exec(msg);
		let f = null;
		if (m) {
			f = { 'job.kind': 'kind', 'job.params': 'params',
			    job: 'kind', params: 'params' }[m[1]] || m[1];
		} else if (/schedule name/.test(msg))
			f = 'name';
		if (f && FIELDS.includes(f)) {
			$('e-' + f).textContent = msg;
			$('s-' + f).setAttribute('aria-invalid', 'true');
			$('s-' + f).focus();
		} else
			$('e-form').textContent = msg;
	}

	function openForm(title) {
		clearFieldErrors();
		$('sched-form-title').textContent = title;
		$('sched-form').hidden = false;
	}

	function newSchedule() {
		editing = '';
		$('sched-form').reset();
		$('s-name').disabled = false;
		$('s-params').value = '{}';
		openForm('New schedule');
		$('s-name').focus();
	}

	function editSchedule(s) {
		editing = s.name;
		$('s-name').value = s.name;
		$('s-name').disabled = true;
		$('s-cron').value = s.cron;
		$('s-timezone').value = s.timezone || '';
		$('s-misfire').value = s.misfire || 'run-once';
		$('s-kind').value = s.job ? s.job.kind : 'export';
		$('s-params').value = JSON.stringify(s.job && s.job.params ?
		    s.job.params : {});
		$('s-enabled').checked = !!s.enabled;
		openForm('Edit ' + s.name);
		$('s-cron').focus();
	}

	async function saveSchedule(ev) {
		ev.preventDefault();
		clearFieldErrors();
		const name = $('s-name').value.trim();
		if (!name)
			return fieldError('name: required');
		let params;
		try {
			params = JSON.parse($('s-params').value || '{}');
		} catch (e) {
			return fieldError('params: not valid JSON (' +
			    e.message + ')');
		}
		const body = { cron: $('s-cron').value.trim(),
		    misfire: $('s-misfire').value,
		    enabled: $('s-enabled').checked,
		    job: { kind: $('s-kind').value, params: params } };
		if ($('s-timezone').value.trim())
			body.timezone = $('s-timezone').value.trim();
		try {
			await api('PUT', 'schedules/' +
			    encodeURIComponent(name), body);
		} catch (e) {
			return fieldError(e.message);
		}
		editing = null;
		$('sched-form').hidden = true;
		banner('schedule ' + name + ' saved');
		schedulePoll(0);
	}

	/* ---- calendar ---- */

	function calRange() {
		const a = calView.anchor;
		if (calView.mode === 'week') {
			const from = addDays(a, -((a.getDay() + 6) % 7));
			return { from: from, to: addDays(from, 7), days: 7 };
		}
		const first = new Date(a.getFullYear(), a.getMonth(), 1);
		const from = addDays(first, -((first.getDay() + 6) % 7));
		return { from: from, to: addDays(from, 42), days: 42 };
	}

	function evClass(f) {
		if (f.at === undefined)
			return 'ev delayed';
		if (new Date(f.at) > new Date())
			return 'ev future';
		return 'ev ' + (f.state ? 'st-' + f.state : 'st-missed');
	}

	function hhmm(d) {
		return d.toLocaleTimeString([], { hour: '2-digit',
		    minute: '2-digit', hourCycle: 'h23' });
	}

	/*
	 * A day's entries: a schedule firing more than CAL_GROUP times that
	 * day becomes one entry (its count, coloured by its worst result),
	 * so that an every-10-minutes job does not hide a nightly one.
	 */
	const CAL_GROUP = 3;
	function calGroup(items) {
		const per = new Map();
		for (const it of items)
			if (it.f.schedule) {
				if (!per.has(it.f.schedule))
					per.set(it.f.schedule, []);
				per.get(it.f.schedule).push(it);
			}
		const out = [], done = new Set();
		for (const it of items) {
			const s = it.f.schedule;
			const list = s ? per.get(s) : null;
			if (!list || list.length <= CAL_GROUP) {
				out.push(it);
				continue;
			}
			if (done.has(s))
				continue;
			done.add(s);
			const n = {};
			for (const x of list) {
				const k = evClass(x.f).replace(/^ev (st-)?/, '');
				n[k] = (n[k] || 0) + 1;
			}
			const worst = ['failed', 'missed', 'running', 'cancelled',
			    'completed', 'future'].find((k) => n[k]) || 'future';
			out.push({ at: it.at, group: true, f: { schedule: s },
			    last: list[list.length - 1].at, n: n,
			    cls: 'ev ' + (worst === 'future' ? 'future' :
			    'st-' + worst) });
		}
		return out;
	}

	function calEntry(it) {
		const f = it.f;
		if (it.group) {
			return el('span', { class: it.cls + ' group',
			    'data-schedule': f.schedule, title: Object.keys(
			    it.n).map((k) => it.n[k] + ' ' + k).join(', ') },
			    hhmm(it.at) + '–' + hhmm(it.last) + ' ' +
			    f.schedule + ' ×' + Object.values(it.n).reduce(
			    (a, b) => a + b, 0));
		}
		const label = f.schedule ? f.schedule : f.kind + ' ' +
		    f.job.slice(0, 8);
		const attrs = { class: evClass(f), title: (f.at ||
		    f.not_before) + (f.state ? ' — ' + f.state : ''),
		    'data-schedule': f.schedule || null,
		    'data-job': f.job || null };
		if (f.job) {
			attrs.href = '#job/' + f.job;
			return el('a', attrs, hhmm(it.at) + ' ' + label);
		}
		return el('span', attrs, hhmm(it.at) + ' ' + label);
	}

	async function loadCalendar() {
		const r = calRange(), gen = pollGen;
		const q = new URLSearchParams({ from: rfc3339(r.from),
		    to: rfc3339(r.to) });
		const c = await api('GET', 'calendar?' + q.toString());
		if (gen !== pollGen)
			return;
		const byDay = new Map();
		const put = (d, item) => {
			const k = dayKey(d);
			if (!byDay.has(k))
				byDay.set(k, []);
			byDay.get(k).push(item);
		};
		for (const f of c.fires)
			put(new Date(f.at), { at: new Date(f.at), f: f });
		for (const d of c.delayed)
			put(new Date(d.not_before), { at: new Date(d.not_before),
			    f: d });
		const title = calView.mode === 'week' ?
		    r.from.toLocaleDateString() + ' – ' +
		    addDays(r.to, -1).toLocaleDateString() :
		    calView.anchor.toLocaleDateString(undefined,
		    { month: 'long', year: 'numeric' });
		$('c-title').textContent = title;
		$('c-truncated').hidden = !c.truncated;
		const grid = el('div', { class: 'cal-grid cal-' +
		    calView.mode, role: 'list' });
		const today = dayKey(new Date());
		const cap = calView.mode === 'week' ? 50 : 4;
		for (let i = 0; i < r.days; i++) {
			const d = addDays(r.from, i);
			const items = (byDay.get(dayKey(d)) || []).sort(
			    (x, y) => x.at - y.at);
			const cell = el('div', { class: 'cal-day' +
			    (dayKey(d) === today ? ' today' : '') +
			    (calView.mode === 'month' && d.getMonth() !==
			    calView.anchor.getMonth() ? ' other' : ''),
			    role: 'listitem', 'data-day': dayKey(d) },
			    el('div', { class: 'cal-date', text:
			    d.toLocaleDateString(undefined, { weekday: 'short',
			    day: 'numeric', month: calView.mode === 'week' ?
			    'short' : undefined }) }));
			const shown = calGroup(items);
			for (const it of shown.slice(0, cap))
				cell.append(calEntry(it));
			if (shown.length > cap)
				cell.append(el('span', { class: 'more',
				    text: '+' + (shown.length - cap) +
				    ' more' }));
			grid.append(cell);
		}
		clear($('calendar')).append(grid);
	}

	function calMove(n) {
		const a = calView.anchor;
		calView.anchor = calView.mode === 'week' ? addDays(a, 7 * n) :
		    new Date(a.getFullYear(), a.getMonth() + n, 1);
		schedulePoll(0);
	}

	function calMode(m) {
		calView.mode = m;
		$('c-week').setAttribute('aria-pressed', m === 'week');
		$('c-month').setAttribute('aria-pressed', m === 'month');
		schedulePoll(0);
	}

	/* ---- limits ---- */

	async function loadLimits() {
		const gen = pollGen;
		const [vals, fields] = await Promise.all([
		    api('GET', 'limits'), api('GET', 'limits/fields')]);
		if (gen !== pollGen)
			return;
		const edit = may('admin');
		$('limits-note').textContent = edit ? 'Changes apply to ' +
		    'running jobs within seconds and are audited.' :
		    'Only an admin may change limits.';
		const rows = fields.fields.map((f) => {
			const v = vals[f.name];
			const id = 'l-' + f.name;
			const input = f.type === 'map' ?
			    el('input', { id: id, value: JSON.stringify(v ||
				{}), spellcheck: 'false', disabled: !edit }) :
			    el('input', { id: id, type: 'number',
				min: f.min, max: f.max || null,
				value: String(v), disabled: !edit });
			const msg = el('span', { class: 'field-error',
			    id: 'le-' + f.name });
			input.setAttribute('aria-describedby', msg.id);
			const save = async () => {
				msg.textContent = '';
				let nv;
				try {
					nv = f.type === 'map' ?
					    JSON.parse(input.value) :
					    Number(input.value);
				} catch (e) {
					msg.textContent = 'not valid JSON';
					return;
				}
				try {
					await api('PUT', 'limits',
					    { [f.name]: nv });
					msg.textContent = 'saved';
					msg.className = 'field-ok';
				} catch (e) {
					msg.className = 'field-error';
					msg.textContent = e.message;
				}
			};
			input.addEventListener('keydown', (e) => {
				if (e.key === 'Enter')
					save();
			});
			return el('tr', { 'data-limit': f.name },
			    td('Limit', el('label', { for: id,
				text: f.name })),
			    td('Meaning', f.description),
			    td('Value', input, f.unit ? ' ' + f.unit : '',
				el('br'), msg),
			    td('', edit ? el('button', { type: 'button',
				text: 'Save', 'data-action': 'save',
				onclick: save }) : ''));
		});
		clear($('limits').tBodies[0]).append(...rows);
	}

	loaders.jobs = loadJobs;
	loaders.job = loadJob;
	loaders.schedules = loadSchedules;
	loaders.calendar = loadCalendar;
	loaders.limits = loadLimits;

	/* ---- wiring ---- */

	function init() {
		$('signin-form').addEventListener('submit', async (ev) => {
			ev.preventDefault();
			$('signin-error').textContent = '';
			const t = $('token').value.trim();
			try {
				await signIn(t);
				$('token').value = '';
			} catch (e) {
				$('signin-error').textContent = e.message;
			}
		});
		$('signout').addEventListener('click', () => signOut(''));
		$('f-state').addEventListener('change', () => {
			jobsView.state = $('f-state').value;
			jobsView.cursors = [];
			jobsView.before = null;
			schedulePoll(0);
		});
		$('f-kind').addEventListener('change', () => {
			jobsView.kind = $('f-kind').value;
			jobsView.cursors = [];
			jobsView.before = null;
			schedulePoll(0);
		});
		$('job-filter').addEventListener('submit',
		    (ev) => ev.preventDefault());
		$('p-older').addEventListener('click', () => {
			if (!jobsView.next)
				return;
			jobsView.cursors.push(jobsView.before);
			jobsView.before = jobsView.next;
			schedulePoll(0);
		});
		$('p-newer').addEventListener('click', () => {
			if (jobsView.cursors.length === 0)
				return;
			jobsView.before = jobsView.cursors.pop();
			schedulePoll(0);
		});
		$('sched-new').addEventListener('click', newSchedule);
		$('sched-form').addEventListener('submit', saveSchedule);
		$('sched-cancel').addEventListener('click', () => {
			editing = null;
			$('sched-form').hidden = true;
		});
		$('e-prev').addEventListener('click', () => {
			jobView.errOffset = Math.max(0, jobView.errOffset -
			    ERR_PAGE);
			schedulePoll(0);
		});
		$('e-next').addEventListener('click', () => {
			if (!jobView.errMore)
				return;
			jobView.errOffset += ERR_PAGE;
			schedulePoll(0);
		});
		$('c-week').addEventListener('click', () => calMode('week'));
		$('c-month').addEventListener('click', () => calMode('month'));
		$('c-prev').addEventListener('click', () => calMove(-1));
		$('c-next').addEventListener('click', () => calMove(1));
		$('c-today').addEventListener('click', () => {
			calView.anchor = startOfDay(new Date());
			schedulePoll(0);
		});
		window.addEventListener('hashchange', route);
		document.addEventListener('visibilitychange', () => {
			if (!document.hidden && me !== null)
				schedulePoll(0);
		});
		if (sessionStorage.getItem(TOKEN_KEY))
			signIn(sessionStorage.getItem(TOKEN_KEY)).catch(
			    (e) => signOut(e.message));
		else
			signOut('');
	}

	init();
})();
