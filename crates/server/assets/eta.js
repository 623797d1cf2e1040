/*
 * The eTA page (/eta): progressive enhancements (plain ES2017, no build
 * step). The page works without this file: every form posts to the server.
 * With it:
 *  - the service worker is registered (the app installs and opens offline),
 *    and a notice says when the page shown is the saved copy;
 *  - new alerts appear without reloading (GET /api/v1/notifications?unread=true
 *    every data-poll-seconds, and when the page comes back into view), and are
 *    marked read in place (POST /api/v1/notifications/read);
 *  - "I am safe" / "I need help" post to POST /api/v1/me/wellbeing and the
 *    answer shows at once;
 *  - "Enrol this phone" posts to POST /api/v1/devices (platform web) and keeps
 *    the device token in this browser's localStorage, for this user only; the
 *    OwnTracks settings are shown once;
 *  - only after the person presses "Share my area", the position is sent to
 *    POST /api/v1/locations every data-share-minutes while the page is open
 *    (the choice is remembered until "Stop sharing"); the area shown follows.
 */
(function () {
  'use strict';

  var root = document.getElementById('eta');
  if (!root) return;

  var user = root.getAttribute('data-user');
  var T = {};
  var LEVELS = {};
  try { T = JSON.parse(root.getAttribute('data-texts') || '{}'); } catch (e) { T = {}; }
  try { LEVELS = JSON.parse(root.getAttribute('data-levels') || '{}'); } catch (e) { LEVELS = {}; }
  var POLL = Math.max(5, parseInt(root.getAttribute('data-poll-seconds') || '20', 10)) * 1000;
  var SHARE = Math.max(1, parseInt(root.getAttribute('data-share-minutes') || '5', 10)) * 60 * 1000;
  var DEVICE_KEY = 'warden.eta.device.' + user;
  var SHARE_KEY = 'warden.eta.share.' + user;

  function $(id) { return document.getElementById(id); }
  function t(key, args) {
    var s = T[key] || '';
    Object.keys(args || {}).forEach(function (k) { s = s.split('{' + k + '}').join(args[k]); });
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clock(d) {
    try {
      return d.toLocaleTimeString(document.documentElement.lang || undefined, {
        hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
      });
    } catch (e) {
      return d.toISOString().slice(11, 16);
    }
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: nothing kept */ }
  }
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  /** JSON over fetch; rejects with {status, detail} on a problem document. */
  function api(method, url, body, headers) {
    var h = { Accept: 'application/json' };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    if (body !== undefined) h['Content-Type'] = 'application/json';
    return fetch(url, {
      method: method,
      headers: h,
      credentials: h.Authorization ? 'omit' : 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) throw { status: r.status, detail: (data && data.detail) || String(r.status) };
        return data;
      });
    });
  }
  function problemText(err, fallback) {
    return (err && err.detail) ? err.detail : fallback;
  }
  /** `2026-03-01 18:00 UTC`, as the server writes times. */
  function utc(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  /* Offline: the service worker, and the saved copy --------------------- */

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/eta/sw.js', { scope: '/eta' }).catch(function () {});
  }
  function onlineState() {
    var banner = $('eta-offline');
    if (banner) banner.hidden = navigator.onLine !== false;
  }
  window.addEventListener('online', function () { onlineState(); poll(); });
  window.addEventListener('offline', onlineState);
  onlineState();

  /* Alerts ---------------------------------------------------------------- */

  var section = $('alerts');
  var list = $('alert-list');

  function unreadCount() {
    var n = list ? list.querySelectorAll('li.unread').length : 0;
    var badge = $('alerts-unread');
    if (badge) {
      badge.textContent = String(n);
      badge.setAttribute('data-count', String(n));
      badge.hidden = n === 0;
    }
    var jump = $('jump-unread');
    if (jump) {
      jump.textContent = String(n);
      jump.hidden = n === 0;
    }
    var all = $('read-all-form');
    if (all) all.hidden = n === 0;
    var empty = $('alerts-empty');
    if (empty) empty.hidden = !!(list && list.children.length);
  }

  function markReadForm(id) {
    var form = el('form');
    form.method = 'post';
    form.action = '/eta/read';
    var input = el('input');
    input.type = 'hidden';
    input.name = 'id';
    input.value = id;
    var b = el('button', 'button button-link button-small', section.getAttribute('data-mark-read') || t('js_mark_read'));
    b.type = 'submit';
    b.setAttribute('data-mark-read', '');
    form.appendChild(input);
    form.appendChild(b);
    return form;
  }

  function alertItem(n) {
    var li = el('li', 'notification unread');
    li.setAttribute('data-id', n.id);
    li.setAttribute('data-kind', n.kind);
    li.setAttribute('data-arrived', '');
    li.addEventListener('animationend', function () { li.removeAttribute('data-arrived'); });
    var subject = el('p', 'notification-subject');
    subject.dir = 'auto';
    subject.appendChild(el('span', 'badge badge-info', section.getAttribute('data-new') || t('js_new')));
    subject.appendChild(document.createTextNode(' '));
    if (n.link && n.link.charAt(0) === '/' && n.link.charAt(1) !== '/') {
      var a = el('a', '', n.subject);
      a.href = n.link;
      subject.appendChild(a);
    } else {
      subject.appendChild(document.createTextNode(n.subject));
    }
    li.appendChild(subject);
    var body = el('p', '', n.body);
    body.dir = 'auto';
    li.appendChild(body);
    var meta = el('div', 'notification-meta');
    var time = el('time', 'small muted', t('js_reported_now'));
    time.setAttribute('datetime', n.created_at);
    time.setAttribute('data-relative', '');
    time.title = utc(n.created_at);
    meta.appendChild(time);
    meta.appendChild(markReadForm(n.id));
    li.appendChild(meta);
    return li;
  }

  var polling = false;
  function poll() {
    if (!list || polling || document.hidden || navigator.onLine === false) return;
    polling = true;
    api('GET', '/api/v1/notifications?unread=true&limit=100')
      .then(function (page) {
        var items = ((page && page.items) || []).filter(function (n) {
          return typeof n.kind === 'string' && n.kind.indexOf('eta.') === 0;
        });
        // Oldest first, each on top: the newest ends first.
        for (var i = items.length - 1; i >= 0; i--) {
          var n = items[i];
          if (list.querySelector('li[data-id="' + n.id + '"]')) continue;
          list.insertBefore(alertItem(n), list.firstChild);
        }
        unreadCount();
        var status = $('alerts-status');
        if (status) status.textContent = t('js_checked', { time: clock(new Date()) });
      })
      .catch(function (err) {
        var status = $('alerts-status');
        if (status) status.textContent = err && err.status === 401 ? problemText(err, '') : t('js_check_failed');
      })
      .then(function () { polling = false; });
  }

  function markRead(ids, done) {
    return api('POST', '/api/v1/notifications/read', { ids: ids }).then(function () {
      ids.forEach(function (id) {
        var li = list.querySelector('li[data-id="' + id + '"]');
        if (!li) return;
        li.classList.remove('unread');
        var badge = li.querySelector('.notification-subject .badge');
        if (badge) {
          var next = badge.nextSibling;
          if (next && next.nodeType === 3) next.parentNode.removeChild(next);
          badge.parentNode.removeChild(badge);
        }
        var form = li.querySelector('form');
        if (form) form.parentNode.removeChild(form);
      });
      unreadCount();
      if (done) done();
    });
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!list || !form || !form.getAttribute) return;
    if (form.getAttribute('action') !== '/eta/read') return;
    var input = form.querySelector('input[name="id"]');
    var ids = input ? [input.value] : Array.prototype.map.call(list.querySelectorAll('li.unread'), function (li) {
      return li.getAttribute('data-id');
    });
    e.preventDefault();
    if (!ids.length) return;
    markRead(ids).catch(function () { form.submit(); });
  });

  if (list) {
    window.setInterval(poll, POLL);
    document.addEventListener('visibilitychange', function () { if (!document.hidden) poll(); });
  }

  /* I am safe / I need help -------------------------------------------------- */

  var wbForm = $('wellbeing-form');
  function showAnswer(w) {
    var box = $('wellbeing-latest');
    if (!box) return;
    box.textContent = '';
    var p = el('p');
    p.appendChild(document.createTextNode(t('wellbeing_latest') + ' '));
    var badge = el('span', 'badge ' + (w.status === 'safe' ? 'badge-success' : 'badge-danger'), t(w.status));
    badge.id = 'wellbeing-status';
    badge.setAttribute('data-status', w.status);
    p.appendChild(badge);
    p.appendChild(document.createTextNode(' '));
    var time = el('time', 'small muted', t('js_saved_answer', { time: clock(new Date(w.at)) }));
    time.setAttribute('datetime', w.at);
    p.appendChild(time);
    box.appendChild(p);
    if (w.dependants && w.dependants.length) {
      var ul = el('ul', 'eta-dependants');
      w.dependants.forEach(function (d) {
        var li = el('li', '', d.name + ': ');
        li.appendChild(el('span', 'badge ' + (d.status === 'safe' ? 'badge-success' : 'badge-danger'), t(d.status)));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    if (w.note) {
      var note = el('p', 'small', w.note);
      note.dir = 'auto';
      box.appendChild(note);
    }
  }
  function wellbeingError(text) {
    var box = $('wellbeing-error');
    if (!box) {
      box = el('p', 'field-error');
      box.id = 'wellbeing-error';
      box.setAttribute('role', 'alert');
      wbForm.insertBefore(box, wbForm.firstChild);
    }
    box.textContent = text;
    box.hidden = !text;
  }
  if (wbForm) {
    wbForm.addEventListener('submit', function (e) {
      var button = e.submitter;
      if (!button || button.name !== 'status') return; // old browsers: the form posts
      e.preventDefault();
      var dependants = [];
      Array.prototype.forEach.call(wbForm.querySelectorAll('.eta-dependant'), function (row) {
        var name = row.querySelector('input[name="dep_name"]');
        var status = row.querySelector('select[name="dep_status"]');
        if (status && status.value) dependants.push({ name: name ? name.value : '', status: status.value });
      });
      var note = wbForm.querySelector('textarea[name="note"]');
      var buttons = wbForm.querySelectorAll('button[name="status"]');
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      api('POST', '/api/v1/me/wellbeing', {
        status: button.value,
        dependants: dependants,
        note: note ? note.value : ''
      }).then(function (w) {
        wellbeingError('');
        showAnswer(w);
        if (note) note.value = '';
      }).catch(function (err) {
        wellbeingError(problemText(err, t('js_answer_failed')));
      }).then(function () {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      });
    });
  }

  /* This phone: enrolment and sharing the area ----------------------------------- */

  var enrolForm = $('enrol-form');
  var enrolled = $('device-enrolled');
  var shareTimer = 0;

  function device() {
    try { return JSON.parse(load(DEVICE_KEY) || 'null'); } catch (e) { return null; }
  }

  function shareResult(text) {
    var r = $('share-result');
    if (r) r.textContent = text;
  }

  function sharingUi(on) {
    var status = $('sharing-status');
    if (status) {
      status.textContent = on ? t('js_sharing_on') : t('js_sharing_off');
      status.className = 'badge ' + (on ? 'badge-success' : 'badge-muted');
      status.setAttribute('data-sharing', on ? 'on' : 'off');
    }
    var start = $('share-start');
    var stop = $('share-stop');
    var once = $('share-once');
    if (start) start.hidden = on;
    if (stop) stop.hidden = !on;
    if (once) once.hidden = !on;
  }

  function showEnrolled(d) {
    if (!enrolled) return;
    enrolled.hidden = !d;
    if (enrolForm) enrolForm.hidden = !!d;
    var name = $('device-name');
    if (name && d) name.textContent = t('js_enrolled_as', { name: d.name });
  }

  function forget(message) {
    stopSharing(true);
    store(DEVICE_KEY, null);
    showEnrolled(null);
    var err = $('enrol-error');
    if (err && message) {
      err.textContent = message;
      err.hidden = false;
    }
  }

  function level(n) {
    return n ? { cls: 'level-' + n, label: LEVELS[String(n)] || String(n), num: String(n) } : null;
  }

  /** Shows the area of GET /api/v1/me/location. */
  function refreshArea() {
    return api('GET', '/api/v1/me/location').then(function (loc) {
      if (!loc) return;
      var card = $('my-area');
      var fresh = $('area-fresh');
      var reported = $('area-reported');
      if (reported && loc.reported_at) {
        reported.setAttribute('datetime', loc.reported_at);
        reported.textContent = t('js_reported_now');
        reported.title = utc(loc.reported_at);
      }
      var since = $('area-since');
      if (since && loc.since) {
        since.setAttribute('datetime', loc.since);
        since.textContent = utc(loc.since);
        $('area-since-wrap').hidden = false;
      }
      if (fresh) {
        fresh.classList.toggle('eta-stale', !loc.fresh);
        fresh.setAttribute('data-fresh', loc.fresh ? 'true' : 'false');
        var stale = $('area-stale');
        if (stale && loc.fresh) {
          var br = stale.previousElementSibling;
          if (br && br.tagName === 'BR') br.parentNode.removeChild(br);
          stale.parentNode.removeChild(stale);
        }
      }
      var a = loc.area;
      var known = $('area-known');
      var empty = $('area-empty');
      if (!a) return;
      if (known) known.hidden = false;
      if (empty) empty.hidden = true;
      if (card.getAttribute('data-area') === a.code) return;
      // A new area: its name, level and advisory.
      card.setAttribute('data-area', a.code);
      var name = $('area-name');
      if (name) {
        name.textContent = a.name || a.code;
        name.href = '/areas/' + encodeURIComponent(a.code);
      }
      var code = $('area-code');
      if (code) code.textContent = a.code;
      var lv = level(a.level);
      card.className = card.className.replace(/\blevel-(\d|none)\b/g, '').trim() + ' ' + (lv ? lv.cls : 'level-none');
      var badge = $('area-level');
      if (badge) {
        badge.className = 'badge badge-large ' + (lv ? lv.cls : 'level-none');
        badge.setAttribute('data-level', lv ? lv.num : '');
        badge.textContent = '';
        if (lv) {
          badge.appendChild(el('span', 'badge-num', lv.num));
          badge.appendChild(document.createTextNode(' ' + lv.label));
        } else {
          badge.textContent = LEVELS.none || '';
        }
      }
      var adv = $('area-advisory');
      if (adv) {
        adv.textContent = '';
        adv.appendChild(el('h3', '', t('advisory')));
        var text = el('p', a.advisory ? '' : 'muted', a.advisory || t('no_advisory'));
        text.id = 'advisory-text';
        adv.appendChild(text);
      }
    });
  }

  function send() {
    var d = device();
    if (!d || !navigator.geolocation) return;
    shareResult(t('js_sending'));
    navigator.geolocation.getCurrentPosition(function (pos) {
      var report = {
        lat: pos.coords.latitude,
        lon: pos.coords.longitude,
        tst: Math.floor((pos.timestamp || Date.now()) / 1000)
      };
      if (typeof pos.coords.accuracy === 'number' && isFinite(pos.coords.accuracy)) report.acc = pos.coords.accuracy;
      api('POST', '/api/v1/locations', { reports: [report] }, { Authorization: 'Bearer ' + d.token })
        .then(function (out) {
          var area = out && out.area;
          shareResult(area ? t('js_sent', { area: area.name || area.code, time: clock(new Date()) })
            : t('js_sent_outside', { time: clock(new Date()) }));
          return refreshArea();
        })
        .catch(function (err) {
          if (err && err.status === 401) forget(t('js_revoked'));
          else shareResult(problemText(err, t('js_send_failed')));
        });
    }, function (err) {
      if (err && err.code === 1) {
        shareResult(t('js_geo_denied'));
        stopSharing(false);
      } else {
        shareResult(t('js_geo_unavailable'));
      }
    }, { enableHighAccuracy: false, timeout: 30000, maximumAge: 60000 });
  }

  function startSharing() {
    if (!device() || !navigator.geolocation) {
      shareResult(t('js_geo_unavailable'));
      return;
    }
    store(SHARE_KEY, '1');
    sharingUi(true);
    window.clearInterval(shareTimer);
    shareTimer = window.setInterval(send, SHARE);
    send();
  }

  function stopSharing(quiet) {
    window.clearInterval(shareTimer);
    shareTimer = 0;
    store(SHARE_KEY, null);
    sharingUi(false);
    if (!quiet) shareResult('');
  }

  if (enrolForm) {
    enrolForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var name = $('enrol-name');
      var code = $('enrol-totp');
      var err = $('enrol-error');
      var button = $('enrol');
      if (button) button.disabled = true;
      api('POST', '/api/v1/devices', {
        name: name ? name.value : '',
        platform: 'web',
        totp: code ? code.value.replace(/[\s-]+/g, '') : ''
      }).then(function (out) {
        store(DEVICE_KEY, JSON.stringify({ id: out.device.id, name: out.device.name, token: out.token }));
        if (err) err.hidden = true;
        if (code) code.value = '';
        showEnrolled(device());
        sharingUi(false);
        // The OwnTracks settings, this once.
        var box = $('owntracks');
        var tok = $('owntracks-token');
        if (box && tok) {
          $('owntracks-url').textContent = out.owntracks.url;
          $('owntracks-username').textContent = out.owntracks.username;
          tok.textContent = out.owntracks.password;
          box.hidden = false;
        }
      }).catch(function (e2) {
        if (err) {
          err.textContent = problemText(e2, t('js_enrol_failed'));
          err.hidden = false;
        }
      }).then(function () {
        if (button) button.disabled = false;
      });
    });
  }

  var startButton = $('share-start');
  if (startButton) startButton.addEventListener('click', startSharing);
  var stopButton = $('share-stop');
  if (stopButton) stopButton.addEventListener('click', function () { stopSharing(false); });
  var onceButton = $('share-once');
  if (onceButton) onceButton.addEventListener('click', send);

  // A device kept in this browser: still one of the person's devices?
  var kept = device();
  if (kept && enrolled) {
    var listed = document.querySelector('#device-list li[data-device="' + kept.id + '"]');
    if (!listed) {
      forget('');
    } else {
      showEnrolled(kept);
      sharingUi(false);
      // Sharing resumes only if the person chose it on this phone and has not stopped it.
      if (load(SHARE_KEY) === '1') startSharing();
    }
  }
  unreadCount();
})();
