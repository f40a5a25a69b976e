// Example app.js: one callme client for the whole mini-program.
// Copy clients/miniprogram/ into the project as callme/ and require it from
// there; this example lives inside the kit, hence '../index.js'.
var callme = require('../index.js');

App({
  onLaunch: function () {
    // The customer app; the seller app passes app: 'SELLER'.
    this.callme = callme.createClient({ url: 'https://q.example.com', app: 'CUSTOMER' });
    var client = this.callme;
    // Reconnect at once when the network comes back instead of waiting out the backoff.
    wx.onNetworkStatusChange(function (res) {
      if (res.isConnected) client.wake();
    });
  },
  onShow: function () {
    // Back from the background: WeChat may have closed the socket meanwhile.
    if (this.callme) this.callme.wake();
  }
});
