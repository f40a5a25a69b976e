// The customer mini-program: one callme client for the whole app (the kit,
// copied into callme/ by clients/scripts/build.mjs).
var callme = require('./callme/index.js');
var config = require('./config.js');

App({
  onLaunch: function () {
    // config is read here, not when the file loads, so a test can point it at
    // its own server before launching.
    this.callme = callme.createClient({ url: config.url, app: 'CUSTOMER', devOpenid: config.devOpenid });
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
