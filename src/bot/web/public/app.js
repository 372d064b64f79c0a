// The web console's script: builds a form per command from its definition (the server's limits),
// posts runs, follows their replies over SSE (queue position, progress, result), lists your recent
// jobs on load, and shows the gallery.
const $ = (sel) => document.querySelector(sel);
const HEADERS = { 'X-Illusionist': '1' };
let definitions = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// --- forms ---

/** A black canvas to draw white strokes on: a digit sketch, or a mask (white = repaint). */
function sketchPad(name) {
  const canvas = el('canvas', { class: 'sketch', width: 112, height: 112, 'data-sketch': name });
  const ctx = canvas.getContext('2d');
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    canvas.dataset.dirty = '';
  };
  clear();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 0.1, y);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 9;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.stroke();
    canvas.dataset.dirty = '1';
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  canvas.addEventListener('pointerup', () => {
    drawing = false;
  });
  const wrap = el(
    'div',
    { class: 'sketch-wrap', hidden: true },
    canvas,
    el(
      'div',
      { class: 'sketch-tools' },
      el('button', { type: 'button', onclick: clear }, 'Clear'),
      'or upload a file above',
    ),
  );
  return { wrap, canvas };
}

function fieldFor(opt) {
  const label = el('span', { class: opt.required ? 'required' : '' }, opt.name);
  const desc = el('span', { class: 'desc' }, opt.description);
  let input;
  if (opt.choices) {
    input = el(
      'select',
      { name: opt.name },
      opt.required ? null : el('option', { value: '' }, '(default)'),
      opt.choices.map((c) => el('option', { value: c.value }, c.name)),
    );
  } else if (opt.type === 'boolean') {
    input = el(
      'select',
      { name: opt.name },
      el('option', { value: '' }, '(default)'),
      el('option', { value: 'true' }, 'yes'),
      el('option', { value: 'false' }, 'no'),
    );
  } else if (opt.type === 'integer' || opt.type === 'number') {
    input = el('input', {
      type: 'number',
      name: opt.name,
      min: opt.min,
      max: opt.max,
      step: opt.type === 'integer' ? 1 : 'any',
    });
  } else if (opt.type === 'attachment') {
    const file = el('input', { type: 'file', name: opt.name, accept: 'image/*' });
    const pad = sketchPad(opt.name);
    const toggle = el(
      'button',
      {
        type: 'button',
        'data-draw': opt.name,
        onclick: () => {
          pad.wrap.hidden = !pad.wrap.hidden;
        },
      },
      opt.name === 'mask' ? 'Draw a mask' : 'Draw a sketch',
    );
    return el('label', { class: 'field' }, label, desc, file, el('div', { class: 'sketch-tools' }, toggle), pad.wrap);
  } else {
    input = el('input', { type: 'text', name: opt.name, maxlength: opt.maxLength });
  }
  return el('label', { class: 'field' }, label, desc, input);
}

function showForm(name) {
  const def = definitions.find((d) => d.name === name);
  $('#command-description').textContent = def ? def.description + (def.adminOnly ? ' (admins only)' : '') : '';
  $('#fields').replaceChildren(...(def ? def.options.map(fieldFor) : []));
  for (const opt of def ? def.options : []) if (opt.below) boundBelow(opt);
}

/** An option that must stay below another one (i_start below steps): its max follows that field. */
function boundBelow(opt) {
  const input = $(`#fields [name="${opt.name}"]`);
  const other = $(`#fields [name="${opt.below.option}"]`);
  if (!input) return;
  const update = () => {
    const n = other && other.value !== '' ? Number(other.value) : opt.below.default;
    input.max = String(Math.min(opt.max ?? Infinity, n - 1));
  };
  update();
  if (other) other.addEventListener('input', update);
}

async function formData() {
  const form = $('#run-form');
  const data = new FormData(form);
  for (const canvas of form.querySelectorAll('canvas[data-sketch]')) {
    const name = canvas.dataset.sketch;
    const file = data.get(name);
    if (canvas.dataset.dirty && !(file instanceof File && file.size > 0)) {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      data.set(name, blob, `${name}-sketch.png`);
    }
  }
  return data;
}

// --- runs ---

