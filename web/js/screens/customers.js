// customers.js - the customers: a searchable list with what each owes,
// adding one, and a customer's page: balance, statement (the ledger with a
// running balance), open invoices, recording a payment, a new invoice.
import * as ui from '../ui.js';

const L = {
  en: {
    customers: 'Customers', search: 'Search by name or phone', add: 'Add customer', none: 'No customers yet.',
    none_match: 'No customer matches.', owes: 'owes', credit: 'credit', settled: 'settled',
    full_name: 'Name', phone: 'Phone (with +91)', email: 'Email', gstin: 'GSTIN', state: 'State', address: 'Address',
    save: 'Save', cancel: 'Cancel', saved: 'Customer added.', choose_state: 'Choose…',
    balance: 'Balance', statement: 'Statement', this_year: 'This year', all_time: 'All time',
    opening: 'Opening balance', closing: 'Closing balance', no_entries: 'No entries in this period.',
    invoice: 'Invoice', payment: 'Payment', cancellation: 'Cancelled', amount_col: 'Amount',
    record_payment: 'Record payment', new_invoice: 'New invoice', open_invoices: 'Open invoices',
    amount: 'Amount (₹)', mode: 'Mode', reference: 'Reference (UTR, cheque no.)', for_invoice: 'Against invoice',
    oldest_first: 'Oldest open invoices first', bad_amount: 'Enter an amount above 0 with at most 2 decimals.',
    paid_ok: 'Payment of {amount} recorded. Balance now {balance}.', whatsapp: 'WhatsApp', call: 'Call',
    cash: 'Cash', upi: 'UPI', bank_transfer: 'Bank transfer', card: 'Card', cheque: 'Cheque', other: 'Other',
    not_found: 'This customer was not found.', back: 'Customers',
    city: 'City', pincode: 'PIN code', edit: 'Edit', edit_title: 'Edit customer', updated: 'Customer saved.',
    bad_pincode: 'A PIN code is six digits, not starting with 0.',
  },
  hi: {
    customers: 'ग्राहक', search: 'नाम या फ़ोन से खोजें', add: 'ग्राहक जोड़ें', none: 'अभी कोई ग्राहक नहीं।',
    none_match: 'कोई ग्राहक नहीं मिला।', owes: 'बकाया', credit: 'जमा', settled: 'हिसाब साफ़',
    full_name: 'नाम', phone: 'फ़ोन (+91 के साथ)', email: 'ईमेल', gstin: 'GSTIN', state: 'राज्य', address: 'पता',
    save: 'सहेजें', cancel: 'रद्द करें', saved: 'ग्राहक जुड़ गया।', choose_state: 'चुनें…',
    balance: 'बकाया', statement: 'खाता विवरण', this_year: 'इस साल', all_time: 'शुरू से',
    opening: 'शुरुआती बकाया', closing: 'अंतिम बकाया', no_entries: 'इस अवधि में कुछ नहीं।',
    invoice: 'बिल', payment: 'भुगतान', cancellation: 'रद्द', amount_col: 'रकम',
    record_payment: 'भुगतान दर्ज करें', new_invoice: 'नया बिल', open_invoices: 'खुले बिल',
    amount: 'रकम (₹)', mode: 'तरीका', reference: 'संदर्भ (UTR, चेक नं.)', for_invoice: 'किस बिल पर',
    oldest_first: 'सबसे पुराने खुले बिल पहले', bad_amount: '0 से ज़्यादा रकम लिखें, अधिकतम 2 दशमलव।',
    paid_ok: '{amount} का भुगतान दर्ज। अब बकाया {balance}।', whatsapp: 'WhatsApp', call: 'कॉल',
    cash: 'नकद', upi: 'UPI', bank_transfer: 'बैंक ट्रांसफ़र', card: 'कार्ड', cheque: 'चेक', other: 'अन्य',
    not_found: 'यह ग्राहक नहीं मिला।', back: 'ग्राहक',
    city: 'शहर', pincode: 'पिन कोड', edit: 'बदलें', edit_title: 'ग्राहक बदलें', updated: 'ग्राहक सहेजा गया।',
    bad_pincode: 'पिन कोड छह अंकों का होता है, 0 से शुरू नहीं।',
  },
};
const MODES = ['cash', 'upi', 'bank_transfer', 'card', 'cheque', 'other'];

function debtBadge(v, t, money) {
  const p = ui.paise(v) || 0n;
  if (p > 0n) return `<span class="badge warn">${money(v)}</span>`;
  if (p < 0n) return `<span class="badge ok">${ui.esc(t('credit'))} ${ui.fmtPaise(-p)}</span>`;
  return `<span class="muted">${ui.esc(t('settled'))}</span>`;
}

