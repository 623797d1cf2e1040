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
 *  - <input data-place-search="/api/v1/places">: suggests places (airports,
 *    cities, areas) as the user types, in an ARIA combobox list; picking one
 *    puts its submittable value in the field. Texts come from data-kind-*,
 *    data-in-area, data-no-area and data-no-match on the enclosing
 *    [data-legs] (or any ancestor carrying them).
 *  - [data-legs] with fieldset[data-leg] items: [data-leg-add] and
 *    [data-leg-remove] buttons (which submit to the server without JS) add
 *    and remove legs in place; the new leg starts where the last one ended.
 *  - Signing out deletes the eTA's offline copy of /eta (Cache Storage).
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

  /* Place suggestions (combobox) -------------------------------------------- */

  var PLACE_INPUT = 'input[data-place-search]';
  var place = { input: null, list: null, items: [], active: -1, timer: 0, seq: 0 };
  var listId = 'place-suggestions';

  function texts(input) {
    var el = closest(input, '[data-kind-city]');
    var get = function (name, fallback) {
      return (el && el.getAttribute(name)) || fallback;
    };
    return {
      airport: get('data-kind-airport', 'Airport'),
      city: get('data-kind-city', 'City'),
      area: get('data-kind-area', 'Area'),
      inArea: get('data-in-area', 'in {area}'),
      noArea: get('data-no-area', ''),
      noMatch: get('data-no-match', '')
    };
  }

  function prepare(input) {
    if (input.hasAttribute('role')) return;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
  }

  function closeList() {
    if (place.list && place.list.parentNode) place.list.parentNode.removeChild(place.list);
    if (place.input) {
      place.input.setAttribute('aria-expanded', 'false');
      place.input.removeAttribute('aria-activedescendant');
      place.input.removeAttribute('aria-controls');
    }
    place.list = null;
    place.items = [];
    place.active = -1;
  }

  function setActive(i) {
    if (!place.list) return;
    var opts = place.list.querySelectorAll('[role="option"]');
    if (!opts.length) return;
    place.active = (i + opts.length) % opts.length;
    for (var k = 0; k < opts.length; k++) {
      opts[k].setAttribute('aria-selected', k === place.active ? 'true' : 'false');
    }
    var cur = opts[place.active];
    place.input.setAttribute('aria-activedescendant', cur.id);
    if (cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest' });
  }

  function choose(i) {
    var item = place.items[i];
    var input = place.input;
    if (!item || !input) return;
    input.value = item.value;
    closeList();
    input.dispatchEvent(new Event('change', { bubbles: true }));
    input.focus();
  }

  function showList(input, items) {
    closeList();
    place.input = input;
    place.items = items;
    var t = texts(input);
    var ul = document.createElement('ul');
    ul.id = listId;
    ul.className = 'place-suggestions';
    ul.setAttribute('role', 'listbox');
    if (!items.length) {
      if (!t.noMatch) return;
      var none = document.createElement('li');
      none.className = 'place-suggestion-none';
      none.textContent = t.noMatch;
      ul.appendChild(none);
    }
    items.forEach(function (item, i) {
      var li = document.createElement('li');
      li.id = listId + '-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      li.setAttribute('data-value', item.value);
      var name = document.createElement('span');
      name.className = 'place-suggestion-label';
      name.textContent = item.label;
      var meta = document.createElement('span');
      meta.className = 'place-suggestion-meta';
      var where = item.area ? t.inArea.replace('{area}', item.area) : t.noArea;
      meta.textContent = [t[item.kind] || item.kind, where].filter(Boolean).join(' · ');
      li.appendChild(name);
      li.appendChild(meta);
      // mousedown, not click: the input keeps the focus.
      li.addEventListener('mousedown', function (e) {
        e.preventDefault();
        choose(i);
      });
      ul.appendChild(li);
    });
    (closest(input, '.place-field') || input.parentNode).appendChild(ul);
    place.list = ul;
    input.setAttribute('aria-controls', listId);
    input.setAttribute('aria-expanded', 'true');
  }

  function lookUp(input) {
    var q = input.value.trim();
    if (q.length < 2) {
      closeList();
      return;
    }
    var mine = ++place.seq;
    var url = input.getAttribute('data-place-search') + '?limit=8&q=' + encodeURIComponent(q);
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) {
        // Only the latest answer, and only while the field still has the focus.
        if (mine !== place.seq || document.activeElement !== input) return;
        showList(input, Array.isArray(items) ? items : []);
      })
      .catch(function () {});
  }

  document.addEventListener('focusin', function (e) {
    if (e.target && e.target.matches && e.target.matches(PLACE_INPUT)) prepare(e.target);
  });

  document.addEventListener('input', function (e) {
    var input = e.target;
    if (!input || !input.matches || !input.matches(PLACE_INPUT)) return;
    prepare(input);
    window.clearTimeout(place.timer);
    place.timer = window.setTimeout(function () { lookUp(input); }, 150);
  });

  document.addEventListener('keydown', function (e) {
    var input = e.target;
    if (!input || !input.matches || !input.matches(PLACE_INPUT)) return;
    var open = place.list && place.input === input && place.items.length > 0;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!open) return;
      e.preventDefault();
      setActive(place.active + (e.key === 'ArrowDown' ? 1 : -1));
    } else if (e.key === 'Enter') {
      if (open && place.active >= 0) {
        e.preventDefault();
        choose(place.active);
      }
    } else if (e.key === 'Escape') {
      if (place.list) {
        e.preventDefault();
        closeList();
      }
    }
  });

  document.addEventListener('focusout', function (e) {
    if (e.target === place.input) {
      place.seq++; // a late answer must not reopen the list
      closeList();
    }
  });

  /* Itinerary legs ------------------------------------------------------ */

  function legsOf(container) {
    return Array.prototype.filter.call(container.querySelectorAll('[data-leg]'), function (el) {
      return closest(el, '[data-legs]') === container;
    });
  }

  // Ids, labels, titles and button values follow the legs' order.
  function renumber(container) {
    var legs = legsOf(container);
    var title = container.getAttribute('data-leg-title') || '{n}';
    legs.forEach(function (leg, i) {
      leg.id = 'leg-' + i;
      var legend = leg.querySelector('legend');
      if (legend) legend.textContent = title.replace('{n}', String(i + 1));
      Array.prototype.forEach.call(leg.querySelectorAll('[id^="leg-"]'), function (el) {
        el.id = el.id.replace(/^leg-\d+-/, 'leg-' + i + '-');
      });
      Array.prototype.forEach.call(leg.querySelectorAll('label[for^="leg-"]'), function (el) {
        el.setAttribute('for', el.getAttribute('for').replace(/^leg-\d+-/, 'leg-' + i + '-'));
      });
      Array.prototype.forEach.call(leg.querySelectorAll('[aria-describedby^="leg-"]'), function (el) {
        el.setAttribute('aria-describedby', el.getAttribute('aria-describedby').replace(/leg-\d+-/g, 'leg-' + i + '-'));
      });
      var remove = leg.querySelector('[data-leg-remove]');
      if (remove) {
        remove.value = 'remove-' + i;
        remove.hidden = legs.length < 2;
      }
    });
    var add = container.querySelector('[data-leg-add]');
    var max = parseInt(container.getAttribute('data-max') || '50', 10);
    if (add) add.disabled = legs.length >= max;
  }

  function addLeg(container) {
    var legs = legsOf(container);
    var last = legs[legs.length - 1];
    if (!last) return;
    var leg = last.cloneNode(true);
    // A fresh leg: no values, no error marks.
    Array.prototype.forEach.call(leg.querySelectorAll('.field-error'), function (el) {
      el.parentNode.removeChild(el);
    });
    Array.prototype.forEach.call(leg.querySelectorAll('.has-error'), function (el) {
      el.classList.remove('has-error');
    });
    Array.prototype.forEach.call(leg.querySelectorAll('input'), function (el) {
      el.value = '';
      el.removeAttribute('aria-invalid');
      el.removeAttribute('aria-describedby');
    });
    Array.prototype.forEach.call(leg.querySelectorAll('.place-suggestions'), function (el) {
      el.parentNode.removeChild(el);
    });
    last.parentNode.insertBefore(leg, last.nextSibling);
    renumber(container);
    // The next leg starts where the last one ended.
    var from = leg.querySelector('input[name="from"]');
    var prevTo = last.querySelector('input[name="to"]');
    if (from && prevTo) from.value = prevTo.value;
    var focus = leg.querySelector(from && from.value ? 'input[name="to"]' : 'input');
    if (focus) focus.focus();
  }

  function removeLeg(container, leg) {
    var legs = legsOf(container);
    if (legs.length < 2) return;
    var i = legs.indexOf(leg);
    leg.parentNode.removeChild(leg);
    renumber(container);
    var rest = legsOf(container);
    var next = rest[Math.min(i, rest.length - 1)];
    var focus = next && next.querySelector('input');
    if (focus) focus.focus();
  }

  function enhanceLegs() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-legs]'), function (container) {
      // The buttons submit to the server without JavaScript; here they act in place.
      Array.prototype.forEach.call(container.querySelectorAll('[data-leg-add], [data-leg-remove]'), function (b) {
        b.type = 'button';
      });
      renumber(container);
    });
  }

  document.addEventListener('click', function (e) {
    var add = closest(e.target, '[data-leg-add]');
    var remove = closest(e.target, '[data-leg-remove]');
    var button = add || remove;
    if (!button || button.type !== 'button') return;
    var container = closest(button, '[data-legs]');
    if (!container) return;
    e.preventDefault();
    if (add) addLeg(container);
    else removeLeg(container, closest(button, '[data-leg]'));
  });

  /* Sign-out: the eTA's saved page goes too ------------------------------- */

  // The eTA's service worker keeps the last /eta page for offline use; it is
  // the person's, so signing out on this device deletes it before leaving.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.getAttribute || form.getAttribute('action') !== '/logout') return;
    if (!window.caches || form.hasAttribute('data-cleared')) return;
    e.preventDefault();
    form.setAttribute('data-cleared', '');
    var gone = false;
    var go = function () {
      if (gone) return;
      gone = true;
      form.submit();
    };
    var timer = window.setTimeout(go, 1500);
    window.caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf('warden-eta-') === 0; })
        .map(function (k) { return window.caches.delete(k); }));
    }).catch(function () {}).then(function () {
      window.clearTimeout(timer);
      go();
    });
  });

  /* Start --------------------------------------------------------------- */

  function start() {
    enhanceLegs();
    renderTimes();
    window.setInterval(renderTimes, 60 * 1000);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
