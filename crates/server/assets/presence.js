/*
 * Who is where (plain ES2017, no build step, no modules).
 *
 * 1. The presence map: every
 *
 *      <div class="presence-map" data-geojson-url="/api/v1/map/areas.geojson?country=AF"
 *           data-counts='{"AF-KAB":{"present":12,"flagged":2,"bucket":2,"name":"Kabul"}}'
 *           data-url-template="/areas/{code}/headcount" data-fit="bounds|data"
 *           data-people-word="people" data-flagged-word="flagged"
 *           data-loading-label="…" data-error-label="…" data-attribution="…"></div>
 *
 *    becomes a Leaflet map without tiles (works offline): each area filled by
 *    the class of its count (--presence-0 … --presence-5 of presence.css),
 *    flagged areas outlined in --presence-flagged; clicking an area opens its
 *    headcount. The table under the map holds the same figures without
 *    JavaScript.
 *
 * 2. The roll-call board: <div id="board" data-events-url="…/events"
 *    data-board-url="/roll-calls/{id}" data-state="open"> listens to the
 *    server-sent `tally` events; when the totals change it updates them at
 *    once and fetches the page again for the per-agency counts and the
 *    people to chase, replacing them in place (no reload). When the roll
 *    call is closed the stream ends and the page shows it closed.
 */
