// pixelpipe's local web page: upload images, watch their variants appear.
// Plain JavaScript, no framework, no build step, nothing loaded from elsewhere.
// The server's API: GET /api/state, POST /api/upload?name=FILE, GET /objects/{bucket}/{key}.
"use strict";

(() => {
  const POLL_BUSY_MS = 600; // while something is queued, processing or uploading
  const POLL_IDLE_MS = 2000;
  const UPLOADS_SHOWN = 20;
  const PARALLEL_UPLOADS = 3;

  const $ = (id) => document.getElementById(id);
  const gallery = $("gallery");
  const viewer = $("viewer");
  const cards = new Map(); // key -> {li, sig, status}
  let uploading = 0;
  let busy = true;
  let timer = 0;
  let polling = false;

  // ------------------------------------------------------------------------------------------
  // Small helpers

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "?";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return null;
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function gridLabel(v) {
    const grid = Array.isArray(v.grid) ? v.grid : [v.size, v.size];
    if (v.label === "fill") return "fill";
    return v.label && v.label.endsWith("px") ? v.label : `${grid[0]}×${grid[1]}`;
  }

  function announce(text) {
    const region = $("announce");
    region.textContent = "";
    // A fresh text node is announced even when the text repeats.
    window.setTimeout(() => { region.textContent = text; }, 50);
  }

  // ------------------------------------------------------------------------------------------
  // Polling the state

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, busy || uploading ? POLL_BUSY_MS : POLL_IDLE_MS);
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const response = await fetch("/api/state", { cache: "no-store" });
      const doc = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(doc.error || `${response.status} ${response.statusText}`);
      render(doc);
    } catch (err) {
      $("queue").textContent = `Cannot reach pixelpipe up: ${err.message}`;
      $("queue").classList.add("offline");
    } finally {
      polling = false;
      schedule();
    }
  }

  let facesSet = false;

  function renderFaces(faces) {
    // The switch starts as the workers' setting; each upload then says what it wants.
    const box = $("faces");
    if (!faces || facesSet) return;
    facesSet = true;
    box.checked = Boolean(faces.default);
    if (faces.outputs && faces.outputs.length) $("faces-note").textContent = facesNote(faces.outputs);
    if (faces.unavailable) {
      box.disabled = !faces.default;
      $("faces-note").textContent = `Not available here: ${faces.unavailable}`;
    }
  }

  function listed(words) {
    return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
  }

  function shown(label) {
    return label.replace(/^(\d+)x(\d+)$/, "$1×$2");
  }

  // What the switch writes, from the workers' settings (state.faces.outputs).
  function facesNote(outputs) {
    const labels = outputs.map((o) => shown(o.label));
    const written = `Writes ${listed(labels)} output${labels.length === 1 ? "" : "s"}`;
    const strong = outputs.filter((o) => o.anonymises === true);
    if (strong.length === outputs.length) {
      if (labels.length === 1 && outputs[0].label === "fill") {
        return "Writes one output with each face filled black; the rest of the photo is kept.";
      }
      const across = outputs.map((o) => o.label.split("x")[0]);
      const verb = labels.length === 1 ? "anonymises" : "anonymise";
      return `${written} that ${verb} each face (${listed(across)} blocks across it); the rest of the photo is kept.`;
    }
    const weak = outputs.filter((o) => o.anonymises === false);
    if (!weak.length) return `${written}; whether they anonymise depends on each face's size (at most 5 blocks across it).`;
    const which = strong.length
      ? `only ${listed(strong.map((o) => shown(o.label)))} ${strong.length === 1 ? "anonymises" : "anonymise"}`
      : `${labels.length === 1 ? "it does not anonymise" : "none of them anonymises"}`;
    return `${written}: ${which} each face (at most 5 blocks across it).`;
  }

  function render(state) {
    renderFaces(state.faces);
    $("limit").textContent = bytes(state.max_upload_bytes);
    $("source-bucket").textContent = state.buckets.source;
    $("processed-bucket").textContent = state.buckets.processed;
    const q = state.queue;
    const queue = $("queue");
    queue.classList.remove("offline");
    queue.textContent = q
      ? `Queue: ${q.waiting} waiting, ${q.in_flight} being processed`
      : "Queue: not available";
    const c = state.counts || {};
    const parts = ["done", "failed", "processing", "queued"]
      .filter((s) => c[s])
      .map((s) => `${c[s]} ${s}`);
    let counts = parts.length ? `(${parts.join(", ")})` : "";
    if (state.total > state.items.length) counts += ` — newest ${state.items.length} of ${state.total} shown`;
    $("counts").textContent = counts;
    $("empty").hidden = state.items.length > 0;
    busy = state.items.some((i) => i.status === "queued" || i.status === "processing");

    const seen = new Set();
    let previous = null;
    for (const item of state.items) {
      seen.add(item.key);
      const sig = JSON.stringify(item);
      let card = cards.get(item.key);
      if (!card || card.sig !== sig) {
        const li = buildCard(item, card);
        if (card) {
          const hadFocus = card.li.contains(document.activeElement);
          const focusId = hadFocus ? document.activeElement.dataset.focus : null;
          card.li.replaceWith(li);
          if (focusId) {
            const target = li.querySelector(`[data-focus="${focusId}"]`);
            if (target) target.focus();
          }
        }
        if (card && card.status !== item.status) {
          if (item.status === "done") announce(`${item.key}: done, ${item.variants.length} variants`);
          else if (item.status === "failed") announce(`${item.key}: failed: ${item.reason}`);
        }
        card = { li, sig, status: item.status };
        cards.set(item.key, card);
      }
      // Keep the server's order (newest first) without moving cards needlessly.
      const expected = previous ? previous.nextElementSibling : gallery.firstElementChild;
      if (expected !== card.li) {
        if (previous) previous.after(card.li);
        else gallery.prepend(card.li);
      }
      previous = card.li;
    }
    for (const [key, card] of cards) {
      if (!seen.has(key)) {
        card.li.remove();
        cards.delete(key);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // One image

  function buildCard(item, old) {
    const id = `img-${Math.random().toString(36).slice(2, 10)}`;
    const li = el("li", { class: `card status-${item.status}`, "data-key": item.key, "data-status": item.status, "aria-labelledby": `${id}-name` });
    const head = el(
      "div",
      { class: "card-head" },
      el("h3", { id: `${id}-name`, class: "name", text: item.key }),
      el("span", { class: `badge badge-${item.status}`, text: item.status }),
    );
    li.append(head);

    const facts = [];
    if (item.width && item.height) facts.push(`${item.width}×${item.height}`);
    if (item.format) facts.push(item.format);
    facts.push(bytes(item.bytes));
    const took = duration(item.processing_ms);
    if (took) facts.push(`processed in ${took}`);
    const ready = duration(item.upload_to_done_ms);
    if (ready) facts.push(`ready ${ready} after upload`);
    else if (item.reused) facts.push("same content as an earlier upload: its variants kept");
    li.append(el("p", { class: "meta", text: facts.join(" · ") }));

    if (item.status === "failed") {
      li.append(el("p", { class: "reason" }, el("strong", { text: "Failed: " }), item.reason || "unknown reason"));
    } else if (item.status === "queued" || item.status === "processing") {
      li.append(el("p", { class: "waiting", text: item.status === "queued" ? "Waiting for a worker…" : "A worker is on it…" }));
    }

    if (item.status === "failed") {
      li.append(el("p", { class: "original-link" }, el("a", { href: item.download, download: "", "data-focus": "original-dl", text: `Download the original (${bytes(item.bytes)})` })));
      return li;
    }
    const tiles = el("ul", { class: item.areas ? "tiles tiles-areas" : "tiles", "aria-label": `Original and variants of ${item.key}` });
    tiles.append(tile(item, { label: "original", title: `${item.key} (original)`, url: item.url, download: item.download, bytes: item.bytes, focus: "original", areas: item.areas }));
    if (item.areas) li.append(el("p", { class: "hidden-areas", text: hiddenText(item) }));
    for (const v of item.variants) {
      tiles.append(tile(item, { label: gridLabel(v), title: `${item.key}: ${v.label}`, url: v.url, download: v.download, bytes: v.bytes, focus: `v-${v.label}`, variant: v }));
    }
    li.append(tiles);

    if (item.status === "done" && item.variants.length) li.append(compare(item, old, id));
    return li;
  }

  // "Hidden: N faces" only where some output anonymises them (PRIVACY.md: at most 5 blocks
  // across each face, 8 along a region); otherwise what was found, and that no output hides it.
  function hiddenText(item) {
    const faces = item.areas.filter((a) => a.source === "face").length;
    const regions = item.areas.length - faces;
    if (!item.areas.length) return "No faces found: nothing to hide";
    const what = [];
    if (faces) what.push(`${faces} face${faces === 1 ? "" : "s"}`);
    if (regions) what.push(`${regions} region${regions === 1 ? "" : "s"}`);
    const found = what.join(", ");
    const strong = item.variants.filter((v) => v.anonymised === true).map(gridLabel);
    const weak = item.variants.filter((v) => v.anonymised === false).map(gridLabel);
    if (strong.length + weak.length < item.variants.length) {
      return `Found: ${found} (outlined on the original)`; // an older manifest: no claim
    }
    const lead = regions ? `Found: ${found}` : `Faces found: ${faces}`;
    if (!strong.length) return `${lead} — no output anonymises them (outlined on the original)`;
    const also = weak.length ? `; ${listed(weak)} ${weak.length === 1 ? "does" : "do"} not anonymise` : "";
    return `Hidden: ${found} in ${listed(strong)} (outlined on the original)${also}`;
  }

  const SVG = $("viewer-areas").namespaceURI; // the page names no URL, not even SVG's namespace

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  // Each hidden area drawn into `layer`, an <svg> laid over the picture in the picture's own
  // pixels and scaled with it: a face's head ellipse, turned with the head, and the detector's
  // face box (hidden too: the face hides the union of both), dashed; a region's rectangle.
  // The original's thumbnail and its full-size view both draw with this.
  function drawAreas(layer, item, areas) {
    layer.replaceChildren();
    const none = !item || !areas || !item.width || !item.height;
    layer.toggleAttribute("hidden", none); // an <svg> has no .hidden property
    if (none) return;
    layer.setAttribute("viewBox", `0 0 ${item.width} ${item.height}`);
    for (const a of areas) {
      const [x, y, w, h] = a.box;
      const cls = `outline outline-${a.source}`;
      // An old manifest without `ellipse` meant the ellipse inscribed in `box`.
      const [ecx, ecy, erx, ery, turn] = a.ellipse || [x + w / 2, y + h / 2, w / 2, h / 2, 0];
      const shape = a.shape === "ellipse"
        ? svg("ellipse", { class: cls, cx: ecx, cy: ecy, rx: erx, ry: ery, transform: `rotate(${turn} ${ecx} ${ecy})` })
        : svg("rect", { class: cls, x, y, width: w, height: h });
      const title = svg("title", {});
      title.textContent = a.source === "face" ? `hidden face (score ${a.score})` : "hidden region";
      shape.append(title);
      layer.append(shape);
      if (a.face) {
        const [fx, fy, fw, fh] = a.face;
        layer.append(svg("rect", { class: "outline-facebox", x: fx, y: fy, width: fw, height: fh }));
      }
    }
  }

  function framed(img, item, areas) {
    // The picture in a box of its own aspect ratio, with each hidden area outlined on it as
    // on the full-size view (drawAreas).
    if (!areas || !item.width || !item.height) return img;
    const layer = svg("svg", { class: "areas", preserveAspectRatio: "none", "aria-hidden": "true" });
    drawAreas(layer, item, areas);
    const frame = el("span", { class: "frame" }, img, layer);
    frame.style.aspectRatio = `${item.width} / ${item.height}`;
    if (item.width >= item.height) frame.style.width = "100%";
    else frame.style.height = "100%";
    return frame;
  }

  function tile(item, t) {
    const what = t.variant ? `${t.label} variant` : "original";
    const img = el("img", { src: t.url, alt: "", loading: "lazy", decoding: "async" });
    const open = el(
      "button",
      { type: "button", class: "thumb", "data-focus": t.focus, "aria-label": `View the ${what} of ${item.key} full size` },
      framed(img, item, t.areas),
    );
    showPlaceholder(open, img, item.placeholder);
    open.addEventListener("click", () => openViewer(t.title, t.url, t.download, open, t.areas ? item : null));
    return el(
      "li",
      { class: t.variant ? "tile variant" : "tile original", "data-label": t.variant ? t.variant.label : "original" },
      open,
      el(
        "div",
        { class: "tile-text" },
        el("span", { class: "grid", text: t.label }),
        el("span", { class: "bytes", text: bytes(t.bytes) }),
        anonymity(t.variant),
        el("a", { href: t.download, download: "", class: "download", "data-focus": `${t.focus}-dl`, "aria-label": `Download the ${what} of ${item.key}`, text: "Download" }),
      ),
    );
  }

  function anonymity(v) {
    // Each output of an area job says whether it anonymises (the manifest's "anonymised").
    if (!v || (v.anonymised !== true && v.anonymised !== false)) return null;
    return v.anonymised
      ? el("span", { class: "anon anon-yes", text: "anonymises", title: "every face at most 5 blocks across, every region at most 8 along its longer side" })
      : el("span", { class: "anon anon-no", text: "does not anonymise", title: "more than 5 blocks across a face (or 8 along a region): people may be recognised" });
  }

  // The manifest's placeholder (a tiny data-URI image and the average colour) behind an
  // image until it has loaded; then the box's own background (transparency checks) is back.
  function showPlaceholder(box, img, placeholder) {
    if (!placeholder || img.complete) return;
    box.classList.add("placeholder");
    box.style.setProperty("--placeholder", `url("${placeholder.data_uri}")`);
    if (placeholder.color) box.style.setProperty("--placeholder-color", placeholder.color);
    const done = () => box.classList.remove("placeholder");
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
  }

  function compare(item, old, id) {
    const prev = old && old.li.querySelector(".compare");
    const select = el("select", { id: `${id}-grid`, "data-focus": "compare-grid" });
    for (const v of item.variants) select.append(el("option", { value: v.url, text: gridLabel(v) }));
    const range = el("input", { id: `${id}-pos`, type: "range", min: 0, max: 100, step: 1, value: 50, "data-focus": "compare-pos", "aria-valuetext": "50% pixelated" });
    if (prev) {
      select.value = prev.querySelector("select").value || select.value;
      range.value = prev.querySelector("input[type=range]").value;
    } else {
      select.selectedIndex = Math.min(1, item.variants.length - 1);
    }
    const base = el("img", { class: "compare-original", src: item.url, alt: `${item.key}, original` });
    const top = el("img", { class: "compare-variant", src: select.value, alt: "" });
    const divider = el("div", { class: "compare-divider", "aria-hidden": "true" });
    const view = el("div", { class: "compare-view" }, base, top, divider);
    showPlaceholder(view, base, item.placeholder);
    if (item.width && item.height) {
      // At most ~18rem high, whatever the shape of the image.
      view.style.aspectRatio = `${item.width} / ${item.height}`;
      view.style.maxWidth = `calc(18rem * ${item.width / item.height})`;
    }
    const update = () => {
      const pct = Number(range.value);
      top.style.clipPath = `inset(0 ${100 - pct}% 0 0)`;
      divider.style.left = `${pct}%`;
      range.setAttribute("aria-valuetext", `${pct}% pixelated (${select.selectedOptions[0].text}), ${100 - pct}% original`);
      top.alt = `${select.selectedOptions[0].text} variant over the original`;
    };
    select.addEventListener("change", () => { top.src = select.value; update(); });
    range.addEventListener("input", update);
    update();
    return el(
      "div",
      { class: "compare" },
      el(
        "div",
        { class: "compare-controls" },
        el("label", { for: select.id, text: "Compare grid" }),
        select,
        el("label", { for: range.id, text: "Slider" }),
        range,
      ),
      view,
    );
  }

  // ------------------------------------------------------------------------------------------
  // Full-size view (a modal <dialog>: Escape closes it, focus returns to the opener)

  let opener = null;

  // The hidden areas over the full-size original (none: a variant's view).
  function outlineAreas(item) {
    drawAreas($("viewer-areas"), item, item && item.areas);
  }

  function openViewer(title, url, download, from, outlined) {
    opener = from;
    $("viewer-title").textContent = title;
    $("viewer-img").src = url;
    $("viewer-img").alt = title;
    outlineAreas(outlined);
    $("viewer-download").href = download;
    viewer.showModal();
    $("viewer-close").focus();
  }

  $("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close(); // a click on the backdrop
  });
  viewer.addEventListener("close", () => {
    $("viewer-img").removeAttribute("src");
    outlineAreas(null);
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });

  // ------------------------------------------------------------------------------------------
  // Uploads

  function uploadRow(name) {
    const status = el("span", { class: "upload-status", text: "uploading…" });
    const li = el("li", { class: "upload-row uploading" }, el("span", { class: "upload-name", text: name }), status);
    const list = $("uploads");
    list.prepend(li);
    while (list.children.length > UPLOADS_SHOWN) list.lastElementChild.remove();
    return {
      ok(text) { li.className = "upload-row ok"; status.textContent = text; },
      fail(text) { li.className = "upload-row error"; status.textContent = text; },
    };
  }

  async function uploadOne(file) {
    const row = uploadRow(file.name);
    try {
      const faces = $("faces").disabled ? "" : `&faces=${$("faces").checked ? 1 : 0}`;
      const response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}${faces}`, {
        method: "POST",
        headers: { "X-Pixelpipe-Upload": "1", "Content-Type": "application/octet-stream" },
        body: file,
      });
      const doc = await response.json().catch(() => ({}));
      if (response.ok) {
        row.ok(`uploaded (${bytes(doc.bytes)})`);
      } else {
        const reason = doc.error || response.statusText;
        row.fail(`not uploaded (${response.status}): ${reason}`);
        announce(`${file.name} not uploaded: ${reason}`);
      }
    } catch (err) {
      row.fail(`not uploaded: ${err.message}`);
    }
  }

  async function uploadAll(files) {
    const queue = Array.from(files);
    if (!queue.length) return;
    uploading += 1;
    schedule();
    const next = async () => {
      while (queue.length) {
        await uploadOne(queue.shift());
        poll();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, queue.length) }, next));
    } finally {
      uploading -= 1;
      poll();
    }
  }

  const input = $("file-input");
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = "";
    uploadAll(files);
  });

  // Drops anywhere on the page upload; the drop zone lights up while something is dragged.
  const zone = $("dropzone");
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    if (!event.dataTransfer) return;
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    uploadAll(event.dataTransfer.files);
  });

  poll();
})();
