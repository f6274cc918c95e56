// products.js - the products: stock on hand (low stock marked), adding one,
// and adjusting stock (counted, damaged, purchased) through rpc/adjust_stock,
// which writes the stock ledger.
import * as ui from '../ui.js';

const L = {
  en: {
    products: 'Products', search: 'Search by name, SKU or HSN', add: 'Add product', none: 'No products yet.',
    none_match: 'No product matches.', all: 'All', low: 'Low stock', inactive: 'inactive',
    name: 'Name', sku: 'SKU', hsn: 'HSN code', unit: 'Unit', gst_rate: 'GST rate (%)', price: 'Price (₹, before GST)',
    opening: 'Opening stock', threshold: 'Warn when stock is at or below', save: 'Save', saved: 'Product added.',
    in_stock: 'in stock', adjust: 'Adjust stock', delta: 'Change (+ added, − removed)', reason: 'Reason',
    reason_hint: 'counted, damaged, purchased…', bad_delta: 'Enter a quantity other than 0 with at most 3 decimals.',
    bad_price: 'Enter a price with at most 2 decimals.', need_reason: 'Give a reason.', adjusted: 'Stock of {name} is now {qty}.',
    add_qty: 'Add', remove_qty: 'Remove', price_label: 'Price', gst: 'GST',
  },
  hi: {
    products: 'सामान', search: 'नाम, SKU या HSN से खोजें', add: 'सामान जोड़ें', none: 'अभी कोई सामान नहीं।',
    none_match: 'कोई सामान नहीं मिला।', all: 'सभी', low: 'कम स्टॉक', inactive: 'बंद',
    name: 'नाम', sku: 'SKU', hsn: 'HSN कोड', unit: 'इकाई', gst_rate: 'GST दर (%)', price: 'दाम (₹, GST से पहले)',
    opening: 'शुरुआती स्टॉक', threshold: 'इतना या कम होने पर चेतावनी', save: 'सहेजें', saved: 'सामान जुड़ गया।',
    in_stock: 'स्टॉक में', adjust: 'स्टॉक बदलें', delta: 'बदलाव (+ जोड़ा, − घटाया)', reason: 'कारण',
    reason_hint: 'गिनती, ख़राब, ख़रीदा…', bad_delta: '0 के अलावा मात्रा लिखें, अधिकतम 3 दशमलव।',
    bad_price: 'दाम अधिकतम 2 दशमलव में लिखें।', need_reason: 'कारण लिखें।', adjusted: '{name} का स्टॉक अब {qty} है।',
    add_qty: 'जोड़ें', remove_qty: 'घटाएँ', price_label: 'दाम', gst: 'GST',
  },
};
const RATES = ['0', '0.25', '3', '5', '12', '18', '28'];

function isLow(p) {
  const s = ui.milli(p.current_stock), th = ui.milli(p.low_stock_threshold);
  return s != null && th != null && s <= th;
}

function adjustSheet(ctx, p, done) {
  const t = ctx.t(L), { esc } = ctx;
  const key = crypto.randomUUID();
  const s = ui.sheet(`
    <form class="stack" data-form="adjust">
      <div class="row between"><h2>${esc(t('adjust'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <p class="muted">${esc(p.name)} · ${esc(ui.fmtQty(p.current_stock))} ${esc(p.unit || '')} ${esc(t('in_stock'))}</p>
      <div class="tabs" role="tablist"><button type="button" data-sign="+" aria-selected="true">${esc(t('add_qty'))}</button>
        <button type="button" data-sign="-" aria-selected="false">${esc(t('remove_qty'))}</button></div>
      <label class="field"><span>${esc(t('delta'))}</span><input name="qty" inputmode="decimal" autocomplete="off" required></label>
      <label class="field"><span>${esc(t('reason'))}</span><input name="reason" placeholder="${esc(t('reason_hint'))}" required></label>
      <p class="error" hidden></p>
      <button class="btn primary block" data-action="adjust">${esc(t('adjust'))}</button>
    </form>`);
  const form = s.root.querySelector('form');
  const err = form.querySelector('.error');
  let sign = '+';
  form.addEventListener('click', (e) => {
    const b = e.target.closest('[data-sign]');
    if (!b) return;
    sign = b.dataset.sign;
    for (const x of form.querySelectorAll('[data-sign]')) x.setAttribute('aria-selected', String(x === b));
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let q = ui.parseQty(form.qty.value);
    if (q == null || q === 0n) { err.textContent = t('bad_delta'); err.hidden = false; return; }
    if (sign === '-' && q > 0n) q = -q;
    const reason = form.reason.value.trim();
    if (!reason) { err.textContent = t('need_reason'); err.hidden = false; return; }
    err.hidden = true;
    const btn = form.querySelector('[data-action=adjust]');
    btn.disabled = true;
    try {
      const r = await ui.rpcOnce(ctx.sb, 'adjust_stock', { product_id: p.id, delta: ui.decNumber(q, 3), reason }, key);
      s.close();
      ctx.toast(t('adjusted', { name: p.name, qty: ui.fmtQty(r.current_stock) + ' ' + (p.unit || '') }));
      done();
    } catch (ex) { err.textContent = ui.errText(ex); err.hidden = false; }
    finally { btn.disabled = false; }
  });
}

