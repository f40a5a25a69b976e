// The stall's day: log in (WeChat login; the first time, bind the stall with
// the admin's invite code), open and close, the queue with each customer's
// note, call next / recall / complete / cancel, hand out a number to a
// customer without the app (its code and claim code shown to say or write
// down), and scan a staff console's QR code to log it in.
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

Component({
  data: {
    ready: false, // logged in
    stall: null, // { id, name, prefix, open }
    queue: [], // TicketFields, WAITING and CALLED, oldest first
    waiting: 0,
    called: 0,
    lastCalled: '',
    handed: null, // the number handed out last: { code, claimCode }
    handNote: '',
    inviteCode: '',
    busy: false,
    error: ''
  },

  methods: {
    onLoad: function () {
      var self = this;
      client()
        .login('SELLER')
        .then(function (session) {
          self.setData({ ready: true });
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
        .catch(function (err) {
          self.showError(err, { NOT_FOUND: '邀请码无效或已使用' });
        });
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
          var called = data.queue.filter(function (t) {
            return t.status === 'CALLED';
          }).length;
          self.setData({ queue: data.queue, called: called, waiting: data.queue.length - called });
        })
        .catch(this.showError.bind(this));
    },

    toggleOpen: function (e) {
      var self = this;
      var open = e && e.detail && typeof e.detail.value === 'boolean' ? e.detail.value : !this.data.stall.open;
      client()
        .request(ops.SetOpen, { sellerId: this.data.stall.id, open: open })
        .then(function (data) {
          self.setData({ 'stall.open': data.setOpen.open, error: '' });
        })
        .catch(function (err) {
          // The switch already moved: put it back.
          self.setData({ 'stall.open': self.data.stall.open });
          self.showError(err);
        });
    },

    callNext: function () {
      var self = this;
      this.mutate(ops.CallNext, { sellerId: this.data.stall.id }).then(function (data) {
        if (data && !data.callNext) wx.showToast({ title: '没有人在等', icon: 'none' });
        if (data && data.callNext) self.setData({ lastCalled: data.callNext.code });
      });
    },

    // data-id on the buttons of each queue row
    recall: function (e) {
      this.mutate(ops.CallTicket, { ticketId: e.currentTarget.dataset.id });
    },
    complete: function (e) {
      this.mutate(ops.CompleteTicket, { ticketId: e.currentTarget.dataset.id });
    },
    cancel: function (e) {
      var self = this;
      var id = e.currentTarget.dataset.id;
      wx.showModal({
        title: '取消这个号？',
        success: function (res) {
          if (res.confirm) self.mutate(ops.CancelTicket, { ticketId: id });
        }
      });
    },

    onHandNoteInput: function (e) {
      this.setData({ handNote: e.detail.value });
    },

    // A number for a customer without the app. The claim code is their proof
    // of holding it: say it or write it down with the number, and they can
    // follow it in the customer app later.
    handOut: function () {
      var self = this;
      this.mutate(ops.HandOutNumber, {
        sellerId: this.data.stall.id,
        note: this.data.handNote.trim() || null,
        idempotencyKey: 'hand-' + Date.now() + '-' + Math.floor(Math.random() * 1e9)
      }).then(function (data) {
        if (data) self.setData({ handed: { code: data.fetch.code, claimCode: data.fetch.claimCode }, handNote: '' });
      });
    },

    // One mutation at a time (a double tap must not call two numbers); the
    // queue is reloaded after each. Resolves to the data, or null on error.
    mutate: function (op, variables) {
      var self = this;
      if (this.data.busy) return Promise.resolve(null);
      this.setData({ busy: true, error: '' });
      return client()
        .request(op, variables)
        .then(function (data) {
          self.setData({ busy: false });
          self.refresh();
          return data;
        })
        .catch(function (err) {
          self.setData({ busy: false });
          self.showError(err);
          return null;
        });
    },

    scanConsole: function () {
      wx.navigateTo({ url: '/pages/approve/index' });
    },

    showError: function (err, overrides) {
      this.setData({ error: errorText(err, overrides) });
    }
  }
});
