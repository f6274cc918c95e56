// invoices.js - GST invoices: the list by status; a new invoice with line
// items and live totals (computed in integer paise exactly as the server
// does, docs/books.md; the server's answer is what is kept); an invoice's
// page with issue, cancel, record a payment and share on WhatsApp.
import * as ui from '../ui.js';
import { paymentSheet } from './customers.js';
import { shipForm, shipmentBadge } from './shipments.js';

const L = {
  en: {
    invoices: 'Invoices', new_invoice: 'New invoice', none: 'No invoices yet.', none_here: 'No invoices here.',
    all: 'All', draft: 'Drafts', unpaid: 'Unpaid', paid: 'Paid', cancelled: 'Cancelled',
    draft_one: 'Draft', customer: 'Customer', choose_customer: 'Choose a customer…', product: 'Product',
    choose_product: 'Choose…', qty: 'Qty', price: 'Price ₹', discount: 'Discount ₹', line_total: 'Amount',
    add_line: 'Add item', remove: 'Remove', subtotal: 'Taxable value', cgst: 'CGST', sgst: 'SGST', igst: 'IGST',
    round_off: 'Round off', total: 'Total', save_draft: 'Save draft', issue: 'Issue invoice', notes: 'Notes',
    due_date: 'Due date', intra: 'Within the state: CGST + SGST', inter: 'To another state: IGST',
    no_state: 'Set your business\'s state (GST) first: the sample business or your profile.',
    need_customer: 'Choose a customer.', need_lines: 'Add at least one item with a product and quantity.',
    bad_qty: 'Line {n}: the quantity needs a number above 0 with at most 3 decimals.',
    bad_price: 'Line {n}: the price needs at most 2 decimals.', bad_discount: 'Line {n}: the discount is more than the line.',
    created: 'Invoice {number} issued: {total}.', drafted: 'Draft saved: {total}.', issued: 'Invoice {number} issued.',
    cancel: 'Cancel invoice', cancel_reason: 'Why is it cancelled?', cancelled_ok: 'Invoice cancelled.',
    record_payment: 'Record payment', share: 'Share on WhatsApp', paid_amount: 'Paid', balance_due: 'Balance due',
    date: 'Date', place: 'Place of supply', back: 'Invoices', not_found: 'This invoice was not found.',
    hsn: 'HSN', rate: 'GST', send_munshi: 'Send from the business\'s WhatsApp', open_wa: 'Open in my WhatsApp',
    share_text: 'Invoice {number} from {business}: total {total}{due}.', share_due: ', balance due {due}',
    share_upi: 'Pay by UPI: {link}', sent: 'Queued on WhatsApp.', no_phone: 'This customer has no phone number.',
    share_none: 'munshi has no WhatsApp chat with this customer yet: open your own WhatsApp with the message.',
    stock: '{qty} in stock', items: 'Items', back_to_customer: 'Customer',
    pdf: 'PDF', send_invoice: 'Send PDF on WhatsApp', invoice_sent: 'The invoice is queued on WhatsApp.',
    ship: 'Ship', shipment: 'Shipment', payment_link: 'Payment link', link_made: 'Payment link ready.',
    copy: 'Copy', copied: 'Copied.', upi_qr: 'UPI QR', upi_title: 'Pay {amount} by UPI', upi_ref: 'Reference {ref}',
    more: 'More', link_status: 'Link {status}: paid {paid} of {amount}',
  },
  hi: {
    invoices: 'बिल', new_invoice: 'नया बिल', none: 'अभी कोई बिल नहीं।', none_here: 'यहाँ कोई बिल नहीं।',
    all: 'सभी', draft: 'ड्राफ़्ट', unpaid: 'बकाया', paid: 'चुकता', cancelled: 'रद्द',
    draft_one: 'ड्राफ़्ट', customer: 'ग्राहक', choose_customer: 'ग्राहक चुनें…', product: 'सामान',
    choose_product: 'चुनें…', qty: 'मात्रा', price: 'दाम ₹', discount: 'छूट ₹', line_total: 'रकम',
    add_line: 'सामान जोड़ें', remove: 'हटाएँ', subtotal: 'कर योग्य मूल्य', cgst: 'CGST', sgst: 'SGST', igst: 'IGST',
    round_off: 'राउंड ऑफ़', total: 'कुल', save_draft: 'ड्राफ़्ट सहेजें', issue: 'बिल जारी करें', notes: 'नोट',
    due_date: 'देय तिथि', intra: 'राज्य के भीतर: CGST + SGST', inter: 'दूसरे राज्य में: IGST',
    no_state: 'पहले अपने व्यापार का राज्य (GST) तय करें।',
    need_customer: 'ग्राहक चुनें।', need_lines: 'कम से कम एक सामान और मात्रा जोड़ें।',
    bad_qty: 'पंक्ति {n}: मात्रा 0 से ज़्यादा हो, अधिकतम 3 दशमलव।',
    bad_price: 'पंक्ति {n}: दाम अधिकतम 2 दशमलव में।', bad_discount: 'पंक्ति {n}: छूट रकम से ज़्यादा है।',
    created: 'बिल {number} जारी: {total}।', drafted: 'ड्राफ़्ट सहेजा: {total}।', issued: 'बिल {number} जारी हुआ।',
    cancel: 'बिल रद्द करें', cancel_reason: 'रद्द करने का कारण?', cancelled_ok: 'बिल रद्द हुआ।',
    record_payment: 'भुगतान दर्ज करें', share: 'WhatsApp पर भेजें', paid_amount: 'मिला', balance_due: 'बकाया',
    date: 'तारीख', place: 'आपूर्ति का स्थान', back: 'बिल', not_found: 'यह बिल नहीं मिला।',
    hsn: 'HSN', rate: 'GST', send_munshi: 'व्यापार के WhatsApp से भेजें', open_wa: 'अपने WhatsApp में खोलें',
    share_text: '{business} का बिल {number}: कुल {total}{due}।', share_due: ', बकाया {due}',
    share_upi: 'UPI से भुगतान: {link}', sent: 'WhatsApp पर भेजने के लिए कतार में।', no_phone: 'इस ग्राहक का फ़ोन नंबर नहीं है।',
    share_none: 'munshi की इस ग्राहक से अभी कोई WhatsApp चैट नहीं: संदेश अपने WhatsApp में खोलें।',
    stock: 'स्टॉक {qty}', items: 'सामान', back_to_customer: 'ग्राहक',
    pdf: 'PDF', send_invoice: 'PDF WhatsApp पर भेजें', invoice_sent: 'बिल WhatsApp पर भेजने के लिए कतार में।',
    ship: 'भेजें (शिपमेंट)', shipment: 'शिपमेंट', payment_link: 'भुगतान लिंक', link_made: 'भुगतान लिंक तैयार।',
    copy: 'कॉपी', copied: 'कॉपी हुआ।', upi_qr: 'UPI QR', upi_title: 'UPI से {amount} भुगतान', upi_ref: 'संदर्भ {ref}',
    more: 'और', link_status: 'लिंक {status}: {amount} में से {paid} मिला',
  },
};

