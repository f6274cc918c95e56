// inbox.js - the chat inbox: every conversation (sessions) with its unread
// count, and one conversation (unified_messages) that updates live as
// messages come in, as the agent answers and as WhatsApp's receipts move an
// outgoing message from queued to sent, delivered and read (the ticks). The
// owner can take a conversation over from the bot, reply, and hand it back.
//
// Routes: #/inbox (the list) and #/inbox/<session id> (the list beside the
// conversation on a desktop; the conversation alone on a phone).
//
// Live: one realtime channel with a postgres_changes binding on sessions and,
// when a conversation is open, one on its messages (session_id=eq.<id>). The
// server sends only this business's rows, so no filter is needed on
// sessions. When the channel cannot subscribe (no realtime server, a proxy
// that drops WebSockets) the screen falls back to reading again every few
// seconds and says so; the root's data-live attribute tells which
// ("connecting", "live", "polling") so that tests can wait for the live path.
// Every change is merged by id, so a row read twice (the load and a change
// that crossed it) shows once.

import { liveChannel } from './wf_live.js';

const L = {
  en: {
    inbox: 'Inbox', empty: 'No conversations yet. When a customer writes on WhatsApp or Telegram, the conversation appears here.',
    pick: 'Choose a conversation.', back: 'All chats', bot: 'Bot', human: 'You',
    takeover: 'Take over', handback: 'Hand back to bot', reply: 'Send', placeholder: 'Type a reply…',
    botOn: 'The bot is answering this conversation. Take over to answer yourself.',
    botOff: 'You are answering. The bot is quiet until you hand it back.',
    window: 'More than 24 hours since the customer wrote: WhatsApp takes only a template, so the channel\'s default template is sent.',
    noMessages: 'No messages yet.', notFound: 'This conversation is not there (deleted, or another business\'s).',
    live: 'Live', polling: 'Updating every few seconds', connecting: 'Connecting…',
    queued: 'Waiting to send', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent',
    agent: 'Bot', owner: 'You', workflow: 'Workflow', customer: 'Customer',
    unread: '{n} unread', sentOk: 'Sent', tookOver: 'You are answering now', handedBack: 'The bot answers again',
    media: '[{type}]',
  },
  hi: {
    inbox: 'इनबॉक्स', empty: 'अभी कोई बातचीत नहीं। जब कोई ग्राहक WhatsApp या Telegram पर लिखेगा, बातचीत यहाँ दिखेगी।',
    pick: 'कोई बातचीत चुनें।', back: 'सभी चैट', bot: 'बॉट', human: 'आप',
    takeover: 'खुद जवाब दें', handback: 'बॉट को वापस दें', reply: 'भेजें', placeholder: 'जवाब लिखें…',
    botOn: 'इस बातचीत में बॉट जवाब दे रहा है। खुद जवाब देने के लिए "खुद जवाब दें" दबाएँ।',
    botOff: 'आप जवाब दे रहे हैं। जब तक आप वापस न दें, बॉट चुप रहेगा।',
    window: 'ग्राहक ने 24 घंटे से ज़्यादा पहले लिखा था: WhatsApp अब सिर्फ़ टेम्पलेट लेता है, इसलिए चैनल का डिफ़ॉल्ट टेम्पलेट जाएगा।',
    noMessages: 'अभी कोई संदेश नहीं।', notFound: 'यह बातचीत नहीं मिली।',
    live: 'लाइव', polling: 'हर कुछ सेकंड में ताज़ा', connecting: 'जुड़ रहा है…',
    queued: 'भेजने की कतार में', sent: 'भेजा गया', delivered: 'पहुँच गया', read: 'पढ़ लिया', failed: 'नहीं भेजा जा सका',
    agent: 'बॉट', owner: 'आप', workflow: 'वर्कफ़्लो', customer: 'ग्राहक',
    unread: '{n} नए', sentOk: 'भेज दिया', tookOver: 'अब आप जवाब दे रहे हैं', handedBack: 'अब बॉट फिर जवाब देगा',
    media: '[{type}]',
  },
};

