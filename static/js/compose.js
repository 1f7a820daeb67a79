// Rich-text editing for the compose form and the signature setting.
//
// Each element marked data-rich-editor becomes a Quill editor bound to the
// textarea named by its data-source attribute. The textarea stays the form
// field that is posted, so a page without JavaScript still works, and it is
// kept in step with the editor on every change. The page CSP allows no
// inline script, so everything is configured through data- attributes.
(function () {
  "use strict";

  if (window.convexCompose) {
    return;
  }
  window.convexCompose = true;

  var SIGNATURE_SELECTOR = "div.crm-signature";
  var TOOLBAR = [
    ["bold", "italic", "underline", "strike"],
    [{ list: "ordered" }, { list: "bullet" }],
    ["link", "blockquote"],
    ["clean"],
  ];

  function registerSignatureFormat(Quill) {
    // Lines of the signature carry class="crm-signature", so the block
    // stays recognisable (and removable) while the user edits it.
    var Parchment = Quill.import("parchment");
    var marker = new Parchment.ClassAttributor("crmsig", "crm", {
      scope: Parchment.Scope.BLOCK,
      whitelist: ["signature"],
    });
    Quill.register(marker, true);
  }

  function loadContent(quill, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var signature = holder.querySelector(SIGNATURE_SELECTOR);
    if (signature) {
      signature.parentNode.removeChild(signature);
    }
    quill.clipboard.dangerouslyPasteHTML(holder.innerHTML, "silent");
    if (!signature) {
      return;
    }
    var start = quill.getLength();
    quill.insertText(start - 1, "\n", "silent");
    quill.clipboard.dangerouslyPasteHTML(start, signature.innerHTML, "silent");
    quill.formatLine(start, quill.getLength() - start, "crmsig", "signature", "silent");
    // Put the caret on the empty first line, above the signature, so that
    // typing starts there rather than inside the signature.
    quill.focus();
    quill.setSelection(0, 0, "silent");
  }

  function editorHtml(quill) {
    // Quill 2.0.3 writes every space as &nbsp;, which stops mail clients
    // from wrapping lines: turn them back into ordinary spaces.
    return quill.getSemanticHTML().replace(/&nbsp;/g, " ");
  }

  function initEditor(element) {
    if (element.dataset.ready === "1" || !window.Quill) {
      return;
    }
    var source = document.getElementById(element.dataset.source);
    if (!source) {
      return;
    }
    element.dataset.ready = "1";
    var quill = new window.Quill(element, {
      theme: "snow",
      modules: { toolbar: TOOLBAR },
    });
    loadContent(quill, source.value);
    source.hidden = true;
    source.value = editorHtml(quill);
    quill.on("text-change", function () {
      source.value = editorHtml(quill);
    });
  }

  function closeCompose(event) {
    var button = event.target.closest("[data-compose-close]");
    if (!button) {
      return;
    }
    var compose = button.closest("section.compose");
    if (compose) {
      compose.remove();
    }
  }

  function initWithin(root) {
    if (!window.Quill) {
      return;
    }
    if (!window.Quill.convexReady) {
      registerSignatureFormat(window.Quill);
      window.Quill.convexReady = true;
    }
    var editors = root.querySelectorAll("[data-rich-editor]");
    for (var i = 0; i < editors.length; i += 1) {
      initEditor(editors[i]);
    }
  }

  document.addEventListener("click", closeCompose);
  document.addEventListener("htmx:load", function (event) {
    initWithin(event.detail.elt.parentNode || document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      initWithin(document);
    });
  } else {
    initWithin(document);
  }
})();
