// BatchPilot dashboard: live regions (polling), New job page (upload, live preview, estimate). No library, no CDN.
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var dot = document.getElementById("live-dot");

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function money(v) {
    if (v == null) return "unknown";
    if (v === 0) return "$0";
    return "$" + (v < 0.01 ? v.toFixed(4) : v.toFixed(2));
  }

  // ------------------------------------------------------------- live regions
  var liveMs = parseInt(document.body.getAttribute("data-live-ms") || "0", 10);
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live-region]"));
  if (liveMs > 0 && regions.length > 0) {
    var busy = false;
    var tick = function () {
      if (busy || document.hidden) return;
      busy = true;
      var jobs = regions.map(function (region) {
        // Leave a region alone while the user reads or types in it.
        if (region.querySelector("details[open]") || region.contains(document.activeElement) && document.activeElement.tagName !== "BODY") {
          return Promise.resolve();
        }
        return fetch(location.href, { headers: { "X-Live-Region": region.id }, credentials: "same-origin" })
          .then(function (r) {
            if (!r.ok) throw new Error("HTTP " + r.status);
            return r.text();
          })
          .then(function (html) {
            if (region.innerHTML !== html) region.innerHTML = html;
          });
      });
      Promise.all(jobs)
        .then(function () { if (dot) dot.className = "live-dot on"; })
        .catch(function () { if (dot) dot.className = "live-dot err"; })
        .then(function () { busy = false; });
    };
    setInterval(tick, liveMs);
    if (dot) dot.className = "live-dot on";
  }

  // ------------------------------------------------------------- new job page
  var form = document.getElementById("new-job");
  if (!form) return;
  var fileInput = document.getElementById("file");
  var inputRef = document.getElementById("input-ref");
  var info = document.getElementById("input-info");
  var columnsBox = document.getElementById("columns");
  var idColumn = document.getElementById("id-column");
  var folder = document.getElementById("folder-file");
  var prompt = document.getElementById("prompt");
  var system = document.getElementById("system");
  var template = document.getElementById("template");
  var previewBox = document.getElementById("preview");
  var estimateBox = document.getElementById("estimate");
  var lastFocused = prompt;
  [prompt, system].forEach(function (el) { el.addEventListener("focus", function () { lastFocused = el; }); });

  function showColumns(u) {
    info.textContent = u.name + " · " + u.format.toUpperCase() + " · " + u.columns.length + " column(s)";
    columnsBox.innerHTML = u.columns.map(function (c) {
      return '<button type="button" data-col="' + esc(c) + '" title="Insert {{' + esc(c) + '}}">{{' + esc(c) + "}}</button>";
    }).join("");
    var current = idColumn.value;
    idColumn.innerHTML = '<option value="">row-N</option>' + u.columns.map(function (c) {
      return "<option" + (c === current ? " selected" : "") + ">" + esc(c) + "</option>";
    }).join("");
  }

  columnsBox.addEventListener("click", function (e) {
    var col = e.target.getAttribute && e.target.getAttribute("data-col");
    if (!col) return;
    var el = lastFocused || prompt;
    var text = "{{" + col + "}}";
    var start = el.selectionStart || el.value.length, end = el.selectionEnd || el.value.length;
    el.value = el.value.slice(0, start) + text + el.value.slice(end);
    el.focus();
    el.selectionStart = el.selectionEnd = start + text.length;
    schedule();
  });

  if (fileInput) fileInput.addEventListener("change", function () {
    if (!fileInput.files || fileInput.files.length === 0) return;
    var data = new FormData();
    data.append("file", fileInput.files[0]);
    info.textContent = "Uploading " + fileInput.files[0].name + "…";
    fetch("/api/uploads", { method: "POST", body: data, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { info.textContent = res.body.error || "Upload refused."; inputRef.value = ""; return; }
        inputRef.value = res.body.input;
        fileInput.value = "";
        if (folder) folder.value = "";
        showColumns(res.body);
        schedule();
      })
      .catch(function () { info.textContent = "Upload failed."; });
  });

  if (folder) folder.addEventListener("change", function () {
    inputRef.value = folder.value;
    if (!folder.value) return;
    fetch("/api/inputs?input=" + encodeURIComponent(folder.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (u) { if (u.columns) { showColumns(u); schedule(); } else { info.textContent = u.error; } });
  });

  if (template) template.addEventListener("change", function () {
    var o = template.options[template.selectedIndex];
    if (!o.value) return;
    system.value = o.getAttribute("data-system");
    prompt.value = o.getAttribute("data-prompt");
    schedule();
  });

  function num(name) {
    var el = form.elements[name];
    if (!el || el.value === "") return null;
    var n = Number(el.value);
    return isNaN(n) ? null : n;
  }

  function mode() {
    var checked = form.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : "batch";
  }

  var timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  function preview() {
    if (!inputRef.value) return;
    var body = {
      input: inputRef.value, prompt: prompt.value, system: system.value, model: form.elements.model.value,
      provider: form.elements.provider.value, max_tokens: num("max_tokens"), start_row: num("start_row"), end_row: num("end_row"),
      budget_usd: num("budget_usd"), mode: mode()
    };
    fetch("/api/preview", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function () { previewBox.innerHTML = '<p class="flash error">Preview failed.</p>'; });
  }

  function render(p) {
    if (p.columns && p.columns.length && !columnsBox.innerHTML) showColumns({ name: "file", format: "table", columns: p.columns });
    var html = "";
    if (p.error) html += '<p class="flash error" data-testid="preview-error">' + esc(p.error) + "</p>";
    if (p.warning) html += '<p class="flash info">' + esc(p.warning) + "</p>";
    (p.requests || []).forEach(function (r) {
      html += '<div class="req" data-testid="preview-request"><div class="muted mono">' + esc(r.custom_id) + " · row " + r.row + "</div>" +
        (r.system ? '<pre class="muted">' + esc(r.system) + "</pre>" : "") + "<pre>" + esc(r.user) + "</pre></div>";
    });
    previewBox.innerHTML = html;
    var e = p.estimate;
    if (e) {
      var sync = mode() === "sync";
      estimateBox.innerHTML = '<div class="est"><div' + (sync ? "" : ' class="chosen"') + '>Batch API<b data-testid="estimate-batch">' + money(e.batch_cost_usd) + "</b></div>" +
        "<div" + (sync ? ' class="chosen"' : "") + ">Synchronous<b data-testid=\"estimate-sync\">" + money(e.sync_cost_usd) + "</b></div></div>" +
        '<p class="note">' + e.items.toLocaleString("en") + " items · ≈ " + e.input_tokens.toLocaleString("en") + " input + " +
        e.output_tokens.toLocaleString("en") + " output tokens (" + esc(p.provider) + "). " + esc(e.basis) + "</p>";
    }
  }

  ["input", "change"].forEach(function (ev) {
    form.addEventListener(ev, function (e) { if (e.target !== fileInput && e.target !== folder) schedule(); });
  });
  if (inputRef.value) {
    fetch("/api/inputs?input=" + encodeURIComponent(inputRef.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(function (u) { if (u.columns) showColumns(u); schedule(); });
  }
})();
