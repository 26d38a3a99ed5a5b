// A page that re-renders on the server when its figures change: the event stream named by
// #live[data-events] sends the figures' key; when it differs from the key this page was
// rendered with, the page is fetched again and its <main> swapped in — no reload, the scroll
// position kept. Nothing from the stream is inserted as markup.
(() => {
  'use strict';
  const first = document.getElementById('live');
  if (!first) return;
  let busy = false;
  let again = false;
  let refreshes = 0;

  const key = () => {
    const live = document.getElementById('live');
    return live ? live.dataset.key : '';
  };

  function state(on, text) {
    const live = document.getElementById('live');
    if (!live) return;
    live.classList.toggle('on', on);
    live.classList.toggle('off', !on);
    live.textContent = text;
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const r = await fetch(location.pathname + location.search, { cache: 'no-store' });
      if (r.ok) {
        const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
        const next = doc.querySelector('main');
        const now = document.querySelector('main');
        if (next && now) {
          now.replaceWith(document.adoptNode(next));
          refreshes += 1;
          document.body.dataset.refreshes = String(refreshes);
          state(true, 'live');
        }
      }
    } catch (_) {
      state(false, 'reconnecting…');
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const source = new EventSource(first.dataset.events);
  source.addEventListener('key', (e) => {
    const k = JSON.parse(e.data).key;
    if (k !== key()) refresh();
  });
  source.onopen = () => state(true, 'live');
  source.onerror = () => state(false, 'reconnecting…');
})();
