// CRM Advisor chat page. No build step; every piece of text is set with textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const form = $("ask");
  const input = $("question");
  const send = $("send");
  const statusLine = $("status");
  const keybox = $("keybox");
  const reviewForm = $("review");
  const planInput = $("plan");
  const modeButton = $("mode");
  const MAX_PLAN = 20000;
  const REVIEW_PREFIX = "Review this CRM plan:\n";
  const CONV = "crm-advisor:conversation";
  const KEY = "crm-advisor:key";
  const HEADINGS = {
    "In short:": "direct",
    "What the sources say:": "evidence",
    "What we advise:": "advice",
  };
  let conversationId = sessionStorage.getItem(CONV);
  let apiKey = readKey();
  let busy = false;
  let serial = 0;

  // A key may come in the URL fragment (#key=...), which browsers never send to servers.
  function readKey() {
    const m = location.hash.match(/(?:^#|&)key=([^&]+)/);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(KEY);
  }

  function api(path) {
    return new URL(path, document.baseURI).toString();
  }

  function headers() {
    const h = { "Content-Type": "application/json" };
    if (apiKey) h.Authorization = "Bearer " + apiKey;
    return h;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setStatus(text, isError) {
    statusLine.textContent = text || "";
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function setBusy(on) {
    busy = on;
    send.disabled = on;
    $("reviewsend").disabled = on;
    input.setAttribute("aria-busy", on ? "true" : "false");
  }

  function scrollDown() {
    window.scrollTo(0, document.body.scrollHeight);
  }

  // Read a fetch Response as server-sent events: yields {event, data}.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  async function problemOf(response) {
    try {
      const body = await response.json();
      return { status: response.status, type: body.type || "", detail: body.detail || body.title };
    } catch (_) {
      return { status: response.status, type: "", detail: `The server answered ${response.status}.` };
    }
  }

  function explain(problem, response) {
    if (problem.status === 401) {
      keybox.hidden = false;
      $("key").focus();
      return "This advisor needs a valid access key. Enter it below, then ask again.";
    }
    if (problem.status === 429) {
      const wait = response && response.headers.get("Retry-After");
      return `Too many questions at once. Try again in ${wait || "a few"} seconds.`;
    }
    return problem.detail || "Something went wrong.";
  }

  // -- rendering -------------------------------------------------------------------------
  function bubble(cls) {
    document.getElementById("intro")?.remove();
    const node = el("div", "msg " + cls);
    log.appendChild(node);
    return node;
  }

  // Text with [n] markers becomes text nodes and links to the citation's details.
  function withMarkers(parent, text, uid) {
    let last = 0;
    for (const m of text.matchAll(/\[(\d+)\]/g)) {
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      const link = el("a", "cite", `[${m[1]}]`);
      link.href = `#cite-${uid}-${m[1]}`;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        const target = document.getElementById(`cite-${uid}-${m[1]}`);
        if (target) {
          target.open = true;
          target.scrollIntoView({ block: "nearest" });
          target.querySelector("summary").focus();
        }
      });
      parent.appendChild(link);
      last = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderBody(answerText, uid) {
    const body = el("div", "body");
    let list = null;
    for (const line of answerText.split("\n")) {
      if (!line.trim()) {
        list = null;
        continue;
      }
      if (HEADINGS[line]) {
        body.appendChild(el("h3", HEADINGS[line], line));
        list = null;
      } else if (line.startsWith("- ")) {
        if (!list) list = body.appendChild(el("ul", "answer"));
        const item = el("li");
        withMarkers(item, line.slice(2), uid);
        list.appendChild(item);
      } else {
        const para = el("p");
        withMarkers(para, line, uid);
        body.appendChild(para);
      }
    }
    return body;
  }

  function renderCitations(citations, uid) {
    const box = el("div", "sources");
    box.appendChild(el("p", null, "Sources"));
    for (const c of citations) {
      const item = el("details", "citation " + c.kind);
      item.id = `cite-${uid}-${c.n}`;
      const summary = el("summary");
      summary.appendChild(el("span", "num", `[${c.n}] `));
      summary.appendChild(el("span", "title", c.title + (c.section ? ` — ${c.section}` : "")));
      const advice = c.kind !== "article";
      summary.appendChild(el("span", "badge " + (advice ? "advice" : "evidence"),
        advice ? "advice" : "evidence"));
      item.appendChild(summary);
      item.appendChild(el("blockquote", null, c.quote));
      const origin = [c.author, c.publication, c.date].filter(Boolean).join(" · ");
      item.appendChild(el("p", "origin",
        origin || (advice ? (c.kind === "answer" ? "CRM Advisor direct answer" : "CRM Advisor best-practice note") : "")));
      box.appendChild(item);
    }
    return box;
  }

  function renderFeedback(answer) {
    const row = el("div", "feedback");
    row.appendChild(el("span", null, "Was this useful?"));
    const note = el("span", "thanks");
    const buttons = [["up", "👍", "Helpful"], ["down", "👎", "Not helpful"]].map(
      ([rating, face, label]) => {
        const b = el("button", null, face);
        b.type = "button";
        b.dataset.rating = rating;
        b.setAttribute("aria-label", label);
        b.setAttribute("aria-pressed", "false");
        b.addEventListener("click", () => rate(answer, rating, buttons, note));
        row.appendChild(b);
        return b;
      });
    row.appendChild(note);
    return row;
  }

  async function rate(answer, rating, buttons, note) {
    note.textContent = "Saving…";
    try {
      const response = await fetch(api("v1/feedback"), {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({
          conversation_id: answer.conversation_id, turn: answer.turn, rating,
        }),
      });
      if (!response.ok) {
        note.textContent = explain(await problemOf(response), response);
        return;
      }
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.rating === rating));
      note.textContent = "Thanks for the feedback.";
    } catch (_) {
      note.textContent = "Can't reach the advisor server; the rating was not saved.";
    }
  }

  function finish(node, answer, uid) {
    node.replaceChildren();
    if (!answer.answered) {
      node.classList.add("notice");
      node.appendChild(el("p", "notice-title", "Not covered by the sources"));
      node.appendChild(el("p", null, answer.answer));
    } else {
      node.appendChild(renderBody(answer.answer, uid));
      node.appendChild(renderCitations(answer.citations, uid));
    }
    const origin = provenance(answer);
    if (origin) node.appendChild(el("p", "provenance", origin));
    node.appendChild(renderFeedback(answer));
    node.dataset.turn = String(answer.turn);
  }

  // Which generator wrote the answer, and what the grounding guard did to it.
  function provenance(answer) {
    const g = answer.guard;
    if (answer.fallback) {
      return "Quoted from the sources: the AI-written answer was withdrawn (" + answer.fallback + ").";
    }
    if (!g) return "";
    const acts = [];
    if (g.removed) acts.push(`${g.removed} unsupported sentence${g.removed > 1 ? "s" : ""} removed`);
    if (g.flagged) acts.push(`${g.flagged} unverified sentence${g.flagged > 1 ? "s" : ""} flagged`);
    if (g.dropped_citations.length) acts.push("citations of sources not retrieved dropped");
    return `Written by ${answer.generator}; every sentence checked against its sources` +
      (acts.length ? ` (${acts.join(", ")}).` : ".");
  }

  function showError(node, text) {
    node.replaceChildren(el("p", null, text));
    node.classList.add("error");
    setStatus(text, true);
  }

  // -- plan review ---------------------------------------------------------------------
  function renderReview(review, uid) {
    const box = el("div", "review");
    const head = el("p", "readiness");
    const meter = el("meter");
    meter.min = 0;
    meter.max = 100;
    meter.low = 50;
    meter.high = 75;
    meter.optimum = 100;
    meter.value = review.readiness;
    head.appendChild(el("span", null, `Readiness ${review.readiness}/100 · ${review.verdict}`));
    head.appendChild(meter);
    box.appendChild(head);
    box.appendChild(el("p", "summary", review.summary));
    if (review.narrative) box.appendChild(el("p", "narrative", review.narrative));
    const flags = review.findings.filter((f) => f.basis === "shown");
    const questions = review.findings.filter((f) => f.basis !== "shown");
    if (flags.length) box.appendChild(el("h3", "group red-flags", "Red flags"));
    for (const f of flags) {
      const card = el("section", "finding " + f.severity);
      card.dataset.pattern = f.pattern;
      const title = el("h3", null, f.title);
      title.appendChild(el("span", "sev " + f.severity, f.severity));
      card.appendChild(title);
      for (const quote of f.evidence) card.appendChild(el("blockquote", null, quote));
      appendWhyFix(card, f, uid);
      box.appendChild(card);
    }
    if (questions.length) {
      box.appendChild(el("h3", "group open-questions", "Open questions (the plan does not say)"));
    }
    for (const f of questions) {
      const card = el("section", "finding question");
      card.dataset.pattern = f.pattern;
      card.appendChild(el("h3", null, f.question));
      card.appendChild(el("p", "missing", f.title));
      appendWhyFix(card, f, uid);
      box.appendChild(card);
    }
    if (review.strengths.length) {
      box.appendChild(el("h3", "group strengths-head", "Strengths"));
      const list = el("ul", "strengths");
      for (const s of review.strengths) {
        const item = el("li");
        item.appendChild(el("span", "label", s.title + ": "));
        item.appendChild(el("q", null, s.evidence[0] || ""));
        list.appendChild(item);
      }
      box.appendChild(list);
    }
    if (review.goal_rewrite) {
      const goal = el("div", "goal");
      goal.appendChild(el("p", "label", "Your headline goal, restated"));
      goal.appendChild(el("p", null, review.goal_rewrite.rewrite));
      goal.appendChild(el("p", "origin", `Was: “${review.goal_rewrite.original}”`));
      if (review.goal_rewrite.fill_in.length) {
        goal.appendChild(el("p", "origin", "To fill in: " + review.goal_rewrite.fill_in.join("; ")));
      }
      box.appendChild(goal);
    }
    return box;
  }

  function appendWhyFix(card, f, uid) {
    for (const [label, text] of [["Why it matters: ", f.why], ["What to do: ", f.fix]]) {
      const para = el("p");
      para.appendChild(el("span", "label", label));
      withMarkers(para, text, uid);
      card.appendChild(para);
    }
  }

  function planBubble(plan) {
    const node = bubble("user");
    const words = (plan.match(/[A-Za-z]{2,}/g) || []).length;
    const details = el("details");
    details.appendChild(el("summary", null, `Review this CRM plan (${words} words)`));
    details.appendChild(el("p", null, plan));
    node.appendChild(details);
  }

  function finishReview(node, review, uid) {
    node.replaceChildren(renderReview(review, uid));
    node.appendChild(renderCitations(review.citations, uid));
    node.appendChild(renderFeedback(review));
    node.dataset.turn = String(review.turn);
  }

  async function reviewPlan(plan) {
    setBusy(true);
    setStatus("Reviewing your plan…");
    planBubble(plan);
    const node = bubble("advisor");
    node.appendChild(el("p", "stream", "Reviewing…"));
    const uid = ++serial;
    let response;
    try {
      response = await fetch(api("v1/review"), {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(conversationId ? { plan, conversation_id: conversationId } : { plan }),
      });
      if (!response.ok) {
        planInput.value = planInput.value || plan; // nothing the user pasted is lost
        showError(node, explain(await problemOf(response), response));
        setBusy(false);
        return;
      }
      const review = await response.json();
      conversationId = review.conversation_id;
      sessionStorage.setItem(CONV, conversationId);
      finishReview(node, review, uid);
    } catch (_) {
      planInput.value = planInput.value || plan;
      showError(node, "Can't reach the advisor server. Check your connection, then try again.");
      setBusy(false);
      return;
    }
    setMode("ask");
    input.placeholder = "Ask about this review, e.g. “Why is that too broad?”";
    setStatus("Review done. Ask a follow-up about any finding below.");
    setBusy(false);
    scrollDown();
  }

  function setMode(mode) {
    const reviewing = mode === "review";
    reviewForm.hidden = !reviewing;
    form.hidden = reviewing;
    modeButton.textContent = reviewing ? "Ask a question" : "Review a plan";
    modeButton.setAttribute("aria-expanded", String(reviewing));
    (reviewing ? planInput : input).focus();
  }

  function updateCount() {
    const n = planInput.value.length;
    const counter = $("count");
    counter.textContent = `${n.toLocaleString("en")} / 20,000`;
    counter.classList.toggle("over", n > MAX_PLAN);
  }

  // -- asking ----------------------------------------------------------------------------
  async function ask(question) {
    setBusy(true);
    setStatus("Thinking…");
    bubble("user").textContent = question;
    const node = bubble("advisor");
    const stream = node.appendChild(el("div", "stream"));
    const uid = ++serial;
    let response;
    try {
      response = await fetch(api("v1/ask/stream"), {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(conversationId
          ? { question, conversation_id: conversationId } : { question }),
      });
    } catch (_) {
      input.value = input.value || question; // nothing the user typed is lost
      showError(node, "Can't reach the advisor server. Check your connection, then try again.");
      setBusy(false);
      return;
    }
    if (!response.ok) {
      input.value = input.value || question;
      showError(node, explain(await problemOf(response), response));
      setBusy(false);
      return;
    }
    let answer = null;
    try {
      for await (const { event, data } of readEvents(response)) {
        if (event === "citations" && data.citations.length) {
          for (const old of node.querySelectorAll(".sources")) old.remove();
          node.appendChild(renderCitations(data.citations, uid));
        } else if (event === "reset") {
          // The LLM's draft is withdrawn; the answer quoted from the sources follows.
          stream.textContent = "";
        } else if (event === "delta") {
          stream.textContent += data.text;
          scrollDown();
        } else if (event === "answer") {
          answer = data;
        } else if (event === "error") {
          throw new Error(data.detail || "The answer failed.");
        }
      }
      if (!answer) throw new Error("The answer was cut off. Please ask again.");
    } catch (err) {
      input.value = input.value || question;
      const lost = err instanceof TypeError
        ? "The connection to the advisor server was lost. Please ask again." : err.message;
      showError(node, lost);
      setBusy(false);
      return;
    }
    conversationId = answer.conversation_id;
    sessionStorage.setItem(CONV, conversationId);
    finish(node, answer, uid);
    setStatus(answer.answered ? "" : "The sources do not cover that question.");
    setBusy(false);
    scrollDown();
  }

  // Bring back the conversation after a reload.
  async function restore() {
    if (!conversationId) return;
    try {
      const response = await fetch(api(`v1/conversations/${encodeURIComponent(conversationId)}`),
        { headers: headers() });
      if (response.status === 404) {
        sessionStorage.removeItem(CONV);
        conversationId = null;
        return;
      }
      if (!response.ok) return;
      const { turns } = await response.json();
      for (const t of turns) {
        if (t.review) {
          planBubble(t.question.replace(REVIEW_PREFIX, ""));
          finishReview(bubble("advisor"), t.review, ++serial);
        } else {
          bubble("user").textContent = t.question;
          finish(bubble("advisor"), t.answer, ++serial);
        }
      }
    } catch (_) {
      setStatus("Can't reach the advisor server.", true);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (busy) return;
    if (!question) {
      setStatus("Type a question first.", true);
      input.focus();
      return;
    }
    if (question.length > 4000) {
      setStatus(`That is ${question.length} characters; the limit is 4,000.`, true);
      return;
    }
    input.value = "";
    ask(question);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      input.value = example.textContent;
      form.requestSubmit();
    });
  }

  reviewForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const plan = planInput.value.trim();
    if (busy) return;
    if (!plan) {
      setStatus("Paste your plan first.", true);
      planInput.focus();
      return;
    }
    if (plan.length > MAX_PLAN) {
      setStatus(`That is ${plan.length.toLocaleString("en")} characters; the limit is 20,000.`, true);
      return;
    }
    planInput.value = "";
    updateCount();
    reviewPlan(plan);
  });

  planInput.addEventListener("input", updateCount);
  modeButton.addEventListener("click", () => setMode(reviewForm.hidden ? "review" : "ask"));

  $("new").addEventListener("click", () => {
    conversationId = null;
    sessionStorage.removeItem(CONV);
    log.replaceChildren();
    input.placeholder = "Ask about CRM strategy…";
    setStatus("New conversation.");
    input.focus();
  });

  $("usekey").addEventListener("click", () => {
    apiKey = $("key").value.trim() || null;
    if (apiKey) sessionStorage.setItem(KEY, apiKey);
    keybox.hidden = true;
    setStatus("Key saved for this session.");
    input.focus();
  });

  restore();
})();
