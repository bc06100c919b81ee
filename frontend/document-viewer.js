// The legal documents of a request, opened beside the checklist on the reviewer's request
// page (templates/requests_app/review/_documents.html).
//
// A PDF is fetched from the portal's own document view (the reviewer's session; it decrypts
// the stored ciphertext, checks its SHA-256 and records the reading in the audit chain),
// then drawn by PDF.js (pdfjs-dist) page by page on canvases, with PDF.js's text layer laid
// over each page so that the text can be selected, copied and found with the browser's
// search. An image is shown as an <img> from the same view.
//
// Nothing leaves the portal's origin: the document comes from the page's own origin, PDF.js
// runs its parser in a worker served from static/dist (the CSP's script-src 'self' covers
// it), and no font, CMap or Wasm file is fetched from anywhere. PDF.js evaluates no code
// here (the build has no eval; isEvalSupported: false says so for any older build) and no
// script of the PDF runs: the scripting sandbox is not loaded.
//
// Bundled by `make assets` into static/dist/document-viewer.js and, for the worker,
// static/dist/pdf.worker.js; see package.json.

import { getDocument, GlobalWorkerOptions, TextLayer } from "pdfjs-dist";
import { gettext, interpolate } from "./i18n.js";

const root = document.querySelector("[data-document-viewer]");

// The page's template may give its own texts (data-opening, data-failed, data-shown).
const text = (name, fallback) => (root && root.dataset[name]) || fallback;

function statusSay(message) {
  const status = root.querySelector("[data-viewer-status]");
  status.textContent = message;
}

function pagesBox() {
  return root.querySelector("[data-viewer-pages]");
}

function titleSet(name) {
  root.querySelector("[data-viewer-title]").textContent = name;
}

let opening = 0; // the newest opening wins; an older one stops drawing

async function pdfShow(url, name) {
  const mine = ++opening;
  const box = pagesBox();
  box.replaceChildren();
  titleSet(name);
  statusSay(text("opening", gettext("Opening the document…")));
  const response = await fetch(url, { credentials: "same-origin", redirect: "error" });
  if (!response.ok) {
    throw new Error(text("failed", gettext("The document could not be opened.")));
  }
  const data = new Uint8Array(await response.arrayBuffer());
  const pdf = await getDocument({
    data,
    isEvalSupported: false,
    enableXfa: false,
    disableFontFace: false,
    useSystemFonts: true,
    stopAtErrors: false,
  }).promise;
  for (let number = 1; number <= pdf.numPages; number += 1) {
    if (mine !== opening) return;
    const page = await pdf.getPage(number);
    // As wide as the column allows, at most 150 %: the text layer is laid out at the same
    // scale as the canvas, so the page never overflows a narrow screen.
    const available = Math.max(box.clientWidth - 24, 200);
    const scale = Math.min(1.5, available / page.getViewport({ scale: 1 }).width);
    const viewport = page.getViewport({ scale });
    const frame = document.createElement("div");
    frame.className = "pdf-page";
    frame.setAttribute("role", "group");
    frame.setAttribute(
      "aria-label",
      interpolate(gettext("Page %(number)s of %(total)s"), { number, total: pdf.numPages }),
    );
    frame.style.setProperty("--total-scale-factor", String(scale));
    frame.style.setProperty("--scale-round-x", "1px");
    frame.style.setProperty("--scale-round-y", "1px");
    frame.style.aspectRatio = `${viewport.width} / ${viewport.height}`;
    frame.style.width = `${Math.floor(viewport.width)}px`;
    const canvas = document.createElement("canvas");
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.setAttribute("aria-hidden", "true");
    const layer = document.createElement("div");
    layer.className = "textLayer";
    frame.append(canvas, layer);
    box.append(frame);
    await page.render({
      canvas,
      canvasContext: canvas.getContext("2d"),
      viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
    }).promise;
    await new TextLayer({
      textContentSource: page.streamTextContent(),
      container: layer,
      viewport,
    }).render();
  }
  statusSay(text("shown", gettext("Shown here; the reading is recorded with your name.")));
}

function imageShow(url, name) {
  opening += 1;
  const box = pagesBox();
  box.replaceChildren();
  titleSet(name);
  const image = document.createElement("img");
  image.alt = name;
  image.className = "pdf-page";
  image.src = url;
  box.append(image);
  statusSay(text("shown", gettext("Shown here; the reading is recorded with your name.")));
}

function open(button) {
  const { documentUrl: url, documentType: type, documentName: name } = button.dataset;
  for (const other of root.querySelectorAll("[data-document-url]")) {
    other.removeAttribute("aria-pressed");
  }
  button.setAttribute("aria-pressed", "true");
  if (type === "application/pdf") {
    pdfShow(url, name).catch(() => {
      statusSay(text("failed", gettext("The document could not be opened. Download it instead.")));
    });
  } else {
    imageShow(url, name);
  }
}

if (root) {
  GlobalWorkerOptions.workerSrc = root.dataset.worker;
  root.hidden = false;
  for (const button of document.querySelectorAll("[data-document-url]")) {
    button.hidden = false;
    button.addEventListener("click", () => open(button));
  }
  const first = document.querySelector("[data-document-url][data-document-open]");
  if (first) open(first);
}