function newProduct(ctx, done) {
  const t = ctx.t(L), { esc } = ctx;
  const s = ui.sheet(`
    <form class="stack" data-form="product">
      <div class="row between"><h2>${esc(t('add'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
      <label class="field"><span>${esc(t('name'))}</span><input name="name" required autocomplete="off"></label>
      <div class="row"><label class="field grow"><span>${esc(t('sku'))}</span><input name="sku" autocomplete="off"></label>
        <label class="field grow"><span>${esc(t('hsn'))}</span><input name="hsn_code" inputmode="numeric" autocomplete="off"></label></div>
      <div class="row"><label class="field grow"><span>${esc(t('price'))}</span><input name="base_price" inputmode="decimal" required></label>
        <label class="field grow"><span>${esc(t('gst_rate'))}</span><select name="gst_rate">
          ${RATES.map((r) => `<option value="${r}"${r === '18' ? ' selected' : ''}>${r}%</option>`).join('')}</select></label></div>
      <div class="row"><label class="field grow"><span>${esc(t('unit'))}</span><input name="unit" placeholder="pcs, kg, bag"></label>
        <label class="field grow"><span>${esc(t('opening'))}</span><input name="current_stock" inputmode="decimal" placeholder="0"></label></div>
      <label class="field"><span>${esc(t('threshold'))}</span><input name="low_stock_threshold" inputmode="decimal"></label>
      <p class="error" hidden></p>
      <button class="btn primary block" data-action="save-product">${esc(t('save'))}</button>
    </form>`);
  const form = s.root.querySelector('form');
  const err = form.querySelector('.error');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fail = (m) => { err.textContent = m; err.hidden = false; };
    const price = ui.parseMoney(form.base_price.value);
    if (price == null) return fail(t('bad_price'));
    const row = { name: form.name.value.trim(), base_price: ui.decNumber(price, 2), gst_rate: Number(form.gst_rate.value) };
    for (const k of ['sku', 'hsn_code', 'unit']) if (form[k].value.trim()) row[k] = form[k].value.trim();
    for (const k of ['current_stock', 'low_stock_threshold']) {
      if (!form[k].value.trim()) continue;
      const q = ui.parseQty(form[k].value);
      if (q == null || q < 0n) return fail(t('bad_delta'));
      row[k] = ui.decNumber(q, 3);
    }
    await ui.busy(form.querySelector('[data-action]'), async () => {
      const { error } = await ctx.sb.from('products').insert(row);
      if (error) return fail(ui.errText(error));
      s.close();
      ctx.toast(t('saved'));
      done();
    });
  });
}

export default {
  title: { en: 'Products', hi: 'सामान' },
  async mount(root, ctx) {
    const t = ctx.t(L), { sb, esc, money } = ctx;
    let tab = 'all', rows = [];
    root.innerHTML = `
      <div class="row between"><h1>${esc(t('products'))}</h1>
        <button class="btn primary small" data-action="new-product">+ ${esc(t('add'))}</button></div>
      <input class="search" type="search" placeholder="${esc(t('search'))}" aria-label="${esc(t('search'))}">
      <div class="tabs" role="tablist"><button role="tab" data-tab="all" aria-selected="true">${esc(t('all'))}</button>
        <button role="tab" data-tab="low" aria-selected="false">${esc(t('low'))}</button></div>
      <ul class="list" data-list="products"></ul>`;
    const list = root.querySelector('[data-list]');
    const search = root.querySelector('input.search');
    function render() {
      const term = search.value.trim().toLowerCase();
      const shown = rows.filter((p) => (tab !== 'low' || isLow(p)) && (!term ||
        [p.name, p.sku, p.hsn_code].some((x) => x && String(x).toLowerCase().includes(term))));
      list.innerHTML = shown.length ? shown.map((p) => `
        <li><div class="item link" data-id="${esc(p.id)}" role="button" tabindex="0">
          <div class="main"><div class="name">${esc(p.name)}${p.is_active === false ? ` <span class="badge">${esc(t('inactive'))}</span>` : ''}</div>
            <div class="muted">${[p.sku, p.hsn_code && 'HSN ' + p.hsn_code].filter(Boolean).map(esc).join(' · ')}
              · ${money(p.base_price)} + ${esc(ui.fmtQty(p.gst_rate))}% ${esc(t('gst'))}</div></div>
          <div class="side"><span class="badge ${isLow(p) ? 'err' : 'ok'}" data-field="stock">${esc(ui.fmtQty(p.current_stock))} ${esc(p.unit || '')}</span>
            <div><button class="btn small" data-action="adjust" data-id="${esc(p.id)}">${esc(t('adjust'))}</button></div></div>
        </div></li>`).join('')
        : `<li class="empty">${esc(t(rows.length ? 'none_match' : 'none'))}</li>`;
    }
    async function load() {
      const { data, error } = await sb.from('products')
        .select('id,name,sku,hsn_code,unit,gst_rate,base_price,current_stock,low_stock_threshold,is_active')
        .order('name').limit(1000);
      if (error) { list.innerHTML = `<li class="empty error">${esc(ui.errText(error))}</li>`; return; }
      rows = data;
      render();
    }
    search.addEventListener('input', render);
    root.addEventListener('click', (e) => {
      const tb = e.target.closest('[data-tab]');
      if (tb) {
        tab = tb.dataset.tab;
        for (const x of root.querySelectorAll('[data-tab]')) x.setAttribute('aria-selected', String(x === tb));
        render();
        return;
      }
      const b = e.target.closest('[data-action]');
      if (b && b.dataset.action === 'new-product') newProduct(ctx, load);
      else if (b && b.dataset.action === 'adjust') {
        const p = rows.find((r) => r.id === b.dataset.id);
        if (p) adjustSheet(ctx, p, load);
      }
    });
    await load();
    const ch = sb.channel('products')
      .on('postgres_changes', { event: '*', schema: 'public', table: 'products' }, ui.debounce(load, 300))
      .subscribe();
    return () => sb.removeChannel(ch);
  },
};
