// The open stalls: name, menu, how many wait, the number called last. Tap a
// stall to take a number there (with an optional note for the cook), or go
// claim a paper number it handed out.
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

Component({
  data: {
    stalls: [],
    loaded: false,
    selected: '', // the id of the stall being taken a number at
    note: '',
    taking: false,
    error: ''
  },

  methods: {
    onLoad: function () {
      // Logging in first is optional (request() logs in on UNAUTHENTICATED),
      // but doing it up front makes the first tap fast.
      client().login('CUSTOMER').catch(this.showError.bind(this));
      this.load();
    },

    onPullDownRefresh: function () {
      this.load().then(function () {
        wx.stopPullDownRefresh();
      });
    },

    load: function () {
      var self = this;
      return client()
        .request(ops.Stalls, { first: 50, openOnly: true })
        .then(function (data) {
          self.setData({
            loaded: true,
            stalls: data.sellers.edges.map(function (e) {
              return e.node;
            })
          });
        })
        .catch(this.showError.bind(this));
    },

    select: function (e) {
      var id = e.currentTarget.dataset.id;
      // A new key per stall selected: a retry of the same take (after a
      // network error) sends the same key and gets the same ticket back.
      this.idempotencyKey = 'take-' + id + '-' + Date.now() + '-' + Math.floor(Math.random() * 1e9);
      this.setData({ selected: id === this.data.selected ? '' : id, note: '', error: '' });
    },

    onNoteInput: function (e) {
      this.setData({ note: e.detail.value });
    },

    take: function () {
      var self = this;
      if (this.data.taking || !this.data.selected) return;
      this.setData({ taking: true, error: '' });
      client()
        .request(ops.TakeNumber, {
          sellerId: this.data.selected,
          note: this.data.note.trim() || null,
          idempotencyKey: this.idempotencyKey
        })
        .then(function (data) {
          self.setData({ taking: false, selected: '', note: '' });
          wx.navigateTo({ url: '/pages/ticket/index?id=' + encodeURIComponent(data.fetch.id) });
        })
        .catch(function (err) {
          self.setData({ taking: false });
          self.showError(err);
        });
    },

    claim: function (e) {
      wx.navigateTo({ url: '/pages/claim/index?sellerId=' + encodeURIComponent(e.currentTarget.dataset.id) });
    },

    showError: function (err) {
      this.setData({ error: errorText(err) });
    }
  }
});
