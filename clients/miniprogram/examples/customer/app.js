// The customer mini-program: one callme client for the whole app (the kit,
// copied into callme/ by clients/scripts/build.mjs).
var callme = require('./callme/index.js');
var config = require('./config.js');

// The wx the kit uses: wx itself, but with config.devOpenid set, one whose
// login answers the code dev:<openid> (for a server with dev login).
function kitWx() {
  if (!config.devOpenid) return wx;
  return {
    login: function (o) {
      setTimeout(function () {
        o.success({ errMsg: 'login:ok', code: 'dev:' + config.devOpenid });
        if (o.complete) o.complete();
      }, 0);
    },
    request: function (o) {
      return wx.request(o);
    },
    connectSocket: function (o) {
      return wx.connectSocket(o);
    },
    getStorageSync: function (k) {
      return wx.getStorageSync(k);
    },
    setStorageSync: function (k, v) {
      return wx.setStorageSync(k, v);
    },
    removeStorageSync: function (k) {
      return wx.removeStorageSync(k);
    }
  };
}

App({
  onLaunch: function () {
    // config is read here, not when the file loads, so a test can point it at
    // its own server before launching.
    this.callme = callme.createClient({ url: config.url, app: 'CUSTOMER', wx: kitWx() });
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
