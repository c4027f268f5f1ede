// The live session page. History arrives server-rendered; this script only adds to it: events from the
// same-origin SSE stream (the browser's EventSource resends Last-Event-ID when it reconnects, and the server
// resumes there), the status and cost as they change, and follow-ups and stop without leaving the page.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log) return;
  var connection = document.querySelector('[data-live="connection"]');
  var stopForm = document.querySelector('[data-live="stop"]');

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
  }

  function place(node) {
    var slotOf = node.dataset.attach && document.getElementById(node.dataset.attach);
    var slot = slotOf && slotOf.querySelector(":scope > .tool-slot");
    (slot || log).appendChild(node);
  }

  var source = new EventSource(log.dataset.stream);
  source.addEventListener("ev", function (message) {
    var follow = nearBottom();
    var holder = document.createElement("template");
    holder.innerHTML = message.data; // rendered and escaped by the server's templates
    var node = holder.content.firstElementChild;
    if (!node || document.getElementById(node.id)) return; // an event is never shown twice
    place(node);
    if (follow) node.scrollIntoView({ block: "end" });
  });
  source.addEventListener("summary", function (message) {
    var s = JSON.parse(message.data);
    var badge = document.querySelector('[data-live="status"]');
    badge.textContent = s.status.replace(/_/g, " ");
    badge.className = "badge status-" + s.status;
    document.querySelector('[data-live="cost"]').textContent = s.cost;
    document.querySelector('[data-live="steps"]').textContent = s.steps;
    document.querySelector('[data-live="tokens"]').textContent = s.tokens;
    if (stopForm) stopForm.hidden = !s.active;
    document.querySelector('[data-live="unpushed"]').hidden = s.pushed;
    document.body.dataset.status = s.status;
  });
  source.onopen = function () {
    connection.textContent = "Live";
    connection.dataset.state = "open";
  };
  source.onerror = function () {
    var closed = source.readyState === EventSource.CLOSED;
    connection.textContent = closed ? "Disconnected: reload the page to see new events." : "Reconnecting…";
    connection.dataset.state = closed ? "closed" : "reconnecting";
  };

  document.querySelectorAll("form.follow-up, form.stop").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button");
      var said = form.querySelector(".form-state");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (r) {
          return r.json().then(function (body) {
            if (!r.ok) throw new Error(body.detail || "HTTP " + r.status);
            var text = form.querySelector("textarea");
            if (text) text.value = "";
            if (said) said.textContent = body.reopened ? "Sent; a new run starts." : "Sent.";
          });
        })
        .catch(function (err) {
          if (said) said.textContent = "Not sent: " + err.message;
          else alert("Could not stop the session: " + err.message);
        })
        .finally(function () {
          button.disabled = false;
        });
    });
  });

  if (!location.hash && log.lastElementChild) log.lastElementChild.scrollIntoView({ block: "end" });
})();
