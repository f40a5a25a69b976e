// Example customer page: the stall list, take or claim a number, follow it.
// Open with ?sellerId=... (e.g. from the stall's mini-program code) to go
// straight to a stall.
var callme = require('../../index.js');
var ops = callme.operations;

function client() {
  return getApp().callme;
}

Page({
  data: {
    stalls: [],
    ticket: null, // my ticket (TicketFields)
    nowCalling: '', // the code called last at my stall
    claimNumber: '',
    claimCode: '',
    error: ''
  },

  onLoad: function (query) {
    var self = this;
    // Logging in first is optional (request() logs in on UNAUTHENTICATED), but
    // doing it up front makes the first tap fast.
    client()
      .login('CUSTOMER')
      .then(function () {
        return client().request(ops.MyTickets);
      })
      .then(function (data) {
        var active = data.myTickets.filter(function (t) {
          return t.status === 'WAITING' || t.status === 'CALLED';
        });
        if (active.length) self.follow(active[active.length - 1]);
      })
      .catch(this.showError.bind(this));
    this.sellerId = query && query.sellerId;
    this.loadStalls();
  },

  onUnload: function () {
    this.unfollow();
  },

  onPullDownRefresh: function () {
    this.loadStalls().then(function () {
      wx.stopPullDownRefresh();
    });
  },

  loadStalls: function () {
    var self = this;
    return client()
      .request(ops.Stalls, { first: 50, openOnly: true })
      .then(function (data) {
        self.setData({
          stalls: data.sellers.edges.map(function (e) {
            return e.node;
          })
        });
      })
      .catch(this.showError.bind(this));
  },

  // Take a number at the tapped stall.
  take: function (e) {
    var self = this;
    var sellerId = e.currentTarget.dataset.id;
    // The same key on a retry returns the same ticket instead of a second one.
    var key = 'take-' + sellerId + '-' + Date.now();
    client()
      .request(ops.TakeNumber, { sellerId: sellerId, idempotencyKey: key })
      .then(function (data) {
        self.follow(data.fetch);
      })
      .catch(this.showError.bind(this));
  },

  onClaimInput: function (e) {
    this.setData({ claimNumber: e.detail.value });
  },

  onClaimCodeInput: function (e) {
    this.setData({ claimCode: e.detail.value });
  },

  // Attach a number handed out at the counter of the stall opened with ?sellerId=.
  claim: function () {
    var self = this;
    client()
      .request(ops.ClaimNumber, {
        sellerId: this.sellerId,
        number: parseInt(this.data.claimNumber, 10),
        claimCode: this.data.claimCode.trim()
      })
      .then(function (data) {
        self.follow(data.claim);
      })
      .catch(this.showError.bind(this));
  },

  pickedUp: function () {
    var self = this;
    client()
      .request(ops.CompleteTicket, { ticketId: this.data.ticket.id })
      .then(function (data) {
        self.setData({ ticket: data.complete });
        self.unfollow();
      })
      .catch(this.showError.bind(this));
  },

  cancel: function () {
    var self = this;
    client()
      .request(ops.CancelTicket, { ticketId: this.data.ticket.id })
      .then(function (data) {
        self.setData({ ticket: data.cancel });
        self.unfollow();
      })
      .catch(this.showError.bind(this));
  },

  // follow watches my ticket and the calls at its stall.
  follow: function (ticket) {
    var self = this;
    this.unfollow();
    this.setData({ ticket: ticket, error: '' });
    this.stopWatch = client().subscribe(
      ops.WatchTicket,
      { ticketId: ticket.id },
      function (data) {
        self.setData({ ticket: data.ticketUpdated });
      },
      this.showError.bind(this)
    );
    // after: 0 starts with today's calls; the kit then resumes by itself, so a
    // phone that slept through a call still gets it, exactly once.
    this.stopCalls = client().subscribe(
      ops.CalledNumbers,
      { sellerId: ticket.seller.id, after: 0 },
      function (data) {
        var ev = data.calledNumbers;
        self.setData({ nowCalling: ev.code });
        if (ev.ticket.id === self.data.ticket.id && ev.ticket.status === 'CALLED') {
          wx.vibrateLong();
          wx.showModal({ title: ev.code, content: ev.announcement, showCancel: false });
        }
      },
      this.showError.bind(this)
    );
  },

  unfollow: function () {
    if (this.stopWatch) this.stopWatch();
    if (this.stopCalls) this.stopCalls();
    this.stopWatch = this.stopCalls = null;
  },

  // err.code is the server's extensions.code: SELLER_CLOSED, TICKET_TAKEN, ...
  showError: function (err) {
    var text = {
      SELLER_CLOSED: '档口已打烊',
      SELLER_INACTIVE: '档口暂停营业',
      NUMBERS_EXHAUSTED: '今天的号已取完',
      TICKET_TAKEN: '这个号已被别人领取',
      NOT_FOUND: '没有这个号，或领取码不对',
      RATE_LIMITED: '操作太频繁，请稍后再试'
    }[err.code];
    this.setData({ error: text || err.message });
  }
});