const TABS = [['all', null], ['draft', ['draft']], ['unpaid', ['pending', 'partially_paid']],
  ['paid', ['paid']], ['cancelled', ['cancelled']]];

// ---- the list -----------------------------------------------------------------

async function listView(root, ctx) {
  const t = ctx.t(L), { sb, esc, money } = ctx;
  let tab = sessionStorage.getItem('munshi.invoice_tab') || 'all';
  root.innerHTML = `
    <div class="row between"><h1>${esc(t('invoices'))}</h1>
      <button class="btn primary small" data-action="new-invoice">+ ${esc(t('new_invoice'))}</button></div>
    <div class="tabs" role="tablist">${TABS.map(([k]) =>
      `<button role="tab" data-tab="${k}" aria-selected="${k === tab}">${esc(t(k))}</button>`).join('')}</div>
    <ul class="list" data-list="invoices"></ul>`;
  const list = root.querySelector('[data-list]');
  let seq = 0;
  async function load() {
    const my = ++seq;
    let q = sb.from('invoices')
      .select('id,invoice_number,invoice_date,status,total_amount,balance_due,created_at,customers(full_name)')
      .order('created_at', { ascending: false }).limit(200);
    const st = TABS.find((x) => x[0] === tab)[1];
    if (st) q = q.in('status', st);
    const { data, error } = await q;
    if (my !== seq) return;
    if (error) { list.innerHTML = `<li class="empty error">${esc(ui.errText(error))}</li>`; return; }
    list.innerHTML = data.length ? data.map((i) => `
      <li><a class="item" href="#/invoices/${esc(i.id)}" data-id="${esc(i.id)}">
        <div class="main"><div class="name">${esc(i.customers ? i.customers.full_name : '')}</div>
          <div class="muted">${esc(i.invoice_number || t('draft_one'))} · ${esc(ui.shortDate(i.invoice_date, ctx.lang))}</div></div>
        <div class="side"><div>${money(i.total_amount)}</div>${ui.statusBadge(i.status, ctx.lang)}</div></a></li>`).join('')
      : `<li class="empty">${esc(t(tab === 'all' ? 'none' : 'none_here'))}</li>`;
  }
  root.addEventListener('click', (e) => {
    const b = e.target.closest('[data-tab], [data-action=new-invoice]');
    if (!b) return;
    if (b.dataset.action) { ctx.go('#/invoices/new'); return; }
    tab = b.dataset.tab;
    sessionStorage.setItem('munshi.invoice_tab', tab);
    for (const x of root.querySelectorAll('[data-tab]')) x.setAttribute('aria-selected', String(x === b));
    load();
  });
  await load();
  const ch = sb.channel('invoices-list')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'invoices' }, ui.debounce(load, 300))
    .subscribe();
  return () => sb.removeChannel(ch);
}

