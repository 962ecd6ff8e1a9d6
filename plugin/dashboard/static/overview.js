/* The overview's weekly on-time trend, drawn with uPlot from the JSON block the page carries.
   The same numbers are in the "Chart data" table next to the chart, so nothing depends on this script. */
(function () {
  "use strict";
  var source = document.getElementById("trend-data");
  var target = document.getElementById("trend-chart");
  if (!source || !target || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var weeks = data.weeks || [];
  if (!weeks.some(function (w) { return w.total > 0; })) {
    target.textContent = "No deadlines fell in this period.";
    target.classList.add("trend-empty");
    return;
  }
  var xs = weeks.map(function (w) { return w.x; });
  var rates = weeks.map(function (w) { return w.rate; });  // null: no deadline that week (a gap, not 0%)
  var byX = {};
  weeks.forEach(function (w) { byX[w.x] = w; });

  function size() {
    var width = Math.max(280, target.clientWidth || 600);
    return { width: width, height: width < 500 ? 220 : 280 };
  }

  var options = {
    width: size().width,
    height: size().height,
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), data.zone); },
    scales: { x: { time: true }, y: { range: [0, 100] } },
    series: [
      { label: "Week from",
        value: function (u, ts) { var w = byX[ts]; return w ? w.from + " to " + w.to : ""; } },
      { label: "On-time rate", stroke: "#0b5cad", width: 2, fill: "rgba(11, 92, 173, 0.08)",
        points: { show: true, size: 7, fill: "#0b5cad" }, spanGaps: false,
        value: function (u, v, si, i) {
          if (i == null) { return "—"; }
          var w = weeks[i];
          return w.total ? v + "% (" + w.on_time + " of " + w.total + ")" : "no deadlines";
        } }
    ],
    axes: [
      { stroke: "#57606a", grid: { stroke: "#eaeef2" } },
      { stroke: "#57606a", grid: { stroke: "#eaeef2" }, values: function (u, ticks) {
          return ticks.map(function (t) { return t + "%"; }); } }
    ]
  };
  var chart = new uPlot(options, [xs, rates], target);
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(function () { chart.setSize(size()); });
  });
})();
