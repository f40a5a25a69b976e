// Claim a number the stall handed out on paper: the stall, the number and the
// six-digit claim code printed (or said) with it. Then it follows like any
// ticket of mine. Open with ?sellerId= (from a stall, or the stall's code);
// without it, pick the stall from the list.
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

Component({
  data: {
    stalls: [], // { id, name }
    stallIndex: -1,
    number: '',
    claimCode: '',
    note: '',
    claiming: false,
    error: ''
  },

  methods: {
    onLoad: function (query) {
      // Query values come URI-encoded, as the link was written.
      this.sellerId = query && query.sellerId ? decodeURIComponent(query.sellerId) : '';
      var self = this;
      // A slip may come from a stall that has closed since: list them all.
      client()
        .request(ops.Stalls, { first: 100 })
        .then(function (data) {
          var stalls = data.sellers.edges.map(function (e) {
            return { id: e.node.id, name: e.node.name };
          });
          var index = -1;
          for (var i = 0; i < stalls.length; i++) if (stalls[i].id === self.sellerId) index = i;
          self.setData({ stalls: stalls, stallIndex: index });
        })
        .catch(this.showError.bind(this));
    },

    onStallChange: function (e) {
      var i = parseInt(e.detail.value, 10);
      this.sellerId = this.data.stalls[i].id;
      this.setData({ stallIndex: i });
    },
    onNumberInput: function (e) {
      this.setData({ number: e.detail.value });
    },
    onCodeInput: function (e) {
      this.setData({ claimCode: e.detail.value });
    },
    onNoteInput: function (e) {
      this.setData({ note: e.detail.value });
    },

    claim: function () {
      var self = this;
      var number = parseInt(this.data.number, 10);
      var code = this.data.claimCode.trim();
      if (!this.sellerId) return this.setData({ error: '请选择档口' });
      if (!(number > 0)) return this.setData({ error: '请输入号码' });
      if (!/^\d{6}$/.test(code)) return this.setData({ error: '领取码是小票上的 6 位数字' });
      this.setData({ claiming: true, error: '' });
      client()
        .request(ops.ClaimNumber, {
          sellerId: this.sellerId,
          number: number,
          claimCode: code,
          note: this.data.note.trim() || null
        })
        .then(function (data) {
          self.setData({ claiming: false });
          // The claim form is done with: the ticket page takes its place.
          wx.redirectTo({ url: '/pages/ticket/index?id=' + encodeURIComponent(data.claim.id) });
        })
        .catch(function (err) {
          self.setData({ claiming: false });
          self.showError(err);
        });
    },

    showError: function (err) {
      this.setData({ error: errorText(err) });
    }
  }
});