(function () {
  'use strict';

  function cssVar(el, name, fallback) {
    var v = window.getComputedStyle(el).getPropertyValue(name);
    v = v ? v.trim() : '';
    return v || fallback;
  }

  function setStatus(el, text, isError) {
    var p = el.querySelector(':scope > .level-map-status');
    if (!text) {
      if (p) p.parentNode.removeChild(p);
      return;
    }
    if (!p) {
      p = document.createElement('p');
      p.className = 'level-map-status';
      el.appendChild(p);
    }
    p.setAttribute('role', isError ? 'alert' : 'status');
    p.textContent = text;
  }

  function initMap(el) {
    if (typeof L === 'undefined' || el.dataset.ready) return;
    el.dataset.ready = '1';
    var counts = {};
    try {
      counts = JSON.parse(el.dataset.counts || '{}');
    } catch (e) {
      counts = {};
    }
    var colours = [];
    for (var i = 0; i <= 5; i++) colours.push(cssVar(el, '--presence-' + i, '#ccc'));
    var flaggedColour = cssVar(el, '--presence-flagged', '#b3261e');
    var border = cssVar(el, '--map-border', '#ffffff');
    var rtl = window.getComputedStyle(el).direction === 'rtl';
    var map = L.map(el, {
      zoomControl: true,
      attributionControl: !!el.dataset.attribution,
      worldCopyJump: false,
      minZoom: 1,
      maxZoom: 10,
      zoomSnap: 0.25
    });
    if (el.dataset.attribution) {
      map.attributionControl.setPrefix(false);
      map.attributionControl.addAttribution(el.dataset.attribution);
    }
    map.fitBounds([[-56, -168], [76, 190]]);
    setStatus(el, el.dataset.loadingLabel || 'Loading map…', false);
    fetch(el.dataset.geojsonUrl, { credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (geo) {
        setStatus(el, null);
        var withPeople = [];
        var layer = L.geoJSON(geo, {
          style: function (f) {
            var c = counts[f.properties.code];
            var b = c ? c.bucket : 0;
            var flagged = c && c.flagged > 0;
            return {
              fillColor: colours[b] || colours[0],
              fillOpacity: c ? 0.9 : 0.55,
              color: flagged ? flaggedColour : border,
              weight: flagged ? 2.5 : 0.6,
              dashArray: flagged ? '4 3' : null
            };
          },
          onEachFeature: function (f, l) {
            var p = f.properties;
            var c = counts[p.code];
            var text = (c && c.name) || p.name;
            text += ' \u2014 ' + (c ? c.present : 0) + ' ' + (el.dataset.peopleWord || 'people');
            if (c && c.flagged > 0) text += ' (' + c.flagged + ' ' + (el.dataset.flaggedWord || 'flagged') + ')';
            l.bindTooltip(text, { sticky: true, direction: 'auto' });
            if (c) withPeople.push(l);
            l.on('click', function () {
              var t = el.dataset.urlTemplate;
              if (t) window.location.href = t.split('{code}').join(encodeURIComponent(p.code));
            });
            l.on('mouseover', function () { l.setStyle({ weight: 3, color: '#0b0c0c' }); });
            l.on('mouseout', function () { layer.resetStyle(l); });
          }
        }).addTo(map);
        var bounds = null;
        if (el.dataset.fit === 'data' && withPeople.length) {
          bounds = L.featureGroup(withPeople).getBounds();
        } else if (el.dataset.fit !== 'data') {
          bounds = layer.getBounds();
        }
        if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 8 });
        el.dataset.loaded = String(Object.keys(layer._layers).length);
      })
      .catch(function () {
        setStatus(el, el.dataset.errorLabel || 'The map could not be loaded.', true);
      });
    if (rtl) el.setAttribute('dir', 'ltr');
    // For scripts and tests that need the map (e.g. to click a place).
    el.presenceMap = map;
    return map;
  }

  function setText(id, v) {
    var e = document.getElementById(id);
    if (e && e.textContent !== String(v)) {
      e.textContent = String(v);
      return true;
    }
    return false;
  }

  function pct(n, of) {
    return of > 0 ? Math.round((n * 100) / of) : 0;
  }

  function refreshBoard(board) {
    return fetch(board.dataset.boardUrl, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        ['board-detail', 'board-state', 'board-live'].forEach(function (id) {
          var fresh = doc.getElementById(id);
          var old = document.getElementById(id);
          if (fresh && old) {
            old.innerHTML = fresh.innerHTML;
            if (fresh.dataset.state) old.dataset.state = fresh.dataset.state;
            old.className = fresh.className;
          }
        });
        var closeNew = doc.getElementById('close');
        var closeOld = document.getElementById('close');
        if (!closeNew && closeOld) closeOld.parentNode.removeChild(closeOld);
      })
      .catch(function () { /* the totals are up to date; the rest waits for the next event */ });
  }

  function initBoard(board) {
    if (!board.dataset.eventsUrl || board.dataset.state !== 'open' || !window.EventSource) return;
    var es = new EventSource(board.dataset.eventsUrl, { withCredentials: true });
    es.addEventListener('tally', function (ev) {
      var t;
      try {
        t = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      var total = t.accounted + t.needs_help + t.no_answer;
      var changed = false;
      changed = setText('tally-accounted', t.accounted) || changed;
      changed = setText('tally-needs-help', t.needs_help) || changed;
      changed = setText('tally-no-answer', t.no_answer) || changed;
      changed = setText('tally-people', total) || changed;
      var ok = document.getElementById('progress-ok');
      var help = document.getElementById('progress-help');
      if (ok) ok.style.inlineSize = pct(t.accounted, total) + '%';
      if (help) help.style.inlineSize = pct(t.needs_help, total) + '%';
      var nh = document.getElementById('stat-needs-help');
      if (nh) nh.classList.toggle('stat-alert', t.needs_help > 0);
      var closed = t.state === 'closed';
      if (changed || closed) {
        board.classList.remove('is-updated');
        void board.offsetWidth;
        board.classList.add('is-updated');
        board.dataset.updates = String((parseInt(board.dataset.updates || '0', 10) || 0) + 1);
        refreshBoard(board);
      }
      if (closed) {
        board.dataset.state = 'closed';
        es.close();
      }
    });
    es.onerror = function () {
      // The stream ends once the roll call is closed; EventSource retries otherwise.
      if (board.dataset.state === 'closed') es.close();
    };
    window.addEventListener('pagehide', function () { es.close(); });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('.presence-map'), initMap);
    var board = document.getElementById('board');
    if (board) initBoard(board);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
