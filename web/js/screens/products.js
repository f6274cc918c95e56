// products.js - placeholder until the screen lands (same contract as the others).
export default {
  title: { en: 'Products', hi: 'Products' },
  async mount(root, ctx) {
    root.innerHTML = '<div class="empty">' + ctx.esc('Products') + '</div>';
  },
};