function follow(runId, card) {
  const source = new EventSource(`/api/runs/${runId}/events`);
  source.addEventListener('reply', (e) => render(card, JSON.parse(e.data)));
  source.addEventListener('end', () => source.close());
  source.onerror = () => {
    source.close();
  };
}

function newCard(text) {
  const card = el('div', { class: 'card' }, el('div', { class: 'status' }, text));
  $('#results').prepend(card);
  return card;
}

/** The server's answer as JSON, or its text (a sign-in message) as an error reply. */
async function answerOf(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { reply: { type: 'error', message: text || `HTTP ${res.status}` } };
  }
}

async function start(url, body, label) {
  const card = newCard(label);
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: body instanceof FormData ? HEADERS : { ...HEADERS, 'Content-Type': 'application/json' },
      body: body instanceof FormData ? body : JSON.stringify(body),
    });
  } catch (e) {
    render(card, { type: 'error', message: `the console did not answer (${e.message})` });
    return;
  }
  const answer = await answerOf(res);
  // The answer already holds the first reply (queued, once the job exists, or the refusal).
  render(card, answer.reply ?? { type: 'error', message: answer.error ?? `HTTP ${res.status}` });
  if (answer.runId && answer.reply && !FINAL.has(answer.reply.type)) follow(answer.runId, card);
  else if (answer.reply?.type === 'info' && answer.reply.deleteResultOf === undefined) loadGallery();
}

const FINAL = new Set(['error', 'result', 'failed', 'info', 'gallery']);

function actionButton(action) {
  return el(
    'button',
    {
      type: 'button',
      class: action.style,
      'data-action': action.id,
      onclick: () => start('/api/action', { actionId: action.id }, `${action.label}…`),
    },
    action.label,
  );
}

function fileView(f) {
  if (f.contentType.startsWith('image/'))
    return el(
      'a',
      { href: f.url, target: '_blank', rel: 'noopener' },
      el('img', { src: f.url, alt: f.name, title: f.name }),
    );
  return el('a', { href: f.url, download: f.name }, f.name);
}

