// The executions list, kept current by the server's event stream: each row's spend, calls,
// status and budget meter change in place, new executions appear at the top. Every value is
// set as text (textContent), never parsed as markup: names come from the store.
(() => {
  'use strict';
  const body = document.getElementById('executions');
  const live = document.getElementById('live');
  const rows = new Map();
  for (const tr of body.querySelectorAll('tr[data-id]')) rows.set(tr.dataset.id, tr);
  let events = 0;

  const word = (s) => (/^[a-z_]+$/.test(s) ? s : 'unknown');

  function set(el, text) {
    if (el && el.textContent !== text) {
      el.textContent = text;
      el.classList.remove('flash');
      void el.offsetWidth; // restart the animation
      el.classList.add('flash');
    }
  }

  function td(key, cls) {
    const c = document.createElement('td');
    c.dataset.k = key;
    if (cls) c.className = cls;
    return c;
  }

  function create(r) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    const name = td('name', 'wrap');
    const a = document.createElement('a');
    a.href = '/executions/' + encodeURIComponent(r.id);
    name.appendChild(a);
    const status = td('status');
    status.appendChild(document.createElement('span'));
    const meter = td('meter', 'meter-cell');
    const m = document.createElement('div');
    m.className = 'meter';
    m.appendChild(document.createElement('span'));
    meter.appendChild(m);
    tr.append(name, status, td('spent', 'num'), td('budget', 'num'), meter,
      td('calls', 'num'), td('created', 'time'), td('id', 'mono dim'));
    return tr;
  }

  function update(r) {
    let tr = rows.get(r.id);
    if (!tr) {
      tr = create(r);
      rows.set(r.id, tr);
      body.insertBefore(tr, body.firstChild);
      // The page lists the most recent executions only, as the server does.
      const max = Number(body.dataset.max) || 200;
      while (body.rows.length > max) {
        rows.delete(body.lastElementChild.dataset.id);
        body.lastElementChild.remove();
      }
      const empty = document.getElementById('no-executions');
      if (empty) empty.remove();
    }
    const cell = (k) => tr.querySelector('[data-k="' + k + '"]');
    set(cell('name').firstChild, r.name_shown);
    const pill = cell('status').firstChild;
    pill.className = 'pill ' + word(r.status);
    set(pill, r.status_shown);
    set(cell('spent'), r.spent);
    set(cell('budget'), r.budget);
    const bar = cell('meter').firstChild;
    bar.classList.toggle('over', r.over);
    bar.style.visibility = r.pct === null ? 'hidden' : 'visible';
    bar.firstChild.style.width = (r.pct === null ? 0 : Math.min(r.pct, 100)) + '%';
    set(cell('calls'), r.calls_shown);
    set(cell('created'), r.created);
    set(cell('id'), r.id);
  }

  function totals(t) {
    for (const k of ['spent', 'running', 'executions', 'calls']) {
      set(document.querySelector('[data-total="' + k + '"]'), t[k]);
    }
  }

  function state(on, text) {
    live.classList.toggle('on', on);
    live.classList.toggle('off', !on);
    live.textContent = text;
  }

  const source = new EventSource('/events');
  const onRows = (e) => {
    events += 1;
    document.body.dataset.events = String(events);
    for (const r of JSON.parse(e.data)) update(r);
  };
  source.addEventListener('snapshot', onRows);
  source.addEventListener('executions', onRows);
  source.addEventListener('totals', (e) => totals(JSON.parse(e.data)));
  source.addEventListener('status', (e) => {
    const s = JSON.parse(e.data);
    state(!s.error, s.error ? 'store unreachable: ' + s.error : 'live');
  });
  source.onopen = () => state(true, 'live');
  source.onerror = () => state(false, 'reconnecting…');
})();