// Outgoing statuses in the order WhatsApp moves them, and their ticks.
const TICKS = { queued: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' };
const DAY_MS = 24 * 3600 * 1000;
const MAX_MESSAGES = 200;

function byLastMessage(a, b) {
  const x = a.last_message_at || a.created_at || '';
  const y = b.last_message_at || b.created_at || '';
  return x < y ? 1 : x > y ? -1 : 0;
}

function byCreated(a, b) {
  const x = a.created_at || '';
  const y = b.created_at || '';
  if (x !== y) return x < y ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export default {
  title: { en: 'Inbox', hi: 'इनबॉक्स' },

  async mount(root, ctx, args) {
    ctx.css('inbox');
    const t = ctx.t(L);
    const esc = ctx.esc;
    const sid = args && args[0] ? args[0] : null;
    const sessions = new Map(); // id -> row
    const names = new Map(); // customer id -> full_name, from the embedded customer
    const messages = new Map(); // id -> row of the open conversation
    let gone = false;
    let markTimer = null;

    root.innerHTML = `
      <div class="inbox${sid ? ' has-conv' : ''}" data-screen="inbox" data-live="connecting">
        <section class="inbox-list">
          <div class="row inbox-head"><h1>${esc(t('inbox'))}</h1>
            <span class="badge live-state" data-live-label>${esc(t('connecting'))}</span></div>
          <div class="list" data-sessions></div>
        </section>
        <section class="inbox-conv" data-conv>${sid ? '' : `<p class="empty">${esc(t('pick'))}</p>`}</section>
      </div>`;
    const screen = root.querySelector('[data-screen=inbox]');
    const listEl = root.querySelector('[data-sessions]');
    const convEl = root.querySelector('[data-conv]');
    const liveLabel = root.querySelector('[data-live-label]');

    // ---- the list ------------------------------------------------------------

    const title = (s) => s.contact_name || (s.customer_id && names.get(s.customer_id)) || s.contact_id;

    function renderList() {
      const rows = [...sessions.values()].sort(byLastMessage);
      if (!rows.length) {
        listEl.innerHTML = `<p class="empty">${esc(t('empty'))}</p>`;
        return;
      }
      listEl.innerHTML = rows.map((s) => {
        const unread = Number(s.unread_count) || 0;
        return `<a class="item session${s.id === sid ? ' current' : ''}${unread ? ' unread' : ''}" data-id="${esc(s.id)}" href="#/inbox/${encodeURIComponent(s.id)}">
          <span class="main"><span class="name">${esc(title(s))}</span>
            <span class="muted">${esc(s.channel)} · ${esc(s.last_message_at ? ctx.time(s.last_message_at) : '')}</span></span>
          <span class="side">
            ${unread ? `<span class="badge warn unread-count" data-unread="${unread}" title="${esc(t('unread', { n: unread }))}">${unread}</span>` : ''}
            <span class="badge ${s.is_bot_active ? 'ok' : ''}" data-bot="${s.is_bot_active ? 'on' : 'off'}">${esc(s.is_bot_active ? t('bot') : t('human'))}</span>
          </span></a>`;
      }).join('');
    }

    async function loadSessions() {
      const { data, error } = await ctx.sb.from('sessions')
        .select('*,customers(full_name)')
        .order('last_message_at', { ascending: false, nullsFirst: false })
        .limit(200);
      if (gone) return;
      if (error) { ctx.toast(error.message); return; }
      for (const s of data) {
        if (s.customers && s.customers.full_name) names.set(s.customer_id, s.customers.full_name);
        delete s.customers;
        sessions.set(s.id, s);
      }
      renderList();
      renderConvHead();
      const cur = sid && sessions.get(sid);
      if (cur && Number(cur.unread_count)) markRead();
    }

    // ---- the conversation ----------------------------------------------------

    function bubble(m) {
      const out = m.direction === 'outbound';
      const text = m.content || (m.message_type && m.message_type !== 'text' ? t('media', { type: m.message_type }) : '');
      const who = out ? t(m.sender || 'agent') : '';
      let ticks = '';
      if (out) {
        const st = m.status || 'queued';
        ticks = `<span class="ticks tick-${esc(st)}" title="${esc(t(st))}" aria-label="${esc(t(st))}">${TICKS[st] || ''}</span>`;
      }
      let err = '';
      if (m.error && typeof m.error === 'object') {
        err = `<div class="msg-error">${esc([m.error.code, m.error.title, m.error.message].filter(Boolean).join(' · '))}</div>`;
      }
      return `<div class="msg ${out ? 'out' : 'in'}" data-id="${esc(m.id)}" data-status="${esc(m.status || '')}" data-sender="${esc(m.sender || '')}">
        <div class="msg-text">${esc(text)}</div>${err}
        <div class="msg-meta muted">${who ? `<span class="who">${esc(who)}</span> · ` : ''}${esc(ctx.time(m.created_at))} ${ticks}</div></div>`;
    }

    function renderMessages() {
      const box = convEl.querySelector('[data-messages]');
      if (!box) return;
      const rows = [...messages.values()].sort(byCreated);
      const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
      box.innerHTML = rows.length ? rows.map(bubble).join('') : `<p class="empty">${esc(t('noMessages'))}</p>`;
      if (atEnd || !box.dataset.scrolled) { box.scrollTop = box.scrollHeight; box.dataset.scrolled = '1'; }
    }

    function renderConvHead() {
      if (!sid) return;
      const head = convEl.querySelector('[data-conv-head]');
      if (!head) return;
      const s = sessions.get(sid);
      if (!s) { head.innerHTML = `<a class="btn small back" href="#/inbox">← ${esc(t('back'))}</a>`; return; }
      const windowClosed = s.channel === 'whatsapp' &&
        (!s.last_inbound_at || Date.now() - Date.parse(s.last_inbound_at) > DAY_MS);
      head.innerHTML = `
        <div class="row conv-title"><a class="btn small back" href="#/inbox">←<span class="sr"> ${esc(t('back'))}</span></a>
          <div class="main"><strong>${esc(title(s))}</strong><div class="muted">${esc(s.channel)} · ${esc(s.contact_id)}</div></div>
          ${s.is_bot_active
            ? `<button class="btn small" data-action="takeover">${esc(t('takeover'))}</button>`
            : `<button class="btn small" data-action="handback">${esc(t('handback'))}</button>`}</div>
        <p class="muted bot-note" data-bot="${s.is_bot_active ? 'on' : 'off'}">${esc(s.is_bot_active ? t('botOn') : t('botOff'))}</p>
        ${windowClosed ? `<p class="muted window-note">${esc(t('window'))}</p>` : ''}`;
    }

    async function loadMessages() {
      // The last MAX_MESSAGES, newest first from the server, shown oldest first.
      const { data, error } = await ctx.sb.from('unified_messages').select('*')
        .eq('session_id', sid).order('created_at', { ascending: false }).limit(MAX_MESSAGES);
      if (gone) return;
      if (error) { ctx.toast(error.message); return; }
      for (const m of data) messages.set(m.id, m);
      renderMessages();
    }

    async function loadSession() {
      const { data, error } = await ctx.sb.from('sessions').select('*').eq('id', sid).limit(1);
      if (gone) return false;
      if (error) { ctx.toast(error.message); return false; }
      if (!data.length) return false;
      sessions.set(sid, data[0]);
      return true;
    }

    // Opening a conversation reads it: its unread count goes to 0 (the one
    // column of sessions the owner writes for that). Coalesced, so a burst of
    // inbound messages makes one PATCH.
    function markRead() {
      if (!sid || markTimer) return;
      markTimer = setTimeout(async () => {
        markTimer = null;
        const s = sessions.get(sid);
        if (gone || !s || !Number(s.unread_count)) return;
        const { error } = await ctx.sb.from('sessions').update({ unread_count: 0 }).eq('id', sid);
        if (gone) return;
        if (error) { ctx.toast(error.message); return; }
        s.unread_count = 0;
        renderList();
      }, 300);
    }

    async function setBot(active) {
      const { data, error } = await ctx.sb.rpc('set_bot_active', { session_id: sid, active });
      if (gone) return;
      if (error) { ctx.toast(error.message); return; }
      const s = sessions.get(sid);
      if (s) { s.is_bot_active = data.is_bot_active; renderConvHead(); renderList(); }
      ctx.toast(active ? t('handedBack') : t('tookOver'));
    }

    async function send(form) {
      const input = form.querySelector('textarea');
      const text = input.value.trim();
      if (!text) return;
      const btn = form.querySelector('[data-action=reply]');
      btn.disabled = true;
      try {
        const { data, error } = await ctx.sb.rpc('send_message', { session_id: sid, text });
        if (gone) return;
        if (error) { ctx.toast(error.message); return; }
        input.value = '';
        // The realtime INSERT usually comes first; until it does, show what
        // the server answered (merged by id when the row arrives).
        if (!messages.has(data.message_id)) {
          messages.set(data.message_id, {
            id: data.message_id, session_id: sid, direction: 'outbound', sender: 'owner', content: text,
            message_type: data.message_type, status: data.status, created_at: new Date().toISOString(),
          });
          renderMessages();
        }
        const s = sessions.get(sid);
        if (s && s.is_bot_active) { s.is_bot_active = false; renderConvHead(); renderList(); }
      } finally {
        btn.disabled = false;
      }
    }

    if (sid) {
      convEl.innerHTML = `
        <div class="conv-head" data-conv-head></div>
        <div class="messages" data-messages></div>
        <form class="reply row" data-reply>
          <textarea rows="1" name="text" placeholder="${esc(t('placeholder'))}" aria-label="${esc(t('placeholder'))}"></textarea>
          <button class="btn primary" type="submit" data-action="reply">${esc(t('reply'))}</button>
        </form>`;
      convEl.addEventListener('click', (e) => {
        const b = e.target.closest('[data-action]');
        if (!b) return;
        if (b.dataset.action === 'takeover') setBot(false);
        else if (b.dataset.action === 'handback') setBot(true);
      });
      const form = convEl.querySelector('[data-reply]');
      form.addEventListener('submit', (e) => { e.preventDefault(); send(form); });
      form.querySelector('textarea').addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(form); }
      });
    }

    // ---- live ------------------------------------------------------------------

    function onSession(p) {
      if (p.eventType === 'DELETE') {
        if (p.old_record && p.old_record.id) sessions.delete(p.old_record.id);
        if (p.old && p.old.id) sessions.delete(p.old.id);
      } else if (p.new && p.new.id) {
        sessions.set(p.new.id, { ...(sessions.get(p.new.id) || {}), ...p.new });
        if (p.new.id === sid && Number(p.new.unread_count)) markRead();
      }
      renderList();
      renderConvHead();
    }

    function onMessage(p) {
      if (p.eventType === 'DELETE') {
        const id = (p.old && p.old.id) || null;
        if (id) messages.delete(id);
      } else if (p.new && p.new.id && p.new.session_id === sid) {
        messages.set(p.new.id, { ...(messages.get(p.new.id) || {}), ...p.new });
        if (p.new.direction === 'inbound') markRead();
      }
      renderMessages();
    }

    async function reload() {
      await loadSessions();
      if (sid) await loadMessages();
    }

    const bindings = [{ table: 'sessions', handler: onSession }];
    if (sid) bindings.push({ table: 'unified_messages', filter: `session_id=eq.${sid}`, handler: onMessage });
    const live = liveChannel(ctx, 'inbox', bindings, {
      onState(state) {
        screen.dataset.live = state;
        liveLabel.textContent = t(state);
        liveLabel.className = `badge live-state${state === 'live' ? ' ok' : state === 'polling' ? ' warn' : ''}`;
      },
      reload,
    });

    if (sid) {
      if (!(await loadSession())) {
        if (!gone) convEl.innerHTML = `<a class="btn small back" href="#/inbox">← ${esc(t('back'))}</a><p class="empty">${esc(t('notFound'))}</p>`;
      } else {
        renderConvHead();
        markRead();
      }
    }
    await reload();

    return () => {
      gone = true;
      if (markTimer) clearTimeout(markTimer);
      live.close();
    };
  },
};
