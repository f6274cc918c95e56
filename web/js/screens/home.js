// home.js - the owner's day at a glance: today's sales, what customers owe,
// stock running low, open chats and running workflows; kept fresh by the
// realtime feed. An empty business is offered the sample business instead.
import * as ui from '../ui.js';

const L = {
  en: {
    today: 'Today', sales: 'Sales today', invoices_n: '{n} invoices', received: 'Received today',
    dues: 'Dues', owed_by: 'owed by {n} customers', low_stock: 'Low stock', all_stocked: 'Nothing is running low.',
    chats: 'Open chats', unread: '{n} unread', no_chats: 'No open chats.',
    runs: 'Running workflows', no_runs: 'No workflow is running.', top_debtors: 'Who owes most',
    no_dues: 'Nobody owes you anything.', left: '{qty} {unit} left',
    new_invoice: 'New invoice', see_all: 'See all',
    welcome_title: 'Welcome to munshi', welcome_text: 'Your books are empty. Load a sample business — a kirana and hardware shop in Pune with products, customers in two states, invoices, payments, chats and a workflow — to see every screen with data. You can delete it later, or start with your own.',
    load_sample: 'Load the sample business', start_empty: 'Start with my own', loaded: 'The sample business is loaded.',
    add_product: 'Add a product', add_customer: 'Add a customer',
  },
  hi: {
    today: 'आज', sales: 'आज की बिक्री', invoices_n: '{n} बिल', received: 'आज मिला',
    dues: 'बकाया', owed_by: '{n} ग्राहकों पर', low_stock: 'कम स्टॉक', all_stocked: 'कोई सामान कम नहीं है।',
    chats: 'खुली चैट', unread: '{n} अनपढ़े', no_chats: 'कोई खुली चैट नहीं।',
    runs: 'चल रहे वर्कफ़्लो', no_runs: 'कोई वर्कफ़्लो नहीं चल रहा।', top_debtors: 'सबसे ज़्यादा बकाया',
    no_dues: 'किसी पर कुछ बकाया नहीं।', left: '{qty} {unit} बचा',
    new_invoice: 'नया बिल', see_all: 'सब देखें',
    welcome_title: 'munshi में स्वागत है', welcome_text: 'आपके खाते खाली हैं। नमूना व्यापार लोड करें — पुणे की एक किराना और हार्डवेयर दुकान, सामान, दो राज्यों के ग्राहक, बिल, भुगतान, चैट और एक वर्कफ़्लो के साथ — ताकि हर स्क्रीन में डेटा दिखे। या अपने डेटा से शुरू करें।',
    load_sample: 'नमूना व्यापार लोड करें', start_empty: 'अपने डेटा से शुरू करें', loaded: 'नमूना व्यापार लोड हो गया।',
    add_product: 'सामान जोड़ें', add_customer: 'ग्राहक जोड़ें',
  },
};