// The financial year (1 April to 31 March) holding today, in India.
function financialYear() {
  const today = ui.todayIST();
  const y = Number(today.slice(0, 4)), m = Number(today.slice(5, 7));
  const start = m >= 4 ? y : y - 1;
  return { from: `${start}-04-01`, to: today };
}

export function paymentSheet(ctx, customer, invoices, done) {
  const t = ctx.t(L), { esc, money } = ctx;
  const key = crypto.randomUUID(); // one per sheet: a retried submit never pays twice
  const s = ui.sheet(`
    <form class="stack" data-form="payment">
      <div class="row between"><h2>${esc(t('record_payment'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <p class="muted">${esc(customer.full_name)} · ${esc(t('balance'))} ${money(customer.total_debt)}</p>
      <label class="field"><span>${esc(t('amount'))}</span>
        <input name="amount" inputmode="decimal" autocomplete="off" required placeholder="0.00"></label>
      <label class="field"><span>${esc(t('mode'))}</span><select name="mode">
        ${MODES.map((m) => `<option value="${m}">${esc(t(m))}</option>`).join('')}</select></label>
      <label class="field"><span>${esc(t('reference'))}</span><input name="reference" autocomplete="off"></label>
      ${invoices && invoices.length ? `<label class="field"><span>${esc(t('for_invoice'))}</span><select name="invoice">
        <option value="">${esc(t('oldest_first'))}</option>
        ${invoices.map((i) => `<option value="${esc(i.id)}">${esc(i.invoice_number)} · ${money(i.balance_due)}</option>`).join('')}
        </select></label>` : ''}
      <p class="error" hidden></p>
      <button class="btn primary block" data-action="save-payment">${esc(t('record_payment'))}</button>
    </form>`);
  const form = s.root.querySelector('form');
  const err = form.querySelector('.error');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const amount = ui.parseMoney(form.amount.value);
    if (amount == null || amount <= 0n) { err.textContent = t('bad_amount'); err.hidden = false; return; }
    err.hidden = true;
    const args = { customer_id: customer.id, amount_received: ui.decNumber(amount, 2), payment_mode: form.mode.value };
    if (form.reference.value.trim()) args.reference = form.reference.value.trim();
    if (form.invoice && form.invoice.value) args.invoice_id = form.invoice.value;
    const btn = form.querySelector('[data-action=save-payment]');
    btn.disabled = true;
    try {
      const r = await ui.rpcOnce(ctx.sb, 'record_payment', args, key);
      s.close();
      ctx.toast(t('paid_ok', { amount: ui.fmtPaise(amount), balance: money(r.total_debt) }));
      if (done) done(r);
    } catch (ex) {
      err.textContent = ui.errText(ex); err.hidden = false;
    } finally { btn.disabled = false; }
  });
  return s;
}

async function listView(root, ctx) {
  const t = ctx.t(L), { sb, esc, money } = ctx;
  root.innerHTML = `
    <div class="row between"><h1>${esc(t('customers'))}</h1>
      <button class="btn primary small" data-action="new-customer">+ ${esc(t('add'))}</button></div>
    <input class="search" type="search" placeholder="${esc(t('search'))}" aria-label="${esc(t('search'))}">
    <ul class="list" data-list="customers"></ul>`;
  const list = root.querySelector('[data-list]');
  const search = root.querySelector('input.search');
  let seq = 0;
  async function load() {
    const my = ++seq;
    let q = sb.from('customers').select('id,full_name,phone_number,state_code,city,total_debt').order('full_name').limit(500);
    const term = search.value.trim().replace(/[,()*%"\\]/g, ' ').trim();
    if (term) q = q.or(`full_name.ilike.*${term}*,phone_number.ilike.*${term}*`);
    const { data, error } = await q;
    if (my !== seq) return;
    if (error) { list.innerHTML = `<li class="empty error">${esc(ui.errText(error))}</li>`; return; }
    list.innerHTML = data.length ? data.map((c) => `
      <li><a class="item" href="#/customers/${esc(c.id)}" data-id="${esc(c.id)}">
        <div class="main"><div class="name">${esc(c.full_name)}</div>
          <div class="muted">${esc(c.phone_number || '')}${c.city ? ' · ' + esc(c.city) : c.state_code ? ' · ' + esc(ui.stateName(c.state_code)) : ''}</div></div>
        <div class="side">${debtBadge(c.total_debt, t, money)}</div></a></li>`).join('')
      : `<li class="empty">${esc(t(term ? 'none_match' : 'none'))}</li>`;
  }
  search.addEventListener('input', ui.debounce(load, 250));
  root.querySelector('[data-action=new-customer]').onclick = () => newCustomer(ctx, (c) => ctx.go('#/customers/' + c.id));
  await load();
  const ch = sb.channel('customers-list')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'customers' }, ui.debounce(load, 300))
    .subscribe();
  return () => sb.removeChannel(ch);
}

