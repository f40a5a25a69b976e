// Scan to log in: the staff console (/console on the callme server) shows a
// QR code of a one-time challenge; this page scans it, shows what is about
// to happen (the console of which server, as whom, when) and on a tap
// approves it. The console, listening for its challenge, then receives a
// session of this user's. Never on the scan alone: a seller talked into
// scanning someone else's code would log that person in (SECURITY.md), so
// the page says to scan only the stall's own screen, and after approving
// how to end the console's session.
// Opens the camera at once; ?qr=<text> skips the scan (a QR read elsewhere).
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');
var config = require('../../config.js');

function client() {
  return getApp().callme;
}

var texts = {
  NOT_FOUND: '二维码已过期或已使用，请在电脑上刷新后重新扫码',
  FORBIDDEN: '只有档口老板或管理员可以登录控制台'
};

// The console's QR codes say callme-console:<challenge> (the server's
// startConsoleLogin); anything else the camera reads is not one, and is
// not sent anywhere.
var consoleQR = /^callme-console:\S+$/;

// The console being logged in is the one of this app's server.
function serverHost() {
  var m = /^https?:\/\/([^\/?#]+)/i.exec(config.url);
  return m ? m[1] : config.url;
}

function clock(d) {
  var mm = d.getMinutes();
  return d.getHours() + ':' + (mm < 10 ? '0' : '') + mm;
}

Component({
  data: {
    qrText: '',
    host: '', // the server whose console is being logged in
    who: '', // the stall (or role) the console will be logged in as
    scannedAt: '', // H:MM of the scan: a code is good for 2 minutes
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
      text = (text || '').trim();
      if (!consoleQR.test(text)) {
        this.setData({ state: 'scan', qrText: '', error: '这不是控制台的登录二维码' });
        return;
      }
      this.setData({ qrText: text, host: serverHost(), scannedAt: clock(new Date()), state: 'confirm', error: '' });
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
          self.setData({ state: 'scan', qrText: '' });
          self.showError(err);
        });
    },

    reject: function () {
      this.setData({ state: 'scan', qrText: '' });
      wx.navigateBack();
    },

    showError: function (err) {
      this.setData({ error: errorText(err, texts) });
    }
  }
});
