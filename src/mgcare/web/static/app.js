/* mgcare web app: small progressive enhancements, no build step, no dependencies.
   - Suggestion lists (ARIA 1.2 combobox): type to search, ArrowDown/ArrowUp to move,
     Enter to pick, Escape to close; aria-expanded and aria-activedescendant kept in step.
   - Lab form: the unit list shows only the units of the chosen test (nothing preselected).
   - Food form: picking a food offers its household portions, which fill in the grams.
   Every form works without this script; the server checks everything again. */
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function label(kind, item, lang) {
    if (kind === "food") {
      var zh = item.name_zh;
      var main = lang === "zh" && zh ? zh : item.name;
      var other = lang === "zh" ? item.name : zh;
      var mg = item.magnesium_mg_per_100g == null ? "" : " · Mg " + item.magnesium_mg_per_100g + " mg/100 g";
      return { main: main, extra: (other ? other + " · " : "") + "#" + item.food + mg };
    }
    var first = lang === "zh" ? item.name_zh : item.name_en;
    var second = lang === "zh" ? item.name_en : item.name_zh;
    return { main: first, extra: [second, item["class"]].filter(Boolean).join(" · ") };
  }

  function valueOf(kind, item) {
    return kind === "food" ? item.food : item.code;
  }

  function setupCombobox(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var hidden = document.getElementById(input.dataset.hidden);
    var status = document.getElementById(input.id + "-status");
    var kind = input.dataset.kind;
    var lang = input.dataset.lang || document.documentElement.lang.slice(0, 2);
    var items = [];
    var active = -1;
    var lastQuery = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0 && options[index]) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      input.value = label(kind, item, lang).main;
      if (hidden) { hidden.value = valueOf(kind, item); }
      close();
      input.dispatchEvent(new CustomEvent("mgcare:chosen", { detail: item }));
    }

    function render(data) {
      items = data;
      list.innerHTML = "";
      data.forEach(function (item, i) {
        var option = document.createElement("li");
        var text = label(kind, item, lang);
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.value = valueOf(kind, item);
        option.textContent = text.main;
        if (text.extra) {
          var small = document.createElement("span");
          small.className = "muted";
          small.textContent = " — " + text.extra;
          option.appendChild(small);
        }
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { choose(i); });
        list.appendChild(option);
      });
      var open = data.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (status) {
        status.textContent = data.length + (lang === "zh" ? " 个候选项" : " suggestions");
      }
    }

    var fetchSuggestions = debounce(function (query) {
      if (query === lastQuery) { return; }
      lastQuery = query;
      if (!query.trim()) { render([]); return; }
      var url = input.dataset.source + "?q=" + encodeURIComponent(query) + "&lang=" + lang;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (data) { if (input.value === query) { render(data); } })
        .catch(function () { render([]); });
    }, 120);

    input.addEventListener("input", function () {
      if (hidden) { hidden.value = ""; }
      input.dispatchEvent(new CustomEvent("mgcare:cleared"));
      fetchSuggestions(input.value);
    });
    input.addEventListener("keydown", function (event) {
      var count = items.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (list.hidden) {
          if (count) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
          else { lastQuery = null; fetchSuggestions(input.value); return; }
        }
        highlight(count ? (active + 1) % count : -1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (!list.hidden && count) { highlight(active <= 0 ? count - 1 : active - 1); }
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) { event.preventDefault(); choose(active); }
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); close(); }
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function setupUnitFilter(select) {
    var source = document.getElementById(select.dataset.filterBy);
    if (!source) { return; }
    function apply() {
      var analyte = source.value;
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) { return; }
        var fits = (option.dataset.analytes || "").split(" ").indexOf(analyte) >= 0;
        option.hidden = !fits;
        option.disabled = !fits;
        if (!fits && option.selected) { select.value = ""; }
      });
    }
    source.addEventListener("change", apply);
    apply();
  }

  function setupPortions(input) {
    var select = document.getElementById("food-portion");
    var grams = document.getElementById("grams");
    if (!select || !grams) { return; }
    var placeholder = select.options[0] ? select.options[0].textContent : "";
    function reset() {
      select.innerHTML = "";
      var option = document.createElement("option");
      option.value = "";
      option.textContent = placeholder;
      select.appendChild(option);
      select.disabled = true;
    }
    input.addEventListener("mgcare:cleared", reset);
    input.addEventListener("mgcare:chosen", function (event) {
      reset();
      var portions = (event.detail && event.detail.portions) || [];
      portions.forEach(function (portion) {
        var option = document.createElement("option");
        option.value = String(portion.grams);
        option.textContent = portion.amount + " × " + portion.label + " (" + portion.grams + " g)";
        select.appendChild(option);
      });
      select.disabled = portions.length === 0;
    });
    select.addEventListener("change", function () {
      if (select.value) { grams.value = select.value; }
    });
  }

  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[role=combobox][data-source]").forEach(setupCombobox);
    document.querySelectorAll("select[data-filter-by]").forEach(setupUnitFilter);
    var food = document.getElementById("food-search");
    if (food) { setupPortions(food); }
    focusErrorSummary();
  });
})();