const CUSTOMER_FIELDS = ['full_name', 'phone_number', 'email', 'state_code', 'gstin', 'address', 'city', 'pincode'];

export function newCustomer(ctx, done) {
  return customerSheet(ctx, null, done);
}

// The customer form: a new customer (POST customers), or one to edit
// (PATCH customers?id=eq.<id>, only what changed; a field emptied is
// cleared). City and PIN code are where Shiprocket delivers.
export function customerSheet(ctx, c, done) {
  const t = ctx.t(L), { esc } = ctx;
  const v = (k) => esc((c && c[k]) || '');
  const s = ui.sheet(`
    <form class="stack" data-form="customer" novalidate>
      <div class="row between"><h2>${esc(t(c ? 'edit_title' : 'add'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <label class="field"><span>${esc(t('full_name'))}</span><input name="full_name" required autocomplete="off" value="${v('full_name')}"></label>
      <label class="field"><span>${esc(t('phone'))}</span><input name="phone_number" type="tel" inputmode="tel" placeholder="+91" value="${v('phone_number')}"></label>
      <label class="field"><span>${esc(t('email'))}</span><input name="email" type="email" inputmode="email" autocomplete="off" value="${v('email')}"></label>
      <label class="field"><span>${esc(t('state'))}</span><select name="state_code">${ui.stateOptions(c ? c.state_code || '' : (ctx.profile && ctx.profile.state_code) || '', t('choose_state'))}</select></label>
      <label class="field"><span>${esc(t('gstin'))}</span><input name="gstin" autocapitalize="characters" autocomplete="off" value="${v('gstin')}"></label>
      <label class="field"><span>${esc(t('address'))}</span><input name="address" autocomplete="off" value="${v('address')}"></label>
      <div class="row">
        <label class="field grow"><span>${esc(t('city'))}</span><input name="city" autocomplete="off" value="${v('city')}"></label>
        <label class="field grow"><span>${esc(t('pincode'))}</span><input name="pincode" inputmode="numeric" maxlength="6" autocomplete="off" value="${v('pincode')}"></label>
      </div>
      <p class="error" hidden></p>
      <button class="btn primary block" data-action="save-customer">${esc(t('save'))}</button>
    </form>`);
  const form = s.root.querySelector('form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const row = {};
    const err = form.querySelector('.error');
    for (const k of CUSTOMER_FIELDS) {
      let val = form[k].value.trim();
      if (k === 'phone_number') val = val.replace(/[\s-]/g, '');
      if (k === 'gstin') val = val.toUpperCase();
      if (k === 'pincode') val = val.replace(/\s/g, '');
      if (c) { if (val !== ((c[k] || '') + '')) row[k] = val || null; } // changed, or emptied: cleared
      else if (val) row[k] = val;
    }
    if (row.pincode && !/^[1-9][0-9]{5}$/.test(row.pincode)) { err.textContent = t('bad_pincode'); err.hidden = false; form.pincode.focus(); return; }
    await ui.busy(form.querySelector('button[data-action]'), async () => {
      const q = c ? ctx.sb.from('customers').update(row).eq('id', c.id) : ctx.sb.from('customers').insert(row);
      const { data, error } = await q.select().single();
      if (error) { err.textContent = ui.errText(error); err.hidden = false; return; }
      s.close();
      ctx.toast(t(c ? 'updated' : 'saved'));
      done(data);
    });
  });
  return s;
}