// ---- a new invoice ------------------------------------------------------------

async function editorView(root, ctx, customerId) {
  const t = ctx.t(L), { sb, esc } = ctx;
  const [cs, ps, pf] = await Promise.all([
    sb.from('customers').select('id,full_name,phone_number,state_code').order('full_name').limit(1000),
    sb.from('products').select('id,name,unit,hsn_code,gst_rate,base_price,current_stock').eq('is_active', true).order('name').limit(1000),
    sb.from('profiles').select('state_code').eq('id', ctx.user.id).maybeSingle(),
  ]);
  for (const r of [cs, ps, pf]) if (r.error) { root.innerHTML = `<div class="empty error">${esc(ui.errText(r.error))}</div>`; return; }
  const customers = cs.data, products = ps.data, home = pf.data && pf.data.state_code;
  const byId = new Map(products.map((p) => [p.id, p]));
  let key = crypto.randomUUID(); // a new one after every answer the server gave

  root.innerHTML = `
    <div class="row"><a class="btn small" href="#/invoices">← ${esc(t('back'))}</a></div>
    <h1>${esc(t('new_invoice'))}</h1>
    <form class="stack" data-form="invoice" novalidate>
      <div class="card stack">
        <label class="field"><span>${esc(t('customer'))}</span><select name="customer" data-field="customer">
          <option value="">${esc(t('choose_customer'))}</option>
          ${customers.map((c) => `<option value="${esc(c.id)}"${c.id === customerId ? ' selected' : ''}>${esc(c.full_name)}${c.phone_number ? ' · ' + esc(c.phone_number) : ''}</option>`).join('')}
        </select></label>
        <p class="muted" data-field="supply"></p>
      </div>
      <div class="card stack"><h2>${esc(t('items'))}</h2>
        <div class="stack" data-lines></div>
        <button type="button" class="btn" data-action="add-line">+ ${esc(t('add_line'))}</button>
      </div>
      <div class="card stack">
        <div class="totals" data-field="totals"></div>
      </div>
      <div class="card stack">
        <div class="row"><label class="field grow"><span>${esc(t('due_date'))}</span><input type="date" name="due_date"></label></div>
        <label class="field"><span>${esc(t('notes'))}</span><input name="notes" autocomplete="off"></label>
      </div>
      <p class="error" hidden></p>
      <div class="row">
        <button type="button" class="btn" data-action="save-draft">${esc(t('save_draft'))}</button>
        <button type="submit" class="btn primary grow" data-action="issue">${esc(t('issue'))}</button>
      </div>
    </form>`;
  const form = root.querySelector('form');
  const lines = form.querySelector('[data-lines]');
  const err = form.querySelector('.error');
  const productOptions = `<option value="">${esc(t('choose_product'))}</option>` +
    products.map((p) => `<option value="${esc(p.id)}">${esc(p.name)}</option>`).join('');

  function addLine() {
    const n = lines.children.length + 1;
    const div = ui.el(`<div class="stack tight line" data-line="${n}">
      <div class="row"><label class="field grow"><span>${esc(t('product'))}</span>
        <select name="product" data-field="product">${productOptions}</select></label>
        <button type="button" class="btn small" data-action="remove-line" aria-label="${esc(t('remove'))}">✕</button></div>
      <div class="row">
        <label class="field grow"><span>${esc(t('qty'))}</span><input name="qty" inputmode="decimal" value="1" autocomplete="off"></label>
        <label class="field grow"><span>${esc(t('price'))}</span><input name="price" inputmode="decimal" autocomplete="off"></label>
        <label class="field grow"><span>${esc(t('discount'))}</span><input name="discount" inputmode="decimal" autocomplete="off" placeholder="0"></label>
      </div>
      <div class="row between muted"><span data-field="line-info"></span><strong class="num" data-field="line-total"></strong></div>
    </div>`);
    lines.appendChild(div);
    const sel = div.querySelector('select');
    sel.focus();
    return div;
  }

  function customer() { return customers.find((c) => c.id === form.customer.value); }
  function isIntra() {
    const c = customer();
    const place = (c && c.state_code) || home;
    return !place || place === home;
  }

  // Reads the form: {lines: [{product, qty, price, discount}], problems}.
  function read() {
    const out = [], problems = [];
    [...lines.children].forEach((div, i) => {
      const p = byId.get(div.querySelector('[name=product]').value);
      const qtyText = div.querySelector('[name=qty]').value, priceText = div.querySelector('[name=price]').value;
      const discText = div.querySelector('[name=discount]').value;
      if (!p) return;
      const qty = ui.parseQty(qtyText);
      const price = priceText.trim() === '' ? ui.paise(p.base_price) : ui.parseMoney(priceText);
      const discount = discText.trim() === '' ? 0n : ui.parseMoney(discText);
      if (qty == null || qty <= 0n) problems.push(t('bad_qty', { n: i + 1 }));
      else if (price == null || discount == null) problems.push(t('bad_price', { n: i + 1 }));
      else out.push({ div, p, qty, price, discount, rate: ui.units(p.gst_rate, 2) || 0n, priceGiven: priceText.trim() !== '' });
    });
    return { lines: out, problems };
  }

  function recalc() {
    const c = customer();
    const intra = isIntra();
    form.querySelector('[data-field=supply]').textContent = !home ? t('no_state')
      : c ? `${t('place')}: ${ui.stateName((c && c.state_code) || home)} — ${t(intra ? 'intra' : 'inter')}` : '';
    const { lines: ls } = read();
    const tot = ui.gstTotals(ls, intra);
    for (const div of lines.children) {
      div.querySelector('[data-field=line-total]').textContent = '';
      div.querySelector('[data-field=line-info]').textContent = '';
    }
    ls.forEach((l, i) => {
      const r = tot.lines[i];
      l.div.querySelector('[data-field=line-info]').textContent =
        `${t('hsn')} ${l.p.hsn_code || '—'} · ${t('rate')} ${ui.fmtQty(l.p.gst_rate)}% · ${t('stock', { qty: ui.fmtQty(l.p.current_stock) + ' ' + (l.p.unit || '') })}`;
      l.div.querySelector('[data-field=line-total]').textContent = r.error ? '—' : ui.fmtPaise(r.total);
    });
    const row = (k, v, cls = '') => `<span class="${cls}">${esc(t(k))}</span><span class="num ${cls}" data-total="${k}">${ui.fmtPaise(v)}</span>`;
    form.querySelector('[data-field=totals]').innerHTML = row('subtotal', tot.subtotal) +
      (intra ? row('cgst', tot.cgst) + row('sgst', tot.sgst) : row('igst', tot.igst)) +
      row('round_off', tot.roundOff) + row('total', tot.total, 'grand');
  }

  lines.addEventListener('change', (e) => {
    const sel = e.target.closest('[name=product]');
    if (sel) {
      const p = byId.get(sel.value);
      const price = sel.closest('.line').querySelector('[name=price]');
      price.value = p ? ui.decText(ui.paise(p.base_price), 2) : '';
    }
    recalc();
  });
  form.addEventListener('input', recalc);
  form.customer.addEventListener('change', recalc);
  form.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action]');
    if (!b) return;
    if (b.dataset.action === 'add-line') { addLine(); recalc(); }
    else if (b.dataset.action === 'remove-line') { b.closest('.line').remove(); recalc(); }
    else if (b.dataset.action === 'save-draft') submit(true, b);
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(false, form.querySelector('[data-action=issue]')); });

  async function submit(draft, button) {
    const fail = (m) => { err.textContent = m; err.hidden = false; };
    if (!form.customer.value) return fail(t('need_customer'));
    const { lines: ls, problems } = read();
    if (problems.length) return fail(problems[0]);
    if (!ls.length) return fail(t('need_lines'));
    const tot = ui.gstTotals(ls, isIntra());
    const bad = tot.lines.findIndex((r) => r.error);
    if (bad >= 0) return fail(t('bad_discount', { n: bad + 1 }));
    err.hidden = true;
    const args = {
      customer_id: form.customer.value,
      items: ls.map((l) => {
        const it = { product_id: l.p.id, quantity: ui.decNumber(l.qty, 3) };
        if (l.priceGiven) it.unit_price = ui.decNumber(l.price, 2);
        if (l.discount) it.discount = ui.decNumber(l.discount, 2);
        return it;
      }),
    };
    if (draft) args.draft = true;
    if (form.due_date.value) args.due_date = form.due_date.value;
    if (form.notes.value.trim()) args.notes = form.notes.value.trim();
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      const inv = await ui.rpcOnce(sb, 'create_invoice', args, key);
      ctx.toast(draft ? t('drafted', { total: ctx.money(inv.total_amount) })
        : t('created', { number: inv.invoice_number, total: ctx.money(inv.total_amount) }));
      ctx.go('#/invoices/' + inv.id);
    } catch (ex) {
      if (ex && ex.code) key = crypto.randomUUID(); // answered: that key is spent
      fail(ui.errText(ex));
    } finally {
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  }

  addLine();
  recalc();
  if (!customerId) form.customer.focus();
}

