// One ticket, live: its status and place in the queue, the number the stall
// is calling now, and when it is my turn a called state and a long vibration.
// Open with ?id=<ticket id>.
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

var statusText = {
  WAITING: '等待中',
  CALLED: '到你了',
  DONE: '已取餐',
  CANCELLED: '已取消',
  NO_SHOW: '已过号'
};

Component({
  data: {
    ticket: null, // TicketFields
    statusText: '',
    nowCalling: '', // the code the stall called last
    error: ''
  },

  methods: {
    onLoad: function (query) {
      // Query values come URI-encoded, as the link was written.
      this.ticketId = query && query.id ? decodeURIComponent(query.id) : '';
      // The call count alerted last: a recall (callCount up) vibrates again,
      // a reconnect replaying the same state does not.
      this.alerted = -1;
      if (!this.ticketId) {
        this.setData({ error: '没有指定号码' });
        return;
      }
      this.watch();
    },

    onUnload: function () {
      this.stop();
    },

    watch: function () {
      var self = this;
      // ticketUpdated sends the ticket's state first, then every change, and
      // again first on every resubscribe after a reconnect.
      this.stopWatch = client().subscribe(
        ops.WatchTicket,
        { ticketId: this.ticketId },
        function (data) {
          self.update(data.ticketUpdated);
        },
        this.showError.bind(this)
      );
    },

    update: function (ticket) {
      var first = !this.data.ticket;
      this.setData({ ticket: ticket, statusText: statusText[ticket.status] || ticket.status, error: '' });
      if (first) this.watchCalls(ticket.seller.id);
      if (ticket.status === 'CALLED' && ticket.callCount > this.alerted) {
        this.alerted = ticket.callCount;
        wx.vibrateLong();
      }
      if (ticket.status !== 'WAITING' && ticket.status !== 'CALLED') this.stop();
    },

    // The stall's calls, for "now calling". after: 0 starts with today's
    // calls so far; the kit then resumes by itself across reconnects. Those
    // come in a burst (a busy stall calls hundreds a day) and each setData
    // crosses to the render thread: show only the last of each burst.
    watchCalls: function (sellerId) {
      var self = this;
      this.stopCalls = client().subscribe(
        ops.CalledNumbers,
        { sellerId: sellerId, after: 0 },
        function (data) {
          self.lastCall = data.calledNumbers.code;
          if (self.callTimer) return;
          self.callTimer = setTimeout(function () {
            self.callTimer = null;
            self.setData({ nowCalling: self.lastCall });
          }, 50);
        },
        this.showError.bind(this)
      );
    },

    stop: function () {
      if (this.stopWatch) this.stopWatch();
      if (this.stopCalls) this.stopCalls();
      clearTimeout(this.callTimer);
      this.stopWatch = this.stopCalls = this.callTimer = null;
    },

    // The ticket's public page (trackURL) follows it without logging in:
    // for a friend's phone or a computer, not for this phone, which is live
    // here already.
    copyLink: function () {
      wx.setClipboardData({
        data: this.data.ticket.trackURL,
        success: function () {
          wx.showToast({ title: '链接已复制', icon: 'success' });
        }
      });
    },

    pickedUp: function () {
      this.finish(ops.CompleteTicket, 'complete');
    },

    cancel: function () {
      var self = this;
      wx.showModal({
        title: '取消这个号？',
        content: '取消后需要重新取号排队',
        success: function (res) {
          if (res.confirm) self.finish(ops.CancelTicket, 'cancel');
        }
      });
    },

    finish: function (op, field) {
      var self = this;
      client()
        .request(op, { ticketId: this.ticketId })
        .then(function (data) {
          var t = data[field];
          // A claimed paper number is given back rather than cancelled (it
          // stays WAITING, unowned): for this customer it is gone all the same.
          if (field === 'cancel') t.status = 'CANCELLED';
          self.update(t);
        })
        .catch(this.showError.bind(this));
    },

    showError: function (err) {
      this.setData({ error: errorText(err) });
    }
  }
});
