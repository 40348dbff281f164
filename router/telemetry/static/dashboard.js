// thinkroute live dashboard: polls /dashboard/data and draws with plain canvas (no libraries).
"use strict";

(function () {
  const POLL_MS = 2000;
  const COLORS = ["#4fb3ff", "#5ad17a", "#ffb347", "#c77dff", "#ff6b6b", "#2ec4b6", "#f4d35e", "#9aa5b1"];
  const state = { renders: 0, last: null, expanded: new Set(), errors: 0 };
  window.__thinkroute = state; // read by the browser test

  const $ = (id) => document.getElementById(id);
  const fmt = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const usd = (v) => (v >= 0.01 ? v.toFixed(4) : v.toPrecision(3));

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function canvas2d(id) {
    const c = $(id);
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || c.width;
    const h = Number(c.getAttribute("height"));
    if (c.width !== Math.round(w * ratio)) {
      c.width = Math.round(w * ratio);
      c.height = Math.round(h * ratio);
      c.style.height = h + "px";
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    return { c, ctx, w, h };
  }

  function empty(ctx, w, h) {
    ctx.fillStyle = "#8b97a6";
    ctx.textAlign = "center";
    ctx.fillText("no requests yet", w / 2, h / 2);
    ctx.textAlign = "left";
  }

  function drawDonut(id, items, legendId) {
    const { c, ctx, w, h } = canvas2d(id);
    const total = items.reduce((s, it) => s + it.value, 0);
    c.dataset.points = String(total > 0 ? items.length : 0);
    const legend = $(legendId);
    legend.replaceChildren();
    if (total <= 0) return empty(ctx, w, h);
    const r = Math.min(w, h) / 2 - 8, cx = w / 2, cy = h / 2;
    let angle = -Math.PI / 2;
    items.forEach((it, i) => {
      const slice = (it.value / total) * Math.PI * 2;
      ctx.beginPath();
      ctx.moveTo(cx, cy);
      ctx.arc(cx, cy, r, angle, angle + slice);
      ctx.closePath();
      ctx.fillStyle = COLORS[i % COLORS.length];
      ctx.fill();
      angle += slice;
      const li = el("li");
      const swatch = el("i");
      swatch.style.background = COLORS[i % COLORS.length];
      li.append(swatch, `${it.label} ${it.value} (${((100 * it.value) / total).toFixed(0)}%)`);
      legend.append(li);
    });
    ctx.beginPath();
    ctx.arc(cx, cy, r * 0.55, 0, Math.PI * 2);
    ctx.fillStyle = "#182029";
    ctx.fill();
    ctx.fillStyle = "#e6e9ee";
    ctx.textAlign = "center";
    ctx.fillText(`${total} decisions`, cx, cy + 4);
    ctx.textAlign = "left";
  }

  function drawBars(id, items, format) {
    const { c, ctx, w, h } = canvas2d(id);
    c.dataset.points = String(items.length);
    if (!items.length) return empty(ctx, w, h);
    const max = Math.max(...items.map((it) => it.value), 1e-12);
    const rowH = Math.min(28, (h - 8) / items.length);
    const labelW = Math.min(120, w * 0.35);
    items.forEach((it, i) => {
      const y = 4 + i * rowH;
      const barW = Math.max(2, ((w - labelW - 70) * it.value) / max);
      ctx.fillStyle = "#8b97a6";
      ctx.fillText(it.label.slice(0, 18), 0, y + rowH * 0.65);
      ctx.fillStyle = it.color || COLORS[i % COLORS.length];
      ctx.fillRect(labelW, y + 3, barW, rowH - 6);
      ctx.fillStyle = "#e6e9ee";
      ctx.fillText(format(it.value), labelW + barW + 6, y + rowH * 0.65);
    });
  }

  function drawStacked(id, byBucket, strategies, legendId) {
    const { c, ctx, w, h } = canvas2d(id);
    const order = ["easy", "medium", "hard"];
    const buckets = Object.keys(byBucket).sort((a, b) => (order.indexOf(a) + 10 * (order.indexOf(a) < 0)) -
      (order.indexOf(b) + 10 * (order.indexOf(b) < 0)));
    c.dataset.points = String(buckets.length);
    const legend = $(legendId);
    legend.replaceChildren();
    if (!buckets.length) return empty(ctx, w, h);
    strategies.forEach((s, i) => {
      const li = el("li");
      const swatch = el("i");
      swatch.style.background = COLORS[i % COLORS.length];
      li.append(swatch, s);
      legend.append(li);
    });
    const labelW = 70, rowH = Math.min(34, (h - 8) / buckets.length);
    buckets.forEach((bucket, row) => {
      const counts = byBucket[bucket];
      const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
      const y = 4 + row * rowH;
      ctx.fillStyle = "#8b97a6";
      ctx.fillText(bucket, 0, y + rowH * 0.6);
      let x = labelW;
      strategies.forEach((s, i) => {
        const n = counts[s] || 0;
        if (!n) return;
        const segW = ((w - labelW - 10) * n) / total;
        ctx.fillStyle = COLORS[i % COLORS.length];
        ctx.fillRect(x, y + 4, segW, rowH - 8);
        if (segW > 40) {
          ctx.fillStyle = "#0f1419";
          ctx.fillText(`${s} ${((100 * n) / total).toFixed(0)}%`, x + 4, y + rowH * 0.6);
        }
        x += segW;
      });
    });
  }

  function drawLatency(id, latency) {
    const { c, ctx, w, h } = canvas2d(id);
    const points = latency.recent || [];
    c.dataset.points = String(points.length);
    if (!points.length) return empty(ctx, w, h);
    const pad = { l: 48, r: 10, t: 10, b: 20 };
    const maxMs = Math.max(...points.map((p) => p[1]), latency.p99 || 0, 1);
    const x = (i) => pad.l + (points.length === 1 ? (w - pad.l - pad.r) / 2 : (i * (w - pad.l - pad.r)) / (points.length - 1));
    const y = (ms) => h - pad.b - (ms / maxMs) * (h - pad.t - pad.b);
    ctx.strokeStyle = "#2a3541";
    ctx.beginPath();
    ctx.moveTo(pad.l, pad.t);
    ctx.lineTo(pad.l, h - pad.b);
    ctx.lineTo(w - pad.r, h - pad.b);
    ctx.stroke();
    ctx.fillStyle = "#8b97a6";
    ctx.fillText(`${maxMs.toFixed(0)} ms`, 2, pad.t + 8);
    ctx.fillText("0", pad.l - 12, h - pad.b);
    ctx.fillText(`last ${points.length} requests`, pad.l + 4, h - 4);
    [["p50", "#5ad17a"], ["p95", "#ffb347"], ["p99", "#ff6b6b"]].forEach(([key, color]) => {
      if (latency[key] === null || latency[key] === undefined) return;
      ctx.strokeStyle = color;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(pad.l, y(latency[key]));
      ctx.lineTo(w - pad.r, y(latency[key]));
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = color;
      ctx.fillText(key, w - pad.r - 26, Math.max(pad.t + 12, y(latency[key]) - 3));
    });
    const strategies = [...new Set(points.map((p) => p[2]))];
    points.forEach((p, i) => {
      ctx.fillStyle = COLORS[strategies.indexOf(p[2]) % COLORS.length];
      ctx.beginPath();
      ctx.arc(x(i), y(p[1]), 2.5, 0, Math.PI * 2);
      ctx.fill();
    });
  }

  function renderKpis(d) {
    const t = d.totals, l = d.latency_ms;
    $("kpi-requests").textContent = t.requests;
    $("kpi-errors").textContent = t.errors;
    $("kpi-cost").textContent = usd(t.cost_usd);
    $("kpi-latency").textContent = `${fmt(l.p50, 0)} / ${fmt(l.p95, 0)} ms`;
    const drawn = t.samples + t.samples_saved;
    $("kpi-saved").textContent = drawn ? `${t.samples_saved} (${((100 * t.samples_saved) / drawn).toFixed(0)}%)` : "0";
    const out = t.output_tokens + t.reasoning_tokens;
    $("kpi-reasoning").textContent = out ? `${((100 * t.reasoning_tokens) / out).toFixed(0)}%` : "–";
    $("latency-summary").textContent =
      `p50 ${fmt(l.p50, 1)} · p90 ${fmt(l.p90, 1)} · p95 ${fmt(l.p95, 1)} · p99 ${fmt(l.p99, 1)} ms (n=${l.count})`;
  }

  function explanationRow(entry) {
    const tr = el("tr", null, "explain");
    const td = el("td");
    td.colSpan = 12;
    const ex = entry.explanation || {};
    const chosen = ex.chosen ? `${ex.chosen.strategy} ${JSON.stringify(ex.chosen.params || {})}` : "none";
    td.append(el("div", `rule: ${ex.rule || "–"} · chosen: ${chosen} · SLO: ${JSON.stringify(ex.slo || {})}`));
    const table = el("table");
    const head = el("tr");
    ["candidate", "params", "pred. quality", "pred. p95 ms", "pred. cost", "eligible", "why not"].forEach((h) => head.append(el("th", h)));
    table.append(head);
    (ex.candidates || []).forEach((cand) => {
      const isChosen = ex.chosen && cand.strategy === ex.chosen.strategy &&
        JSON.stringify(cand.params) === JSON.stringify(ex.chosen.params);
      const row = el("tr", null, isChosen ? "chosen" : cand.eligible ? "" : "ineligible");
      [cand.strategy, JSON.stringify(cand.params), fmt(cand.predicted_quality, 3), fmt(cand.predicted_latency_ms, 0),
        usd(cand.predicted_cost_usd || 0), cand.eligible ? "yes" : "no", (cand.why_not || []).join("; ")]
        .forEach((v) => row.append(el("td", v)));
      table.append(row);
    });
    td.append(table);
    tr.append(td);
    return tr;
  }

  function renderRecent(recent) {
    const body = document.querySelector("#recent tbody");
    body.replaceChildren();
    recent.forEach((r) => {
      const tr = el("tr", null, r.status >= 400 || r.error_type ? "row error" : "row");
      tr.dataset.requestId = r.request_id;
      const when = new Date(r.time * 1000).toLocaleTimeString();
      const diff = r.difficulty === null ? "–" : `${r.bucket} ${r.difficulty.toFixed(2)}`;
      const samples = r.samples_max ? `${r.samples}/${r.samples_max}` : "–";
      [when, r.request_id.slice(0, 16), r.route || "–", r.tenant, diff, r.strategy || "–", r.rule || "–", samples,
        r.stop_reason || "–", fmt(r.latency_ms, 1), usd(r.cost_usd), r.error_type ? `${r.status} ${r.error_type}` : r.status]
        .forEach((v) => tr.append(el("td", v)));
      tr.addEventListener("click", () => {
        if (state.expanded.has(r.request_id)) state.expanded.delete(r.request_id);
        else state.expanded.add(r.request_id);
        renderRecent(state.last.recent);
      });
      body.append(tr);
      if (state.expanded.has(r.request_id)) body.append(explanationRow(r));
    });
  }

  function render(d) {
    state.last = d;
    renderKpis(d);
    drawDonut("chart-mix", d.routing_mix.map((m) => ({ label: m.strategy, value: m.requests })), "legend-mix");
    drawStacked("chart-buckets", d.routing_by_bucket, d.routing_mix.map((m) => m.strategy), "legend-buckets");
    drawBars("chart-spend", d.spend_by_tenant.map((s) => ({ label: s.tenant, value: s.cost_usd })), (v) => `$${usd(v)}`);
    drawLatency("chart-latency", d.latency_ms);
    const t = d.totals;
    drawBars("chart-tokens", t.input_tokens + t.output_tokens + t.reasoning_tokens ? [
      { label: "input", value: t.input_tokens, color: "#9aa5b1" },
      { label: "output (visible)", value: t.output_tokens, color: "#4fb3ff" },
      { label: "reasoning", value: t.reasoning_tokens, color: "#c77dff" },
    ] : [], (v) => String(v));
    drawBars("chart-stops", Object.entries(d.stop_reasons).map(([k, v]) => ({ label: k, value: v })), (v) => String(v));
    renderRecent(d.recent);
    state.renders += 1;
  }

  async function poll() {
    const status = $("status");
    try {
      const response = await fetch("/dashboard/data", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      status.className = "status ok";
    } catch (err) {
      state.errors += 1;
      status.textContent = `cannot reach the router (${err.message})`;
      status.className = "status err";
    }
  }

  poll();
  setInterval(poll, POLL_MS);
  window.addEventListener("resize", () => state.last && render(state.last));
})();
