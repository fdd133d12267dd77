// yupiao status page: keeps relative times and countdowns current, and reloads the page's
// content when the daemon records a change (server-sent events). The page is complete without it.
(function () {
  "use strict";
  function span(s) {
    s = Math.abs(Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return h > 0 ? d + " d " + h + " h" : d + " d";
    if (h > 0) return m > 0 ? h + " h " + m + " min" : h + " h";
    if (m > 0) return m + " min";
    return s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-rel]").forEach(function (el) {
      var s = (Date.parse(el.getAttribute("data-rel")) - now) / 1000;
      el.textContent = Math.abs(s) < 1 ? "now" : s > 0 ? "in " + span(s) : span(s) + " ago";
    });
    document.querySelectorAll("[data-cd]").forEach(function (el) {
      var s = (Date.parse(el.getAttribute("data-cd")) - now) / 1000;
      el.textContent = s > 0 ? span(s) + " left" : "passed " + span(s) + " ago";
    });
  }
  function refresh() {
    fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main"), old = document.getElementById("main");
        var top = doc.querySelector(".top"), oldTop = document.querySelector(".top");
        if (fresh && old) old.replaceWith(fresh);
        if (top && oldTop) { var live = oldTop.querySelector("#live"); oldTop.replaceWith(top); if (live) top.querySelector("#live").replaceWith(live); }
        document.title = doc.title;
        tick();
      })
      .catch(function () {});
  }
  function listen() {
    if (!window.EventSource) return;
    var main = document.getElementById("main");
    var q = new URLSearchParams(location.search);
    q.set("since", main ? main.getAttribute("data-revision") : "0");
    var es = new EventSource("events?" + q.toString());
    var live = document.getElementById("live");
    es.onopen = function () { if (live) live.hidden = false; };
    es.onerror = function () { if (live) live.hidden = true; };
    es.addEventListener("changed", refresh);
  }
  tick();
  setInterval(tick, 1000);
  listen();
})();
