/*
 * Warden progressive enhancements (plain ES2017, no build step, no modules).
 * Every page must work without this file; it only makes things a little nicer.
 *
 *  - <html> gets the class "js" (see .js-hide / .js-only in app.css).
 *  - data-confirm="Question?" on a button, link or <form>: asks before acting.
 *  - <select data-autosubmit>: submits its form on change (hide the fallback
 *    submit button with class "js-hide").
 *  - TOTP / one-time codes: inputs with autocomplete="one-time-code" or
 *    data-totp lose spaces and dashes on paste and on submit.
 *  - <time datetime="2024-05-01T10:00:00Z" data-relative>1 May 2024 10:00</time>
 *    shows "3 hours ago" in the page language (<html lang>); the original text
 *    moves to the title attribute. Refreshed every minute.
 *  - <button data-print>: prints the page.
 */
(function () {
  'use strict';

  var root = document.documentElement;
  root.classList.add('js');

  function closest(target, selector) {
    return target && target.closest ? target.closest(selector) : null;
  }

  /* Confirm dialogs ---------------------------------------------------- */

  document.addEventListener('click', function (e) {
    var el = closest(e.target, '[data-confirm]');
    if (!el || el.tagName === 'FORM') return;
    if (el.disabled || el.getAttribute('aria-disabled') === 'true') return;
    if (!window.confirm(el.getAttribute('data-confirm'))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    } else if (el.form) {
      // Do not ask a second time for the form's own data-confirm.
      el.form.setAttribute('data-confirmed', '');
    }
  }, true);

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !form.hasAttribute('data-confirm')) return;
    if (form.hasAttribute('data-confirmed')) {
      form.removeAttribute('data-confirmed');
      return;
    }
    if (!window.confirm(form.getAttribute('data-confirm'))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  /* Auto-submit selects ------------------------------------------------ */

  document.addEventListener('change', function (e) {
    var sel = e.target;
    if (!sel || sel.tagName !== 'SELECT' || !sel.hasAttribute('data-autosubmit')) return;
    var form = sel.form;
    if (!form) return;
    if (typeof form.requestSubmit === 'function') form.requestSubmit();
    else form.submit();
  });

  /* One-time codes ------------------------------------------------------ */

  var CODE_INPUT = 'input[autocomplete="one-time-code"], input[data-totp]';

  function cleanCode(input) {
    var v = input.value.replace(/[\s\u00a0\u2007\u202f-]+/g, '');
    if (v !== input.value) input.value = v;
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.querySelectorAll) return;
    var inputs = form.querySelectorAll(CODE_INPUT);
    for (var i = 0; i < inputs.length; i++) cleanCode(inputs[i]);
  }, true);

  document.addEventListener('paste', function (e) {
    var input = e.target;
    if (!input || !input.matches || !input.matches(CODE_INPUT)) return;
    // Let the paste happen, then tidy the value.
    window.setTimeout(function () { cleanCode(input); }, 0);
  });

  /* Relative times ---------------------------------------------------- */

  var UNITS = [
    ['year', 365 * 24 * 3600],
    ['month', 30 * 24 * 3600],
    ['week', 7 * 24 * 3600],
    ['day', 24 * 3600],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1]
  ];
  var rtf = null;

  function formatter() {
    if (rtf !== null) return rtf;
    rtf = false;
    if (typeof Intl !== 'undefined' && Intl.RelativeTimeFormat) {
      var lang = root.getAttribute('lang') || undefined;
      try {
        rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
      } catch (err) {
        rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
      }
    }
    return rtf;
  }

  function relative(date, now) {
    var f = formatter();
    if (!f) return null;
    var diff = (date.getTime() - now) / 1000; // negative = past
    var abs = Math.abs(diff);
    if (abs < 45) return f.format(0, 'second'); // "now"
    var sign = diff < 0 ? -1 : 1;
    var unit;
    if (abs < 45 * 60) unit = 'minute';
    else if (abs < 22 * 3600) unit = 'hour';
    else if (abs < 7 * 86400) unit = 'day';
    else if (abs < 28 * 86400) unit = 'week';
    else if (abs < 2 * 365 * 86400) unit = 'month';   // "20 months ago", not "2 years ago"
    else unit = 'year';
    var secs = UNITS.filter(function (u) { return u[0] === unit; })[0][1];
    var n = unit === 'year' ? Math.floor(abs / secs) : Math.max(1, Math.round(abs / secs));
    return f.format(sign * n, unit);
  }

  function renderTimes() {
    var now = Date.now();
    var els = document.querySelectorAll('time[datetime][data-relative]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var date = new Date(el.getAttribute('datetime'));
      if (isNaN(date.getTime())) continue;
      if (!el.hasAttribute('data-absolute')) {
        el.setAttribute('data-absolute', el.textContent.trim());
        if (!el.title) el.title = el.textContent.trim();
      }
      var text = relative(date, now);
      if (text) el.textContent = text;
    }
  }

  /* Print buttons ------------------------------------------------------ */

  document.addEventListener('click', function (e) {
    var el = closest(e.target, '[data-print]');
    if (!el) return;
    e.preventDefault();
    window.print();
  });

  /* Start --------------------------------------------------------------- */

  function start() {
    renderTimes();
    window.setInterval(renderTimes, 60 * 1000);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
