/*
 * Warden level map (plain ES2017, no build step, no modules).
 *
 * Turns every
 *
 *   <div class="level-map"
 *        data-geojson-url="/areas.geojson"
 *        data-area-url-template="/areas/{code}"
 *        data-fit="bounds"                      (or "world"; default "bounds")
 *        data-legend-title="Security level"
 *        data-level-labels='{"1":"Minimal","2":"Low","3":"Moderate","4":"Substantial","5":"High","6":"Extreme"}'
 *        data-no-level-label="No level">
 *   </div>
 *
 * into a Leaflet map without any tile layer (the container's CSS background is
 * the sea, so it works offline). Optional attributes:
 *
 *   data-level-word="Level"          word used in tooltips: "Name — Level 4 Substantial"
 *   data-loading-label="Loading map…"
 *   data-error-label="The map could not be loaded."
 *   data-focus-code="SOM-BAN"        outline this area and fit the map to it
 *   data-attribution="Boundaries: …" show an attribution line (plain text)
 *
 * Each GeoJSON feature needs properties: code, name, country, level (1-6 or
 * null) and optionally level_label (overrides the label for that feature).
 *
 * Colours come from the CSS custom properties --level-1 … --level-6,
 * --level-none, --map-border and --map-hover (app.css), so they live in one place.
 *
 * Public API: window.WardenMap.init(el) -> Leaflet map (or null), and
 * window.WardenMap.initAll(). All .level-map elements are initialised on
 * DOMContentLoaded.
 */
