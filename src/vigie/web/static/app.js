// vigie dashboards: draws each panel from the JSON API with Plotly (served locally).
// The server has already suppressed small cells; here a withheld cell is drawn as "< k"
// (a zero-height bar or an empty heatmap cell carrying that text), never as a number.
"use strict";

(function () {
  const panels = JSON.parse(document.getElementById("panels").textContent);
  const ui = JSON.parse(document.getElementById("i18n").textContent);
  const fr = ui.lang !== "en";
  const WEEKDAYS = fr
    ? ["", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    : ["", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const DIMENSIONS = fr
    ? { service: "Service", population: "Population", device: "Terminal", zone: "Zone",
        place: "Lieu", day: "Jour", weekday: "Jour de la semaine", hour: "Heure",
        source: "Source", reason: "Motif", structure: "Structure",
        structure_label: "Libellé", is_public_holiday: "Férié",
        is_school_holiday: "Vacances scolaires", format: "Format",
        last_event: "Dernier accès", status: "État", week_start: "Semaine du",
        iso_year: "Année (ISO)", iso_week: "Semaine", academic_year: "Année universitaire",
        academic_day: "Jour de l’année universitaire" }
    : {};

  function label(data, dim, value) {
    if (value === null || value === undefined) return "–";
    if (dim === "weekday") return WEEKDAYS[value] || String(value);
    if (dim === "hour") return fr ? value + " h" : value + ":00";
    if (dim === "day" && fr) { const [y, m, d] = String(value).split("-"); return d + "/" + m + "/" + y; }
    if (typeof value === "boolean") return fr ? (value ? "oui" : "non") : (value ? "yes" : "no");
    return (data.labels && data.labels[value]) || String(value);
  }

  function measureOf(data, column) {
    return data.measures.find((m) => m.column === column) || data.measures[0];
  }

  function value(row, measure) {
    if (row[measure.column + "_suppressed"]) return null;
    const v = row[measure.column];
    if (v === null || v === undefined) return null;
    return measure.kind === "ratio" ? v * 100 : v;
  }

  function isSuppressed(row, measure) { return Boolean(row[measure.column + "_suppressed"]); }

  function layoutFor(spec, measure, extra) {
    const base = {
      separators: fr ? ",\u202f" : ".,",
      margin: { l: 60, r: 10, t: 10, b: 60 },
      height: 360,
      legend: { orientation: "h", y: -0.25 },
      yaxis: { title: { text: measure.label }, ticksuffix: measure.kind === "ratio" ? (fr ? "\u202f%" : "%") : "",
               rangemode: "tozero", tickformat: measure.kind === "ratio" ? ",.0f" : ",~r" },
      xaxis: { automargin: true },
      font: { family: "system-ui, DejaVu Sans, sans-serif", size: 12 },
    };
    return Object.assign(base, extra || {});
  }

  function groups(data, spec) {
    // One series per value of the colour dimension (or a single series), rows in API order.
    const out = new Map();
    for (let i = 0; i < data.rows.length; i++) {
      const row = data.rows[i];
      const key = spec.color ? row[spec.color] : "";
      if (!out.has(key)) out.set(key, []);
      out.get(key).push(i);
    }
    return out;
  }

  function barTraces(data, spec, measure) {
    const traces = [];
    for (const [key, indexes] of groups(data, spec)) {
      const xs = [], ys = [], texts = [];
      for (const i of indexes) {
        const row = data.rows[i];
        xs.push(label(data, spec.x, row[spec.x]));
        const suppressed = isSuppressed(row, measure);
        ys.push(suppressed ? 0 : value(row, measure));
        texts.push(data.text[i][measure.column]);
      }
      traces.push({
        type: "bar", x: xs, y: ys, name: spec.color ? label(data, spec.color, key) : measure.label,
        text: texts.map((t) => (t.startsWith("<") ? t : "")), textposition: "outside",
        customdata: texts, cliponaxis: false,
        hovertemplate: "%{x}<br>" + (spec.color ? "%{fullData.name} : " : "") + "%{customdata}<extra></extra>",
      });
    }
    return traces;
  }

  function lineTraces(data, spec, measure) {
    const traces = [];
    for (const [key, indexes] of groups(data, spec)) {
      const sorted = indexes.slice().sort((a, b) => String(data.rows[a][spec.x]).localeCompare(String(data.rows[b][spec.x])));
      traces.push({
        type: "scatter", mode: "lines+markers", marker: { size: 4 },
        x: sorted.map((i) => data.rows[i][spec.x]),
        y: sorted.map((i) => value(data.rows[i], measure)),
        customdata: sorted.map((i) => data.text[i][measure.column]),
        name: spec.color ? label(data, spec.color, key) : measure.label,
        hovertemplate: "%{x|" + (fr ? "%d/%m/%Y" : "%b %d, %Y") + "}<br>%{customdata}<extra>%{fullData.name}</extra>",
      });
    }
    return traces;
  }

  // Holidays shaded behind a line chart over days, so that a dip reads as a holiday rather than
  // as a fall in use. Driven by the columns, not by the indicator: any indicator whose rows carry
  // `day` and the calendar flags gets the bands when `day` is along the x axis. One rectangle
  // per run of consecutive holiday days, from the noon before its first day to the noon after
  // its last (a single day is a band one day wide centred on its point); report.py does the same.
  const HOLIDAYS = [
    { column: "is_school_holiday", color: "#f2b705", label: fr ? "Vacances scolaires" : "School holidays" },
    { column: "is_public_holiday", color: "#d6336c", label: fr ? "Jours fériés" : "Public holidays" },
  ];

  function nextDay(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function holidayRuns(rows, column) {
    // The flags are the same for every service of a day: one set of days, then runs.
    const days = [...new Set(rows.filter((r) => r[column] === true).map((r) => String(r.day)))].sort();
    const runs = [];
    for (const day of days) {
      const last = runs[runs.length - 1];
      if (last && nextDay(last[1], 1) === day) last[1] = day;
      else runs.push([day, day]);
    }
    return runs;
  }

  function holidayBands(data, spec, layout) {
    const columns = data.columns || [];
    if (spec.x !== "day" || !columns.includes("day")) return;
    const shapes = [], notes = [];
    for (const h of HOLIDAYS) {
      if (!columns.includes(h.column)) continue;
      const runs = holidayRuns(data.rows, h.column);
      for (const [first, last] of runs) {
        shapes.push({
          type: "rect", xref: "x", yref: "paper", x0: nextDay(first, -1) + " 12:00", x1: last + " 12:00",
          y0: 0, y1: 1, fillcolor: h.color, opacity: 0.18, line: { width: 0 }, layer: "below", name: h.label,
        });
      }
      if (runs.length) notes.push('<span style="color:' + h.color + '">\u25a0</span> ' + h.label);
    }
    if (!shapes.length) return;
    layout.shapes = shapes;
    // Shapes have no legend entry in every Plotly version: a note above the plot names them.
    layout.annotations = [{
      xref: "paper", yref: "paper", x: 1, y: 1, xanchor: "right", yanchor: "bottom", showarrow: false,
      text: notes.join("\u2003"), font: { size: 11 },
    }];
    layout.margin = Object.assign({}, layout.margin, { t: 28 });
  }

  function heatmapTrace(data, spec, measure) {
    const hours = Array.from({ length: 24 }, (_, h) => h);
    const days = [1, 2, 3, 4, 5, 6, 7];
    const z = days.map(() => hours.map(() => null));
    const text = days.map(() => hours.map(() => ""));
    data.rows.forEach((row, i) => {
      const d = row.weekday - 1, h = row.hour;
      if (d < 0 || d > 6 || h < 0 || h > 23) return;
      z[d][h] = value(row, measure);
      text[d][h] = data.text[i][measure.column];
    });
    return [{
      type: "heatmap", z: z, text: text, colorscale: "Blues", reversescale: true,
      x: hours.map((h) => label(data, "hour", h)), y: days.map((d) => label(data, "weekday", d)),
      hovertemplate: "%{y} %{x}<br>%{text}<extra></extra>", hoverongaps: false,
      colorbar: { title: { text: measure.label } },
    }];
  }

  function table(data) {
    const kinds = Object.fromEntries(data.measures.map((m) => [m.column, m]));
    const columns = data.dimensions.concat(data.measures.map((m) => m.column));
    const el = document.createElement("table");
    const head = el.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = kinds[c] ? kinds[c].label : (DIMENSIONS[c] || c);
      head.appendChild(th);
    }
    const body = el.createTBody();
    const warnings = new Set(data.warnings || []);  // rows whose status is not "ok"
    data.rows.forEach((row, i) => {
      const tr = body.insertRow();
      if (warnings.has(i)) tr.className = "warning";
      for (const c of columns) {
        const td = tr.insertCell();
        if (kinds[c]) {
          td.textContent = data.text[i][c];
          td.className = "num" + (row[c + "_suppressed"] ? " suppressed" : "");
        } else {
          td.textContent = label(data, c, row[c]);
        }
      }
    });
    return el;
  }

  async function draw(section, spec) {
    const chart = section.querySelector(".chart");
    const holder = section.querySelector(".table");
    let data;
    try {
      const response = await fetch(spec.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status + " " + (await response.text()));
      data = await response.json();
    } catch (error) {
      chart.dataset.state = "error";
      chart.textContent = ui.error + " : " + error.message;
      return;
    }
    holder.replaceChildren(table(data));
    if (!data.rows.length) {
      chart.dataset.state = "empty";
      chart.textContent = ui.no_data;
      return;
    }
    if (spec.chart === "table") {
      chart.dataset.state = "table";
      chart.replaceChildren(holder.firstChild);
      section.querySelector("details").hidden = true;
      return;
    }
    const measure = measureOf(data, spec.measure);
    let traces, layout;
    if (spec.chart === "heatmap") {
      traces = heatmapTrace(data, spec, measure);
      layout = layoutFor(spec, measure, { yaxis: { autorange: "reversed" }, margin: { l: 80, r: 10, t: 10, b: 40 } });
    } else if (spec.chart === "line") {
      traces = lineTraces(data, spec, measure);
      layout = layoutFor(spec, measure);
      layout.xaxis = { type: "date", tickformat: fr ? "%d/%m" : "%b %d", hoverformat: fr ? "%d/%m/%Y" : "%b %d, %Y" };
      holidayBands(data, spec, layout);
    } else {
      traces = barTraces(data, spec, measure);
      layout = layoutFor(spec, measure, { barmode: spec.chart === "stacked_bar" ? "stack" : "group" });
    }
    chart.textContent = "";
    chart.dataset.state = "drawn";
    await Plotly.newPlot(chart, traces, layout, {
      responsive: true, displaylogo: false,
      toImageButtonOptions: { format: "png", filename: "vigie-" + spec.id, scale: 2 },
    });
    chart.dataset.rows = String(data.rows.length);
    section.dataset.ready = "1";
  }

  document.querySelectorAll("section.panel").forEach((section) => {
    const spec = panels[Number(section.dataset.panel)];
    const button = section.querySelector("button.png");
    if (button) {
      button.addEventListener("click", () => {
        const chart = section.querySelector(".chart");
        if (chart.dataset.state === "drawn") {
          Plotly.downloadImage(chart, { format: "png", filename: "vigie-" + spec.id, width: 1200, height: 600 });
        }
      });
    }
    draw(section, spec).finally(() => { section.dataset.done = "1"; });
  });

  // Filter bar: menus apply at once; editing a date switches to a custom period; the URL keeps
  // only what is set, so it stays short enough to share.
  const form = document.getElementById("filters");
  if (form) {
    const period = form.querySelector("#period");
    for (const id of ["start", "end"]) {
      form.querySelector("#" + id).addEventListener("change", () => { period.value = "custom"; });
    }
    form.addEventListener("submit", () => {
      for (const el of form.querySelectorAll("select, input")) {
        if (!el.value || ((el.name === "start" || el.name === "end") && period.value !== "custom")) {
          el.disabled = true;
        }
      }
    });
    for (const select of form.querySelectorAll("select[name]")) {
      if (select.name !== "period") select.addEventListener("change", () => form.requestSubmit());
    }
    period.addEventListener("change", () => { if (period.value !== "custom") form.requestSubmit(); });
  }
})();
