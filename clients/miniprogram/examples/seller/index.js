// Example seller page: claim the stall once, open/close it, see the queue,
// call the next number, recall, complete, cancel, hand out numbers.
// The app's client is made with app: 'SELLER'.
var callme = require('../../index.js');
var ops = callme.operations;

function client() {
  return getApp().callme;
}

Page({
  data: {
    stall: null, // { id, name, prefix, open }
    queue: [],
    lastCalled: '',
    inviteCode: '',
    error: ''
  },

  onLoad: function () {
    var self = this;
    client()
      .login('SELLER')
      .then(function (session) {
        if (session.user.seller) self.start(session.user.seller);
      })
      .catch(this.showError.bind(this));
  },

  onUnload: function () {
    if (this.stopCalls) this.stopCalls();
    clearInterval(this.timer);
  },

  onInviteInput: function (e) {
    this.setData({ inviteCode: e.detail.value });
  },

  // First use: bind this WeChat user to the stall of the admin's invite code.
  claimStall: function () {
    var self = this;
    client()
      .request(ops.ClaimSeller, { inviteCode: this.data.inviteCode.trim() })
      .then(function (data) {
        self.start(data.claimSeller);
      })
      .catch(this.showError.bind(this));
  },

  start: function (stall) {
    var self = this;
    this.setData({ stall: stall, error: '' });
    this.refresh();
    // Customers taking numbers do not come as events: refresh now and then.
    this.timer = setInterval(this.refresh.bind(this), 5000);
    // Calls (from this phone or another device of the stall) refresh the queue.
    this.stopCalls = client().subscribe(
      ops.CalledNumbers,
      { sellerId: stall.id },
      function (data) {
        self.setData({ lastCalled: data.calledNumbers.code });
        self.refresh();
      },
      this.showError.bind(this)
    );
  },

  refresh: function () {
    var self = this;
    return client()
      .request(ops.Queue, { sellerId: this.data.stall.id })
      .then(function (data) {
        self.setData({ queue: data.queue });
      })
      .catch(this.showError.bind(this));
  },

  toggleOpen: function () {
    var self = this;
    var open = !this.data.stall.open;
    client()
      .request(ops.SetOpen, { sellerId: this.data.stall.id, open: open })
      .then(function (data) {
        self.setData({ 'stall.open': data.setOpen.open });
      })
      .catch(this.showError.bind(this));
  },

  callNext: function () {
    var self = this;
    client()
      .request(ops.CallNext, { sellerId: this.data.stall.id })
      .then(function (data) {
        if (!data.callNext) wx.showToast({ title: '没有人在等', icon: 'none' });
        self.refresh();
      })
      .catch(this.showError.bind(this));
  },

  // data-id on the buttons of each queue row
  recall: function (e) {
    this.ticketOp(ops.CallTicket, e.currentTarget.dataset.id);
  },
  complete: function (e) {
    this.ticketOp(ops.CompleteTicket, e.currentTarget.dataset.id);
  },
  cancel: function (e) {
    this.ticketOp(ops.CancelTicket, e.currentTarget.dataset.id);
  },

  ticketOp: function (op, ticketId) {
    client()
      .request(op, { ticketId: ticketId })
      .then(this.refresh.bind(this))
      .catch(this.showError.bind(this));
  },

  // A number for a customer without the app: show it, they may claim it later.
  handOut: function () {
    var self = this;
    client()
      .request(ops.HandOutNumber, { sellerId: this.data.stall.id })
      .then(function (data) {
        // The claim code is the customer's proof of holding this number.
        wx.showModal({
          title: data.fetch.code,
          content: '领取码 ' + data.fetch.claimCode + '，请连同号码告诉顾客',
          showCancel: false
        });
        self.refresh();
      })
      .catch(this.showError.bind(this));
  },

  showError: function (err) {
    var text = {
      FORBIDDEN: '没有权限',
      NOT_FOUND: '邀请码无效或已使用',
      SELLER_INACTIVE: '档口未续费，不能开门',
      INVALID_TRANSITION: '这个号的状态已变化'
    }[err.code];
    this.setData({ error: text || err.message });
  }
});