(function () {
  'use strict';

  var LEVELS = [1, 2, 3, 4, 5, 6];
  var DEFAULT_LABELS = {
    1: 'Minimal', 2: 'Low', 3: 'Moderate', 4: 'Substantial', 5: 'High', 6: 'Extreme'
  };
  var FALLBACK_COLOURS = {
    1: '#2e7d32', 2: '#8bc34a', 3: '#fbc02d', 4: '#f57c00', 5: '#d32f2f', 6: '#4a0010',
    none: '#b7bec7', border: '#ffffff', hover: '#0b0c0c'
  };
  // Whole-world view used for data-fit="world" (and when there is no data).
  var WORLD_BOUNDS = [[-56, -168], [76, 190]];

  function cssVar(el, name, fallback) {
    var v = window.getComputedStyle(el).getPropertyValue(name);
    v = v ? v.trim() : '';
    return v || fallback;
  }

  function readColours(el) {
    var c = {};
    LEVELS.forEach(function (n) {
      c[n] = cssVar(el, '--level-' + n, FALLBACK_COLOURS[n]);
    });
    c.none = cssVar(el, '--level-none', FALLBACK_COLOURS.none);
    c.border = cssVar(el, '--map-border', FALLBACK_COLOURS.border);
    c.hover = cssVar(el, '--map-hover', FALLBACK_COLOURS.hover);
    return c;
  }

  function readLabels(el) {
    var labels = {};
    var parsed = null;
    if (el.dataset.levelLabels) {
      try {
        parsed = JSON.parse(el.dataset.levelLabels);
      } catch (e) {
        parsed = null;
      }
    }
    LEVELS.forEach(function (n) {
      labels[n] = (parsed && (parsed[n] || parsed[String(n)])) || DEFAULT_LABELS[n];
    });
    return labels;
  }

  // 1-6 as a number, or null for anything else.
  function normLevel(v) {
    if (v === null || v === undefined || v === '') return null;
    var n = typeof v === 'number' ? v : parseInt(String(v), 10);
    return n >= 1 && n <= 6 && Math.floor(n) === n ? n : null;
  }

  function isRtl(el) {
    return window.getComputedStyle(el).direction === 'rtl';
  }

  function reducedMotion() {
    return !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
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
    p.classList.toggle('is-error', !!isError);
    p.textContent = text;
  }

  function areaUrl(template, code) {
    if (!template || code === null || code === undefined || code === '') return null;
    return template.split('{code}').join(encodeURIComponent(String(code)));
  }

  function makeLegend(el, opts) {
    var legend = L.control({ position: opts.rtl ? 'bottomleft' : 'bottomright' });
    legend.onAdd = function () {
      // A <details> so that the legend can be folded away on small maps.
      var div = L.DomUtil.create('details', 'map-legend');
      div.setAttribute('dir', opts.rtl ? 'rtl' : 'ltr');
      div.open = el.clientWidth >= 480;
      var t = document.createElement('summary');
      t.className = 'map-legend-title';
      t.textContent = opts.title || opts.labels[1] + ' \u2026 ' + opts.labels[6];
      div.appendChild(t);
      var ul = document.createElement('ul');
      LEVELS.forEach(function (n) {
        ul.appendChild(legendItem('level-' + n, String(n), opts.labels[n]));
      });
      ul.appendChild(legendItem('level-none', '', opts.noLevelLabel));
      div.appendChild(ul);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return legend;
  }

  function legendItem(levelClass, num, label) {
    var li = document.createElement('li');
    var sw = document.createElement('span');
    sw.className = 'swatch ' + levelClass;
    sw.setAttribute('aria-hidden', 'true');
    li.appendChild(sw);
    if (num) {
      var n = document.createElement('span');
      n.className = 'map-legend-num';
      n.textContent = num;
      li.appendChild(n);
    }
    var l = document.createElement('span');
    l.textContent = label;
    li.appendChild(l);
    return li;
  }

  function init(el) {
    if (!el) return null;
    if (el._wardenMap) return el._wardenMap;
    var ds = el.dataset;
    var loadingText = ds.loadingLabel || 'Loading map\u2026';
    var errorText = ds.errorLabel || 'The map could not be loaded. The table on this page has the same information.';

    if (typeof window.L === 'undefined' || !ds.geojsonUrl || typeof window.fetch !== 'function') {
      setStatus(el, errorText, true);
      return null;
    }

    var rtl = isRtl(el);
    var labels = readLabels(el);
    var noLevelLabel = ds.noLevelLabel || 'No level';
    var levelWord = ds.levelWord === undefined ? 'Level' : ds.levelWord;
    var template = ds.areaUrlTemplate || '';
    var fit = ds.fit === 'world' ? 'world' : 'bounds';
    var focusCode = ds.focusCode || null;
    var colours = readColours(el);
    var motion = !reducedMotion();

    var map = L.map(el, {
      preferCanvas: true,
      renderer: L.canvas({ padding: 0.5 }),
      zoomControl: false,
      attributionControl: !!ds.attribution,
      scrollWheelZoom: false,     // enabled after the user clicks into the map
      minZoom: 1,
      maxZoom: 12,
      zoomSnap: 0.25,
      zoomDelta: 0.5,
      worldCopyJump: false,
      zoomAnimation: motion,
      fadeAnimation: motion,
      markerZoomAnimation: motion,
      keyboard: true
    });
    el._wardenMap = map;
    map.fitBounds(WORLD_BOUNDS);

    L.control.zoom({
      position: rtl ? 'topright' : 'topleft',
      zoomInTitle: ds.zoomInLabel || 'Zoom in',
      zoomOutTitle: ds.zoomOutLabel || 'Zoom out'
    }).addTo(map);
    if (ds.attribution) {
      map.attributionControl.setPrefix(false);
      map.attributionControl.setPosition(rtl ? 'bottomright' : 'bottomleft');
      // Leaflet treats attribution as HTML; the data attribute is plain text.
      map.attributionControl.addAttribution(ds.attribution.replace(/[&<>"']/g, function (ch) {
        return '&#' + ch.charCodeAt(0) + ';';
      }));
    }
    makeLegend(el, {
      rtl: rtl,
      title: ds.legendTitle || '',
      labels: labels,
      noLevelLabel: noLevelLabel
    }).addTo(map);

    // Scroll-wheel zoom only after an explicit click, so the page scrolls normally.
    map.on('click focus', function () { map.scrollWheelZoom.enable(); });
    map.on('mouseout blur', function () { map.scrollWheelZoom.disable(); });

    setStatus(el, loadingText, false);

    // Until the user pans or zooms, keep the initial view fitted when the
    // container changes size (phone rotation, sidebar collapse, late layout).
    var fitting = false;
    var userMoved = false;
    var fitView = null;
    map.on('movestart zoomstart', function () {
      if (!fitting && fitView) userMoved = true;
    });
    if (typeof window.ResizeObserver === 'function') {
      var lastW = el.clientWidth;
      var lastH = el.clientHeight;
      new ResizeObserver(function () {
        if (el.clientWidth === lastW && el.clientHeight === lastH) return;
        lastW = el.clientWidth;
        lastH = el.clientHeight;
        if (fitView && !userMoved) fitView();
        else map.invalidateSize({ animate: false });
      }).observe(el);
    }

    function styleFor(feature) {
      var p = feature.properties || {};
      var lvl = normLevel(p.level);
      var focused = focusCode !== null && String(p.code) === focusCode;
      return {
        stroke: true,
        color: focused ? colours.hover : colours.border,
        weight: focused ? 3 : 0.6,
        opacity: 1,
        fill: true,
        fillColor: lvl ? colours[lvl] : colours.none,
        fillOpacity: focusCode !== null && !focused ? 0.55 : 0.9
      };
    }

    function tooltipFor(layer) {
      var p = layer.feature.properties || {};
      var lvl = normLevel(p.level);
      var label = p.level_label || (lvl ? labels[lvl] : noLevelLabel);
      var levelText = lvl ? [levelWord, String(lvl), label].filter(Boolean).join(' ') : label;
      var div = document.createElement('div');
      div.setAttribute('dir', rtl ? 'rtl' : 'ltr');
      var name = document.createElement('bdi');
      name.className = 'map-tooltip-name';
      name.textContent = p.name || p.code || '';
      div.appendChild(name);
      div.appendChild(document.createTextNode(' \u2014 ' + levelText));
      if (p.country) {
        var c = document.createElement('div');
        c.className = 'map-tooltip-country';
        c.textContent = p.country;
        div.appendChild(c);
      }
      return div;
    }

    var geo = null;

    function onEachFeature(feature, layer) {
      layer.bindTooltip(tooltipFor, {
        sticky: true,
        direction: 'top',
        offset: [0, -8],
        className: 'map-tooltip',
        opacity: 1
      });
      layer.on('mouseover', function () {
        layer.setStyle({ weight: 2.5, color: colours.hover });
        layer.bringToFront();
      });
      layer.on('mouseout', function () {
        if (geo) geo.resetStyle(layer);
      });
      layer.on('click', function (e) {
        var url = areaUrl(template, (feature.properties || {}).code);
        if (!url) return;
        var oe = e.originalEvent || {};
        // On touch screens the first tap shows the name, the second one opens the area.
        if (oe.pointerType === 'touch' && !layer.isTooltipOpen()) {
          layer.openTooltip(e.latlng);
          return;
        }
        if (oe.ctrlKey || oe.metaKey || oe.shiftKey || oe.button === 1) {
          window.open(url, '_blank', 'noopener');
        } else {
          window.location.assign(url);
        }
      });
    }

    fetch(ds.geojsonUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/geo+json, application/json' }
    })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (data) {
        if (!data || (data.type !== 'FeatureCollection' && data.type !== 'Feature')) {
          throw new Error('not GeoJSON');
        }
        geo = L.geoJSON(data, {
          style: styleFor,
          onEachFeature: onEachFeature,
          bubblingMouseEvents: false
        }).addTo(map);
        setStatus(el, null);

        var target = null;
        if (focusCode !== null) {
          geo.eachLayer(function (layer) {
            if (String((layer.feature.properties || {}).code) === focusCode) {
              target = layer.getBounds();
              layer.bringToFront();
            }
          });
        }
        if (!target && fit === 'bounds') {
          var b = geo.getBounds();
          if (b.isValid()) target = b;
        }
        fitView = function () {
          fitting = true;
          map.invalidateSize({ animate: false });
          if (target) {
            map.fitBounds(target, { padding: [12, 12], maxZoom: 9, animate: false });
          } else {
            map.fitBounds(WORLD_BOUNDS, { animate: false });
          }
          fitting = false;
        };
        fitView();

        // Keep colours in sync with a light/dark switch.
        if (window.matchMedia) {
          var mq = window.matchMedia('(prefers-color-scheme: dark)');
          var onChange = function () {
            colours = readColours(el);
            geo.setStyle(styleFor);
          };
          if (mq.addEventListener) mq.addEventListener('change', onChange);
          else if (mq.addListener) mq.addListener(onChange);
        }
        el.dispatchEvent(new CustomEvent('wardenmap:ready', { bubbles: true, detail: { map: map, layer: geo } }));
      })
      .catch(function (err) {
        setStatus(el, errorText, true);
        if (window.console) console.error('WardenMap: could not load ' + ds.geojsonUrl, err);
      });

    return map;
  }

  function initAll() {
    var els = document.querySelectorAll('.level-map');
    for (var i = 0; i < els.length; i++) init(els[i]);
  }

  window.WardenMap = { init: init, initAll: initAll };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', initAll);
  } else {
    initAll();
  }
})();
