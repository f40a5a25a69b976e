// The callme server this mini-program talks to. Change it to your server; its
// domain must be a request (https) and socket (wss) legal domain of the app.
// For local development run callme with dev login and tick "do not verify
// legal domains" in the developer tools.
module.exports = {
  url: 'https://q.example.com'
};
