// The callme server this mini-program talks to. Change it to your server; its
// domain must be a request (https) and socket (wss) legal domain of the app.
// For local development run callme with dev login and tick "do not verify
// legal domains" in the developer tools.
module.exports = {
  url: 'https://q.example.com',
  // Only for a callme with dev login (no WeChat credentials, e.g. `go run .`):
  // log in as this openid. Such a server accepts only dev:<openid> codes, not
  // the developer tools' wx.login codes. Leave it empty for a real server.
  devOpenid: ''
};
