// invoices.js - placeholder until the screen lands (same contract as the others).
export default {
  title: { en: 'Invoices', hi: 'Invoices' },
  async mount(root, ctx) {
    root.innerHTML = '<div class="empty">' + ctx.esc('Invoices') + '</div>';
  },
};