// ---- one invoice ----------------------------------------------------------------

async function detailView(root, ctx, id) {
  const t = ctx.t(L), { sb, esc, money } = ctx;
  let inv = null, ship = null, link = null;
  async function load() {
    const [r, sh, pl] = await Promise.all([
      sb.from('invoices')
        .select('*,customers(id,full_name,phone_number,state_code,total_debt),invoice_items(*)')
        .eq('id', id).maybeSingle(),
      // its live shipment (at most one: a cancelled one does not count)
      sb.from('shipments').select('id,status,awb_number,courier_name,last_error')
        .eq('invoice_id', id).neq('status', 'cancelled').limit(1),
      sb.from('payment_links').select('id,short_url,status,amount,amount_paid,expire_by,created_at')
        .eq('invoice_id', id).order('created_at', { ascending: false }).limit(1),
    ]);
    if (r.error) throw r.error;
    // Shipments and links are extras: the invoice shows without them.
    ship = (sh.data && sh.data[0]) || null;
    link = (pl.data && pl.data[0]) || null;
    return r.data;
  }
  function render() {
    const i = inv, c = i.customers || {};
    const items = (i.invoice_items || []).slice().sort((a, b) => a.line_no - b.line_no);
    const igst = (ui.paise(i.igst_amount) || 0n) !== 0n;
    const open = i.status === 'pending' || i.status === 'partially_paid';
    const issued = i.status !== 'draft' && i.status !== 'cancelled';
    const due = ui.paise(i.balance_due) || 0n;
    const row = (k, v, cls = '') => `<span class="${cls}">${esc(t(k))}</span><span class="num ${cls}" data-total="${k}">${money(v)}</span>`;
    root.innerHTML = `
      <div class="row"><a class="btn small" href="#/invoices">← ${esc(t('back'))}</a></div>
      <div class="card stack">
        <div class="row between"><h1 data-field="number">${esc(i.invoice_number || t('draft_one'))}</h1>${ui.statusBadge(i.status, ctx.lang)}</div>
        <div><a href="#/customers/${esc(c.id)}"><strong>${esc(c.full_name || '')}</strong></a>
          <div class="muted">${esc(c.phone_number || '')} · ${esc(t('date'))} ${esc(ui.shortDate(i.invoice_date, ctx.lang))}
          ${i.due_date ? ' · ' + esc(t('due_date')) + ' ' + esc(ui.shortDate(i.due_date, ctx.lang)) : ''}
          · ${esc(t('place'))} ${esc(ui.stateName(i.place_of_supply))}</div></div>
      </div>
      <div class="card"><table class="lines"><thead><tr><th>${esc(t('product'))}</th><th class="num">${esc(t('qty'))}</th>
        <th class="num">${esc(t('line_total'))}</th></tr></thead><tbody>
        ${items.map((l) => `<tr><td><div>${esc(l.description)}</div><div class="muted">${esc(t('hsn'))} ${esc(l.hsn_code || '—')} ·
          ${money(l.unit_price)}${(ui.paise(l.discount) || 0n) ? ' − ' + money(l.discount) : ''} · ${esc(ui.fmtQty(l.gst_rate))}%</div></td>
          <td class="num">${esc(ui.fmtQty(l.quantity))}</td><td class="num">${money(l.line_total)}</td></tr>`).join('')}
        </tbody></table>
        <div class="totals" style="margin-top:.6rem">
          ${row('subtotal', i.subtotal)}${igst ? row('igst', i.igst_amount) : row('cgst', i.cgst_amount) + row('sgst', i.sgst_amount)}
          ${row('round_off', i.round_off)}${row('total', i.total_amount, 'grand')}
          ${i.status !== 'draft' ? row('paid_amount', i.amount_paid) + row('balance_due', i.balance_due) : ''}
        </div>
        ${i.notes ? `<p class="muted">${esc(i.notes)}</p>` : ''}
      </div>
      <div class="row">
        ${i.status === 'draft' ? `<button class="btn primary" data-action="issue">${esc(t('issue'))}</button>` : ''}
        ${open ? `<button class="btn primary" data-action="record-payment">${esc(t('record_payment'))}</button>` : ''}
        ${i.status !== 'draft' && i.status !== 'cancelled' ? `<button class="btn" data-action="share">${esc(t('share'))}</button>` : ''}
        ${i.status !== 'cancelled' ? `<button class="btn danger" data-action="cancel">${esc(t('cancel'))}</button>` : ''}
      </div>
      <div class="row" data-part="actions">
        <button class="btn" data-action="pdf">${esc(t('pdf'))}</button>
        ${issued ? `<button class="btn" data-action="send-invoice">${esc(t('send_invoice'))}</button>` : ''}
        ${open && due > 0n ? `<button class="btn" data-action="upi-qr">${esc(t('upi_qr'))}</button>
          <button class="btn" data-action="payment-link">${esc(t('payment_link'))}</button>` : ''}
        ${issued && !ship ? `<button class="btn" data-action="ship">${esc(t('ship'))}</button>` : ''}
      </div>
      ${ship ? `<a class="card row between" href="#/shipments/${esc(ship.id)}" data-field="shipment" data-id="${esc(ship.id)}">
        <span>${esc(t('shipment'))}${ship.awb_number ? ' · AWB ' + esc(ship.awb_number) : ''}${ship.courier_name ? ' · ' + esc(ship.courier_name) : ''}</span>
        ${shipmentBadge(ship, ctx.lang)}</a>` : ''}
      ${link && link.short_url ? `<div class="card stack tight" data-field="payment-link">
        <div class="row"><code class="grow" style="word-break:break-all" data-field="short-url">${esc(link.short_url)}</code>
          <button class="btn small" data-action="copy" data-text="${esc(link.short_url)}">${esc(t('copy'))}</button></div>
        <span class="muted">${esc(t('link_status', { status: link.status, paid: money(link.amount_paid), amount: money(link.amount) }))}</span></div>` : ''}`;
  }
  async function refresh() {
    try {
      inv = await load();
      if (!inv) { root.innerHTML = `<div class="empty">${esc(t('not_found'))}</div>`; return; }
      render();
    } catch (e) { root.innerHTML = `<div class="empty error">${esc(ui.errText(e))}</div>`; }
  }

  function cancelSheet() {
    const key = crypto.randomUUID();
    const s = ui.sheet(`<form class="stack" data-form="cancel">
      <div class="row between"><h2>${esc(t('cancel'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <label class="field"><span>${esc(t('cancel_reason'))}</span><input name="reason" required autocomplete="off"></label>
      <p class="error" hidden></p>
      <button class="btn primary block danger" data-action="confirm-cancel">${esc(t('cancel'))}</button></form>`);
    const form = s.root.querySelector('form');
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const err = form.querySelector('.error');
      const reason = form.reason.value.trim();
      if (!reason) { err.textContent = t('cancel_reason'); err.hidden = false; return; }
      await ui.busy(form.querySelector('button[data-action]'), async () => {
        try {
          await ui.rpcOnce(sb, 'cancel_invoice', { invoice_id: id, reason }, key);
          s.close(); ctx.toast(t('cancelled_ok')); refresh();
        } catch (ex) { err.textContent = ui.errText(ex); err.hidden = false; }
      });
    });
  }

  async function shareSheet() {
    const c = inv.customers || {};
    const p = ctx.profile || {};
    const due = ui.paise(inv.balance_due) || 0n;
    let text = t('share_text', { number: inv.invoice_number, business: p.business_name || 'munshi',
      total: money(inv.total_amount), due: due > 0n ? t('share_due', { due: money(inv.balance_due) }) : '' });
    if (due > 0n && p.upi_id) {
      const link = `upi://pay?pa=${encodeURIComponent(p.upi_id)}&pn=${encodeURIComponent(p.business_name || '')}` +
        `&am=${ui.decText(due, 2)}&cu=INR&tn=${encodeURIComponent(inv.invoice_number)}`;
      text += '\n' + t('share_upi', { link });
    }
    const digits = ui.phoneDigits(c.phone_number);
    // A conversation on a connected WhatsApp number, if munshi has one.
    const { data: sess } = await sb.from('sessions').select('id,is_bot_active,channel_id')
      .eq('customer_id', c.id).eq('channel', 'whatsapp').not('channel_id', 'is', null)
      .order('last_message_at', { ascending: false, nullsFirst: false }).limit(1);
    const session = sess && sess[0];
    const s = ui.sheet(`<div class="stack" data-form="share">
      <div class="row between"><h2>${esc(t('share'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <label class="field"><textarea name="text" rows="5">${esc(text)}</textarea></label>
      ${session ? `<button class="btn primary block" data-action="share-send">${esc(t('send_munshi'))}</button>`
        : `<p class="muted">${esc(t('share_none'))}</p>`}
      ${digits ? `<a class="btn block${session ? '' : ' primary'}" data-action="share-open" target="_blank" rel="noopener" href="#">${esc(t('open_wa'))}</a>`
        : `<p class="muted">${esc(t('no_phone'))}</p>`}</div>`);
    const ta = s.root.querySelector('textarea');
    const open = s.root.querySelector('[data-action=share-open]');
    const setHref = () => { if (open) open.href = `https://wa.me/${digits}?text=${encodeURIComponent(ta.value)}`; };
    ta.addEventListener('input', setHref);
    setHref();
    const send = s.root.querySelector('[data-action=share-send]');
    if (send) send.addEventListener('click', () => ui.busy(send, async () => {
      ui.must(await sb.rpc('send_message', { session_id: session.id, text: ta.value }));
      // send_message hands the chat to the owner; sharing a bill is not
      // taking over the conversation, so a bot that was answering goes on.
      if (session.is_bot_active) await sb.rpc('set_bot_active', { session_id: session.id, active: true });
      s.close();
      ctx.toast(t('sent'));
    }));
  }

  root.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-action]');
    if (!b || !inv) return;
    const a = b.dataset.action;
    if (a === 'issue') {
      await ui.busy(b, async () => {
        const r = await ui.rpcOnce(sb, 'issue_invoice', { invoice_id: id });
        ctx.toast(t('issued', { number: r.invoice_number }));
        await refresh();
      });
    } else if (a === 'cancel') cancelSheet();
    else if (a === 'record-payment') {
      const { data: open } = await sb.from('invoices').select('id,invoice_number,balance_due')
        .eq('customer_id', inv.customer_id).in('status', ['pending', 'partially_paid']).order('invoice_date');
      const s = paymentSheet(ctx, inv.customers, open || [], refresh);
      const sel = s.root.querySelector('[name=invoice]');
      if (sel) sel.value = id;
    } else if (a === 'share') shareSheet();
    else if (a === 'pdf') openPdf(b);
    else if (a === 'send-invoice') {
      await ui.busy(b, async () => {
        await ui.rpcOnce(sb, 'send_invoice', { invoice_id: id });
        ctx.toast(t('invoice_sent'));
      });
    } else if (a === 'ship') {
      // The default pickup location is the Shiprocket integration's.
      const { data } = await sb.from('integrations').select('pickup_location').eq('provider', 'shiprocket').limit(1);
      shipForm(ctx, inv, { pickup_location: data && data[0] ? data[0].pickup_location : '',
        payment_method: (ui.paise(inv.balance_due) || 0n) > 0n ? 'cod' : 'prepaid' }, () => refresh());
    } else if (a === 'payment-link') {
      await ui.busy(b, async () => {
        const r = await ui.rpcOnce(sb, 'create_payment_link', { invoice_id: id });
        ctx.toast(t('link_made'));
        await refresh();
        const url = r && (r.short_url || r.url);
        if (url && !(link && link.short_url === url)) { link = Object.assign({}, r, { short_url: url }); render(); }
      });
    } else if (a === 'upi-qr') upiSheet(b);
    else if (a === 'copy') {
      try { await navigator.clipboard.writeText(b.dataset.text); ctx.toast(t('copied')); } catch { ctx.toast(b.dataset.text); }
    }
  });

  // The PDF in a new tab: /invoices/<id>.pdf with the token in the query
  // (a link cannot send a header); the token is read at the click, so it
  // is the current one.
  async function openPdf(button) {
    await ui.busy(button, async () => {
      const { data } = await sb.auth.getSession();
      const token = data && data.session ? data.session.access_token : '';
      const w = window.open(`/invoices/${encodeURIComponent(id)}.pdf?access_token=${encodeURIComponent(token)}`, '_blank');
      if (w) w.opener = null;
    });
  }

  // rpc/invoice_upi: the UPI link of the amount due and its QR (an SVG,
  // shown as an image so nothing in it can run).
  async function upiSheet(button) {
    await ui.busy(button, async () => {
      const r = await ui.rpcOnce(sb, 'invoice_upi', { invoice_id: id });
      const img = r.qr_svg ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(r.qr_svg)}` : '';
      const s = ui.sheet(`<div class="stack" data-form="upi">
        <div class="row between"><h2>${esc(t('upi_title', { amount: money(r.amount_due) }))}</h2><button type="button" class="btn small" data-close>✕</button></div>
        ${img ? `<img class="qr" data-field="qr" alt="UPI QR" src="${esc(img)}" style="width:min(70vw,280px);align-self:center;background:#fff">` : ''}
        <p class="muted">${esc(t('upi_ref', { ref: r.reference || '' }))}</p>
        <div class="row"><code class="grow" data-field="upi-link" style="word-break:break-all">${esc(r.upi_link || '')}</code>
          <button class="btn small" data-action="copy" data-text="${esc(r.upi_link || '')}">${esc(t('copy'))}</button></div></div>`);
      s.root.addEventListener('click', async (e) => {
        const c = e.target.closest('[data-action=copy]');
        if (!c) return;
        try { await navigator.clipboard.writeText(c.dataset.text); ctx.toast(t('copied')); } catch { ctx.toast(c.dataset.text); }
      });
    });
  }

  await refresh();
  const again = ui.debounce(refresh, 300);
  const ch = sb.channel('invoice-' + id)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'invoices', filter: `id=eq.${id}` }, again)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'shipments', filter: `invoice_id=eq.${id}` }, again)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'payment_links', filter: `invoice_id=eq.${id}` }, again)
    .subscribe();
  return () => sb.removeChannel(ch);
}

export default {
  title: { en: 'Invoices', hi: 'बिल' },
  async mount(root, ctx, args) {
    if (args[0] === 'new') return editorView(root, ctx, args[1]);
    if (args[0]) return detailView(root, ctx, args[0]);
    return listView(root, ctx);
  },
};
