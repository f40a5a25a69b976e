// Scan to log in: the staff console (/console on the callme server) shows a
// QR code of a one-time challenge; this page scans it, shows what is about
// to happen (which console, as whom), and on a tap approves it. The console,
// listening for its challenge, then receives a session of this user's.
// Opens the camera at once; ?qr=<text> skips the scan (a QR read elsewhere).
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

var texts = {
  NOT_FOUND: '二维码已过期或已使用，请在电脑上刷新后重新扫码',
  FORBIDDEN: '只有档口老板或管理员可以登录控制台'
};

// The host a console QR points at, when its text is a URL; '' otherwise.
function hostOf(text) {
  var m = /^https?:\/\/([^\/?#]+)/i.exec(text);
  return m ? m[1] : '';
}

Component({
  data: {
    qrText: '',
    host: '', // the console's host, when the QR is a URL
    who: '', // the stall (or role) the console will be logged in as
    state: 'scan', // scan | confirm | approving | done
    error: ''
  },

  methods: {
    onLoad: function (query) {
      var self = this;
      client()
        .request(ops.Me)
        .then(function (data) {
          var me = data.me;
          if (!me) return;
          var admin = me.roles.indexOf('ADMIN') >= 0;
          self.setData({ who: me.seller ? me.seller.name + (admin ? '（管理员）' : '') : admin ? '管理员' : '' });
        })
        .catch(this.showError.bind(this));
      if (query && query.qr) this.show(decodeURIComponent(query.qr));
      else this.scan();
    },

    scan: function () {
      var self = this;
      wx.scanCode({
        onlyFromCamera: true,
        scanType: ['qrCode'],
        success: function (res) {
          self.show(res.result);
        },
        fail: function () {
          // Cancelled: stay on the page with the scan button.
          self.setData({ state: 'scan' });
        }
      });
    },

    show: function (text) {
      this.setData({ qrText: text, host: hostOf(text), state: 'confirm', error: '' });
    },

    approve: function () {
      var self = this;
      if (this.data.state !== 'confirm') return;
      this.setData({ state: 'approving', error: '' });
      client()
        .request(ops.ApproveConsoleLogin, { qrText: this.data.qrText })
        .then(function () {
          self.setData({ state: 'done' });
        })
        .catch(function (err) {
          // A challenge is single use: whatever went wrong, scan again.
          self.setData({ state: 'scan', qrText: '', host: '' });
          self.showError(err);
        });
    },

    reject: function () {
      this.setData({ state: 'scan', qrText: '', host: '' });
      wx.navigateBack();
    },

    showError: function (err) {
      this.setData({ error: errorText(err, texts) });
    }
  }
});
