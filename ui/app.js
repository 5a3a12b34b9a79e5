// The chat page's own behaviour, inlined into the page head by ui/app.py (nothing is fetched from
// outside). Clicks are caught in the capture phase, before gradio's handlers see them:
// - an example question is sent at once, like a typed one (so it is saved with the conversation);
// - a citation's "open" button opens the viewer at that passage (its value is {"doc","start","end"});
// - "Copy message" copies clean text: the answer, the quote and where it stands, the sources' names.
(() => {
  "use strict";

  function setValue(field, value) {
    const proto = field.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(field, value);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function sendExample(example) {
    const text = (example.querySelector(".example-text-content") || example).textContent.trim();
    const box = document.querySelector("#question textarea");
    const send = document.querySelector("#question button.submit-button");
    if (!box || !send || !text) return;
    setValue(box, text);
    requestAnimationFrame(() => setTimeout(() => send.click(), 0));
  }

  let opened = 0;
  function openCitation(button) {
    const target = document.querySelector("#cite-target textarea, #cite-target input");
    if (!target) return;
    let citation;
    try {
      citation = JSON.parse(button.value);
    } catch (error) {
      return;
    }
    opened += 1;
    const viewer = document.querySelector("#viewer");
    const before = viewer ? viewer.innerHTML : "";
    setValue(target, JSON.stringify({ ...citation, opened }));
    const started = Date.now();
    const wait = setInterval(() => {
      const now = document.querySelector("#viewer");
      if ((now && now.innerHTML !== before && now.querySelector("#cited")) || Date.now() - started > 5000) {
        clearInterval(wait);
        const cited = document.querySelector("#viewer #cited");
        if (cited) {
          // the panel into sight where it is not (below the chat on a phone), the passage into the panel's
          const panel = document.querySelector("#viewer-panel").getBoundingClientRect();
          if (panel.top < 0 || panel.top > window.innerHeight - 120) {
            document.querySelector("#viewer-panel").scrollIntoView({ block: "start" });
          }
          const box = document.querySelector("#viewer");
          box.scrollTop += cited.getBoundingClientRect().top - box.getBoundingClientRect().top - 48;
        }
      }
    }, 100);
  }

  // The text of an answer as a person would paste it: no markup, no buttons, no passage bodies.
  function cleanText(content) {
    const copy = content.cloneNode(true);
    copy.querySelectorAll("button.cite").forEach((b) => b.remove());
    copy.querySelectorAll("details").forEach((card) => {
      const line = document.createElement("p");
      const summary = card.querySelector("summary");
      line.textContent = summary ? summary.textContent : "";
      card.replaceWith(line);
    });
    copy.querySelectorAll("blockquote").forEach((quote) => {
      const line = document.createElement("p");
      line.textContent = "“" + quote.textContent.trim() + "”";
      quote.replaceWith(line);
    });
    const blocks = copy.querySelectorAll("p, li, h1, h2, h3, h4");
    const lines = (blocks.length ? Array.from(blocks) : [copy]).map((el) => el.textContent.replace(/\s+/g, " ").trim());
    return lines.filter((line) => line).join("\n");
  }

  function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  function copyMessage(button) {
    const row = button.closest(".message-buttons");
    const scope = row ? row.parentElement : null;
    const messages = scope ? scope.querySelectorAll('[data-testid="bot"] .message-content') : [];
    if (!messages.length) return false;
    const text = cleanText(messages[messages.length - 1]);
    writeClipboard(text).then(() => {
      button.dataset.copied = "1";
      setTimeout(() => delete button.dataset.copied, 1500);
    });
    return true;
  }

  // Gradio's own words (the upload box, the footer, its settings) in the interface's language, not
  // the browser's: gradio picks its locale from navigator.language when it starts, before this script
  // runs, so the choice is handed to its locale store through the changeLocale export of its core
  // module, imported from the very URL the page loaded it from (the same module, the same store).
  window.qaGradioLanguage = (value) => {
    const core = performance
      .getEntriesByType("resource")
      .map((entry) => entry.name)
      .find((name) => /\/assets\/core-[\w-]+\.js$/.test(new URL(name).pathname));
    if (!core) return;
    import(core)
      .then((module) => typeof module.changeLocale === "function" && module.changeLocale(value === "zh" ? "zh-CN" : "en"))
      .catch(() => {});
  };

  document.addEventListener(
    "click",
    (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      const cite = target.closest("button.cite");
      if (cite) {
        event.preventDefault();
        event.stopPropagation();
        openCitation(cite);
        return;
      }
      const example = target.closest("#chat button.example");
      if (example) {
        event.preventDefault();
        event.stopImmediatePropagation();
        sendExample(example);
        return;
      }
      const copy = target.closest('#chat .message-buttons button[aria-label="Copy message"]');
      if (copy && copyMessage(copy)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true,
  );
})();
