// Dashboard and Explore panels: fetch each panel's JSON from the console, draw it with uPlot.
// Stat panels show one big number coloured by the panel's thresholds; charts draw the red
// threshold lines and the exemplars (click one to open its trace).
(function () {
  "use strict";

  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6"];
  const NAMED = { green: "#3a9a3a", red: "#d33", orange: "#e90", yellow: "#cc0",
    blue: "#36c", "dark-red": "#a00", "light-red": "#f66", purple: "#83c" };
  const SCALES = ["", " K", " M", " G", " T"];
  const BYTES = [" B", " KiB", " MiB", " GiB", " TiB"];

  function colour(name) { return NAMED[name] || name || "#888"; }

  function trim(value) {
    if (value === 0) return "0";
    const abs = Math.abs(value);
    const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
    return String(parseFloat(value.toFixed(digits)));
  }

  function scaled(value, base, suffixes) {
    let index = 0;
    while (Math.abs(value) >= base && index < suffixes.length - 1) { value /= base; index++; }
    return trim(value) + suffixes[index];
  }

  function seconds(value) {
    const abs = Math.abs(value);
    if (abs === 0) return "0 s";
    if (abs < 1e-3) return trim(value * 1e6) + " µs";
    if (abs < 1) return trim(value * 1e3) + " ms";
    if (abs < 60) return trim(value) + " s";
    if (abs < 3600) return trim(value / 60) + " min";
    if (abs < 86400) return trim(value / 3600) + " hour";
    return trim(value / 86400) + " day";
  }

  // The same rules as minishop.console.domain.dashboards.format_value.
  function formatValue(value, unit) {
    if (value === null || value === undefined || Number.isNaN(value)) return "no data";
    switch (unit) {
      case "percentunit": return trim(value * 100) + "%";
      case "percent": return trim(value) + "%";
      case "s": return seconds(value);
      case "ms": return seconds(value / 1000);
      case "bytes": return scaled(value, 1024, BYTES);
      case "reqps": return scaled(value, 1000, SCALES) + " req/s";
      case "ops": return scaled(value, 1000, SCALES) + " ops/s";
      case "currencyUSD": return "$" + scaled(value, 1000, SCALES);
      default: return scaled(value, 1000, SCALES);
    }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderStat(body, data) {
    const stats = data.stat || [];
    if (!stats.length) { body.append(element("p", "no-data", "no data")); return; }
    for (const stat of stats) {
      const box = element("div", "stat");
      const number = element("span", "stat-value", stat.text);
      number.style.color = colour(stat.colour);
      box.append(number);
      if (stats.length > 1 || (stat.name && stat.name !== "all")) {
        box.append(element("span", "stat-name", stat.name));
      }
      body.append(box);
    }
  }

  function thresholdHook(data) {
    return function (u) {
      const ctx = u.ctx;
      for (const step of data.thresholds) {
        const y = u.valToPos(step.value, "y", true);
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        ctx.save();
        ctx.strokeStyle = step.red ? "#d33" : colour(step.colour);
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
        ctx.restore();
      }
    };
  }

  function exemplarHook(data, placed) {
    return function (u) {
      const ctx = u.ctx;
      placed.length = 0;
      for (const exemplar of data.exemplars) {
        const x = u.valToPos(exemplar.time, "x", true);
        const y = u.valToPos(exemplar.value, "y", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        const r = 4 * devicePixelRatio;
        ctx.save();
        ctx.fillStyle = "#e15759";
        ctx.strokeStyle = "#fff";
        ctx.beginPath();
        ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y);
        ctx.closePath();
        ctx.fill(); ctx.stroke();
        ctx.restore();
        placed.push({ x: x / devicePixelRatio, y: y / devicePixelRatio, exemplar: exemplar });
      }
    };
  }

  function nearest(u, placed, event) {
    const rect = u.over.getBoundingClientRect();
    const plotLeft = u.bbox.left / devicePixelRatio;
    const plotTop = u.bbox.top / devicePixelRatio;
    const x = event.clientX - rect.left + plotLeft;
    const y = event.clientY - rect.top + plotTop;
    let best = null, bestDistance = 8;
    for (const point of placed) {
      const distance = Math.hypot(point.x - x, point.y - y);
      if (distance <= bestDistance) { best = point.exemplar; bestDistance = distance; }
    }
    return best;
  }

  function renderChart(body, data, unit) {
    const series = data.series || [];
    const hasValue = series.some(s => s.values.some(v => v !== null));
    if (!hasValue && !(data.exemplars || []).length) {
      body.append(element("p", "no-data", "no data"));
      return null;
    }
    const placed = [];
    const thresholdTop = Math.max(0, ...data.thresholds.map(t => t.value));
    const opts = {
      width: Math.max(200, body.clientWidth || 400),
      height: 220,
      legend: { live: true },
      cursor: { points: { show: false } },
      scales: {
        y: {
          range: (u, min, max) => {
            const low = Math.min(0, min === null ? 0 : min);
            let high = Math.max(max === null ? 1 : max, thresholdTop * 1.15);
            if (high === low) high = low + 1;
            return [low, high];
          },
        },
      },
      axes: [
        {},
        { size: 78, values: (u, values) => values.map(v => formatValue(v, unit)) },
      ],
      series: [{}].concat(series.map((s, index) => ({
        label: s.name,
        stroke: PALETTE[index % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: false },
        value: (u, v) => formatValue(v, unit),
      }))),
      hooks: { draw: [thresholdHook(data), exemplarHook(data, placed)] },
    };
    const columns = [data.timestamps].concat(series.map(s => s.values));
    const plot = new uPlot(opts, columns, body);
    plot.over.addEventListener("click", event => {
      const hit = nearest(plot, placed, event);
      if (hit) window.location.href = "/traces/" + encodeURIComponent(hit.trace_id);
    });
    plot.over.addEventListener("mousemove", event => {
      const hit = nearest(plot, placed, event);
      plot.over.style.cursor = hit ? "pointer" : "";
      plot.over.title = hit ? "exemplar " + formatValue(hit.value, unit) + ": trace " + hit.trace_id : "";
    });
    return plot;
  }

  const plots = new Map();

  async function load(panel) {
    const body = panel.querySelector(".panel-body");
    const notice = panel.querySelector(".panel-notice");
    let data;
    try {
      const response = await fetch(panel.dataset.url, { headers: { Accept: "application/json" } });
      data = await response.json();
      if (!response.ok) data = { error: data.detail || ("the console answered " + response.status) };
    } catch (error) {
      data = { error: "the console is not reachable (" + error + ")" };
    }
    if (plots.has(panel)) { plots.get(panel).destroy(); plots.delete(panel); }
    body.replaceChildren();
    notice.hidden = !data.notice;
    notice.textContent = data.notice || "";
    if (data.error) { body.append(element("p", "panel-error", data.error)); return; }
    if (panel.dataset.type === "stat") { renderStat(body, data); return; }
    if (typeof uPlot === "undefined") {
      body.append(element("p", "panel-error", "uPlot is missing: /static/vendor/uPlot.iife.min.js"));
      return;
    }
    const plot = renderChart(body, data, data.unit || panel.dataset.unit);
    if (plot) plots.set(panel, plot);
  }

  function loadAll() {
    document.querySelectorAll("article.panel[data-url]").forEach(load);
  }

  window.MiniShopPanels = {
    formatValue: formatValue,
    start: function (refreshSeconds) {
      loadAll();
      if (refreshSeconds > 0) {
        setInterval(() => { if (!document.hidden) loadAll(); }, refreshSeconds * 1000);
      }
    },
  };
})();
