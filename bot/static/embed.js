// Adds the CRM Advisor chat as a floating panel to any page:
//   <script src="https://advisor.example/embed.js" data-key="..." defer></script>
// data-key (optional) is an API key; data-label sets the button's text.
(() => {
  "use strict";
  const me = document.currentScript;
  if (!me) return;
  const base = new URL("./", me.src);
  const key = me.dataset.key ? "#key=" + encodeURIComponent(me.dataset.key) : "";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = me.dataset.label || "Ask the CRM Advisor";
  Object.assign(button.style, {
    position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483646",
    padding: ".6rem 1rem", borderRadius: "999px", border: "0", cursor: "pointer",
    background: "#2454c5", color: "#fff", font: "600 15px system-ui, sans-serif",
    boxShadow: "0 4px 14px rgba(0,0,0,.2)",
  });
  let frame = null;
  button.addEventListener("click", () => {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = base.toString() + key;
      frame.title = "CRM Advisor";
      const narrow = window.matchMedia("(max-width: 30rem)").matches;
      Object.assign(frame.style, {
        position: "fixed", zIndex: "2147483647", border: "1px solid #d9dee6",
        background: "#fff", borderRadius: narrow ? "0" : "12px",
        right: narrow ? "0" : "1rem", bottom: narrow ? "0" : "4.5rem",
        width: narrow ? "100vw" : "min(26rem, calc(100vw - 2rem))",
        height: narrow ? "calc(100vh - 4rem)" : "min(40rem, calc(100vh - 6rem))",
        boxShadow: "0 8px 30px rgba(0,0,0,.25)",
      });
      document.body.appendChild(frame);
      button.setAttribute("aria-expanded", "true");
      return;
    }
    frame.hidden = !frame.hidden;
    button.setAttribute("aria-expanded", String(!frame.hidden));
  });
  document.body.appendChild(button);
})();