async function detailView(root, ctx, id) {
  const t = ctx.t(L), { sb, esc, money } = ctx;
  let period = 'year';
  let customer = null, open = [];
  async function load() {
    const fy = financialYear();
    const [c, inv, st] = await Promise.all([
      sb.from('customers').select('*').eq('id', id).maybeSingle(),
      sb.from('invoices').select('id,invoice_number,invoice_date,total_amount,balance_due,status')
        .eq('customer_id', id).in('status', ['pending', 'partially_paid']).order('invoice_date'),
      sb.rpc('customer_statement', period === 'year' ? { customer_id: id, from: fy.from, to: fy.to } : { customer_id: id }),
    ]);
    if (c.error) throw c.error;
    if (!c.data) return null;
    if (inv.error) throw inv.error;
    if (st.error) throw st.error;
    return { c: c.data, open: inv.data, st: st.data };
  }
  function render(d) {
    customer = d.c; open = d.open;
    const c = d.c, st = d.st;
    const wa = ui.phoneDigits(c.phone_number);
    root.innerHTML = `
      <div class="row"><a class="btn small" href="#/customers">← ${esc(t('back'))}</a></div>
      <div class="card stack">
        <div class="row between"><div class="grow"><h1>${esc(c.full_name)}</h1>
          <div class="muted">${esc(c.phone_number || '')}${c.state_code ? ' · ' + esc(ui.stateName(c.state_code)) : ''}${c.gstin ? ' · GSTIN ' + esc(c.gstin) : ''}</div>
          ${c.address || c.city || c.pincode ? `<div class="muted" data-field="address">${esc([c.address, c.city, c.pincode].filter(Boolean).join(', '))}</div>` : ''}</div>
          <div class="stat num"><div class="label">${esc(t('balance'))}</div><div class="value" data-field="balance">${money(c.total_debt)}</div></div></div>
        <div class="row">
          <button class="btn primary" data-action="record-payment">${esc(t('record_payment'))}</button>
          <a class="btn" href="#/invoices/new/${esc(c.id)}" data-action="new-invoice">${esc(t('new_invoice'))}</a>
          <button class="btn small" data-action="edit-customer">${esc(t('edit'))}</button>
          ${wa ? `<a class="btn small" href="https://wa.me/${esc(wa)}" target="_blank" rel="noopener">${esc(t('whatsapp'))}</a>
          <a class="btn small" href="tel:${esc(c.phone_number)}">${esc(t('call'))}</a>` : ''}
        </div></div>
      ${d.open.length ? `<div class="card"><h2>${esc(t('open_invoices'))}</h2><ul class="list">${d.open.map((i) => `
        <li><a class="item" href="#/invoices/${esc(i.id)}" data-id="${esc(i.id)}">
          <div class="main"><div class="name">${esc(i.invoice_number)}</div><div class="muted">${esc(ui.shortDate(i.invoice_date, ctx.lang))}</div></div>
          <div class="side">${money(i.balance_due)}<div>${ui.statusBadge(i.status, ctx.lang)}</div></div></a></li>`).join('')}</ul></div>` : ''}
      <div class="card stack" data-card="statement">
        <div class="row between"><h2>${esc(t('statement'))}</h2>
          <div class="tabs" role="tablist">
            <button role="tab" data-period="year" aria-selected="${period === 'year'}">${esc(t('this_year'))}</button>
            <button role="tab" data-period="all" aria-selected="${period === 'all'}">${esc(t('all_time'))}</button></div></div>
        <div class="row between muted"><span>${esc(t('opening'))}</span><span class="num">${money(st.opening_balance)}</span></div>
        ${st.entries.length ? `<table class="lines"><thead><tr><th></th><th class="num">${esc(t('amount_col'))}</th>
          <th class="num">${esc(t('balance'))}</th></tr></thead><tbody>
          ${st.entries.map((e) => {
            const dr = ui.paise(e.debit) || 0n, cr = ui.paise(e.credit) || 0n;
            const ref = e.type !== 'payment' ? `<a href="#/invoices/${esc(e.id)}">${esc(e.reference || '')}</a>` : esc(e.reference || '');
            return `<tr data-entry="${esc(e.type)}"><td><div>${esc(t(e.type))} ${ref}</div>
            <div class="muted">${esc(ui.shortDate(e.date, ctx.lang))}</div></td>
            <td class="num">${dr ? '+' + ui.fmtPaise(dr) : ''}${cr ? '<span class="ok-text">−' + ui.fmtPaise(cr) + '</span>' : ''}</td>
            <td class="num">${money(e.balance)}</td></tr>`;
          }).join('')}</tbody></table>`
          : `<p class="muted">${esc(t('no_entries'))}</p>`}
        <div class="row between"><strong>${esc(t('closing'))}</strong><strong class="num">${money(st.closing_balance)}</strong></div>
      </div>`;
  }
  async function refresh() {
    try {
      const d = await load();
      if (!d) { root.innerHTML = `<div class="empty">${esc(t('not_found'))}</div>`; return; }
      render(d);
    } catch (e) { root.innerHTML = `<div class="empty error">${esc(ui.errText(e))}</div>`; }
  }
  root.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action], [data-period]');
    if (!b) return;
    if (b.dataset.period) { period = b.dataset.period; refresh(); }
    else if (b.dataset.action === 'record-payment' && customer) paymentSheet(ctx, customer, open, refresh);
    else if (b.dataset.action === 'edit-customer' && customer) customerSheet(ctx, customer, refresh);
  });
  await refresh();
  const again = ui.debounce(refresh, 300);
  const ch = sb.channel('customer-' + id)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'customers', filter: `id=eq.${id}` }, again)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'invoices', filter: `customer_id=eq.${id}` }, again)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'payments', filter: `customer_id=eq.${id}` }, again)
    .subscribe();
  return () => sb.removeChannel(ch);
}

export default {
  title: { en: 'Customers', hi: 'ग्राहक' },
  async mount(root, ctx, args) {
    return args[0] ? detailView(root, ctx, args[0]) : listView(root, ctx);
  },
};