function render(card, reply) {
  card.classList.toggle('error', reply.type === 'error' || reply.type === 'failed');
  switch (reply.type) {
    case 'queued':
      card.dataset.job = reply.jobId;
      card.replaceChildren(
        el('div', { class: 'status' }, `Job #${reply.jobId} queued · position ${reply.position}`),
        el('div', { class: 'caption' }, reply.summary),
      );
      break;
    case 'progress': {
      const status = el(
        'div',
        { class: 'status' },
        `Job #${reply.jobId} · ${reply.message ? `${reply.message} · ` : ''}step ${reply.step}/${reply.total}`,
      );
      const bar = el('progress', { max: reply.total, value: reply.step });
      const keep = card.querySelector('img.preview');
      const preview = reply.preview ? el('img', { class: 'preview', src: reply.preview.url, alt: 'preview' }) : keep;
      card.replaceChildren(status, bar, preview ?? '');
      break;
    }
    case 'result':
      card.dataset.job = reply.jobId;
      card.replaceChildren(
        el('div', { class: 'files' }, reply.files.map(fileView)),
        el('div', { class: 'caption' }, reply.caption),
        el('div', { class: 'actions' }, reply.actions.map(actionButton)),
      );
      break;
    case 'failed':
      card.replaceChildren(el('div', { class: 'status' }, reply.message));
      break;
    case 'error':
      card.replaceChildren(
        el('div', { class: 'status' }, reply.message),
        reply.allowed ? el('div', { class: 'allowed' }, `Allowed: ${reply.allowed}`) : '',
      );
      break;
    case 'info':
      if (reply.deleteResultOf !== undefined) {
        document.querySelectorAll(`.card[data-job="${reply.deleteResultOf}"]`).forEach((c) => {
          c.remove();
        });
        loadGallery();
      }
      card.replaceChildren(
        reply.title ? el('strong', {}, reply.title) : '',
        reply.fields
          ? el(
              'dl',
              { class: 'fields' },
              reply.fields.flatMap((f) => [el('dt', {}, f.name), el('dd', {}, f.value)]),
            )
          : '',
        el('pre', { class: 'info' }, reply.text),
        reply.files ? el('div', { class: 'files' }, reply.files.map(fileView)) : '',
      );
      if (/gallery|vote|Post #/i.test(reply.text)) loadGallery();
      break;
    case 'gallery':
      card.replaceChildren(
        el('div', { class: 'status' }, `${reply.entries.length} gallery posts (see the gallery panel)`),
      );
      loadGallery();
      break;
  }
}

// --- gallery ---

async function loadGallery() {
  const params = new URLSearchParams({ filter: $('#gallery-filter').value });
  if ($('#gallery-command').value) params.set('command', $('#gallery-command').value);
  const res = await fetch(`/api/gallery?${params}`);
  const page = await answerOf(res);
  const box = $('#gallery');
  if (page.type !== 'gallery') {
    box.replaceChildren(
      el('p', { class: 'empty' }, page.message ?? page.error ?? page.reply?.message ?? 'could not load the gallery'),
    );
    return;
  }
  if (page.entries.length === 0) {
    box.replaceChildren(el('p', { class: 'empty' }, 'Nothing here yet: publish a result with its button.'));
    return;
  }
  box.replaceChildren(
    ...page.entries.map((e) =>
      el(
        'div',
        { class: 'entry', 'data-post': e.postId },
        e.file ? fileView(e.file) : '',
        el('div', { class: 'prompt' }, `/${e.command} ${e.prompt}`),
        el('div', { class: 'meta' }, `seed ${e.seed} · ${e.votes} vote${e.votes === 1 ? '' : 's'} · ${e.authorName}`),
        el(
          'div',
          { class: 'actions' },
          e.actions.map((a) =>
            el(
              'button',
              {
                type: 'button',
                class: a.style,
                'data-action': a.id,
                onclick: async () => {
                  await start('/api/action', { actionId: a.id }, `${a.label}…`);
                  setTimeout(loadGallery, 300);
                },
              },
              a.label,
            ),
          ),
        ),
      ),
    ),
  );
}

// --- your recent jobs ---

/** Cards of your jobs from the server (newest first); waiting or running ones are refreshed until they end. */
async function loadHistory() {
  const res = await fetch('/api/jobs?limit=20');
  if (!res.ok) return;
  const { jobs } = await res.json();
  let active = false;
  for (const reply of jobs) {
    let card = document.querySelector(`.card[data-job="${reply.jobId}"]`);
    if (card && card.dataset.history !== '1') continue; // followed live over SSE already
    if (!card) {
      card = el('div', { class: 'card', 'data-job': reply.jobId, 'data-history': '1' });
      $('#results').append(card);
    }
    if (reply.type === 'queued' || reply.type === 'progress') active = true;
    if (card.dataset.shown !== JSON.stringify(reply)) {
      render(card, reply);
      card.dataset.job = reply.jobId;
      card.dataset.shown = JSON.stringify(reply);
    }
  }
  if (active) setTimeout(loadHistory, 3000);
}

// --- start ---

async function main() {
  const res = await fetch('/api/commands');
  if (!res.ok) {
    document.body.replaceChildren(el('p', { class: 'signin' }, await res.text()));
    return;
  }
  const body = await res.json();
  definitions = body.commands;
  $('#me').textContent = `signed in as ${body.me.name}${body.me.admin ? ' (admin)' : ''}`;
  $('#command').replaceChildren(...definitions.map((d) => el('option', { value: d.name }, `/${d.name}`)));
  const galleryCommands =
    definitions.find((d) => d.name === 'gallery')?.options.find((o) => o.name === 'command')?.choices ?? [];
  $('#gallery-command').append(...galleryCommands.map((c) => el('option', { value: c.value }, c.name)));
  $('#command').addEventListener('change', (e) => showForm(e.target.value));
  $('#command').value = definitions.some((d) => d.name === 'anagram') ? 'anagram' : definitions[0].name;
  showForm($('#command').value);
  $('#run-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = $('#run');
    // One request per click: a double click must not queue the job twice.
    if (button.disabled) return;
    button.disabled = true;
    try {
      const name = $('#command').value;
      await start(`/api/run/${encodeURIComponent(name)}`, await formData(), `/${name} sent…`);
    } finally {
      button.disabled = false;
    }
  });
  $('#gallery-filter').addEventListener('change', loadGallery);
  $('#gallery-command').addEventListener('change', loadGallery);
  $('#gallery-refresh').addEventListener('click', loadGallery);
  await loadHistory();
  document.body.dataset.ready = '1';
  loadGallery();
}

main();