export default {
  title: { en: 'Home', hi: 'होम' },
  async mount(root, ctx) {
    const t = ctx.t(L);
    const { sb, esc, money } = ctx;
    let alive = true;

    async function load() {
      const today = ui.todayIST();
      const [sales, debtors, products, sessions, runs, counts] = await Promise.all([
        sb.rpc('sales_summary', { from: today, to: today }),
        sb.rpc('debtors', {}),
        sb.from('products').select('id,name,unit,current_stock,low_stock_threshold')
          .not('low_stock_threshold', 'is', null).eq('is_active', true).order('name').limit(1000),
        sb.from('sessions').select('id,contact_name,contact_id,unread_count,last_message_at', { count: 'exact' })
          .eq('status', 'open').order('last_message_at', { ascending: false, nullsFirst: false }).limit(5),
        sb.from('workflow_logs').select('id,status,started_at,workflow_blueprints(name)', { count: 'exact' })
          .in('status', ['running', 'waiting']).order('started_at', { ascending: false }).limit(5),
        Promise.all(['customers', 'products', 'invoices'].map((tb) =>
          sb.from(tb).select('id', { count: 'exact', head: true }))),
      ]);
      for (const r of [sales, debtors, products, sessions, runs, ...counts]) if (r.error) throw r.error;
      return { sales: sales.data, debtors: debtors.data.debtors || [], products: products.data,
        sessions: sessions.data, sessionCount: sessions.count ?? sessions.data.length,
        runs: runs.data, runCount: runs.count ?? runs.data.length,
        empty: counts.every((c) => !c.count) };
    }

    function welcome() {
      if (sessionStorage.getItem('munshi.skip_sample')) return '';
      return `<div class="card stack" data-card="welcome">
        <h2>${esc(t('welcome_title'))}</h2>
        <p class="muted">${esc(t('welcome_text'))}</p>
        <div class="row">
          <button class="btn primary" data-action="load-sample">${esc(t('load_sample'))}</button>
          <button class="btn" data-action="start-empty">${esc(t('start_empty'))}</button>
        </div></div>`;
    }

    function render(d) {
      const tot = d.sales.totals || {};
      let due = 0n;
      for (const x of d.debtors) due += ui.paise(x.total_debt) || 0n;
      const low = d.products.filter((p) => {
        const s = ui.milli(p.current_stock), th = ui.milli(p.low_stock_threshold);
        return s != null && th != null && s <= th;
      });
      const unread = d.sessions.reduce((n, s) => n + (s.unread_count || 0), 0);
      root.innerHTML = `
      ${d.empty ? welcome() : ''}
      <div class="row between"><h1>${esc(t('today'))}</h1>
        <button class="btn primary small" data-action="new-invoice">+ ${esc(t('new_invoice'))}</button></div>
      <div class="grid">
        <a class="card stat" href="#/invoices" data-stat="sales"><div class="label">${esc(t('sales'))}</div>
          <div class="value">${money(tot.total ?? 0)}</div>
          <div class="muted">${esc(t('invoices_n', { n: tot.invoice_count ?? 0 }))}</div></a>
        <div class="card stat" data-stat="received"><div class="label">${esc(t('received'))}</div>
          <div class="value">${money(tot.payments_received ?? 0)}</div></div>
        <a class="card stat" href="#/customers" data-stat="dues"><div class="label">${esc(t('dues'))}</div>
          <div class="value">${ui.fmtPaise(due)}</div>
          <div class="muted">${esc(t('owed_by', { n: d.debtors.length }))}</div></a>
        <a class="card stat" href="#/inbox" data-stat="chats"><div class="label">${esc(t('chats'))}</div>
          <div class="value">${d.sessionCount}</div>
          <div class="muted">${esc(t('unread', { n: unread }))}</div></a>
      </div>
      <div class="card" data-card="debtors"><h2>${esc(t('top_debtors'))}</h2>
        ${d.debtors.length ? `<ul class="list">${d.debtors.slice(0, 5).map((x) => `
          <li><a class="item" href="#/customers/${esc(x.customer_id)}" data-id="${esc(x.customer_id)}">
            <div class="main"><div class="name">${esc(x.full_name)}</div>
              <div class="muted">${esc(x.phone_number || '')}</div></div>
            <div class="side"><span class="badge warn">${money(x.total_debt)}</span></div></a></li>`).join('')}
          </ul>` : `<p class="muted">${esc(t('no_dues'))}</p>`}</div>
      <div class="card" data-card="low-stock"><h2>${esc(t('low_stock'))}</h2>
        ${low.length ? `<ul class="list">${low.slice(0, 8).map((p) => `
          <li><a class="item" href="#/products" data-id="${esc(p.id)}">
            <div class="main"><div class="name">${esc(p.name)}</div></div>
            <div class="side"><span class="badge err">${esc(t('left', { qty: ui.fmtQty(p.current_stock), unit: p.unit || '' }))}</span></div></a></li>`).join('')}
          </ul>` : `<p class="muted">${esc(t('all_stocked'))}</p>`}</div>
      <div class="card" data-card="chats"><h2>${esc(t('chats'))}</h2>
        ${d.sessions.length ? `<ul class="list">${d.sessions.map((s) => `
          <li><a class="item" href="#/inbox/${esc(s.id)}" data-id="${esc(s.id)}">
            <div class="main"><div class="name">${esc(s.contact_name || s.contact_id)}</div>
              <div class="muted">${esc(ctx.time(s.last_message_at))}</div></div>
            <div class="side">${s.unread_count ? `<span class="badge ok">${s.unread_count}</span>` : ''}</div></a></li>`).join('')}
          </ul>` : `<p class="muted">${esc(t('no_chats'))}</p>`}</div>
      <div class="card" data-card="runs"><h2>${esc(t('runs'))}</h2>
        ${d.runs.length ? `<ul class="list">${d.runs.map((r) => `
          <li><a class="item" href="#/workflows/run/${esc(r.id)}" data-id="${esc(r.id)}">
            <div class="main"><div class="name">${esc((r.workflow_blueprints && r.workflow_blueprints.name) || r.id)}</div>
              <div class="muted">${esc(ctx.time(r.started_at))}</div></div>
            <div class="side"><span class="badge ${r.status === 'running' ? 'ok' : 'warn'}">${esc(r.status)}</span></div></a></li>`).join('')}
          </ul>` : `<p class="muted">${esc(t('no_runs'))}</p>`}</div>`;
    }

    async function refresh() {
      try {
        const d = await load();
        if (alive) render(d);
      } catch (e) {
        if (alive) root.innerHTML = `<div class="empty error">${esc(ui.errText(e))}</div>`;
      }
    }

    root.addEventListener('click', async (e) => {
      const b = e.target.closest('[data-action]');
      if (!b) return;
      if (b.dataset.action === 'new-invoice') ctx.go('#/invoices/new');
      else if (b.dataset.action === 'start-empty') {
        sessionStorage.setItem('munshi.skip_sample', '1');
        b.closest('[data-card=welcome]').remove();
      } else if (b.dataset.action === 'load-sample') {
        await ui.busy(b, async () => {
          ui.must(await sb.rpc('load_sample_business', {}));
          ctx.toast(t('loaded'));
          await refresh();
        });
      }
    });

    await refresh();
    // Live: any change to what this screen shows refreshes it (once per burst).
    const again = ui.debounce(refresh, 400);
    const ch = sb.channel('home');
    for (const table of ['invoices', 'payments', 'products', 'sessions', 'workflow_logs'])
      ch.on('postgres_changes', { event: '*', schema: 'public', table }, again);
    ch.subscribe();
    return () => { alive = false; sb.removeChannel(ch); };
  },
};
