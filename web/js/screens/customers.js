// customers.js - placeholder until the screen lands (same contract as the others).
export default {
  title: { en: 'Customers', hi: 'Customers' },
  async mount(root, ctx) {
    root.innerHTML = '<div class="empty">' + ctx.esc('Customers') + '</div>';
  },
};
